/* linear_amx.c — y = x W^T + b on AMX bf16 tiles, W packed at load. Why and
 * the layout: linear_amx.h.
 *
 * Blocking: 32 rows x 32 columns per step, in four f32 accumulator tiles
 * (0-3), two A tiles of 16 rows x 32 inputs (4, 5) and two B tiles of
 * 32 inputs x 16 columns (6, 7): each tile loaded feeds two tdpbf16ps. A
 * thread's part is its rows (all columns) or, for short inputs, a column
 * slab (bert_for_slabs), in groups of rows (bert_amx_group_rows) that stay
 * in L2 while each 32-column B panel (32 columns x K) passes over them
 * (bert_amx_dense_part, amx.h: the rows left over after the 16-row blocks
 * run under a tile configuration of that many rows, so nothing needs
 * padding). A row's sums run over K in the same order in any group or
 * call, so it gets the same bits among any rows. */
#include "kernels/linear_amx.h"

#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "kernels/vecmath.h"

#include <string.h>

void bert_amx_pack_weights(uint16_t *dst, const float *W, int N, int K) {
    int kchunks = K / 32;
    for (int n = 0; n < N; n++) {
        uint16_t *blk = dst + (size_t)(n / 16) * kchunks * 512 + (size_t)(n % 16) * 2;
        const float *w = W + (size_t)n * K;
        for (int k = 0; k < K; k++) blk[(size_t)(k / 32) * 512 + (size_t)(k % 32 / 2) * 32 + k % 2] = bert_f32_to_bf16(w[k]);
    }
}

#if BERT_AMX_INTRINSICS
#include "kernels/amx.h"

int bert_amx_linear_available(int N, int K) {
    return N > 0 && K > 0 && N % 16 == 0 && K % 32 == 0 && bert_amx_bf16_ready();
}

int bert_amx_linear_preferred(int N, int K) { return bert_amx_linear_available(N, K); }

typedef struct {
    float *y;
    const uint16_t *x16, *Wp;
    const float *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
    int in_registers; /* the epilogue runs in finish(): registers_ok */
    int prefetch;     /* W prefetched into L2 ahead of use (bert_amx_dense_part) */
} amx_args;

/* 1 when finish() can run the epilogue: an erf GELU or no activation, and
 * a bf16 copy only where the CPU converts (AVX512-BF16). */
static int registers_ok(const bert_epilogue *e) {
    return e && (e->act < 0 || e->act == BERT_ACT_GELU) && (!e->y16 || bert_cpu_has_avx512bf16());
}

/* Rows i0 .. i0 + rows, columns c0 .. c0 + 16 * ncb of the product, from
 * acc (row stride 32, the bias already in), finished in registers while
 * the block is in L1: the erf GELU (bert_gelu16: the bits of
 * bert_epilogue_run's pass), then y (unless y16_only) and the bf16 copy
 * (bert_bf16_store16_daz: bert_f32_to_bf16_array's bits but for f32
 * subnormals, which become zeros; without its check for them, bert-base
 * bf16 batch 8 on two threads 14.1-14.5 -> 13.2-13.5 ms, with int8's
 * dequantization to bf16 likewise, three interleaved rounds). bert-base
 * shape, bf16, the feed-forward's first product: no f32 middle written
 * and no second pass over it. */
AMX_TARGET static void finish(const amx_args *a, const float *acc, int i0, int rows, int c0, int ncb) {
    const bert_epilogue *e = a->epi;
    int gelu = e->act == BERT_ACT_GELU, keep = !e->y16 || !e->y16_only;
    for (int i = 0; i < rows; i++) {
        float *y = a->y + (size_t)(i0 + i) * a->ldy + c0;
        uint16_t *y16 = e->y16 ? e->y16 + (size_t)(i0 + i) * a->ldy + c0 : NULL;
        for (int c = 0; c < ncb; c++) {
            __m512 v = _mm512_load_ps(acc + i * 32 + c * 16);
            if (gelu) v = bert_gelu16(v);
            if (keep) _mm512_storeu_ps(y + c * 16, v);
            if (y16) bert_bf16_store16_daz(y16 + c * 16, v);
        }
    }
}

/* The step of bert_amx_step_fn (amx.h). The accumulators start, without
 * cin, from the bias (a 64-byte row loaded with stride 0 repeats it in
 * every row) or zero; they end, without cout, in y and the epilogue. */
AMX_TARGET static void step(const void *arg, int i0, int rows, int two_rows, int nb, int two_cols, int kc0, int kc1,
                            const void *cin, void *cout, const bert_amx_prefetch *pf) {
    const amx_args *a = arg;
    int kchunks = a->K / 32;
    const uint16_t *x = a->x16 + (size_t)i0 * a->K;
    const uint16_t *B0 = a->Wp + (size_t)nb * kchunks * 512, *B1 = B0 + (size_t)kchunks * 512;
    long lda = (long)a->K * 2;
    if (!cin && a->bias) {
        _tile_loadd(0, a->bias + nb * 16, 0);
        _tile_loadd(1, a->bias + nb * 16, 0);
        if (two_cols) { /* the bias has no 16 values past an odd last block */
            _tile_loadd(2, a->bias + nb * 16 + 16, 0);
            _tile_loadd(3, a->bias + nb * 16 + 16, 0);
        }
    } else {
        bert_amx_start_c(cin, two_rows, two_cols);
    }
    for (int kc = kc0; kc < kc1; kc++) {
        bert_amx_prefetch_chunk(pf, kc - kc0);
        _tile_loadd(4, x + kc * 32, lda);
        _tile_loadd(6, B0 + (size_t)kc * 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (two_rows) {
            _tile_loadd(5, x + (size_t)16 * a->K + kc * 32, lda);
            _tile_dpbf16ps(1, 5, 6);
        }
        if (two_cols) {
            _tile_loadd(7, B1 + (size_t)kc * 512, 64);
            _tile_dpbf16ps(2, 4, 7);
            if (two_rows) _tile_dpbf16ps(3, 5, 7);
        }
    }
    if (cout) {
        bert_amx_store_c(cout, 128, two_rows, two_cols);
        return;
    }
    if (a->in_registers) {
        float acc[32 * 32] __attribute__((aligned(64)));
        bert_amx_store_c(acc, 128, two_rows, two_cols);
        finish(a, acc, i0, two_rows ? 32 : rows, nb * 16, two_cols ? 2 : 1);
        return;
    }
    bert_amx_store_c(a->y + (size_t)i0 * a->ldy + nb * 16, (long)a->ldy * 4, two_rows, two_cols);
    /* any other epilogue per block rather than per slab, while the values
     * are in L1 */
    bert_epilogue_run(a->epi, a->y, a->ldy, i0, two_rows ? 32 : rows, nb * 16, (nb + (two_cols ? 2 : 1)) * 16);
}

/* Input chunks (of 32) a k-block holds, where the inputs are split
 * (k_blocked). */
enum { KBLOCK_CHUNKS = 8 };

/* 1 when a product's inputs are split into k-blocks of KBLOCK_CHUNKS x 32
 * (bert_amx_dense_part): K of 512-1024 (bert-base's 768). Then a
 * 32-column panel's k-block of W (16 KB) stays in L1 while the group's
 * rows pass over it, where the whole panel (48 KB at K = 768) and the
 * rows' inputs did not fit; the partial sums wait in L1 between k-blocks.
 * Intel Xeon, one thread, bert-base's products of 2 layers in pass order,
 * 1,024 rows: Q, K, V and attention output 8.64 -> 7.23 ms, feed-forward's
 * first 8.42 -> 7.79; the second (K = 3072) lost (8.20 -> 9.02) and is not
 * split. */
static int k_blocked(int K) { return K >= 512 && K <= 1024; }

/* Rows [i0, i1) by columns [j0, j1): a thread's part (bert_for_slabs), its
 * rows in groups of bert_amx_group_rows (rows of 2K bytes), or of
 * BERT_AMX_KBLOCK_ROWS where k-blocked. */
AMX_TARGET static void part(int i0, int i1, int j0, int j1, void *arg) {
    const amx_args *a = arg;
    int kblock = k_blocked(a->K) ? KBLOCK_CHUNKS : 0;
    bert_amx_dense_part(i0, i1, j0, j1, bert_amx_group_rows(2 * a->K), a->K / 32, kblock, a->prefetch ? a->Wp : NULL,
                        step, arg);
}

static void run(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M, int N, int K,
                int n_threads, const bert_epilogue *epi, int prefetch) {
    if (M <= 0 || N <= 0) return;
    amx_args a = {y, x16, Wp, bias, ldy, M, K, epi, registers_ok(epi), prefetch};
    bert_for_slabs(M, N, n_threads, part, &a);
}

void bert_amx_linear(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M, int N,
                     int K, int n_threads, const bert_epilogue *epi) {
    run(y, ldy, x16, Wp, bias, M, N, K, n_threads, epi, 1);
}

void bert_amx_linear_resident(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M,
                              int N, int K, int n_threads, const bert_epilogue *epi) {
    run(y, ldy, x16, Wp, bias, M, N, K, n_threads, epi, 0);
}

#else /* no AMX intrinsics in this build: the oneDNN path is used */

int bert_amx_linear_available(int N, int K) {
    (void)N, (void)K;
    return 0;
}

int bert_amx_linear_preferred(int N, int K) { return bert_amx_linear_available(N, K); }

void bert_amx_linear(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M, int N,
                     int K, int n_threads, const bert_epilogue *epi) {
    (void)y, (void)ldy, (void)x16, (void)Wp, (void)bias, (void)M, (void)N, (void)K, (void)n_threads, (void)epi;
}

void bert_amx_linear_resident(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M,
                              int N, int K, int n_threads, const bert_epilogue *epi) {
    bert_amx_linear(y, ldy, x16, Wp, bias, M, N, K, n_threads, epi);
}

#endif
