/* slabs.c — column slabs over OpenMP threads, bias prefill and epilogue
 * (see slabs.h). */
#include "kernels/slabs.h"

#include "kernels/half.h"
#include "kernels/ops.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Runs part(t, nt, ctx) on each thread t of a team of (up to) nt; nt is the
 * team's actual size, so no share is lost where fewer threads are given. */
typedef void (*part_fn)(int t, int nt, void *ctx);
static void on_threads(int nt, part_fn part, void *ctx) {
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        part(omp_get_thread_num(), omp_get_num_threads(), ctx);
#else
        part(0, 1, ctx);
#endif
    }
}

typedef struct {
    bert_slab_fn fn;
    void *arg;
    int N;
} columns_job;

/* Column slabs of 16 keep each thread's writes apart and SIMD-friendly. */
static void column_part(int t, int nt, void *ctx) {
    const columns_job *c = ctx;
    int n_blocks = (c->N + 15) / 16, b0 = n_blocks * t / nt, b1 = n_blocks * (t + 1) / nt;
    int j0 = b0 * 16, j1 = b1 * 16 < c->N ? b1 * 16 : c->N;
    if (j1 > j0) c->fn(j0, j1, c->arg);
}

void bert_for_column_slabs(int N, int n_threads, bert_slab_fn fn, void *arg) {
    int n_blocks = (N + 15) / 16, nt = n_threads < 1 ? 1 : n_threads;
    columns_job c = {fn, arg, N};
    on_threads(nt < n_blocks ? nt : n_blocks, column_part, &c);
}

typedef struct {
    bert_block_fn fn;
    void *arg;
    int M, N;
} blocks_job;

static void all_rows(int j0, int j1, void *arg) {
    const blocks_job *b = arg;
    b->fn(0, b->M, j0, j1, b->arg);
}

static void row_part(int t, int nt, void *ctx) {
    const blocks_job *b = ctx;
    int i0 = (int)((long long)b->M * t / nt), i1 = (int)((long long)b->M * (t + 1) / nt);
    if (i1 > i0) b->fn(i0, i1, 0, b->N, b->arg);
}

void bert_for_slabs(int M, int N, int n_threads, bert_block_fn fn, void *arg) {
    int nt = n_threads < 1 ? 1 : n_threads;
    blocks_job b = {fn, arg, M, N};
    if (nt == 1) fn(0, M, 0, N, arg);
    else if (M < BERT_ROW_SLAB_ROWS * nt) bert_for_column_slabs(N, nt, all_rows, &b);
    else on_threads(nt, row_part, &b);
}

float bert_bias_prefill(float *y, int ldy, const float *bias, int M, int j0, int j1) {
    if (!bias) return 0.0f;
    for (int i = 0; i < M; i++) memcpy(y + (size_t)i * ldy + j0, bias + j0, (size_t)(j1 - j0) * sizeof(float));
    return 1.0f;
}

void bert_epilogue_run(const bert_epilogue *epi, float *y, int ldy, int i0, int M, int j0, int j1) {
    if (!epi) return;
    for (int i = i0; i < i0 + M; i++) {
        float *r = y + (size_t)i * ldy + j0;
        if (epi->act >= 0) bert_activation_forward(r, (size_t)(j1 - j0), (bert_activation)epi->act, 1);
        if (epi->y16) bert_f32_to_bf16_array(epi->y16 + (size_t)i * ldy + j0, r, (size_t)(j1 - j0));
    }
}

int bert_epilogue_gelu_only(const bert_epilogue *epi) { return epi && epi->act == BERT_ACT_GELU && !epi->y16; }

int bert_padded_begin(bert_padded *p, const void *x, size_t row_bytes, int M, int N) {
    p->x = calloc(BERT_LINEAR_MIN_ROWS, row_bytes);
    p->y = malloc(sizeof(float) * BERT_LINEAR_MIN_ROWS * (size_t)N);
    if (!p->x || !p->y) {
        free(p->x), free(p->y);
        return 0;
    }
    memcpy(p->x, x, row_bytes * (size_t)M);
    return 1;
}

void bert_padded_end(bert_padded *p, float *y, int ldy, int M, int N, const bert_epilogue *epi) {
    for (int i = 0; i < M; i++) memcpy(y + (size_t)i * ldy, p->y + (size_t)i * N, sizeof(float) * N);
    bert_epilogue_run(epi, y, ldy, 0, M, 0, N);
    free(p->x), free(p->y);
}
