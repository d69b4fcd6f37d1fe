/* optimizer.c — AdamW, learning-rate schedules and gradient clipping.
 *
 * AdamW is torch.optim.AdamW (what Hugging Face's Trainer uses): weight
 * decay applied as p *= 1 - lr * wd before the moment update, bias
 * correction, eps added to sqrt(v_hat). bert_adam = 1 gives the original
 * BERT optimizer (no bias correction; decay added to the update). */
#include <math.h>
#include <string.h>

#include "train/trainer.h"

double train_lr_at(const bert_train_params *p, long step) {
    long total = p->total_steps > 0 ? p->total_steps : 1;
    long warm = p->warmup_steps > 0 ? p->warmup_steps : (long)ceil(p->warmup_ratio * (double)total);
    if (step < warm) return p->lr * (double)step / (double)(warm > 0 ? warm : 1);
    switch (p->schedule) {
    case BERT_SCHEDULE_CONSTANT: return p->lr;
    case BERT_SCHEDULE_COSINE: {
        /* get_cosine_schedule_with_warmup, num_cycles 0.5 */
        double progress = (double)(step - warm) / (double)(total - warm > 0 ? total - warm : 1);
        double f = 0.5 * (1.0 + cos(3.141592653589793 * progress));
        return p->lr * (f > 0.0 ? f : 0.0);
    }
    default: { /* get_linear_schedule_with_warmup */
        double f = (double)(total - step) / (double)(total - warm > 0 ? total - warm : 1);
        return p->lr * (f > 0.0 ? f : 0.0);
    }
    }
}

void train_adamw_step(bert_trainer *t, double lr) {
    const bert_train_params *p = &t->p;
    /* Global-norm clipping (torch.nn.utils.clip_grad_norm_): scale by
     * max_norm / (norm + 1e-6) when the norm exceeds max_norm. */
    for (int k = 0; k < t->n_tensors; k++) /* a frozen tensor is as if requires_grad were False */
        if (t->tensors[k].frozen)
            memset(t->grads + t->tensors[k].offset, 0,
                   sizeof(float) * (size_t)t->tensors[k].rows * (size_t)(t->tensors[k].cols ? t->tensors[k].cols : 1));
    double ss = 0.0;
    for (size_t i = 0; i < t->n_params; i++) ss += (double)t->grads[i] * t->grads[i];
    double norm = sqrt(ss);
    t->last_grad_norm = norm;
    float clip = 1.0f;
    if (p->max_grad_norm > 0 && norm > p->max_grad_norm) clip = (float)(p->max_grad_norm / (norm + 1e-6));
    long step = t->step + 1;
    float b1 = (float)p->beta1, b2 = (float)p->beta2, eps = (float)p->eps, flr = (float)lr;
    float bc1 = (float)(1.0 - pow(p->beta1, (double)step)), bc2 = (float)(1.0 - pow(p->beta2, (double)step));
    float step_size = p->bert_adam ? flr : flr / bc1, bc2_sqrt = p->bert_adam ? 1.0f : sqrtf(bc2);
    for (int k = 0; k < t->n_tensors; k++) {
        const train_tensor *tt = &t->tensors[k];
        if (tt->frozen) continue;
        size_t n = (size_t)tt->rows * (size_t)(tt->cols ? tt->cols : 1);
        float wd = tt->decay ? (float)p->weight_decay : 0.0f;
        float *w = t->params + tt->offset, *g = t->grads + tt->offset, *m = t->m + tt->offset, *v = t->v + tt->offset;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * clip;
            if (!p->bert_adam) w[i] *= 1.0f - flr * wd;
            m[i] += (gi - m[i]) * (1.0f - b1); /* lerp, as torch */
            v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / bc2_sqrt + eps;
            float update = m[i] / denom;
            if (p->bert_adam) update += wd * w[i];
            w[i] -= step_size * update;
        }
    }
    memset(t->grads, 0, t->n_params * sizeof *t->grads);
    t->step = step;
}
