/* rng.c — PCG32 (XSH RR variant). */
#include "train/rng.h"

#include <math.h>

#include "util/pcg32.h"

void bert_rng_seed(bert_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    bert_rng_u32(r);
    r->state += seed;
    bert_rng_u32(r);
}

uint32_t bert_rng_u32(bert_rng *r) {
    uint64_t old = r->state;
    r->state = bert_pcg32_next(old, r->inc);
    return bert_pcg32_output(old);
}

float bert_rng_uniform(bert_rng *r) { return bert_pcg32_uniform(bert_rng_u32(r)); }

float bert_rng_normal(bert_rng *r) {
    double u1 = ((double)(bert_rng_u32(r) >> 8) + 0.5) / 16777216.0, u2 = (double)(bert_rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t bert_rng_below(bert_rng *r, uint32_t n) {
    /* Lemire's unbiased bounded integers, simple rejection form. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = bert_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

void bert_rng_step_map(const bert_rng *r, uint64_t n, uint64_t *A, uint64_t *B) { bert_pcg32_step_map(r->inc, n, A, B); }

void bert_rng_advance(bert_rng *r, uint64_t n) {
    uint64_t A, B;
    bert_rng_step_map(r, n, &A, &B);
    r->state = A * r->state + B;
}
