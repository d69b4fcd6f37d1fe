/* layers.h — the encoder's layer operations as forward / backward pairs.
 *
 * The one place for the operations inference (model/forward.c) and training
 * (train/backprop.c, train/heads.c) both run: embeddings, dense, LayerNorm,
 * activation and attention. Each forward names the PyTorch operation it
 * equals. A forward given a `keep` (NULL at inference) keeps there what its
 * backward reads; inference keeps nothing and allocates nothing.
 * Backwards ACCUMULATE (+=) into parameter gradients and write (=) input
 * gradients unless an `accumulate` argument says otherwise.
 *
 * Shapes: S sequences, N tokens in all (sequence s covers rows offset[s] ..
 * offset[s + 1] of every [N x ...] matrix), C hidden, NH heads, HS = C / NH
 * head size, T tokens of one sequence. */
#ifndef BERT_MODEL_LAYERS_H
#define BERT_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "model/model.h"

/* ---- embeddings --------------------------------------------------------- */

/* Batches of at least this many tokens gather their embeddings on several
 * threads (smaller ones cost less than a thread team's start). */
enum { EMB_THREADED_TOKENS = 256 };

/* BertEmbeddings up to its LayerNorm: out[row] = (word[id] + token_type[tt])
 * + position[t], the order PyTorch adds them in; keymask[row] = the
 * sequence's attention_mask (1 where it has none). The rows are split
 * over n_threads when the batch has EMB_THREADED_TOKENS tokens or more. */
void nn_embeddings_forward(float *out, float *keymask, const bert_weights *w, int C, const bert_sequence *seqs, int S,
                           const int *offset, int n_threads);
/* Rows [r0, r1) of nn_embeddings_forward's out alone (no key mask), on
 * the calling thread: for a caller that normalises each few rows as soon
 * as they are summed (bert_add_layernorm_around). */
void nn_embeddings_rows(float *out, const bert_weights *w, int C, const bert_sequence *seqs, int S, const int *offset,
                        int r0, int r1);
/* keymask[row] = the sequence's attention_mask (1 where it has none): what
 * nn_embeddings_forward sets besides the embeddings, alone where the sums
 * are made elsewhere (inference's row groups; a GPU model, whose host
 * keeps the mask for pooling). */
void nn_key_mask(float *keymask, const bert_sequence *seqs, int S, const int *offset);
/* Its backward (nn.Embedding's): dword, dpos, dtype rows += the rows of
 * dout; the padding id's word row gets none (nn.Embedding(padding_idx)). */
void nn_embeddings_backward(float *dword, float *dpos, float *dtype, const float *dout, int C,
                            const bert_sequence *seqs, int S, const int *offset, int pad_token_id);

/* ---- dense -------------------------------------------------------------- */

/* nn.Linear: y[M x N] (row stride ldy) = x[M x K] W^T + b, W [N x K] as
 * PyTorch stores it, b [N] or NULL. With W16 (W rounded to bf16) the
 * product is x16 (x rounded to bf16) times W16 with f32 sums, as under
 * torch.autocast(bfloat16); without, x times W in f32. epi: what to do to
 * the output while it is in cache (kernels/gemm.h; NULL: nothing). */
void nn_dense_forward(float *y, int ldy, const float *x, const uint16_t *x16, const float *W, const uint16_t *W16,
                      const float *b, int M, int N, int K, const bert_epilogue *epi, int n_threads);
/* Its backward: dW += dy^T x, db += column sums of dy (db may be NULL),
 * dx = dy W (+= with accumulate; dx may be NULL). With W16 the products use
 * x16, W16 and dy rounded into dy16 (scratch of M x N). */
void nn_dense_backward(float *dx, float *dW, float *db, const float *dy, uint16_t *dy16, const float *x,
                       const uint16_t *x16, const float *W, const uint16_t *W16, int M, int N, int K, int accumulate,
                       int n_threads);

/* ---- LayerNorm ---------------------------------------------------------- */

/* What a training LayerNorm keeps: its input a + b [N x C] (may alias a),
 * and each row's mean and 1 / sqrt(var + eps) [N]. */
typedef struct {
    float *sum, *mean, *rstd;
} nn_layernorm_keep;

/* nn.LayerNorm(C) of a + b (b NULL: of a) into out [N x C]; out may alias a
 * or b. With keep, the same kernel and bits also write keep's three arrays
 * (bert_add_layernorm_train). */
void nn_layernorm_forward(float *out, const nn_layernorm_keep *keep, const float *a, const float *b,
                          const bert_norm *ln, int N, int C, float eps, int n_threads);
/* Its backward: din = d LN / d (a + b) (=), dw, db +=; din may alias
 * dout; the same bits on any thread count. */
void nn_layernorm_backward(float *din, float *dw, float *db, const float *dout, const nn_layernorm_keep *keep,
                           const bert_norm *ln, int N, int C, int n_threads);

/* ---- activation --------------------------------------------------------- */

/* ACT2FN[hidden_act] (nn.GELU, nn.GELU(approximate='tanh'), nn.ReLU,
 * nn.SiLU, ...) elementwise: out[i] = act(in[i]) for i < n; out may be in. */
void nn_activation_forward(float *out, const float *in, size_t n, bert_activation act, int n_threads);
/* Its backward: din = dout * act'(in) (din may alias dout). */
void nn_activation_backward(float *din, const float *dout, const float *in, size_t n, bert_activation act,
                            int n_threads);

/* ---- attention ---------------------------------------------------------- */

/* The batch as attention sees it. */
typedef struct {
    int S;                 /* sequences */
    const int *offset;     /* [S + 1] first row of each sequence */
    int C, NH;             /* hidden size and heads */
    const float *keymask;  /* [N] 1 = attend to this key, 0 = masked */
    int ld;                /* inference: the row stride of q, k and v (0: C; 3C when
                              they are the columns of one fused product) */
} nn_attention_batch;

/* What training attention keeps: the probabilities of every (head,
 * sequence), head-major: head h's block of sequence s starts at
 * h * poff[S] + poff[s] and is T x T. */
typedef struct {
    float *probs;        /* softmax output                                   */
    float *probs_d;      /* on entry the dropout scales (0 or 1 / (1 - p)),
                            on return probs * scales, the weights used on V */
    const size_t *poff;  /* [S + 1] offset of each sequence's T x T block   */
} nn_attention_keep;

/* BertSelfAttention after its Q, K, V projections (eager attention): for
 * every sequence and head h, out_h = dropout(softmax(Q_h K_h^T / sqrt(HS) +
 * mask)) V_h, heads merged into out [N x C]; q, k, v are [N x C]. Masked
 * keys get -FLT_MAX, which is what adding torch.finfo(float32).min gives, so
 * a row whose keys are all masked becomes a uniform average, as in PyTorch.
 * Inference (keep NULL, no dropout): the (sequence, head) pairs are split
 * over n_threads threads, each with its T x T scores in scratch + thread *
 * stride; with fused (a bert_attention_bf16_kernel other than NONE), that
 * bf16 kernel of kernels/attention.h does a whole head instead (reduced
 * precision; scratch as it needs). Training (keep): the pairs split over
 * n_threads too, probabilities kept; the same bits on any thread count. */
void nn_attention_forward(float *out, const nn_attention_keep *keep, const float *q, const float *k, const float *v,
                          const nn_attention_batch *b, float *scratch, size_t stride, int fused, int n_threads);
/* Inference's attention with the fused kernel (a bert_attention_bf16_kernel
 * other than NONE) on bf16 q, k, v (rows b->ld apart, as for
 * nn_attention_forward) into out [N x C], bf16 with out16, else f32
 * (bert_attention_bf16_io): the pairs split over n_threads as there. */
void nn_attention_forward_bf16(void *out, int out16, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                               const nn_attention_batch *b, float *scratch, size_t stride, int fused, int n_threads);
/* Its backward from dout [N x C]: dq, dk, dv [N x C] (=); dP and dS are
 * scratch shaped as keep->probs. The pairs split over n_threads. */
void nn_attention_backward(float *dq, float *dk, float *dv, float *dP, float *dS, const float *dout, const float *q,
                           const float *k, const float *v, const nn_attention_keep *keep, const nn_attention_batch *b,
                           int n_threads);

#endif
