/* bench_util.h — what the bench programs share: a monotonic clock, sorting
 * of timings (for medians and minima) and the FLOP count of a pass. */
#ifndef BERT_BENCH_UTIL_H
#define BERT_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sort t[0..n) ascending (t[0] is then the minimum). */
static inline void bench_sort(double *t, int n) { qsort(t, (size_t)n, sizeof *t, bench_cmp_double); }

/* The FLOPs of one sequence of T tokens through the encoder's products:
 * per layer the dense layers' 2 T (4 C^2 + 2 C I) and attention's two
 * products 4 T^2 C, then the pooler's 2 C^2. */
static inline double bench_sequence_flops(int layers, double C, double I, double T) {
    return layers * (2.0 * T * (4 * C * C + 2 * C * I) + 4.0 * T * T * C) + 2.0 * C * C;
}

#endif
