/* bench_util.h — what the bench programs share: a monotonic clock and
 * sorting of timings (for medians and minima). */
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

#endif
