/* onednn.c — oneDNN's primitive API opened at run time (see onednn.h). */
#include "kernels/onednn.h"

#ifdef BERT_HAVE_DNNL
#include <dlfcn.h>
#include <pthread.h>

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

int bert_dnnl_matmul(dnnl_primitive_t p, const dnnl_memory_desc_t *amd, void *a, dnnl_memory_t w,
                     const dnnl_memory_desc_t *dmd, void *d) {
    dnnl_memory_t am = NULL, dm = NULL;
    int ok = D_.mem_create(&am, amd, D_.engine, a) == dnnl_success && D_.mem_create(&dm, dmd, D_.engine, d) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dm}};
        ok = bert_dnnl_run(p, 3, args);
    }
    if (am) D_.mem_destroy(am);
    if (dm) D_.mem_destroy(dm);
    return ok;
}

#else

bert_dnnl_state bert_dnnl_status(void) {
#if defined(__SANITIZE_ADDRESS__)
    return BERT_DNNL_SANITIZER;
#else
    return BERT_DNNL_NO_HEADER;
#endif
}

#endif
