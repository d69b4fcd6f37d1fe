/* attention.h — fused attention for one (sequence, head), in bf16 and in f32
 * (internal).
 *
 * The exact (f32) path computes softmax(Q K^T / sqrt(d) + mask) V with two
 * BLAS products per head and the T x T scores in memory between them. Under
 * --dtype bf16/int8 the dense layers run on AVX512-BF16/AMX and that f32
 * attention became 35-40 % of a 512-token pass (one thread). This kernel does
 * a whole head in bf16, on AMX tiles or on AVX512-BF16 registers (the same
 * layouts): K and V are packed once into the pair-interleaved bf16 layout
 * of tdpbf16ps / vdpbf16ps, then 16 query rows at a time get their scores
 * (f32 accumulation) in a 16 x T buffer, the softmax's numerators
 * e^(s - max) in f32, rounded to bf16, and their f32 sum, the weighted sum
 * of V (f32 accumulation) and each output row divided by its sum; the
 * T x T matrix is never written whole. Masked keys get -FLT_MAX as on the
 * exact path, so a row whose keys are all masked is a uniform average there
 * too; padding keys past T get -inf (weight exactly 0).
 *
 * Precision: Q (pre-scaled), K, V and the numerators are rounded to bf16
 * (relative 2^-9), the exponential is good to 3e-6; products and sums are
 * f32. Checked against a float64
 * reference in tests/kernels/test_attention.c. */
#ifndef BERT_KERNELS_ATTENTION_H
#define BERT_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* How a head runs in bf16: AMX tiles (Sapphire Rapids and newer, where
 * Linux grants the tile state), AVX512-BF16's vdpbf16ps on registers (AMD
 * Zen 4 and newer), or not at all. */
typedef enum {
    BERT_ATTENTION_BF16_NONE = 0,
    BERT_ATTENTION_BF16_AVX512 = 1,
    BERT_ATTENTION_BF16_AMX = 2
} bert_attention_bf16_kernel;

/* The kernel bert_attention_bf16 runs for heads of head_size here: AMX
 * where bert_amx_bf16_ready() (the tile permission requested on the first
 * call), else AVX512-BF16 where bert_cpu_bf16_dot_is_fast() (where it is
 * not, the f32 path is faster), for head_size 32, 64, 96 or 128 in a build
 * with the intrinsics; NONE otherwise. */
bert_attention_bf16_kernel bert_attention_bf16_pick(int head_size);

/* 1 when bert_attention_bf16_pick(head_size) is not NONE. */
int bert_attention_bf16_available(int head_size);

/* Bytes of scratch bert_attention_bf16 needs for T tokens (64-byte aligned
 * scratch expected). */
size_t bert_attention_bf16_scratch_bytes(int T, int head_size);

/* out[i][:] (row stride ldo) = sum_j softmax_j(scale * Q[i].K[j] + mask_j) V[j]
 * for i, j < T; Q, K, V rows have stride ld (floats). keymask[j] is 1 (attend)
 * or 0 (masked). Runs bert_attention_bf16_pick(head_size)'s kernel; only call
 * when bert_attention_bf16_available(head_size). */
void bert_attention_bf16(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T,
                         int head_size, float scale, const float *keymask, void *scratch);

/* bert_attention_bf16 on the given kernel, picked or not (the model keeps
 * its pick from load; the tests run each one the CPU can): AMX only where
 * bert_amx_bf16_ready(), AVX512 where bert_cpu_has_avx512bf16(), both only
 * in a build with the intrinsics (BERT_AMX_INTRINSICS); head_size as for
 * the pick. NONE does nothing. */
void bert_attention_bf16_with(bert_attention_bf16_kernel kernel, float *out, int ldo, const float *Q, const float *K,
                              const float *V, int ld, int T, int head_size, float scale, const float *keymask,
                              void *scratch);

/* The head a caller runs after this one (bert_attention_bf16_io's next):
 * its bf16 Q, K, V (rows as this head's, ld elements apart) and T. The AMX
 * kernel fetches its rows into L2, a share with each group of 16 queries,
 * while this head computes: inside a pass Q, K and V come from L3 (the
 * Q, K, V output of bert-base at batch 8 is 4.7 MB), and each head reads
 * 128 bytes of each 4.6 KB row, a stride no hardware prefetcher follows.
 * Only read as a hint: a wrong or stale pointer is never dereferenced
 * (prefetches do not fault). */
typedef struct {
    const uint16_t *Q, *K, *V;
    int T;
} bert_attention_next;

/* bert_attention_bf16_with on bf16 Q, K, V (rows ld elements apart) into
 * out (rows ldo elements apart): bf16 with out16, else f32. The inputs as
 * the dense layers' epilogue wrote them, a bf16 output as the next dense
 * layer reads it under bf16, so neither side has an f32 copy to write and
 * convert. The queries are scaled as bf16(bf16(q) scale); where scale is a
 * power of two (head_size 64) that is bf16(q scale), and out is bit
 * for bit the f32 kernel's output on the f32 values (rounded as
 * bert_f32_to_bf16 rounds, with out16) whose bert_f32_to_bf16 roundings Q,
 * K and V are (except where those hold f32 subnormals, which the f32
 * kernel's conversion flushes to zero). next (NULL: none) is the head the
 * caller runs next, prefetched (bert_attention_next); it changes no bits. */
void bert_attention_bf16_io(bert_attention_bf16_kernel kernel, void *out, int ldo, int out16, const uint16_t *Q,
                            const uint16_t *K, const uint16_t *V, int ld, int T, int head_size, float scale,
                            const float *keymask, void *scratch, const bert_attention_next *next);

/* ---- the exact path's fused head (attention_f32.c) ----------------------
 * Under f32 the same softmax(scale Q K^T + mask) V for one (sequence, head)
 * in one pass on AVX-512 registers, instead of two BLAS products with the
 * T x T scores between them: K transposed once, then 16 query rows at a
 * time get f32 scores in a 16 x T buffer, masked keys -FLT_MAX (as
 * bert_mask_key_columns), bert_softmax_rows (the float-exact softmax) and
 * the weighted sum of V read in place. The same operations as the BLAS
 * path in another summation order (checked against float64 in
 * tests/kernels/test_attention.c). */

/* Sequences shorter than this keep the BLAS path: the fused head pads the
 * keys to 32 and is slower below (Intel Xeon, one thread, head 64, us a
 * head, BLAS vs fused: T 8 0.41 vs 0.61, 20 1.22 vs 1.46, 32 2.42 vs 1.98,
 * 64 8.7 vs 7.3, 128 36.4 vs 27.7, 512 515 vs 439). */
enum { BERT_ATTENTION_F32_MIN_TOKENS = 32 };

/* 1 where the CPU has AVX-512 (in a build for x86-64 with GCC's
 * intrinsics) and head_size is a multiple of 32 up to 256. */
int bert_attention_f32_available(int head_size);

/* Bytes of scratch bert_attention_f32 needs for T tokens (64-byte aligned
 * scratch expected). */
size_t bert_attention_f32_scratch_bytes(int T, int head_size);

/* As bert_attention_bf16, in f32; only call when
 * bert_attention_f32_available(head_size). */
void bert_attention_f32(float *out, int ldo, const float *Q, const float *K, const float *V, int ld, int T,
                        int head_size, float scale, const float *keymask, void *scratch);

#endif
