/* qlinear.c — int8 dense layers through oneDNN's matmul primitive.
 *
 * Why the primitive and not dnnl_gemm_s8s8s32: measured here (one core,
 * oneDNN 2.6.3), the gemm API runs 128x768x768 at ~215 GOP/s, slower than
 * its bf16 gemm, while a matmul primitive created for a fixed shape with
 * weights in the layout it asks for JITs an AMX kernel
 * (brg:avx512_core_amx_int8): 650-2000 GOP/s at BERT's shapes. Primitives
 * are made for fixed M (a run-time M falls back to gemm:jit at ~200-700),
 * so rows go through in chunks of at most ROWS, each padded up to a
 * multiple of 16: at most ROWS / 16 primitives per weight, made on first
 * use and kept.
 *
 * oneDNN is opened at run time (kernels/onednn.c), so bert.c runs without
 * it; building this path needs oneDNN's header (Debian: libdnnl-dev), else
 * int8 reports itself unavailable. */
#include "kernels/qlinear.h"

#include "kernels/cpu.h"
#include "kernels/onednn.h"
#include "kernels/ops.h"
#include "kernels/vecmath.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 128, ROW_STEP = 16, N_PRIMS = ROWS / ROW_STEP };

BERT_VECTOR_CLONES
static void quantize_row(int8_t *q, float *s, const float *x, int K) {
    float amax = 0.0f;
#pragma omp simd reduction(max : amax)
    for (int j = 0; j < K; j++) {
        float a = x[j] < 0.0f ? -x[j] : x[j]; /* not fabsf/fmaxf: NaN rules keep those scalar */
        amax = a > amax ? a : amax;
    }
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
#pragma omp simd
    for (int j = 0; j < K; j++) {
        float v = x[j] * inv; /* |v| <= 127 */
        v = (v + 12582912.0f) - 12582912.0f; /* round to nearest even, vectorisable */
        q[j] = (int8_t)(int)v;
    }
    *s = scale;
}

void bert_quantize_rows(int8_t *xq, float *sx, const float *x, int M, int K, int n_threads) {
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && M > 8) schedule(static)
    for (int i = 0; i < M; i++) quantize_row(xq + (size_t)i * K, sx + i, x + (size_t)i * K, K);
}

size_t bert_qlinear_scratch(int M, int N) {
    (void)M;
    return (size_t)ROWS * (size_t)N * sizeof(int32_t);
}

/* The reason, as a fixed sentence per oneDNN state. */
const char *bert_int8_unavailable(void) {
    if (!bert_cpu_has_int8_dot())
        return "int8 needs a CPU with VNNI or AMX int8 dot products (without them int8 sums can saturate); this one has neither";
    switch (bert_dnnl_status()) {
    case BERT_DNNL_OK: return NULL;
    case BERT_DNNL_NO_HEADER: return "int8 needs bert.c built with oneDNN's header (Debian: apt-get install libdnnl-dev, then rebuild)";
    case BERT_DNNL_SANITIZER: return "int8 needs oneDNN, which sanitizer builds do not load";
    case BERT_DNNL_NO_LIBRARY: return "int8 needs oneDNN (libdnnl.so.2; Debian: apt-get install libdnnl2), which was not found";
    case BERT_DNNL_OLD_LIBRARY: return "int8 needs oneDNN 2.x's matmul API, which the libdnnl.so.2 found lacks";
    default: return "int8 needs a oneDNN CPU engine, which could not be created";
    }
}

#ifdef BERT_HAVE_DNNL
#define D (*bert_dnnl())

/* y = acc * (sx[i] sw[j]) + b[j], rows [0, M) of a chunk. */
BERT_VECTOR_CLONES
static void dequant_row(float *y, const int32_t *acc, float sx, const float *sw, const float *b, int N) {
    if (b) {
#pragma omp simd
        for (int j = 0; j < N; j++) y[j] = (float)acc[j] * (sx * sw[j]) + b[j];
    } else {
#pragma omp simd
        for (int j = 0; j < N; j++) y[j] = (float)acc[j] * (sx * sw[j]);
    }
}

struct bert_qlinear {
    int N, K;
    float *sw;                   /* [N] weight row scales */
    dnnl_memory_desc_t w_md;     /* the packed layout, the same for every M */
    dnnl_memory_t w_mem;         /* packed int8 weights (oneDNN's allocation) */
    pthread_mutex_t lock;        /* guards prim[] creation */
    dnnl_primitive_t prim[N_PRIMS]; /* for M = 16, 32, ..., ROWS */
};

/* The matmul for M rows: s8 [M x K] x s8 weights -> s32 [M x N]. wmd NULL:
 * weights in any layout (to learn the preferred one). */
static dnnl_primitive_desc_t make_pd(int M, int N, int K, const dnnl_memory_desc_t *wmd) {
    dnnl_memory_desc_t a, w, d;
    dnnl_dims_t ad = {M, K}, wd = {K, N}, dd = {M, N};
    if (D.md_init(&a, 2, ad, dnnl_s8, dnnl_ab) != dnnl_success || D.md_init(&d, 2, dd, dnnl_s32, dnnl_ab) != dnnl_success)
        return NULL;
    if (wmd) w = *wmd;
    else if (D.md_init(&w, 2, wd, dnnl_s8, dnnl_format_tag_any) != dnnl_success) return NULL;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (D.matmul_init(&md, &a, &w, NULL, &d) != dnnl_success) return NULL;
    if (D.pd_create(&pd, &md, NULL, D.engine, NULL) != dnnl_success) return NULL;
    return pd;
}

bert_qlinear *bert_qlinear_create(const float *W, int N, int K, const char **why) {
    *why = bert_int8_unavailable();
    if (*why) return NULL;
    *why = "out of memory";
    bert_qlinear *q = calloc(1, sizeof *q);
    int8_t *wq = malloc((size_t)N * K);
    if (!q || !wq || !(q->sw = malloc(sizeof(float) * (size_t)N))) {
        free(wq);
        free(q);
        return NULL;
    }
    q->N = N, q->K = K;
    pthread_mutex_init(&q->lock, NULL);
    bert_quantize_rows(wq, q->sw, W, N, K, 1); /* symmetric per output channel */
    *why = "oneDNN refused the int8 matmul";
    dnnl_primitive_desc_t pd = make_pd(ROWS, N, K, NULL);
    int ok = pd != NULL;
    if (ok) q->w_md = *D.pd_query_md(pd, dnnl_query_weights_md, 0);
    /* W [N x K] row-major is the K x N matrix in "ba" order: reorder into the packed layout */
    dnnl_memory_desc_t user;
    dnnl_dims_t wd = {K, N};
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    ok = ok && D.md_init(&user, 2, wd, dnnl_s8, dnnl_ba) == dnnl_success &&
         D.mem_create(&um, &user, D.engine, wq) == dnnl_success &&
         D.mem_create(&q->w_mem, &q->w_md, D.engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
         D.reorder_pd(&rpd, &user, D.engine, &q->w_md, D.engine, NULL) == dnnl_success &&
         D.prim_create(&rp, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, q->w_mem}};
        ok = bert_dnnl_run(rp, 2, args);
    }
    if (ok) ok = D.prim_create(&q->prim[N_PRIMS - 1], pd) == dnnl_success;
    if (rp) D.prim_destroy(rp);
    if (rpd) D.pd_destroy(rpd);
    if (um) D.mem_destroy(um);
    if (pd) D.pd_destroy(pd);
    free(wq);
    if (!ok) {
        bert_qlinear_free(q);
        return NULL;
    }
    *why = NULL;
    return q;
}

void bert_qlinear_free(bert_qlinear *q) {
    if (!q) return;
    for (int i = 0; i < N_PRIMS; i++)
        if (q->prim[i]) D.prim_destroy(q->prim[i]);
    if (q->w_mem) D.mem_destroy(q->w_mem);
    pthread_mutex_destroy(&q->lock);
    free(q->sw);
    free(q);
}

/* The primitive for Mp rows (a multiple of ROW_STEP), made on first use. */
static dnnl_primitive_t prim_for(const bert_qlinear *cq, int Mp) {
    bert_qlinear *q = (bert_qlinear *)cq; /* the cache is the only mutable part, under the lock */
    int i = Mp / ROW_STEP - 1;
    pthread_mutex_lock(&q->lock);
    if (!q->prim[i]) {
        dnnl_primitive_desc_t pd = make_pd(Mp, q->N, q->K, &q->w_md);
        if (pd && D.prim_create(&q->prim[i], pd) != dnnl_success) q->prim[i] = NULL;
        if (pd) D.pd_destroy(pd);
    }
    dnnl_primitive_t p = q->prim[i];
    pthread_mutex_unlock(&q->lock);
    return p;
}

int bert_qlinear_run(const bert_qlinear *q, float *y, int ldy, const int8_t *xq, const float *sx, const float *bias,
                     int M, int32_t *acc, const bert_epilogue *epi, int n_threads) {
    int N = q->N, K = q->K;
    for (int r0 = 0; r0 < M; r0 += ROWS) {
        int m = M - r0 < ROWS ? M - r0 : ROWS, Mp = (m + ROW_STEP - 1) / ROW_STEP * ROW_STEP;
        dnnl_primitive_t p = prim_for(q, Mp);
        dnnl_memory_desc_t amd, dmd;
        dnnl_dims_t ad = {Mp, K}, dd = {Mp, N};
        /* rows m..Mp of the chunk are read from the buffer's padding (see
         * bert_qlinear_rows) and their sums dropped */
        if (!p || D.md_init(&amd, 2, ad, dnnl_s8, dnnl_ab) != dnnl_success ||
            D.md_init(&dmd, 2, dd, dnnl_s32, dnnl_ab) != dnnl_success ||
            !bert_dnnl_matmul(p, &amd, (void *)(xq + (size_t)r0 * K), q->w_mem, &dmd, acc))
            return 0;
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && m > 1) schedule(static)
        for (int i = 0; i < m; i++) {
            float *yr = y + (size_t)(r0 + i) * ldy;
            dequant_row(yr, acc + (size_t)i * N, sx[r0 + i], q->sw, bias, N);
            if (epi && epi->act >= 0) bert_activation_forward(yr, (size_t)N, (bert_activation)epi->act, 1);
        }
    }
    return 1;
}

#else /* built without oneDNN's header */

struct bert_qlinear {
    int unused;
};

bert_qlinear *bert_qlinear_create(const float *W, int N, int K, const char **why) {
    (void)W, (void)N, (void)K;
    *why = bert_int8_unavailable();
    return NULL;
}

void bert_qlinear_free(bert_qlinear *q) { (void)q; }

int bert_qlinear_run(const bert_qlinear *q, float *y, int ldy, const int8_t *xq, const float *sx, const float *bias,
                     int M, int32_t *acc, const bert_epilogue *epi, int n_threads) {
    (void)q, (void)y, (void)ldy, (void)xq, (void)sx, (void)bias, (void)M, (void)acc, (void)epi, (void)n_threads;
    return 0;
}

#endif

size_t bert_qlinear_rows(int M) { return (size_t)(M + ROW_STEP - 1) / ROW_STEP * ROW_STEP; }
