/* capabilities.h — what this build, this CPU and the libraries found can
 * run, each "no" with a sentence saying what is missing: the one place that
 * asks the backends (cpu.c, onednn.c, the BLAS, linear_packed.c) and puts
 * their answers together. bert_system_info and bert_blas_coretype_hint
 * (bert.h) are defined here too. */
#ifndef BERT_KERNELS_CAPABILITIES_H
#define BERT_KERNELS_CAPABILITIES_H

/* NULL when oneDNN's bf16 products (gemm_onednn.h) can run here: the CPU has
 * AVX512-BF16 and libdnnl.so.2 with dnnl_gemm_bf16bf16f32 can be opened
 * (not in sanitizer builds). Else a sentence saying what is missing. Safe to
 * call from several threads. */
const char *bert_bf16_unavailable(void);

/* NULL when int8 products (qlinear.h) can run here: a CPU with VNNI or AMX
 * int8 dot products (without them int8 sums can saturate), libdnnl.so.2
 * opened with its 2.x matmul API, bert.c built with oneDNN's header. Else a
 * fixed sentence per missing piece. */
const char *bert_int8_unavailable(void);

/* Name of the BLAS backend ("OpenBLAS 0.3.21 ... (openmp)", "CBLAS",
 * "portable"). */
const char *bert_gemm_backend(void);

/* The OpenBLAS kernel family in use ("SkylakeX", "Prescott"), or NULL when
 * the backend is not OpenBLAS. */
const char *bert_gemm_core_name(void);

#endif
