/* test_layers.c — the encoder's layer operations (model/layers.h) checked
 * alone, where the model-level tests would not tell which one is wrong. */
#include <stdlib.h>
#include <string.h>

#include "model/layers.h"
#include "test.h"

/* The embeddings' sums of any row range (nn_embeddings_rows) and of the
 * whole batch on one to three threads (nn_embeddings_forward) against
 * (word[id] + type[tt]) + pos[t] written out per token: sequences of
 * every kind around empty ones (first, between, last), with and without
 * token type ids, 300 tokens so that the batch is split over threads. */
TEST(embedding_rows_match_the_sum_of_each_token) {
    enum { V = 50, P = 130, TV = 2, C = 40, S = 7 };
    static float word[V * C], pos[P * C], type[TV * C];
    unsigned seed = 11;
    for (int i = 0; i < V * C; i++) word[i] = (float)(rand_r(&seed) % 2001 - 1000) / 997.0f;
    for (int i = 0; i < P * C; i++) pos[i] = (float)(rand_r(&seed) % 2001 - 1000) / 991.0f;
    for (int i = 0; i < TV * C; i++) type[i] = (float)(rand_r(&seed) % 2001 - 1000) / 983.0f;
    bert_weights w;
    memset(&w, 0, sizeof w);
    w.word = word, w.pos = pos, w.type = type;
    static const int lens[S] = {0, 120, 1, 0, 0, 130, 49};
    static int32_t ids[S][P], tts[S][P], mask[S][P];
    bert_sequence seqs[S];
    int offset[S + 1] = {0};
    for (int s = 0; s < S; s++) {
        for (int t = 0; t < lens[s]; t++) ids[s][t] = rand_r(&seed) % V, tts[s][t] = t > lens[s] / 2, mask[s][t] = t % 5 != 4;
        seqs[s] = (bert_sequence){.input_ids = ids[s], .n_tokens = lens[s], .token_type_ids = s % 2 ? tts[s] : NULL,
                                  .attention_mask = s == 5 ? mask[s] : NULL};
        offset[s + 1] = offset[s] + lens[s];
    }
    int N = offset[S];
    float *ref = malloc(sizeof(float) * N * C), *out = malloc(sizeof(float) * N * C), *km = malloc(sizeof(float) * N);
    CHECK(ref && out && km);
    if (!ref || !out || !km) return;
    for (int s = 0; s < S; s++)
        for (int t = 0; t < lens[s]; t++)
            for (int j = 0; j < C; j++) {
                int tt = seqs[s].token_type_ids ? seqs[s].token_type_ids[t] : 0;
                ref[(size_t)(offset[s] + t) * C + j] = (word[ids[s][t] * C + j] + type[tt * C + j]) + pos[t * C + j];
            }
    static const int cuts[][2] = {{0, 300}, {0, 1}, {119, 122}, {120, 121}, {121, 122}, {250, 300}, {299, 300}, {5, 5}};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        int r0 = cuts[c][0], r1 = cuts[c][1];
        for (int i = 0; i < N * C; i++) out[i] = NAN;
        nn_embeddings_rows(out, &w, C, seqs, S, offset, r0, r1);
        int ok = 1;
        for (int i = 0; i < N * C; i++) {
            int row = i / C;
            ok &= row >= r0 && row < r1 ? out[i] == ref[i] : isnan(out[i]);
        }
        if (!ok) test_fail(__FILE__, __LINE__, "rows [%d, %d): not the tokens' sums, or rows outside written", r0, r1);
    }
    for (int nt = 1; nt <= 3; nt++) {
        for (int i = 0; i < N * C; i++) out[i] = NAN;
        nn_embeddings_forward(out, km, &w, C, seqs, S, offset, nt);
        CHECK(memcmp(out, ref, sizeof(float) * N * C) == 0);
        CHECK(km[offset[5] + 4] == 0.0f && km[offset[5] + 5] == 1.0f && km[offset[6]] == 1.0f);
    }
    free(ref), free(out), free(km);
}
