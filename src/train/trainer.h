/* trainer.h — the state of a training run (internal view).
 *
 * Parameters live in one block (params), with gradients, and AdamW's
 * first and second moments in blocks of the same layout, so the optimizer
 * is one loop over flat arrays. `model` is a bert_model whose weight
 * pointers point into params: inference (evaluation, `bert classify` on a
 * saved checkpoint) and training share the same numbers. */
#ifndef BERT_TRAIN_TRAINER_H
#define BERT_TRAIN_TRAINER_H

#include "bert.h"
#include "model/model.h"
#include "train/rng.h"

/* One parameter tensor inside the blocks. */
typedef struct {
    char name[112];  /* the name Hugging Face writes ("bert.encoder...", "classifier.weight") */
    size_t offset;   /* into params / grads / m / v, in floats */
    int64_t rows, cols;
    int decay;       /* AdamW weight decay applies (not to biases and LayerNorm) */
    int frozen;      /* not trained (fixed sinusoidal positions): no update, not in the norm */
} train_tensor;

/* Activations the backward pass needs, for one micro-batch. */
typedef struct train_acts train_acts;

struct bert_trainer {
    bert_train_params p;
    bert_model *model;      /* weights point into params */
    float *params, *grads, *m, *v;
    size_t n_params;
    train_tensor *tensors;
    int n_tensors;
    char *src_dir;          /* where tokenizer files are copied from */
    bert_rng rng;
    long step;              /* optimizer steps taken */
    int micro;              /* micro-batches accumulated since the last step */
    double last_grad_norm;
    train_acts *acts;
    bert_context *eval_ctx;
    uint16_t *params16;     /* BERT_COMPUTE_BF16: bf16 copy of params, refreshed after each step */
    float *head_buf;        /* the heads' scratch, kept between steps: the MLM */
    size_t head_cap;        /* logits are tens of MB, and fresh pages cost a fault each */
};

/* Re-round the weights the bf16 products use (the encoder's dense layers
 * and the tied MLM decoder) into params16, after the weights change. */
void train_refresh_bf16(bert_trainer *t);

/* The bf16 copy of a weight (a pointer into t->params). */
static inline const uint16_t *train_w16(const bert_trainer *t, const float *w) { return t->params16 + (w - t->params); }

/* A dense layer y[M x N] = x W^T + b (W a weight in params) in the
 * trainer's compute type. Under bf16, x is first rounded into x16 when
 * round_x (0: x16 already holds it, as for K and V after Q), and x16 is kept
 * for the backward; in f32, x16 and round_x are unused. */
void train_dense_fwd(const bert_trainer *t, float *y, const float *x, uint16_t *x16, int round_x, const float *W,
                     const float *b, int M, int N, int K);
/* Its backward: W's and b's gradients +=, dx = (or += with accumulate)
 * dy W; dy16 is bf16 scratch of M x N (unused in f32). dx may be NULL. */
void train_dense_bwd(const bert_trainer *t, float *dx, const float *W, const float *b, const float *dy, uint16_t *dy16,
                     const float *x, const uint16_t *x16, int M, int N, int K, int accumulate);

/* Forward with saved activations, loss, backward into t->grads (+=).
 * labels as in bert_trainer_step. *loss = mean loss of the micro-batch. */
bert_status train_forward_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                   double *loss, bert_error *err);
void train_acts_free(train_acts *a);

/* The task heads: from t->acts->x_out (the last hidden states) to the loss,
 * leaving d loss / d x_out in t->acts->dx (and head gradients in t->grads).
 * With backward = 0, only the loss (for evaluation). heads.c */
bert_status train_heads(bert_trainer *t, const bert_sequence *seqs, int S, const float *labels, double *loss,
                        bert_error *err);

/* Mean loss of S outputs; with dlogits, also its gradient times scale. */
double train_loss(bert_problem problem, const float *logits, const float *labels, int S, int L, float *dlogits,
                  double scale);

/* The learning rate at optimizer step `step` (0-based) under p's schedule. */
double train_lr_at(const bert_train_params *p, long step);

/* Clip (global L2 norm), then one AdamW step over all parameters; zero the grads. */
void train_adamw_step(bert_trainer *t, double lr);

#endif
