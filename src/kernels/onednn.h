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

/* Rows per product call of bert_dnnl_packed (below) and the step they are
 * padded to; outside the #ifdef so callers size their buffers without
 * oneDNN's header. */
enum { BERT_DNNL_ROWS = 128, BERT_DNNL_ROW_STEP = 16 };
static inline int bert_dnnl_padded_rows(int m) { return (m + BERT_DNNL_ROW_STEP - 1) / BERT_DNNL_ROW_STEP * BERT_DNNL_ROW_STEP; }

#ifdef BERT_HAVE_DNNL
#include <dnnl.h>
#include <pthread.h>

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

/* A product y = x W^T whose W oneDNN packed once, at creation, into the
 * blocked layout its matmul primitive asks for, so no call repacks it (what
 * the dnnl_sgemm / gemm_s8s8s32 calls do on every call). Why fixed shapes:
 * oneDNN JITs its fast kernels (brgemm: AMX int8, AVX-512 f32) only for a
 * primitive made for a fixed M; a run-time M falls back to its slower gemm
 * kernels. So rows go through in chunks of at most BERT_DNNL_ROWS, each
 * padded up to a multiple of BERT_DNNL_ROW_STEP: at most ROWS / ROW_STEP
 * primitives per weight, made on first use (under the lock) and kept. Used
 * by the int8 layers (qlinear.c: s8 x s8 -> s32) and the f32 layers
 * (linear_packed.c: f32 -> f32 with the bias added by the primitive). */
typedef struct {
    int N, K;
    dnnl_data_type_t xdt, ydt;  /* x and W are xdt, y is ydt */
    int bias;                   /* 1: the primitives add an f32 bias [N] */
    dnnl_memory_desc_t w_md;    /* the packed layout, the same for every M */
    dnnl_memory_t w_mem;        /* the packed weights (oneDNN's allocation) */
    pthread_mutex_t lock;       /* guards prim[] creation */
    dnnl_primitive_t prim[BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP]; /* for M = 16, 32, ..., ROWS */
} bert_dnnl_packed;

/* Pack W [N x K] (row-major, out x in, of type xdt) into p. Returns 0 when
 * oneDNN refuses the shape or runs out of memory (p then holds nothing). */
int bert_dnnl_packed_init(bert_dnnl_packed *p, const void *W, int N, int K, dnnl_data_type_t xdt,
                          dnnl_data_type_t ydt, int bias);
void bert_dnnl_packed_destroy(bert_dnnl_packed *p);

/* y [Mp x N] (rows dense) = x [Mp x K] (rows dense) W^T (+ bias when p->bias),
 * Mp a multiple of BERT_DNNL_ROW_STEP, at most BERT_DNNL_ROWS. Threads:
 * oneDNN's OpenMP, omp_get_max_threads() (bert_blas_threads_enter). Returns
 * 0 when the primitive for Mp cannot be made (out of memory). */
int bert_dnnl_packed_run(const bert_dnnl_packed *p, int Mp, const void *x, void *y, const float *bias);
#endif

#endif
