/* dropout.h — nn.Dropout in training: a mask of scales drawn from the
 * trainer's RNG, then applied. The mask is drawn on one thread in a fixed
 * order, so a run is reproducible whatever the thread count. */
#ifndef BERT_TRAIN_DROPOUT_H
#define BERT_TRAIN_DROPOUT_H

#include <stddef.h>

#include "train/rng.h"

/* mask[i] = 0 with probability p, else 1 / (1 - p), for i < n. */
void train_draw_mask(bert_rng *r, float *mask, size_t n, double p);

/* A part of a batch's mask: `blocks` blocks of n values into mask (block b
 * at mask + b n), each drawn as the values [before, before + n) of a block
 * of before + n + after draws, the draws of the rest skipped: the part of
 * the whole batch's mask that falls on this part's elements, the RNG left
 * where drawing the whole mask leaves it. p = 0 draws nothing. */
void train_draw_mask_part(bert_rng *r, float *mask, size_t blocks, size_t n, double p, size_t before, size_t after);

/* x[i] *= mask[i]: dropout's forward, and its backward on a gradient. */
void train_dropout(float *x, const float *mask, size_t n);

#endif
