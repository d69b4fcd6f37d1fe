/* Dropout masks: train_draw_mask gives the draws of bert_rng_uniform one
 * after another, whatever path draws them (16 lanes at a time on AVX-512),
 * and leaves the RNG where those draws leave it. */
#include <stdlib.h>

#include "test.h"
#include "train/dropout.h"

TEST(dropout_mask_is_the_scalar_draws_in_order) {
    static const size_t sizes[] = {0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 1000, 4099};
    static const double ps[] = {0.0, 0.1, 0.5, 0.9};
    float *got = malloc(4099 * sizeof *got);
    CHECK(got != NULL);
    if (!got) return;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++) {
            size_t n = sizes[si];
            double p = ps[pi];
            bert_rng a, b;
            bert_rng_seed(&a, 1234 + si, 7 + pi);
            b = a;
            train_draw_mask(&a, got, n, p);
            float keep = (float)(1.0 / (1.0 - p));
            size_t bad = 0, dropped = 0;
            for (size_t i = 0; i < n; i++) {
                float want = p > 0.0 && bert_rng_uniform(&b) < (float)p ? 0.0f : keep;
                bad += got[i] != want;
                dropped += got[i] == 0.0f;
            }
            CHECK(bad == 0);
            CHECK(a.state == b.state && a.inc == b.inc);
            if (n >= 1000 && p > 0.0) CHECK(dropped > (size_t)(0.8 * p * n) && dropped < (size_t)(1.2 * p * n) + 1);
        }
    free(got);
}
