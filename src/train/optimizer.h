/* optimizer.h — AdamW, learning-rate schedules and gradient clipping. */
#ifndef BERT_TRAIN_OPTIMIZER_H
#define BERT_TRAIN_OPTIMIZER_H

#include <stddef.h>

#include "bert.h"
#include "train/block.h"

/* The learning rate at optimizer step `step` (0-based) under p's schedule. */
double train_lr_at(const bert_train_params *p, long step);

/* The blocks AdamW updates: n floats each, laid out by tensors[0..n_tensors). */
typedef struct {
    float *params, *grads, *m, *v;
    size_t n;
    const train_tensor *tensors;
    int n_tensors;
    /* Multi-task trainers, indexed by train_tensor.group (NULL: every
     * tensor is updated as step `step`): group_on[g] 0 = no micro-batch of
     * this step reached group g (its tensors are left alone, as
     * torch.optim.AdamW leaves a parameter whose .grad is None);
     * group_step[g] the 1-based update count its bias correction uses. */
    const unsigned char *group_on;
    const long *group_step;
    /* tensors[sparse] (-1: none) is a table whose gradient is zero outside
     * the rows r with sparse_rows[r] = 1 (NULL: read every row): the norm
     * and the update skip reading the other rows' zeros, with the same
     * result bit for bit. */
    int sparse;
    const unsigned char *sparse_rows;
} train_adamw_blocks;

/* Optimizer step number `step` (1-based) at learning rate lr, with p's
 * betas, eps, weight decay and clipping: zero the frozen tensors'
 * gradients, clip to max_grad_norm (global L2 norm), update params, m and
 * v, zero grads. Returns the gradient norm before clipping. */
double train_adamw(const bert_train_params *p, const train_adamw_blocks *b, long step, double lr);

#endif
