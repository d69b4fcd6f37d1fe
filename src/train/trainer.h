/* trainer.h — the state of a training run (internal view).
 *
 * Parameters live in one block (params), with gradients, and AdamW's
 * first and second moments in blocks of the same layout (train/block.h),
 * so the optimizer is one loop over flat arrays. `model` is a bert_model
 * whose weight pointers point into params: inference (evaluation, `bert
 * classify` on a saved checkpoint) and training share the same numbers.
 *
 * A training step: train/acts.c sizes the activations, train/backprop.c
 * runs the encoder forward, train/heads.c the task head and its loss, then
 * backprop.c the encoder backward; train/optimizer.c applies AdamW. */
#ifndef BERT_TRAIN_TRAINER_H
#define BERT_TRAIN_TRAINER_H

#include "bert.h"
#include "model/model.h"
#include "train/block.h"
#include "train/optimizer.h"
#include "train/rng.h"

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
    train_acts *acts;       /* the training pass's activations and scratch, kept between steps */
    bert_context *eval_ctx; /* inference on the trainer's weights (bert_trainer_eval) */
    uint16_t *params16;     /* BERT_COMPUTE_BF16: bf16 copy of params, refreshed after each step */
};

/* Forward keeping activations, the task head's loss, backward: gradients
 * (times 1 / grad_accum) added to t->grads. labels as bert_trainer_backward
 * takes them; *loss = the micro-batch's mean loss. Unlike
 * bert_trainer_backward, checks no input and counts no micro-batch. */
bert_status train_forward_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                   double *loss, bert_error *err);

/* One AdamW step (train_adamw) at learning rate lr: t->step += 1,
 * t->last_grad_norm set, t->grads zeroed. */
void train_adamw_step(bert_trainer *t, double lr);

#endif
