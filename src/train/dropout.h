/* dropout.h — nn.Dropout in training: a mask of scales drawn from the
 * trainer's RNG, then applied. The mask is drawn on one thread in a fixed
 * order, so a run is reproducible whatever the thread count. */
#ifndef BERT_TRAIN_DROPOUT_H
#define BERT_TRAIN_DROPOUT_H

#include <stddef.h>

#include "train/rng.h"

/* mask[i] = 0 with probability p, else 1 / (1 - p), for i < n. */
void train_draw_mask(bert_rng *r, float *mask, size_t n, double p);

/* x[i] *= mask[i]: dropout's forward, and its backward on a gradient. */
void train_dropout(float *x, const float *mask, size_t n);

#endif
