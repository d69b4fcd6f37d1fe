/* pcg32.h — PCG32 (O'Neill 2014, the XSH RR output) as inline functions the
 * CPU (train/rng.c) and the GPU (cuda/train.cu, which draws the training
 * dropout masks from the same stream) share: the LCG step, the output of a
 * state, and the LCG's n-step map. */
#ifndef BERT_UTIL_PCG32_H
#define BERT_UTIL_PCG32_H

#include <stdint.h>

#ifdef __CUDACC__ /* nvcc; the tests' CPU emulator of the .cu files takes them as they are */
#define BERT_PCG32_FN static inline __host__ __device__
#else
#define BERT_PCG32_FN static inline
#endif

#define BERT_PCG32_MULT 6364136223846793005ULL

/* The state after `state` (increment inc). */
BERT_PCG32_FN uint64_t bert_pcg32_next(uint64_t state, uint64_t inc) { return state * BERT_PCG32_MULT + inc; }

/* The 32-bit output drawn at `state` (XSH RR: xorshift high, random rotation). */
BERT_PCG32_FN uint32_t bert_pcg32_output(uint64_t state) {
    uint32_t xorshifted = (uint32_t)(((state >> 18u) ^ state) >> 27u);
    uint32_t rot = (uint32_t)(state >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

/* The LCG's n-step map for increment inc: n draws take a state s to A s + B
 * (mod 2^64), by squaring (Brown, "Random number generation with arbitrary
 * strides", 1994, as pcg32_advance does). */
BERT_PCG32_FN void bert_pcg32_step_map(uint64_t inc, uint64_t n, uint64_t *A, uint64_t *B) {
    uint64_t mult = BERT_PCG32_MULT, plus = inc, acc_mult = 1, acc_plus = 0;
    for (; n > 0; n >>= 1) {
        if (n & 1) acc_mult *= mult, acc_plus = acc_plus * mult + plus;
        plus = (mult + 1) * plus;
        mult *= mult;
    }
    *A = acc_mult, *B = acc_plus;
}

/* A draw's uniform in [0, 1): its top 24 bits (exactly representable). */
BERT_PCG32_FN float bert_pcg32_uniform(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

#endif
