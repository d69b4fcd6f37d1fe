/* slabs.c — column slabs over OpenMP threads, bias prefill and epilogue
 * (see slabs.h). */
#include "kernels/slabs.h"

#include "kernels/half.h"
#include "kernels/ops.h"

#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void bert_for_column_slabs(int N, int n_threads, bert_slab_fn fn, void *arg) {
    /* Column slabs of 16 keep each thread's writes apart and SIMD-friendly. */
    int n_blocks = (N + 15) / 16;
    int nt = n_threads < 1 ? 1 : n_threads;
    if (nt > n_blocks) nt = n_blocks;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num();
#else
        int t = 0;
        nt = 1;
#endif
        int b0 = n_blocks * t / nt, b1 = n_blocks * (t + 1) / nt;
        int j0 = b0 * 16, j1 = b1 * 16 < N ? b1 * 16 : N;
        if (j1 > j0) fn(j0, j1, arg);
    }
}

typedef struct {
    bert_block_fn fn;
    void *arg;
    int M;
} columns_args;

static void all_rows(int j0, int j1, void *arg) {
    const columns_args *c = arg;
    c->fn(0, c->M, j0, j1, c->arg);
}

void bert_for_slabs(int M, int N, int n_threads, bert_block_fn fn, void *arg) {
    int nt = n_threads < 1 ? 1 : n_threads;
    if (nt == 1) {
        fn(0, M, 0, N, arg);
        return;
    }
    if (M < BERT_ROW_SLAB_ROWS * nt) {
        columns_args c = {fn, arg, M};
        bert_for_column_slabs(N, nt, all_rows, &c);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num();
#else
        int t = 0;
        nt = 1;
#endif
        int i0 = (int)((long long)M * t / nt), i1 = (int)((long long)M * (t + 1) / nt);
        if (i1 > i0) fn(i0, i1, 0, N, arg);
    }
}

float bert_bias_prefill(float *y, int ldy, const float *bias, int M, int j0, int j1) {
    if (!bias) return 0.0f;
    for (int i = 0; i < M; i++) memcpy(y + (size_t)i * ldy + j0, bias + j0, (size_t)(j1 - j0) * sizeof(float));
    return 1.0f;
}

void bert_epilogue_run(const bert_epilogue *epi, float *y, int ldy, int M, int j0, int j1) {
    if (!epi) return;
    for (int i = 0; i < M; i++) {
        float *r = y + (size_t)i * ldy + j0;
        if (epi->act >= 0) bert_activation_forward(r, (size_t)(j1 - j0), (bert_activation)epi->act, 1);
        if (epi->y16) bert_f32_to_bf16_array(epi->y16 + (size_t)i * ldy + j0, r, (size_t)(j1 - j0));
    }
}

const bert_epilogue *bert_epilogue_from_row(const bert_epilogue *epi, int i0, int ldy, bert_epilogue *buf) {
    if (!epi) return NULL;
    *buf = *epi;
    if (buf->y16) buf->y16 += (size_t)i0 * ldy;
    return buf;
}
