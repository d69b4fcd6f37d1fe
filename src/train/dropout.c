/* dropout.c — nn.Dropout's masks (dropout.h). */
#include "train/dropout.h"

void train_draw_mask(bert_rng *r, float *mask, size_t n, double p) {
    float keep = (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) mask[i] = p > 0.0 && bert_rng_uniform(r) < (float)p ? 0.0f : keep;
}

void train_dropout(float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}
