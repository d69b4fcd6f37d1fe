/* onednn.c — oneDNN opened at run time (see onednn.h): its BLAS-like
 * products and its primitive API, with errors that name oneDNN's status. */
#include "kernels/onednn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/mem.h"

/* ---- the BLAS-like products ---------------------------------------------- */

/* Set once under pthread_once, read-only afterwards. */
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static bert_dnnl_gemms gemms;

static void resolve_gemms(void) {
#if defined(__SANITIZE_ADDRESS__)
    return; /* sanitizer builds run without oneDNN (onednn.h) */
#endif
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    gemms.library = 1;
    /* BERT_GEMM=openblas keeps every f32 product on OpenBLAS (for comparing). */
    const char *force = getenv("BERT_GEMM");
    if (!(force && strcmp(force, "openblas") == 0)) gemms.sgemm = (bert_dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm");
    gemms.gemm_bf16 = (bert_dnnl_gemm_bf16_fn)dlsym(h, "dnnl_gemm_bf16bf16f32");
}

const bert_dnnl_gemms *bert_dnnl_gemm_api(void) {
    pthread_once(&gemm_once, resolve_gemms);
    return &gemms;
}

int bert_dnnl_sgemm(int M, int N, int K, const float *x, int ldx, const float *W, int ldw, float beta, float *y,
                    int ldy) {
    bert_dnnl_sgemm_fn f = bert_dnnl_gemm_api()->sgemm;
    return f && f('N', 'T', M, N, K, 1.0f, x, ldx, W, ldw, beta, y, ldy) == 0;
}

int bert_dnnl_sgemm_available(void) { return bert_dnnl_gemm_api()->sgemm != NULL; }

/* ---- the primitive API --------------------------------------------------- */

#ifdef BERT_HAVE_DNNL
/* The one process-wide state of this part: the resolved oneDNN functions
 * and the CPU engine, set once under pthread_once, read-only afterwards. */
static bert_dnnl_api D_;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bert_dnnl_state state;

static void resolve(void) {
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        state = BERT_DNNL_NO_LIBRARY;
        return;
    }
#define SYM(field, name) \
    if (!(D_.field = (__typeof__(D_.field))dlsym(h, name))) { state = BERT_DNNL_OLD_LIBRARY; return; }
    SYM(engine_create, "dnnl_engine_create") SYM(stream_create, "dnnl_stream_create")
    SYM(stream_destroy, "dnnl_stream_destroy") SYM(stream_wait, "dnnl_stream_wait")
    SYM(md_init, "dnnl_memory_desc_init_by_tag") SYM(matmul_init, "dnnl_matmul_desc_init")
    SYM(pd_create, "dnnl_primitive_desc_create") SYM(pd_destroy, "dnnl_primitive_desc_destroy")
    SYM(pd_query_md, "dnnl_primitive_desc_query_md") SYM(prim_create, "dnnl_primitive_create")
    SYM(prim_destroy, "dnnl_primitive_destroy") SYM(execute, "dnnl_primitive_execute")
    SYM(mem_create, "dnnl_memory_create") SYM(mem_destroy, "dnnl_memory_destroy")
    SYM(reorder_pd, "dnnl_reorder_primitive_desc_create") SYM(attr_create, "dnnl_primitive_attr_create")
    SYM(attr_destroy, "dnnl_primitive_attr_destroy") SYM(attr_scratchpad, "dnnl_primitive_attr_set_scratchpad_mode")
    SYM(md_size, "dnnl_memory_desc_get_size")
#undef SYM
    if (D_.engine_create(&D_.engine, dnnl_cpu, 0) != dnnl_success) state = BERT_DNNL_NO_ENGINE;
}

bert_dnnl_state bert_dnnl_status(void) {
    pthread_once(&once, resolve);
    return state;
}

const bert_dnnl_api *bert_dnnl(void) { return &D_; }

/* oneDNN's own words for a status (as dnnl_status2str, which lives in a
 * header this file does not load). */
static const char *status_name(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

static const char *type_name(dnnl_data_type_t t) {
    switch (t) {
    case dnnl_f32: return "f32";
    case dnnl_s32: return "s32";
    case dnnl_s8: return "s8";
    case dnnl_u8: return "u8";
    case dnnl_bf16: return "bf16";
    case dnnl_f16: return "f16";
    default: return "?";
    }
}

bert_status bert_dnnl_fail(bert_error *err, dnnl_status_t s, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    bert_status code = s == dnnl_out_of_memory ? BERT_ERR_NOMEM : s == dnnl_invalid_arguments ? BERT_ERR_SHAPE : BERT_ERR_UNSUPPORTED;
    return bert_fail(err, code, "%s: oneDNN status %d (%s)", what, (int)s, status_name(s));
}

bert_status bert_dnnl_run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args, const char *what, bert_error *err) {
    dnnl_stream_t st = NULL;
    dnnl_status_t s = D_.stream_create(&st, D_.engine, dnnl_stream_default_flags);
    const char *step = "create a stream for";
    if (s == dnnl_success) step = "run", s = D_.execute(p, st, n, args);
    if (s == dnnl_success) step = "finish", s = D_.stream_wait(st);
    if (st) D_.stream_destroy(st);
    return s == dnnl_success ? BERT_OK : bert_dnnl_fail(err, s, "oneDNN could not %s %s", step, what);
}

#define D D_

/* The matmul for M rows of p's shape into *pd; wmd NULL: weights in any
 * layout (to learn the one the primitive prefers). */
static dnnl_status_t make_pd(const bert_dnnl_packed *p, int M, const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t a, w, b, d;
    dnnl_dims_t ad = {M, p->K}, wd = {p->K, p->N}, bd = {1, p->N}, dd = {M, p->N};
    dnnl_matmul_desc_t md;
    dnnl_status_t s;
    *pd = NULL;
    if ((s = D.md_init(&a, 2, ad, p->xdt, dnnl_ab)) != dnnl_success || (s = D.md_init(&d, 2, dd, p->ydt, dnnl_ab)) != dnnl_success ||
        (p->bias && (s = D.md_init(&b, 2, bd, dnnl_f32, dnnl_ab)) != dnnl_success))
        return s;
    if (wmd) w = *wmd;
    else if ((s = D.md_init(&w, 2, wd, p->xdt, dnnl_format_tag_any)) != dnnl_success) return s;
    if ((s = D.matmul_init(&md, &a, &w, p->bias ? &b : NULL, &d)) != dnnl_success) return s;
    dnnl_primitive_attr_t attr = NULL; /* a user scratchpad: see bert_dnnl_packed */
    if ((s = D.attr_create(&attr)) == dnnl_success && (s = D.attr_scratchpad(attr, dnnl_scratchpad_mode_user)) == dnnl_success)
        s = D.pd_create(pd, &md, attr, D.engine, NULL);
    if (s != dnnl_success) *pd = NULL;
    if (attr) D.attr_destroy(attr);
    return s;
}

/* Keep pd's scratchpad description as bucket i's. */
static void keep_scratch(bert_dnnl_packed *p, int i, const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = D.pd_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (md) p->scratch_md[i] = *md;
    else memset(&p->scratch_md[i], 0, sizeof p->scratch_md[i]);
}

/* W [N x K] row-major is the K x N matrix in "ba" order: reorder it into
 * p's packed layout (p->w_md), allocating p->w_mem. */
static dnnl_status_t pack(bert_dnnl_packed *p, const void *W, const char **step) {
    dnnl_memory_desc_t user;
    dnnl_dims_t wd = {p->K, p->N};
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    dnnl_status_t s;
    *step = "describe the weights";
    if ((s = D.md_init(&user, 2, wd, p->xdt, dnnl_ba)) == dnnl_success) *step = "wrap the weights", s = D.mem_create(&um, &user, D.engine, (void *)W);
    if (s == dnnl_success) *step = "allocate the packed weights", s = D.mem_create(&p->w_mem, &p->w_md, D.engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success) *step = "make the weights' reorder", s = D.reorder_pd(&rpd, &user, D.engine, &p->w_md, D.engine, NULL);
    if (s == dnnl_success) s = D.prim_create(&rp, rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, p->w_mem}};
        dnnl_stream_t st = NULL;
        *step = "reorder the weights";
        if ((s = D.stream_create(&st, D.engine, dnnl_stream_default_flags)) == dnnl_success &&
            (s = D.execute(rp, st, 2, args)) == dnnl_success)
            s = D.stream_wait(st);
        if (st) D.stream_destroy(st);
    }
    if (rp) D.prim_destroy(rp);
    if (rpd) D.pd_destroy(rpd);
    if (um) D.mem_destroy(um);
    return s;
}

bert_status bert_dnnl_packed_init(bert_dnnl_packed *p, const void *W, int N, int K, dnnl_data_type_t xdt,
                                  dnnl_data_type_t ydt, int bias, bert_error *err) {
    memset(p, 0, sizeof *p);
    if (N < 1 || K < 1) return bert_fail(err, BERT_ERR_SHAPE, "a %d x %d weight cannot be packed", N, K);
    if (bert_dnnl_status() != BERT_DNNL_OK)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "oneDNN's primitives are not available here (libdnnl.so.2 with its 2.x API)");
    p->N = N, p->K = K, p->xdt = xdt, p->ydt = ydt, p->bias = bias;
    pthread_mutex_init(&p->lock, NULL);
    enum { LAST = BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP - 1 };
    dnnl_primitive_desc_t pd = NULL;
    const char *step = "make the matmul primitive descriptor";
    dnnl_status_t s = make_pd(p, BERT_DNNL_ROWS, NULL, &pd);
    if (s == dnnl_success) p->w_md = *D.pd_query_md(pd, dnnl_query_weights_md, 0), s = pack(p, W, &step);
    if (s == dnnl_success) step = "make the matmul primitive", s = D.prim_create(&p->prim[LAST], pd);
    if (s == dnnl_success) keep_scratch(p, LAST, pd);
    if (s != dnnl_success) p->prim[LAST] = NULL;
    if (pd) D.pd_destroy(pd);
    if (s == dnnl_success) return BERT_OK;
    bert_dnnl_packed_destroy(p);
    return bert_dnnl_fail(err, s, "oneDNN could not %s for a %d x %d weight (%s x %s -> %s)", step, N, K, type_name(xdt),
                          type_name(xdt), type_name(ydt));
}

void bert_dnnl_packed_destroy(bert_dnnl_packed *p) {
    if (!p->N) return;
    for (int i = 0; i <= BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP; i++)
        if (p->prim[i]) D.prim_destroy(p->prim[i]);
    if (p->w_mem) D.mem_destroy(p->w_mem);
    pthread_mutex_destroy(&p->lock);
    memset(p, 0, sizeof *p);
}

/* Mp's place in prim[] and scratch_md[]. */
static int slot(int Mp) { return Mp == BERT_DNNL_BIG_ROWS ? BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP : Mp / BERT_DNNL_ROW_STEP - 1; }

/* The primitive for Mp rows into *prim, made on first use; a refusal is
 * kept and given back on later calls without asking oneDNN again. */
static dnnl_status_t prim_for(const bert_dnnl_packed *cp, int Mp, dnnl_primitive_t *prim) {
    bert_dnnl_packed *p = (bert_dnnl_packed *)cp; /* the cache is the only mutable part, under the lock */
    int i = slot(Mp);
    dnnl_status_t s = dnnl_success;
    pthread_mutex_lock(&p->lock);
    if (p->refused[i] != dnnl_success) s = p->refused[i];
    else if (!p->prim[i]) {
        dnnl_primitive_desc_t pd = NULL;
        s = make_pd(p, Mp, &p->w_md, &pd);
        if (s == dnnl_success && (s = D.prim_create(&p->prim[i], pd)) != dnnl_success) p->prim[i] = NULL;
        if (s == dnnl_success) keep_scratch(p, i, pd);
        else p->refused[i] = s;
        if (pd) D.pd_destroy(pd);
    }
    *prim = p->prim[i];
    pthread_mutex_unlock(&p->lock);
    return s;
}

int bert_dnnl_packed_big_ok(const bert_dnnl_packed *p) {
    dnnl_primitive_t prim = NULL;
    return prim_for(p, BERT_DNNL_BIG_ROWS, &prim) == dnnl_success && prim;
}

bert_status bert_dnnl_packed_run(const bert_dnnl_packed *p, int Mp, const void *x, void *y, const float *bias,
                                 bert_error *err) {
    if (Mp != BERT_DNNL_BIG_ROWS && (Mp < BERT_DNNL_ROW_STEP || Mp > BERT_DNNL_ROWS || Mp % BERT_DNNL_ROW_STEP != 0))
        return bert_fail(err, BERT_ERR_INPUT, "a packed product of %d rows (a multiple of %d up to %d, or %d, expected)",
                         Mp, BERT_DNNL_ROW_STEP, BERT_DNNL_ROWS, BERT_DNNL_BIG_ROWS);
    dnnl_primitive_t prim = NULL;
    dnnl_status_t s = prim_for(p, Mp, &prim);
    if (s != dnnl_success)
        return bert_dnnl_fail(err, s, "oneDNN could not make the matmul primitive for %d x %d x %d (%s x %s -> %s)", Mp,
                              p->N, p->K, type_name(p->xdt), type_name(p->xdt), type_name(p->ydt));
    dnnl_memory_desc_t amd, dmd, bmd;
    dnnl_dims_t ad = {Mp, p->K}, dd = {Mp, p->N}, bd = {1, p->N};
    dnnl_memory_t am = NULL, dm = NULL, bm = NULL, sm = NULL;
    /* this run's own scratchpad (oneDNN asks for none in most shapes) */
    const dnnl_memory_desc_t *smd = &p->scratch_md[slot(Mp)];
    size_t scratch = smd->ndims > 0 ? D.md_size(smd) : 0;
    void *sbuf = scratch ? bert_alloc64(scratch) : NULL;
    if (scratch && !sbuf) return bert_fail(err, BERT_ERR_NOMEM, "out of memory (a %zu-byte oneDNN scratchpad)", scratch);
    if ((s = D.md_init(&amd, 2, ad, p->xdt, dnnl_ab)) == dnnl_success && (s = D.md_init(&dmd, 2, dd, p->ydt, dnnl_ab)) == dnnl_success &&
        (s = D.mem_create(&am, &amd, D.engine, (void *)x)) == dnnl_success &&
        (s = D.mem_create(&dm, &dmd, D.engine, y)) == dnnl_success && (!scratch || (s = D.mem_create(&sm, smd, D.engine, sbuf)) == dnnl_success) &&
        p->bias && (s = D.md_init(&bmd, 2, bd, dnnl_f32, dnnl_ab)) == dnnl_success)
        s = D.mem_create(&bm, &bmd, D.engine, (void *)bias);
    bert_status rc = s == dnnl_success ? BERT_OK : bert_dnnl_fail(err, s, "oneDNN could not wrap the buffers of a %d x %d x %d product", Mp, p->N, p->K);
    if (rc == BERT_OK) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, p->w_mem}, {DNNL_ARG_DST, dm}};
        int n = 3;
        if (sm) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sm};
        if (p->bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bm};
        rc = bert_dnnl_run(prim, n, args, "the matmul primitive", err);
    }
    if (am) D.mem_destroy(am);
    if (dm) D.mem_destroy(dm);
    if (bm) D.mem_destroy(bm);
    if (sm) D.mem_destroy(sm);
    free(sbuf);
    return rc;
}
#undef D

#else

bert_dnnl_state bert_dnnl_status(void) {
#if defined(__SANITIZE_ADDRESS__)
    return BERT_DNNL_SANITIZER;
#else
    return BERT_DNNL_NO_HEADER;
#endif
}

#endif
