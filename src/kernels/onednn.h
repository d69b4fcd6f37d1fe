/* onednn.h — oneDNN's primitive API, opened at run time (internal).
 *
 * libdnnl.so.2 is dlopen'd so bert.c runs without it; the types come from
 * oneDNN's header, so code using this is compiled only where the header
 * exists (BERT_HAVE_DNNL, from __has_include; Debian: libdnnl-dev).
 * Sanitizer builds leave oneDNN out (see gemm_onednn.c). */
#ifndef BERT_KERNELS_ONEDNN_H
#define BERT_KERNELS_ONEDNN_H

#if defined(__has_include)
#if __has_include(<dnnl.h>) && !defined(__SANITIZE_ADDRESS__)
#define BERT_HAVE_DNNL 1
#endif
#endif

/* Whether oneDNN's primitives can be used here, and if not, why. */
typedef enum {
    BERT_DNNL_OK = 0,
    BERT_DNNL_NO_HEADER,   /* built without oneDNN's header                 */
    BERT_DNNL_SANITIZER,   /* sanitizer build (oneDNN left out on purpose)  */
    BERT_DNNL_NO_LIBRARY,  /* libdnnl.so.2 not found                        */
    BERT_DNNL_OLD_LIBRARY, /* a function missing from the library found     */
    BERT_DNNL_NO_ENGINE    /* the CPU engine could not be created           */
} bert_dnnl_state;
bert_dnnl_state bert_dnnl_status(void);

#ifdef BERT_HAVE_DNNL
#include <dnnl.h>

/* The resolved functions and the CPU engine. */
typedef struct {
    __typeof__(dnnl_engine_create) *engine_create;
    __typeof__(dnnl_stream_create) *stream_create;
    __typeof__(dnnl_stream_destroy) *stream_destroy;
    __typeof__(dnnl_stream_wait) *stream_wait;
    __typeof__(dnnl_memory_desc_init_by_tag) *md_init;
    __typeof__(dnnl_matmul_desc_init) *matmul_init;
    __typeof__(dnnl_primitive_desc_create) *pd_create;
    __typeof__(dnnl_primitive_desc_destroy) *pd_destroy;
    __typeof__(dnnl_primitive_desc_query_md) *pd_query_md;
    __typeof__(dnnl_primitive_create) *prim_create;
    __typeof__(dnnl_primitive_destroy) *prim_destroy;
    __typeof__(dnnl_primitive_execute) *execute;
    __typeof__(dnnl_memory_create) *mem_create;
    __typeof__(dnnl_memory_destroy) *mem_destroy;
    __typeof__(dnnl_reorder_primitive_desc_create) *reorder_pd;
    dnnl_engine_t engine;
} bert_dnnl_api;

/* The API; only valid after bert_dnnl_status() returned BERT_DNNL_OK. */
const bert_dnnl_api *bert_dnnl(void);

/* Run the primitive p with args[0..n) and wait for it. Returns 0 on any
 * oneDNN error. */
int bert_dnnl_run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args);

/* Run a matmul primitive: src the caller's buffer a (desc amd), weights
 * the memory object w, dst the caller's buffer d (desc dmd). */
int bert_dnnl_matmul(dnnl_primitive_t p, const dnnl_memory_desc_t *amd, void *a, dnnl_memory_t w,
                     const dnnl_memory_desc_t *dmd, void *d);
#endif

#endif
