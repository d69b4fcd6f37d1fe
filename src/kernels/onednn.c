/* onednn.c — oneDNN's primitive API opened at run time (see onednn.h). */
#include "kernels/onednn.h"

#ifdef BERT_HAVE_DNNL
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

/* The one process-wide state of this file: the resolved oneDNN functions
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
    SYM(reorder_pd, "dnnl_reorder_primitive_desc_create")
#undef SYM
    if (D_.engine_create(&D_.engine, dnnl_cpu, 0) != dnnl_success) state = BERT_DNNL_NO_ENGINE;
}

bert_dnnl_state bert_dnnl_status(void) {
    pthread_once(&once, resolve);
    return state;
}

const bert_dnnl_api *bert_dnnl(void) { return &D_; }

int bert_dnnl_run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
    dnnl_stream_t st = NULL;
    int ok = D_.stream_create(&st, D_.engine, dnnl_stream_default_flags) == dnnl_success &&
             D_.execute(p, st, n, args) == dnnl_success && D_.stream_wait(st) == dnnl_success;
    if (st) D_.stream_destroy(st);
    return ok;
}

#define D D_

/* The matmul for M rows of p's shape; wmd NULL: weights in any layout (to
 * learn the one the primitive prefers). */
static dnnl_primitive_desc_t make_pd(const bert_dnnl_packed *p, int M, const dnnl_memory_desc_t *wmd) {
    dnnl_memory_desc_t a, w, b, d;
    dnnl_dims_t ad = {M, p->K}, wd = {p->K, p->N}, bd = {1, p->N}, dd = {M, p->N};
    if (D.md_init(&a, 2, ad, p->xdt, dnnl_ab) != dnnl_success || D.md_init(&d, 2, dd, p->ydt, dnnl_ab) != dnnl_success ||
        (p->bias && D.md_init(&b, 2, bd, dnnl_f32, dnnl_ab) != dnnl_success))
        return NULL;
    if (wmd) w = *wmd;
    else if (D.md_init(&w, 2, wd, p->xdt, dnnl_format_tag_any) != dnnl_success) return NULL;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (D.matmul_init(&md, &a, &w, p->bias ? &b : NULL, &d) != dnnl_success) return NULL;
    if (D.pd_create(&pd, &md, NULL, D.engine, NULL) != dnnl_success) return NULL;
    return pd;
}

int bert_dnnl_packed_init(bert_dnnl_packed *p, const void *W, int N, int K, dnnl_data_type_t xdt,
                          dnnl_data_type_t ydt, int bias) {
    memset(p, 0, sizeof *p);
    if (bert_dnnl_status() != BERT_DNNL_OK) return 0;
    p->N = N, p->K = K, p->xdt = xdt, p->ydt = ydt, p->bias = bias;
    pthread_mutex_init(&p->lock, NULL);
    enum { LAST = BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP - 1 };
    dnnl_primitive_desc_t pd = make_pd(p, BERT_DNNL_ROWS, NULL);
    int ok = pd != NULL;
    if (ok) p->w_md = *D.pd_query_md(pd, dnnl_query_weights_md, 0);
    /* W [N x K] row-major is the K x N matrix in "ba" order: reorder into the packed layout */
    dnnl_memory_desc_t user;
    dnnl_dims_t wd = {K, N};
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    ok = ok && D.md_init(&user, 2, wd, xdt, dnnl_ba) == dnnl_success &&
         D.mem_create(&um, &user, D.engine, (void *)W) == dnnl_success &&
         D.mem_create(&p->w_mem, &p->w_md, D.engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
         D.reorder_pd(&rpd, &user, D.engine, &p->w_md, D.engine, NULL) == dnnl_success &&
         D.prim_create(&rp, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, p->w_mem}};
        ok = bert_dnnl_run(rp, 2, args);
    }
    if (ok) ok = D.prim_create(&p->prim[LAST], pd) == dnnl_success;
    if (rp) D.prim_destroy(rp);
    if (rpd) D.pd_destroy(rpd);
    if (um) D.mem_destroy(um);
    if (pd) D.pd_destroy(pd);
    if (!ok) bert_dnnl_packed_destroy(p);
    return ok;
}

void bert_dnnl_packed_destroy(bert_dnnl_packed *p) {
    if (!p->N) return;
    for (int i = 0; i < BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP; i++)
        if (p->prim[i]) D.prim_destroy(p->prim[i]);
    if (p->w_mem) D.mem_destroy(p->w_mem);
    pthread_mutex_destroy(&p->lock);
    memset(p, 0, sizeof *p);
}

/* The primitive for Mp rows, made on first use. */
static dnnl_primitive_t prim_for(const bert_dnnl_packed *cp, int Mp) {
    bert_dnnl_packed *p = (bert_dnnl_packed *)cp; /* the cache is the only mutable part, under the lock */
    int i = Mp / BERT_DNNL_ROW_STEP - 1;
    pthread_mutex_lock(&p->lock);
    if (!p->prim[i]) {
        dnnl_primitive_desc_t pd = make_pd(p, Mp, &p->w_md);
        if (pd && D.prim_create(&p->prim[i], pd) != dnnl_success) p->prim[i] = NULL;
        if (pd) D.pd_destroy(pd);
    }
    dnnl_primitive_t prim = p->prim[i];
    pthread_mutex_unlock(&p->lock);
    return prim;
}

int bert_dnnl_packed_run(const bert_dnnl_packed *p, int Mp, const void *x, void *y, const float *bias) {
    dnnl_primitive_t prim = prim_for(p, Mp);
    dnnl_memory_desc_t amd, dmd, bmd;
    dnnl_dims_t ad = {Mp, p->K}, dd = {Mp, p->N}, bd = {1, p->N};
    dnnl_memory_t am = NULL, dm = NULL, bm = NULL;
    int ok = prim && D.md_init(&amd, 2, ad, p->xdt, dnnl_ab) == dnnl_success &&
             D.md_init(&dmd, 2, dd, p->ydt, dnnl_ab) == dnnl_success &&
             D.mem_create(&am, &amd, D.engine, (void *)x) == dnnl_success &&
             D.mem_create(&dm, &dmd, D.engine, y) == dnnl_success &&
             (!p->bias || (D.md_init(&bmd, 2, bd, dnnl_f32, dnnl_ab) == dnnl_success &&
                           D.mem_create(&bm, &bmd, D.engine, (void *)bias) == dnnl_success));
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, p->w_mem}, {DNNL_ARG_DST, dm},
                                   {DNNL_ARG_BIAS, bm}};
        ok = bert_dnnl_run(prim, p->bias ? 4 : 3, args);
    }
    if (am) D.mem_destroy(am);
    if (dm) D.mem_destroy(dm);
    if (bm) D.mem_destroy(bm);
    return ok;
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
