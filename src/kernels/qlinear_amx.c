/* qlinear_amx.c — int8 y = dequant(xq Wq^T) + b on AMX int8 tiles, W packed
 * at load. Why and the layout: qlinear_amx.h.
 *
 * Blocking as linear_amx.c: 32 rows x 32 columns per step in four int32
 * accumulator tiles (0-3), two A tiles of 16 rows x 64 inputs (4, 5) and
 * two B tiles of 64 inputs x 16 columns (6, 7), each tile loaded feeding
 * two tdpbssd. The accumulators go to a 32 x 32 int32 block on the stack
 * and are dequantized from there into y. A thread's part is walked by
 * bert_amx_dense_part (amx.h), as linear_amx.c's, in groups of rows. */
#include "kernels/qlinear_amx.h"

#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/vecmath.h"

void bert_amx_qlinear_pack(int8_t *dst, const int8_t *Wq, int N, int K) {
    int kchunks = K / 64;
    for (int n = 0; n < N; n++) {
        int8_t *blk = dst + (size_t)(n / 16) * kchunks * 1024 + (size_t)(n % 16) * 4;
        const int8_t *w = Wq + (size_t)n * K;
        for (int k = 0; k < K; k++) blk[(size_t)(k / 64) * 1024 + (size_t)(k % 64 / 4) * 64 + k % 4] = w[k];
    }
}

#if BERT_AMX_INTRINSICS
#include "kernels/amx.h"

int bert_amx_qlinear_available(int N, int K) {
    return N > 0 && K > 0 && N % 16 == 0 && K % 64 == 0 && bert_amx_int8_ready();
}

typedef struct {
    float *y;
    const int8_t *xq, *Wp;
    const float *sx, *sw, *bias;
    int ldy, K;
    const bert_epilogue *epi;
    int prefetch; /* W prefetched into L2 ahead of use (bert_amx_dense_part) */
} qamx_args;

/* y rows i0 .. i0 + rows, columns c0 .. c0 + 16 * ncb, from acc (row stride
 * 32): (float)acc * (sx[i] * sw[j]) + bias[j], each operation rounded, then
 * the epilogue: an erf GELU alone (the int8 feed-forward's) in registers
 * before the store (bert_gelu16, the same bits as the epilogue's pass,
 * without its call per row and second pass: BERT-Tiny int8, batch 8, one
 * thread, 1.93 -> 1.83 ms); a bf16 copy alone, y16_only (Q, K and V for
 * the bf16 attention kernel), as bf16 only (bert_bf16_store16_daz: the
 * attention kernel's own conversion of f32 inputs, subnormals to zero
 * included), y not written; anything else by bert_epilogue_run. */
AMX_INT8_TARGET static void dequantize(const qamx_args *a, const int32_t *acc, int i0, int rows, int c0, int ncb) {
    const bert_epilogue *e = a->epi;
    int gelu = bert_epilogue_gelu_only(e), only16 = e && e->act < 0 && e->y16 && e->y16_only;
    for (int i = 0; i < rows; i++) {
        __m512 s = _mm512_set1_ps(a->sx[i0 + i]);
        size_t at = (size_t)(i0 + i) * a->ldy + c0;
        for (int c = 0; c < ncb; c++) {
            __m512 v = _mm512_cvtepi32_ps(_mm512_loadu_si512(acc + i * 32 + c * 16));
            v = _mm512_mul_ps(v, _mm512_mul_ps(s, _mm512_loadu_ps(a->sw + c0 + c * 16)));
            if (a->bias) v = _mm512_add_ps(v, _mm512_loadu_ps(a->bias + c0 + c * 16));
            if (only16) bert_bf16_store16_daz(e->y16 + at + c * 16, v);
            else _mm512_storeu_ps(a->y + at + c * 16, gelu ? bert_gelu16(v) : v);
        }
    }
    if (!gelu && !only16) bert_epilogue_run(e, a->y, a->ldy, i0, rows, c0, c0 + 16 * ncb);
}

/* The step of bert_amx_step_fn (amx.h): the accumulators start, without
 * cin, from zero; they end, without cout, dequantized into y (the bias
 * added there). */
AMX_INT8_TARGET static void step(const void *arg, int i0, int rows, int two_rows, int nb, int two_cols, int kc0,
                                 int kc1, const void *cin, void *cout, const bert_amx_prefetch *pf) {
    const qamx_args *a = arg;
    int kchunks = a->K / 64;
    const int8_t *x = a->xq + (size_t)i0 * a->K;
    const int8_t *B0 = a->Wp + (size_t)nb * kchunks * 1024, *B1 = B0 + (size_t)kchunks * 1024;
    long lda = a->K;
    bert_amx_start_c(cin, two_rows, two_cols);
    for (int kc = kc0; kc < kc1; kc++) {
        bert_amx_prefetch_chunk(pf, kc - kc0);
        _tile_loadd(4, x + kc * 64, lda);
        _tile_loadd(6, B0 + (size_t)kc * 1024, 64);
        _tile_dpbssd(0, 4, 6);
        if (two_rows) {
            _tile_loadd(5, x + (size_t)16 * a->K + kc * 64, lda);
            _tile_dpbssd(1, 5, 6);
        }
        if (two_cols) {
            _tile_loadd(7, B1 + (size_t)kc * 1024, 64);
            _tile_dpbssd(2, 4, 7);
            if (two_rows) _tile_dpbssd(3, 5, 7);
        }
    }
    if (cout) {
        bert_amx_store_c(cout, 128, two_rows, two_cols);
        return;
    }
    int32_t acc[32 * 32] __attribute__((aligned(64)));
    bert_amx_store_c(acc, 128, two_rows, two_cols);
    dequantize(a, acc, i0, two_rows ? 32 : rows, nb * 16, two_cols ? 2 : 1);
}

/* Input chunks (of 64) a k-block holds where K is above 512 and at most
 * 1024 (bert-base's 768; bert_amx_dense_part): a 32-column panel's
 * k-block of W is 12 KB. Intel Xeon, one thread, bert-base shape int8
 * pass, three interleaved rounds: batch 1 2.43-2.47 -> 2.33 ms, batch 8
 * the same (20.0-21.1 vs 20.2); 4, 8 and 12 chunks, or K = 3072 split
 * too, no better; K = 512 (BERT-Tiny's second product) split, batch 8
 * 1.65-1.70 ms against 1.63-1.66 unsplit. */
enum { KBLOCK_CHUNKS = 6 };

/* Rows [i0, i1) by columns [j0, j1): a thread's part (bert_for_slabs), its
 * rows in groups of bert_amx_group_rows (rows of K bytes), or of
 * BERT_AMX_KBLOCK_ROWS where k-blocked. */
AMX_INT8_TARGET static void part(int i0, int i1, int j0, int j1, void *arg) {
    const qamx_args *a = arg;
    int kblock = a->K > 512 && a->K <= 1024 ? KBLOCK_CHUNKS : 0;
    bert_amx_dense_part(i0, i1, j0, j1, bert_amx_group_rows(a->K), a->K / 64, kblock, a->prefetch ? a->Wp : NULL,
                        step, arg);
}

static void run(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp, const float *sw,
                const float *bias, int M, int N, int K, int n_threads, const bert_epilogue *epi, int prefetch) {
    if (M <= 0 || N <= 0) return;
    qamx_args a = {y, xq, Wp, sx, sw, bias, ldy, K, epi, prefetch};
    bert_for_slabs(M, N, n_threads, part, &a);
}

void bert_amx_qlinear(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp, const float *sw,
                      const float *bias, int M, int N, int K, int n_threads, const bert_epilogue *epi) {
    run(y, ldy, xq, sx, Wp, sw, bias, M, N, K, n_threads, epi, 1);
}

void bert_amx_qlinear_resident(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp,
                               const float *sw, const float *bias, int M, int N, int K, int n_threads,
                               const bert_epilogue *epi) {
    run(y, ldy, xq, sx, Wp, sw, bias, M, N, K, n_threads, epi, 0);
}

#else /* no AMX intrinsics in this build */

int bert_amx_qlinear_available(int N, int K) {
    (void)N, (void)K;
    return 0;
}

void bert_amx_qlinear(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp, const float *sw,
                      const float *bias, int M, int N, int K, int n_threads, const bert_epilogue *epi) {
    (void)y, (void)ldy, (void)xq, (void)sx, (void)Wp, (void)sw, (void)bias, (void)M, (void)N, (void)K;
    (void)n_threads, (void)epi;
}

void bert_amx_qlinear_resident(float *y, int ldy, const int8_t *xq, const float *sx, const int8_t *Wp,
                               const float *sw, const float *bias, int M, int N, int K, int n_threads,
                               const bert_epilogue *epi) {
    bert_amx_qlinear(y, ldy, xq, sx, Wp, sw, bias, M, N, K, n_threads, epi);
}

#endif
