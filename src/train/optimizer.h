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
    /* [held_lo, held_hi) (floats; empty when equal) is a run of whole
     * tensors whose gradients and moments are held elsewhere (the GPU's
     * layers, train/gpu.c): neither read nor updated here; held_ss, the sum
     * of their gradients' squares, joins the norm. */
    size_t held_lo, held_hi;
    double held_ss;
} train_adamw_blocks;

/* One AdamW update's coefficients for a tensor (torch.optim.AdamW's
 * element operations, see optimizer.c): the clipped gradient g = grad *
 * clip; w *= decay_mul; m += (g - m) one_minus_b1; v = v b2 + one_minus_b2
 * g g; w -= step_size (m / (sqrt(v) / bc2_sqrt + eps) + decay_add w). */
typedef struct {
    float clip, decay_mul, decay_add, one_minus_b1, b2, one_minus_b2, bc2_sqrt, eps, step_size;
} train_adamw_coef;

/* The coefficients for a tensor with (decay 1) or without weight decay at
 * 1-based step `step`, learning rate lr and clipping factor clip. */
train_adamw_coef train_adamw_coef_of(const bert_train_params *p, int decay, long step, double lr, float clip);

/* The factor global-norm clipping scales the gradients by at this norm
 * (torch.nn.utils.clip_grad_norm_: max_norm / (norm + 1e-6) above
 * max_grad_norm, else 1). */
float train_clip_of(const bert_train_params *p, double norm);

/* The global L2 norm of the gradients, held_ss included, after zeroing the
 * frozen tensors' gradients; the same on any thread count. */
double train_adamw_norm(const bert_train_params *p, const train_adamw_blocks *b);

/* Optimizer step number `step` (1-based) at learning rate lr, with p's
 * betas, eps and weight decay, the gradients scaled by clip: update params,
 * m and v, zero grads (the held range aside). */
void train_adamw_apply(const bert_train_params *p, const train_adamw_blocks *b, long step, double lr, float clip);

#endif
