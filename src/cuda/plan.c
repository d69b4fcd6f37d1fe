/* plan.c — host-side planning of the GPU attention (see encoder.h): which
 * (sequence, head) pairs share a batched product, and where their operands
 * lie; the fused kernel's query tiles. Plain C: built and tested without a
 * GPU. */
#include "cuda/encoder.h"

#include <stdlib.h>

typedef struct {
    int T, seq;
} by_length;

static int compare_length(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->T != y->T) return x->T < y->T ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int bert_cuda_plan(const int *offset, int n_seqs, int heads, size_t score_cap, bert_cuda_pair *pairs,
                   bert_cuda_group *groups) {
    if (n_seqs < 1 || heads < 1) return -1;
    by_length *order = malloc(sizeof *order * (size_t)n_seqs);
    if (!order) return -2;
    for (int s = 0; s < n_seqs; s++) {
        order[s].T = offset[s + 1] - offset[s];
        order[s].seq = s;
        if (order[s].T < 1) {
            free(order);
            return -1;
        }
    }
    qsort(order, (size_t)n_seqs, sizeof *order, compare_length);
    int n_groups = 0, n_pairs = 0;
    for (int s = 0; s < n_seqs; s++) {
        size_t tt = (size_t)order[s].T * (size_t)order[s].T;
        for (int h = 0; h < heads; h++) {
            bert_cuda_group *g = n_groups ? &groups[n_groups - 1] : NULL;
            /* a new group at a new length, or where the scores would pass the cap */
            if (!g || g->T != order[s].T || (size_t)(g->n + 1) * tt > score_cap || g->n == BERT_CUDA_GROUP_MAX)
                g = &groups[n_groups++], g->T = order[s].T, g->first = n_pairs, g->n = 0;
            pairs[n_pairs].seq = order[s].seq;
            pairs[n_pairs].head = h;
            n_pairs++;
            g->n++;
        }
    }
    free(order);
    return n_groups;
}

void bert_cuda_group_operands(const bert_cuda_group *g, const bert_cuda_pair *pairs, const int *offset, int C,
                              int heads, const float *qkv, const float *scores, float *attn, const float **ptrs,
                              int *keyrow) {
    int n = g->n, hs = C / heads;
    size_t tt = (size_t)g->T * (size_t)g->T, ld = 3 * (size_t)C;
    for (int i = 0; i < n; i++) {
        const bert_cuda_pair *p = &pairs[g->first + i];
        size_t row = (size_t)offset[p->seq], col = (size_t)p->head * (size_t)hs;
        const float *q = qkv + row * ld + col, *k = q + C, *v = q + 2 * (size_t)C, *s = scores + (size_t)i * tt;
        /* S_i = Q_h K_h^T (cuBLAS: A = K_h transposed, B = Q_h), then attn_h = P_i V_h (A = V_h, B = P_i) */
        ptrs[i] = k, ptrs[n + i] = q, ptrs[2 * n + i] = s;
        ptrs[3 * n + i] = v, ptrs[4 * n + i] = s, ptrs[5 * n + i] = attn + row * (size_t)C + col;
        keyrow[i] = offset[p->seq];
    }
}

int bert_cuda_tiles(const int *offset, int n_seqs, int rows, int *tiles) {
    if (n_seqs < 1 || rows < 1) return -1;
    for (int s = 0; s < n_seqs; s++) /* first: tiles holds 2 * offset[n_seqs] only if they increase */
        if (offset[s + 1] <= offset[s]) return -1;
    int n = 0;
    for (int s = 0; s < n_seqs; s++)
        for (int q0 = 0; q0 < offset[s + 1] - offset[s]; q0 += rows) tiles[2 * n] = s, tiles[2 * n + 1] = q0, n++;
    return n;
}
