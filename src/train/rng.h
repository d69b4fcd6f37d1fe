/* rng.h — the one random number generator of training (PCG32, O'Neill
 * 2014): small state that checkpoints can store, same stream on every
 * machine. */
#ifndef BERT_TRAIN_RNG_H
#define BERT_TRAIN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state, inc;
} bert_rng;

void bert_rng_seed(bert_rng *r, uint64_t seed, uint64_t stream);
uint32_t bert_rng_u32(bert_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable floats). */
float bert_rng_uniform(bert_rng *r);
/* Standard normal (Box-Muller, both values used in turn is NOT done: one per call). */
float bert_rng_normal(bert_rng *r);
/* Uniform integer in [0, n). */
uint32_t bert_rng_below(bert_rng *r, uint32_t n);
/* Skip n draws of bert_rng_u32 (or bert_rng_uniform) in O(log n) steps:
 * r ends where n calls would have left it. */
void bert_rng_advance(bert_rng *r, uint64_t n);
/* The LCG's n-step map: n draws take the state s to A s + B (mod 2^64). */
void bert_rng_step_map(const bert_rng *r, uint64_t n, uint64_t *A, uint64_t *B);

#endif
