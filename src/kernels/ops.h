/* ops.h — the element-wise and row-wise kernels of the encoder.
 *
 * Shape letters: N rows (tokens), C columns (features). All kernels are
 * plain loops the compiler vectorises; threading is over rows. */
#ifndef BERT_KERNELS_OPS_H
#define BERT_KERNELS_OPS_H

#include <stddef.h>

/* Activation functions of BertConfig.hidden_act. */
typedef enum {
    BERT_ACT_GELU,      /* "gelu": 0.5 x (1 + erf(x / sqrt 2)), exact          */
    BERT_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh": tanh approximation */
    BERT_ACT_RELU,      /* "relu"                                               */
    BERT_ACT_SILU,      /* "silu" / "swish": x * sigmoid(x)                     */
    BERT_ACT_GELU_FAST  /* "gelu_fast": tanh form with 0.7978845608 * x * (1 + 0.044715 x^2) */
} bert_activation;

/* The activation for a config name, or -1 when unknown. */
int bert_activation_from_name(const char *name);

/* x[i] = act(x[i]) for i < n. GELU runs on AVX-512 intrinsics where the
 * CPU has them, else as bert_gelu_portable. */
void bert_activation_forward(float *x, size_t n, bert_activation act, int n_threads);

/* y[i] = act(x[i]) for i < n, x kept (y must not overlap it): the same bits
 * as copying x to y and calling bert_activation_forward, in one pass over
 * memory (pieces copied and activated while in L1), for training, which
 * keeps the activation's input for the backward pass. */
void bert_activation_forward_copy(float *y, const float *x, size_t n, bert_activation act, int n_threads);

/* GELU (erf form) for any instruction set (the compiler's vectorisation),
 * which CPUs without AVX-512 run; the tests hold both paths to one bound. */
void bert_gelu_portable(float *x, size_t n);

/* out[N x C] = LayerNorm(a + b) with weight/bias [C]; b may be NULL
 * (plain LayerNorm). out may alias a. Mean and biased variance: on AVX-512
 * in float lanes with the corrected two-pass variance, the lanes summed in
 * double (within 2e-6 of float64, ops.c); elsewhere in double. A row's
 * values are those of the row alone (any N, any thread count). */
void bert_add_layernorm(float *out, const float *a, const float *b, const float *weight, const float *bias, int N,
                        int C, float eps, int n_threads);

/* Work on rows [i0, i1) of something just written, or about to be read
 * (arg: the caller's). */
typedef void (*bert_rows_fn)(int i0, int i1, void *arg);

/* bert_add_layernorm (the same bits), then(i0, i1, arg) run on each group
 * of rows as soon as they are normalised (a few rows, on the thread that
 * wrote them, while they are in L1: e.g. their bf16 or int8 form for the
 * next product, without a second pass over memory); then may be NULL. */
void bert_add_layernorm_then(float *out, const float *a, const float *b, const float *weight, const float *bias, int N,
                             int C, float eps, int n_threads, bert_rows_fn then, void *arg);

/* bert_add_layernorm_then (the same bits), with before(i0, i1, arg) run
 * on each group of rows just before they are read, on the thread that
 * normalises them: it writes those rows of a (and b), made where they are
 * normalised, in L1, not in a pass over memory ahead of this one (e.g.
 * the embeddings' sums). before may be NULL. */
void bert_add_layernorm_around(float *out, const float *a, const float *b, const float *weight, const float *bias,
                               int N, int C, float eps, int n_threads, bert_rows_fn before, bert_rows_fn then,
                               void *arg);

/* Scores S[T x T] of one attention head: every column j whose key is
 * masked (keymask[j] == 0) becomes -FLT_MAX (HF's finfo.min). Touches only
 * masked columns: unpadded sequences, the common case, cost one scan. */
void bert_mask_key_columns(float *S, int T, const float *keymask);

/* Row-wise softmax of x[N x C] in place: exp_nonpositive (vecmath.h) of
 * each score minus its row's max, over the row's sum. AVX-512 intrinsics
 * where the CPU has them, else bert_softmax_rows_portable. */
void bert_softmax_rows(float *x, int N, int C);

/* The same for any instruction set (the compiler's vectorisation), which
 * CPUs without AVX-512 run; the tests hold both paths to one bound. */
void bert_softmax_rows_portable(float *x, int N, int C);

/* Softmax cross-entropy of one row of logits x[L] against class y (0 <= y <
 * L): returns -log softmax(x)[y]; when d is not NULL also writes the scaled
 * gradient d = g * (softmax(x) - onehot(y)). d may alias x (the logits are
 * then replaced by their gradient). One exp per class, vectorised: the MLM
 * head calls this on rows of the whole vocabulary. */
double bert_softmax_xent_row(const float *x, float *d, int L, int y, float g);

/* x[i] = tanh(x[i]). */
void bert_tanh(float *x, size_t n);

/* db[N] += column sums of dy[M x N] (a bias gradient), split over columns. */
void bert_column_sums(float *db, const float *dy, int M, int N, int n_threads);

/* ---- backward passes (training; ops_backward.c) ----------------------------
 * Each takes the upstream gradient and what the forward saved, and
 * ACCUMULATES (+=) into parameter gradients; input gradients are written
 * (=) unless the name says accumulate. */

/* x holds the activation's input; dx = dy * act'(x) (dx may alias dy).
 * GELU runs on AVX-512 intrinsics where the CPU has them, else as
 * bert_gelu_backward_portable. */
void bert_activation_backward(float *dx, const float *dy, const float *x, size_t n, bert_activation act, int n_threads);

/* dx = dy * GELU'(x) (erf form) for any instruction set, which CPUs without
 * AVX-512 run; the tests hold both paths to one bound. */
void bert_gelu_backward_portable(float *dx, const float *dy, const float *x, size_t n);

/* LayerNorm forward that also saves mean and rstd per row (for backward):
 * out = LN(a + b), sum = a + b is written to `sum` (may alias a or out).
 * The same kernel and bits as bert_add_layernorm, so a training forward's
 * normalised rows are inference's. */
void bert_add_layernorm_train(float *out, float *sum, float *mean, float *rstd, const float *a, const float *b,
                              const float *weight, const float *bias, int N, int C, float eps, int n_threads);

/* The same on one thread for any instruction set (the path CPUs without
 * AVX-512 run, in bert_add_layernorm too); the tests hold both paths to one
 * bound. */
void bert_add_layernorm_train_portable(float *out, float *sum, float *mean, float *rstd, const float *a,
                                       const float *b, const float *weight, const float *bias, int N, int C,
                                       float eps);

/* x[i] *= y[i] for i < n. */
void bert_mul_inplace(float *x, const float *y, size_t n);

/* Softmax backward behind dropout, for R rows of T: P the softmax's rows,
 * Pd = P * scale its dropped-out copy, dPd the gradient of Pd; dS = P (dP -
 * rowsum(dP P)) with dP = dPd Pd / P where P > 0 (0 where P is 0), the row
 * sums in double. dS may alias dPd. */
void bert_softmax_dropout_backward(float *dS, const float *dPd, const float *P, const float *Pd, int R, int T);

/* dinp = LN backward (=), dweight/dbias +=. inp is the LayerNorm input;
 * dinp may alias dout. The result does not depend on n_threads. */
void bert_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int N, int C, int n_threads);

/* Linear backward for y = x W^T + b (W [N x K]): dx = dy W (=, or += when
 * accumulate), dW += dy^T x, db += sum_rows dy. dx may be NULL. */
void bert_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                          int N, int K, int accumulate, int n_threads);

#endif
