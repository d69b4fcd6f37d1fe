/* linear_amx.c — y = x W^T + b on AMX bf16 tiles, W packed at load. Why and
 * the layout: linear_amx.h.
 *
 * Blocking: 32 rows x 32 columns per step, in four f32 accumulator tiles
 * (0-3), two A tiles of 16 rows x 32 inputs (4, 5) and two B tiles of
 * 32 inputs x 16 columns (6, 7): each tile loaded feeds two tdpbf16ps. A
 * thread's part is its rows (all columns) or, for short inputs, a column
 * slab (bert_for_slabs); each 32-column B panel (32 columns x K) stays in
 * L2 while the part's row blocks pass over it (bert_amx_dense_part,
 * amx.h: the rows left over after the 16-row blocks run under a tile
 * configuration of that many rows, so nothing needs padding). */
#include "kernels/linear_amx.h"

#include "kernels/capabilities.h"
#include "kernels/cpu.h"
#include "kernels/half.h"

#include <limits.h>
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

int bert_amx_linear_preferred(int N, int K) {
    if (!bert_amx_linear_available(N, K)) return 0;
    return (long)N * K <= AMX_PREFERRED_MAX_WEIGHTS || bert_bf16_unavailable() != NULL;
}

typedef struct {
    float *y;
    const uint16_t *x16, *Wp;
    const float *bias;
    int ldy, M, K;
    const bert_epilogue *epi;
} amx_args;

/* The step of bert_amx_block_fn (amx.h). Accumulators start from the
 * bias (a 64-byte row loaded with stride 0 repeats it in every row) or
 * zero. */
AMX_TARGET static void block(const void *arg, int i0, int rows, int two_rows, int nb, int two_cols) {
    const amx_args *a = arg;
    int kchunks = a->K / 32;
    const uint16_t *x = a->x16 + (size_t)i0 * a->K;
    const uint16_t *B0 = a->Wp + (size_t)nb * kchunks * 512, *B1 = B0 + (size_t)kchunks * 512;
    long lda = (long)a->K * 2;
    if (a->bias) {
        _tile_loadd(0, a->bias + nb * 16, 0);
        _tile_loadd(1, a->bias + nb * 16, 0);
        if (two_cols) { /* the bias has no 16 values past an odd last block */
            _tile_loadd(2, a->bias + nb * 16 + 16, 0);
            _tile_loadd(3, a->bias + nb * 16 + 16, 0);
        }
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int kc = 0; kc < kchunks; kc++) {
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
    float *y = a->y + (size_t)i0 * a->ldy + nb * 16;
    long ldy = (long)a->ldy * 4;
    _tile_stored(0, y, ldy);
    if (two_rows) _tile_stored(1, y + (size_t)16 * a->ldy, ldy);
    if (two_cols) _tile_stored(2, y + 16, ldy);
    if (two_rows && two_cols) _tile_stored(3, y + (size_t)16 * a->ldy + 16, ldy);
    /* the epilogue per block rather than per slab, while the values are in
     * L1 (an inline GELU + bf16 copy here measured the same as this call) */
    bert_epilogue_run(a->epi, a->y, a->ldy, i0, two_rows ? 32 : rows, nb * 16, (nb + (two_cols ? 2 : 1)) * 16);
}

/* Rows [i0, i1) by columns [j0, j1): a thread's part (bert_for_slabs), its
 * rows in one group. */
AMX_TARGET static void part(int i0, int i1, int j0, int j1, void *arg) {
    bert_amx_dense_part(i0, i1, j0, j1, INT_MAX / 64 * 32, block, arg);
}

void bert_amx_linear(float *y, int ldy, const uint16_t *x16, const uint16_t *Wp, const float *bias, int M, int N,
                     int K, int n_threads, const bert_epilogue *epi) {
    if (M <= 0 || N <= 0) return;
    amx_args a = {y, x16, Wp, bias, ldy, M, K, epi};
    bert_for_slabs(M, N, n_threads, part, &a);
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

#endif
