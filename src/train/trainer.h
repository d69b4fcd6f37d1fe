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
    float *head_buf;        /* the heads' scratch, kept between steps: the MLM */
    size_t head_cap;        /* logits are tens of MB, and fresh pages cost a fault each */
};

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
