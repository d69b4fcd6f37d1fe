/* dropout.c — nn.Dropout's masks (dropout.h). */
#include "train/dropout.h"

void train_draw_mask(bert_rng *r, float *mask, size_t n, double p) {
    float keep = (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) mask[i] = p > 0.0 && bert_rng_uniform(r) < (float)p ? 0.0f : keep;
}

void train_draw_mask_part(bert_rng *r, float *mask, size_t blocks, size_t n, double p, size_t before, size_t after) {
    for (size_t b = 0; b < blocks; b++) {
        if (p > 0.0) bert_rng_advance(r, before);
        train_draw_mask(r, mask + b * n, n, p);
        if (p > 0.0) bert_rng_advance(r, after);
    }
}

void train_dropout(float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}
