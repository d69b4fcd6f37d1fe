/* test_plan.c — the GPU attention's host-side plan (cuda/plan.c): which
 * (sequence, head) pairs share a batched product and where their operands
 * lie, checked against what encoder.h specifies. Needs no GPU: the buffer
 * "addresses" are offsets from fake bases, only computed with. */
#include <stdint.h>
#include <stdlib.h>

#include "cuda/encoder.h"
#include "test.h"

TEST(cuda_plan_groups_pairs_by_length_under_the_cap) {
    /* lengths 3, 5, 3, 8; two heads */
    int offset[] = {0, 3, 8, 11, 19};
    bert_cuda_pair pairs[8];
    bert_cuda_group groups[8];
    int n = bert_cuda_plan(offset, 4, 2, (size_t)1 << 20, pairs, groups);
    CHECK(n == 3);
    CHECK(groups[0].T == 3 && groups[0].first == 0 && groups[0].n == 4);
    CHECK(groups[1].T == 5 && groups[1].first == 4 && groups[1].n == 2);
    CHECK(groups[2].T == 8 && groups[2].first == 6 && groups[2].n == 2);
    /* within a length: by sequence, then head */
    static const int want[8][2] = {{0, 0}, {0, 1}, {2, 0}, {2, 1}, {1, 0}, {1, 1}, {3, 0}, {3, 1}};
    for (int i = 0; i < 8; i++) CHECK(pairs[i].seq == want[i][0] && pairs[i].head == want[i][1]);
    /* a cap of 18 floats: two 3 x 3 pairs per group; a 5 x 5 or 8 x 8 pair alone */
    n = bert_cuda_plan(offset, 4, 2, 18, pairs, groups);
    CHECK(n == 6);
    static const int want_g[6][3] = {{3, 0, 2}, {3, 2, 2}, {5, 4, 1}, {5, 5, 1}, {8, 6, 1}, {8, 7, 1}};
    for (int g = 0; g < n && g < 6; g++)
        CHECK(groups[g].T == want_g[g][0] && groups[g].first == want_g[g][1] && groups[g].n == want_g[g][2]);
    /* an empty sequence or decreasing offsets: refused */
    int bad[] = {0, 3, 3, 5};
    CHECK(bert_cuda_plan(bad, 3, 2, 100, pairs, groups) == -1);
    int back[] = {0, 4, 2};
    CHECK(bert_cuda_plan(back, 2, 1, 100, pairs, groups) == -1);
    CHECK(bert_cuda_plan(offset, 0, 2, 100, pairs, groups) == -1);
}

TEST(cuda_plan_splits_groups_at_the_grid_limit) {
    enum { S = BERT_CUDA_GROUP_MAX + 5 };
    int *offset = malloc(sizeof(int) * (S + 1));
    bert_cuda_pair *pairs = malloc(sizeof *pairs * S);
    bert_cuda_group *groups = malloc(sizeof *groups * S);
    for (int s = 0; s <= S; s++) offset[s] = 2 * s;
    int n = bert_cuda_plan(offset, S, 1, (size_t)1 << 30, pairs, groups);
    CHECK(n == 2 && groups[0].n == BERT_CUDA_GROUP_MAX && groups[1].n == 5 && groups[1].first == BERT_CUDA_GROUP_MAX);
    free(offset), free(pairs), free(groups);
}

TEST(cuda_plan_operands_point_at_each_pairs_rows_and_head) {
    /* C = 8, 2 heads of 4; sequences of 3 and 2 tokens */
    int offset[] = {0, 3, 5}, C = 8;
    bert_cuda_pair pairs[4];
    bert_cuda_group groups[4];
    int n = bert_cuda_plan(offset, 2, 2, 1000, pairs, groups);
    CHECK(n == 2);
    const float *qkv = (const float *)(uintptr_t)0x100000, *scores = (const float *)(uintptr_t)0x200000;
    float *attn = (float *)(uintptr_t)0x300000;
    const float *ptrs[24];
    int keyrow[4];
    /* group 1: length 3, sequence 0, heads 0 and 1 */
    const bert_cuda_group *g = &groups[1];
    CHECK(g->T == 3 && g->n == 2);
    bert_cuda_group_operands(g, pairs, offset, C, 2, qkv, scores, attn, ptrs, keyrow);
    for (int i = 0; i < 2; i++) {
        int h = pairs[g->first + i].head;
        size_t col = (size_t)h * 4;
        CHECK(ptrs[i] == qkv + C + col);                 /* K_h of row 0 */
        CHECK(ptrs[2 + i] == qkv + col);                 /* Q_h */
        CHECK(ptrs[4 + i] == scores + (size_t)i * 9);    /* S_i */
        CHECK(ptrs[6 + i] == qkv + 2 * C + col);         /* V_h */
        CHECK(ptrs[8 + i] == scores + (size_t)i * 9);    /* P_i */
        CHECK(ptrs[10 + i] == attn + col);               /* attn_h */
        CHECK(keyrow[i] == 0);
    }
    /* group 0: length 2, sequence 1 (rows 3..4) */
    g = &groups[0];
    bert_cuda_group_operands(g, pairs, offset, C, 2, qkv, scores, attn, ptrs, keyrow);
    for (int i = 0; i < 2; i++) {
        size_t col = (size_t)pairs[g->first + i].head * 4;
        CHECK(ptrs[2 + i] == qkv + 3 * 3 * (size_t)C + col); /* Q_h of row 3, rows 3C apart */
        CHECK(ptrs[10 + i] == attn + 3 * (size_t)C + col);   /* attn rows C apart */
        CHECK(keyrow[i] == 3);
    }
}

TEST(cuda_plan_tiles_cover_every_row_once) {
    int offset[] = {0, 1, 33, 97, 130}; /* lengths 1, 32, 64, 33 */
    int tiles[2 * 130];
    int n = bert_cuda_tiles(offset, 4, 32, tiles);
    static const int want[][2] = {{0, 0}, {1, 0}, {2, 0}, {2, 32}, {3, 0}, {3, 32}};
    CHECK(n == 6);
    for (int i = 0; i < n && i < 6; i++) CHECK(tiles[2 * i] == want[i][0] && tiles[2 * i + 1] == want[i][1]);
    /* one-row tiles: a tile per token, the most a buffer of 2 ints a token holds */
    CHECK(bert_cuda_tiles(offset, 4, 1, tiles) == 130);
    CHECK(tiles[2 * 129] == 3 && tiles[2 * 129 + 1] == 32);
    int empty[] = {0, 5, 5}, decreasing[] = {0, 1000, 1};
    CHECK(bert_cuda_tiles(empty, 2, 32, tiles) == -1);
    /* refused before a tile is written (1000 rows would overrun a buffer sized for 1 token) */
    int small[2] = {-7, -7};
    CHECK(bert_cuda_tiles(decreasing, 2, 1, small) == -1 && small[0] == -7 && small[1] == -7);
    CHECK(bert_cuda_tiles(offset, 0, 32, tiles) == -1 && bert_cuda_tiles(offset, 4, 0, tiles) == -1);
}
