/* linear_packed.c — f32 and bf16 dense layers through oneDNN's matmul
 * primitive, weights packed at load (see linear_packed.h for why). */
#include "kernels/linear_packed.h"

#include "kernels/onednn.h"
#include "kernels/ops.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>


/* The checks of bert_plinear_run's arguments for N outputs. */
static bert_status check_run(const float *y, int ldy, const void *x, int M, const float *scratch, int N,
                             bert_error *err) {
    if (M < 0 || ldy < N)
        return bert_fail(err, BERT_ERR_INPUT, "packed product of %d rows with a row stride of %d for %d outputs", M, ldy, N);
    if (M > 0 && (!y || !x || !scratch)) return bert_fail(err, BERT_ERR_INPUT, "packed product with a NULL buffer");
    return BERT_OK;
}

#ifdef BERT_HAVE_DNNL

struct bert_plinear {
    bert_dnnl_packed mm;
};

int bert_plinear_preferred(int N, int K) {
    /* bert_dnnl_sgemm_available() is 0 under BERT_GEMM=openblas: that
     * setting asks for OpenBLAS's products, so none of oneDNN's here */
    return N >= BERT_PLINEAR_MIN_SIDE && K >= BERT_PLINEAR_MIN_SIDE && bert_dnnl_status() == BERT_DNNL_OK && bert_dnnl_sgemm_available();
}

bert_plinear *bert_plinear_create(const float *W, int N, int K, int has_bias) {
    bert_plinear *p = malloc(sizeof *p);
    if (p && bert_dnnl_packed_init(&p->mm, W, N, K, dnnl_f32, dnnl_f32, has_bias, NULL) != BERT_OK) {
        free(p);
        p = NULL;
    }
    return p;
}

int bert_plinear_bf16_preferred(int N, int K) {
    return N >= BERT_PLINEAR_MIN_SIDE && K >= BERT_PLINEAR_MIN_SIDE && bert_dnnl_status() == BERT_DNNL_OK;
}

bert_plinear *bert_plinear_create_bf16(const uint16_t *W16, int N, int K, int has_bias) {
    bert_plinear *p = malloc(sizeof *p);
    if (p && bert_dnnl_packed_init(&p->mm, W16, N, K, dnnl_bf16, dnnl_f32, has_bias, NULL) != BERT_OK) {
        free(p);
        p = NULL;
    }
    return p;
}

void bert_plinear_free(bert_plinear *p) {
    if (!p) return;
    bert_dnnl_packed_destroy(&p->mm);
    free(p);
}

/* bert_plinear_run for inputs of esize bytes a value (4: f32, 2: bf16). */
static bert_status run_rows(const bert_plinear *p, float *y, int ldy, const void *x, size_t esize, const float *bias,
                            int M, float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err) {
    int N = p->mm.N, K = p->mm.K;
    bert_status rc = check_run(y, ldy, x, M, scratch, N, err);
    size_t row = esize * (size_t)K;
    for (int r0 = 0, m; rc == BERT_OK && r0 < M; r0 += m) {
        /* 512 rows in one call where that many are left, y is dense (no
         * copy through scratch) and oneDNN made that primitive, else up to 128 */
        m = ldy == N && M - r0 >= BERT_DNNL_BIG_ROWS && bert_dnnl_packed_big_ok(&p->mm) ? BERT_DNNL_BIG_ROWS
            : M - r0 < BERT_DNNL_ROWS ? M - r0 : BERT_DNNL_ROWS;
        int Mp = bert_dnnl_padded_rows(m); /* 512 is its own padding */
        const char *xs = (const char *)x + (size_t)r0 * row;
        float *yr = y + (size_t)r0 * ldy;
        int direct = Mp == m && ldy == N;
        if (Mp != m) { /* the padded rows' values do not matter: their outputs are dropped */
            char *xp = (char *)(scratch + (size_t)BERT_DNNL_ROWS * N);
            memcpy(xp, xs, row * (size_t)m);
            memset(xp + row * (size_t)m, 0, row * (size_t)(Mp - m));
            xs = xp;
        }
        if ((rc = bert_dnnl_packed_run(&p->mm, Mp, xs, direct ? yr : scratch, bias, err)) != BERT_OK) break;
        if (!direct)
            for (int i = 0; i < m; i++) memcpy(yr + (size_t)i * ldy, scratch + (size_t)i * N, sizeof(float) * N);
        if (epi && (epi->act >= 0 || epi->y16)) {
            int nt = n_threads > 1 && (size_t)m * N >= 32768 ? n_threads : 1;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
            for (int i = 0; i < m; i++) bert_epilogue_run(epi, y, ldy, r0 + i, 1, 0, N);
        }
    }
    return rc;
}

bert_status bert_plinear_run(const bert_plinear *p, float *y, int ldy, const float *x, const float *bias, int M,
                             float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err) {
    if (!p) return bert_fail(err, BERT_ERR_INPUT, "packed f32 product without a weight");
    if (p->mm.xdt != dnnl_f32) return bert_fail(err, BERT_ERR_INPUT, "packed bf16 weight given f32 inputs");
    return run_rows(p, y, ldy, x, sizeof(float), bias, M, scratch, epi, n_threads, err);
}

bert_status bert_plinear_run_bf16(const bert_plinear *p, float *y, int ldy, const uint16_t *x16, const float *bias,
                                  int M, float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err) {
    if (!p) return bert_fail(err, BERT_ERR_INPUT, "packed bf16 product without a weight");
    if (p->mm.xdt != dnnl_bf16) return bert_fail(err, BERT_ERR_INPUT, "packed f32 weight given bf16 inputs");
    return run_rows(p, y, ldy, x16, sizeof(uint16_t), bias, M, scratch, epi, n_threads, err);
}

#else /* built without oneDNN's header, or a sanitizer build */

struct bert_plinear {
    int unused;
};

int bert_plinear_preferred(int N, int K) {
    (void)N, (void)K;
    return 0;
}

bert_plinear *bert_plinear_create(const float *W, int N, int K, int has_bias) {
    (void)W, (void)N, (void)K, (void)has_bias;
    return NULL;
}

int bert_plinear_bf16_preferred(int N, int K) {
    (void)N, (void)K;
    return 0;
}

bert_plinear *bert_plinear_create_bf16(const uint16_t *W16, int N, int K, int has_bias) {
    (void)W16, (void)N, (void)K, (void)has_bias;
    return NULL;
}

void bert_plinear_free(bert_plinear *p) { (void)p; }

bert_status bert_plinear_run(const bert_plinear *p, float *y, int ldy, const float *x, const float *bias, int M,
                             float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err) {
    (void)bias, (void)epi, (void)n_threads;
    if (!p) return bert_fail(err, BERT_ERR_INPUT, "packed f32 product without a weight");
    bert_status rc = check_run(y, ldy, x, M, scratch, 0, err);
    return rc != BERT_OK ? rc : bert_fail(err, BERT_ERR_UNSUPPORTED, "packed f32 products need oneDNN, which this build does not have");
}

bert_status bert_plinear_run_bf16(const bert_plinear *p, float *y, int ldy, const uint16_t *x16, const float *bias,
                                  int M, float *scratch, const bert_epilogue *epi, int n_threads, bert_error *err) {
    (void)bias, (void)epi, (void)n_threads;
    if (!p) return bert_fail(err, BERT_ERR_INPUT, "packed bf16 product without a weight");
    bert_status rc = check_run(y, ldy, x16, M, scratch, 0, err);
    return rc != BERT_OK ? rc : bert_fail(err, BERT_ERR_UNSUPPORTED, "packed bf16 products need oneDNN, which this build does not have");
}

#endif

size_t bert_plinear_scratch(int max_k, int max_n) { return (size_t)BERT_DNNL_ROWS * ((size_t)max_k + (size_t)max_n); }
