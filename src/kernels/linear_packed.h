/* linear_packed.h — f32 and bf16 dense layers with their weights packed
 * once, at load, into the layout oneDNN's matmul primitive asks for.
 *
 * Why: the default f32 path (gemm.c) calls dnnl_sgemm per column slab,
 * which copies (packs) the slab of W into its kernel's layout on every
 * call, and adds the bias as a separate pass. A primitive made once per
 * weight, with W already packed and the bias added in its kernel, measured
 * here (one core, oneDNN 2.7) 961 vs 1,077 us at 128 x 768 x 768, 4,325 vs
 * 4,770 us at 128 x 3072 x 768, 266 vs 363 us at 32 x 768 x 768: the
 * shorter the input, the larger the share of the per-call packing saved.
 * The same numbers in f32: results differ from the sgemm path only by
 * summation order (parity tests unchanged).
 *
 * Rows go through oneDNN in calls of 512 where that many are left, the
 * output rows are dense and oneDNN makes the 512-row primitive for the
 * packed layout, else of up to 128 padded to a multiple of 16 (one
 * primitive per row count). Each call streams W from L3, so 512-row calls
 * stream it a quarter as often: Intel Xeon (AMX), bert-base shape, 2
 * layers, batch 8 x 128, three interleaved rounds, f32 163.5-165.5 ->
 * 158.2-159.4 ms on one thread, 83.1-86.1 -> 77.5-79.1 on two; bf16 with
 * the feed-forward in 512-row chunks (forward.c) 36.8-38.4 -> 34.9-36.7
 * and 20.4-20.9 -> 18.3-19.1. Every row count gives a row the same bits
 * (test_linear_packed.c compares rows of a 600-row call with the same
 * rows run 128 at a time), so a row's result does not depend on the rows
 * beside it (bert.h's batch invariance). Needs oneDNN (see onednn.h); bert_model_load uses it for
 * the encoder's dense layers and the pooler under BERT_COMPUTE_F32 when
 * bert_model_params.pack_weights is set, and for the encoder's dense layers
 * of at least 256 x 256 under BERT_COMPUTE_BF16 (the bf16 functions below;
 * bf16 weights are always packed where oneDNN takes them, AMX's own kernel
 * keeping the shapes it prefers). */
#ifndef BERT_KERNELS_LINEAR_PACKED_H
#define BERT_KERNELS_LINEAR_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"
#include "kernels/slabs.h"

typedef struct bert_plinear bert_plinear;

/* 1 when an N x K (out x in) layer should be packed: oneDNN's primitives
 * are available (not a sanitizer build, not BERT_GEMM=openblas) and the
 * layer is at least 256 x 256. Packing from 64 x 64 was measured too (AMD
 * EPYC, BERT-Tiny shape): alone it was as fast or faster (128 tokens 0.96x
 * on one thread, 0.47-0.78x on two; 8 tokens 1.5x), but under `bert serve`
 * at one client, with the load generator on the same 2 cores, it halved
 * the requests/s (1,660 -> 830; one compute thread: equal): the small
 * primitives' calls lose far more than sgemm's when the other core is
 * busy. */
int bert_plinear_preferred(int N, int K);
/* The side both of a layer's dimensions must reach for the above. */
enum { BERT_PLINEAR_MIN_SIDE = 256 };

/* Pack W [N x K] (f32, out x in); has_bias: bert_plinear_run gets a bias.
 * NULL when oneDNN refuses or memory runs out. */
bert_plinear *bert_plinear_create(const float *W, int N, int K, int has_bias);
void bert_plinear_free(bert_plinear *p);

/* Floats of scratch bert_plinear_run needs for layers of at most this
 * many inputs / outputs (the padded last chunk of rows goes through it). */
size_t bert_plinear_scratch(int max_k, int max_n);

/* y[M x N] (row stride ldy) = x[M x K] (row stride K) W^T + bias (bias
 * as at creation), then the epilogue (epi may be NULL): its activation,
 * and its y16 (bf16 copy of y, row stride ldy) where set. Rows go through in chunks of 512 (ldy
 * == N) or up to 128; a chunk whose rows are not a multiple of 16, or any
 * chunk when ldy != N, is copied through scratch. Threads: oneDNN's, omp_get_max_threads()
 * (callers set it, bert_blas_threads_enter); n_threads for the
 * activation. M = 0 does nothing. Fails with BERT_ERR_INPUT for a NULL p
 * or buffer, M < 0 or ldy < N, with BERT_ERR_UNSUPPORTED in a build
 * without oneDNN, and with what oneDNN said (its status named) when a
 * primitive cannot be made or run; rows before the failing chunk are
 * written. */
bert_status bert_plinear_run(const bert_plinear *p, float *y, int ldy, const float *x, const float *bias, int M,
                             float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err);

/* The same with bf16 weights and inputs, f32 sums and outputs, for
 * --dtype bf16's dense layers. Measured against oneDNN's bf16 gemm (which
 * repacks W per call), AMD EPYC, one thread: 128 x 768 x 768 667 vs 701
 * us, 128 x 3072 x 768 2,667 vs 2,943 us, 128 x 768 x 3072 2,644 vs 3,026
 * us, 16 x 768 x 768 87 vs 113 us. preferred: N and K >= 256 and oneDNN's
 * primitives available. create: W16 [N x K] bf16; NULL when oneDNN refuses
 * or memory runs out. run: as bert_plinear_run, x16 [M x K] bf16; the
 * epilogue's y16 is written too. Each run refuses (BERT_ERR_INPUT) a weight
 * of the other dtype. */
int bert_plinear_bf16_preferred(int N, int K);
bert_plinear *bert_plinear_create_bf16(const uint16_t *W16, int N, int K, int has_bias);
bert_status bert_plinear_run_bf16(const bert_plinear *p, float *y, int ldy, const uint16_t *x16, const float *bias,
                                  int M, float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err);

#endif
