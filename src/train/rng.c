/* rng.c — PCG32 (XSH RR variant). */
#include "train/rng.h"

#include <math.h>

void bert_rng_seed(bert_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    bert_rng_u32(r);
    r->state += seed;
    bert_rng_u32(r);
}

uint32_t bert_rng_u32(bert_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

float bert_rng_uniform(bert_rng *r) { return (float)(bert_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

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

void bert_rng_step_map(const bert_rng *r, uint64_t n, uint64_t *A, uint64_t *B) {
    /* by squaring (Brown, "Random number generation with arbitrary
     * strides", 1994), as pcg32_advance does */
    uint64_t mult = 6364136223846793005ULL, plus = r->inc, acc_mult = 1, acc_plus = 0;
    for (; n > 0; n >>= 1) {
        if (n & 1) acc_mult *= mult, acc_plus = acc_plus * mult + plus;
        plus = (mult + 1) * plus;
        mult *= mult;
    }
    *A = acc_mult, *B = acc_plus;
}

void bert_rng_advance(bert_rng *r, uint64_t n) {
    uint64_t A, B;
    bert_rng_step_map(r, n, &A, &B);
    r->state = A * r->state + B;
}
