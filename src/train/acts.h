/* acts.h — the activations a training step keeps for its backward pass
 * (shared by backprop.c, the encoder, and heads.c, the task heads). */
#ifndef BERT_TRAIN_ACTS_H
#define BERT_TRAIN_ACTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float *x_in;          /* [N x C] layer input */
    float *q, *k, *v;     /* [N x C] */
    float *probs;         /* [NH x sum T^2] softmax output */
    float *probs_d;       /* same, after dropout */
    float *ctx;           /* [N x C] */
    float *ao_mask;       /* [N x C] dropout scale (0 or 1/(1-p)) after attention output dense */
    float *r1, *mean1, *rstd1; /* [N x C], [N], [N] residual sum before LayerNorm 1 */
    float *h1;            /* [N x C] LayerNorm 1 output */
    float *f_pre, *f_act; /* [N x I] */
    float *fo_mask;       /* [N x C] */
    float *r2, *mean2, *rstd2;
    /* bf16 compute only: the dense layers' inputs as rounded for the
     * forward products, kept for the weight gradients */
    uint16_t *x16, *ctx16, *h1_16, *fact16;
} layer_acts;

struct train_acts {
    size_t cap_floats;
    int N, S;
    float *block;
    float *e_sum, *e_mean, *e_rstd, *e_ln, *e_mask; /* embeddings */
    layer_acts *layers;
    float *x_out;              /* [N x C] last layer output */
    /* scratch for backward */
    float *dx, *dtmp, *dC1, *dI, *dq, *dk, *dv, *dP, *dS;
    int *offset;               /* [S + 1] */
    size_t *poff;              /* [S + 1] offset of each sequence's T x T block */
    uint16_t *block16;         /* bf16 compute: the layers' x16.. and dy16 */
    size_t cap16;
    uint16_t *dy16;            /* [N x max(I, C)] an output gradient rounded to bf16 */
};

#include "train/rng.h"

/* Dropout scale per element: 0 with probability p, else 1 / (1 - p). */
void train_draw_mask(bert_rng *r, float *mask, size_t n, double p);

#endif
