/* cpu.h — what the processor can do, detected at run time. */
#ifndef BERT_KERNELS_CPU_H
#define BERT_KERNELS_CPU_H

/* Space-separated list of the SIMD features this CPU has among those bert.c
 * cares about ("avx2 fma avx512f ..."), or "" on other architectures. */
const char *bert_cpu_features(void);

/* 1 when the CPU has AVX-512 F/BW/DQ/VL (OpenBLAS's SkylakeX level). */
int bert_cpu_has_avx512(void);
/* 1 when the CPU has AVX2 and FMA (OpenBLAS's Haswell level). */
int bert_cpu_has_avx2(void);
/* 1 when the CPU has AVX512-BF16 (OpenBLAS's Cooperlake level). */
int bert_cpu_has_avx512bf16(void);

/* 1 when the CPU has AVX512-BF16 and its vdpbf16ps (two bf16 products per
 * f32 lane) runs at the f32 FMA's instruction rate, i.e. twice its FLOPs:
 * AMD (Zen 4: 2.3x the f32 attention per head, measured). 0 on Intel,
 * where it was measured at half that (an AVX512-BF16 attention kernel
 * was slower than f32 on a Xeon) and AMX is the fast path; 0 too in a
 * build without the intrinsics (BERT_AMX_INTRINSICS), which has no kernel
 * to use it. */
int bert_cpu_bf16_dot_is_fast(void);

/* 1 when this compiler builds the AMX / AVX512-BF16 kernels (GCC 10 or
 * newer on x86-64; BERT_PORTABLE turns them off). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10 && !defined(BERT_PORTABLE)
#define BERT_AMX_INTRINSICS 1
#else
#define BERT_AMX_INTRINSICS 0
#endif

/* 1 when AMX bf16 tiles can be used: the CPU has AMX-TILE, AMX-BF16 and
 * AVX512-BF16, this build has the intrinsics, and Linux granted the tile
 * state (it hands it out only on request, arch_prctl
 * ARCH_REQ_XCOMP_PERM — made here once per process, on the first call).
 * Safe to call from several threads. */
int bert_amx_bf16_ready(void);

/* 1 when AMX int8 tiles can be used: bert_amx_bf16_ready() and AMX-INT8
 * (every CPU with AMX so far has both). */
int bert_amx_int8_ready(void);

/* VNNI (AVX512 or AVX) or AMX int8 dot products: int8 products without
 * them go through 16-bit intermediate sums that can saturate, so
 * BERT_COMPUTE_INT8 requires one of these. */
int bert_cpu_has_int8_dot(void);

/* The most compute threads a caller may ask for: the online cores times
 * BERT_MAX_THREADS_PER_CORE (bert.h). */
long bert_max_threads(void);

#endif
