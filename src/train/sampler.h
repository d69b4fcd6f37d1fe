/* sampler.h — which task the next micro-batch of a multi-task run comes
 * from (bert_sampler_params), drawn from its own seeded RNG so that its
 * state can go into checkpoints. */
#ifndef BERT_TRAIN_SAMPLER_H
#define BERT_TRAIN_SAMPLER_H

#include "bert.h"
#include "train/rng.h"

typedef struct {
    bert_sampler_params p;
    long sizes[BERT_MAX_HEADS];
    int n;
    bert_rng rng;
    long drawn; /* tasks drawn so far (round-robin's position) */
} train_sampler;

/* Check p and sizes (as bert_sampler_probabilities does) and seed the RNG. */
bert_status train_sampler_init(train_sampler *s, const bert_sampler_params *p, const long *sizes, int n, uint64_t seed,
                               bert_error *err);

/* The task of the next micro-batch at optimizer step `step` of `total`.
 * One task is always task 0, and draws nothing. */
int train_sampler_next(train_sampler *s, long step, long total);

#endif
