/* onednn.h — oneDNN, opened at run time (internal).
 *
 * libdnnl.so.2 is dlopen'd so bert.c runs without it. Two parts: its
 * BLAS-like products (dnnl_sgemm, dnnl_gemm_bf16bf16f32), declared here and
 * usable without oneDNN's header, and its primitive API, whose types come
 * from the header, so code using it is compiled only where the header exists
 * (BERT_HAVE_DNNL, from __has_include; Debian: libdnnl-dev). Sanitizer
 * builds leave oneDNN out: with it in the process, LeakSanitizer's exit-time
 * tracer dies ("Tracer caught signal 11") in about half the runs, which
 * hides any real report. What the CPU must also have is decided above this
 * file (capabilities.c). */
#ifndef BERT_KERNELS_ONEDNN_H
#define BERT_KERNELS_ONEDNN_H

#include <stdint.h>

#include "bert.h"

#if defined(__has_include)
#if __has_include(<dnnl.h>) && !defined(__SANITIZE_ADDRESS__)
#define BERT_HAVE_DNNL 1
#endif
#endif

/* ---- the BLAS-like products ---------------------------------------------- */

/* dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M,
 * N, K, float alpha, const bf16 *A, lda, const bf16 *B, ldb, float beta,
 * float *C, ldc): row-major, dnnl_dim_t is int64_t, 0 is success. */
typedef int (*bert_dnnl_gemm_bf16_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t,
                                      const uint16_t *, int64_t, float, float *, int64_t);
/* dnnl_sgemm: the same with float A and B. */
typedef int (*bert_dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *,
                                  int64_t, float, float *, int64_t);

/* What was found of them (resolved once, on the first call; safe to call
 * from several threads). */
typedef struct {
    int library;                      /* 1: libdnnl.so.2 (or .so.3) was opened */
    bert_dnnl_sgemm_fn sgemm;         /* NULL: missing, a sanitizer build, or set
                                       * aside with BERT_GEMM=openblas */
    bert_dnnl_gemm_bf16_fn gemm_bf16; /* NULL: missing or a sanitizer build */
} bert_dnnl_gemms;
const bert_dnnl_gemms *bert_dnnl_gemm_api(void);

/* y[M x N] = x[M x K] W[N x K]^T + beta y with oneDNN's sgemm (the f32
 * dense layers' product where found: faster than OpenBLAS's at BERT's
 * shapes, and free of OpenBLAS's CPU-detection trap on new CPUs); returns 0
 * (and does nothing) when it is not available or set aside with
 * BERT_GEMM=openblas, or when it reports an error, so the caller falls back
 * to CBLAS. */
int bert_dnnl_sgemm(int M, int N, int K, const float *x, int ldx, const float *W, int ldw, float beta, float *y,
                    int ldy);
/* 1 when bert_dnnl_sgemm does the products. */
int bert_dnnl_sgemm_available(void);

/* ---- the primitive API --------------------------------------------------- */

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
 * padded to, and the one larger row count it also takes (BIG_ROWS: a
 * caller with that many rows left, written in place, runs them in one
 * call, so W streams from L3 once per 512 rows instead of once per 128);
 * outside the #ifdef so callers size their buffers without oneDNN's
 * header. */
enum { BERT_DNNL_ROWS = 128, BERT_DNNL_ROW_STEP = 16, BERT_DNNL_BIG_ROWS = 512 };
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
    __typeof__(dnnl_primitive_attr_create) *attr_create;
    __typeof__(dnnl_primitive_attr_destroy) *attr_destroy;
    __typeof__(dnnl_primitive_attr_set_scratchpad_mode) *attr_scratchpad;
    __typeof__(dnnl_memory_desc_get_size) *md_size;
    dnnl_engine_t engine;
} bert_dnnl_api;

/* The API; only valid after bert_dnnl_status() returned BERT_DNNL_OK. */
const bert_dnnl_api *bert_dnnl(void);

/* Record in err that the oneDNN call described by fmt returned status s,
 * naming the status ("out of memory", "unimplemented", ...), and return the
 * bert_status for it: BERT_ERR_NOMEM for out of memory, BERT_ERR_SHAPE for
 * invalid arguments, BERT_ERR_UNSUPPORTED otherwise. */
bert_status bert_dnnl_fail(bert_error *err, dnnl_status_t s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Run the primitive p (described by `what`, for the message) with
 * args[0..n) and wait for it; a oneDNN error is recorded in err. */
bert_status bert_dnnl_run(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args, const char *what, bert_error *err);

/* A product y = x W^T whose W oneDNN packed once, at creation, into the
 * blocked layout its matmul primitive asks for, so no call repacks it (what
 * the dnnl_sgemm / gemm_s8s8s32 calls do on every call). Why fixed shapes:
 * oneDNN JITs its fast kernels (brgemm: AMX int8, AVX-512 f32) only for a
 * primitive made for a fixed M; a run-time M falls back to its slower gemm
 * kernels. So rows go through in chunks of at most BERT_DNNL_ROWS, each
 * padded up to a multiple of BERT_DNNL_ROW_STEP, or of exactly
 * BERT_DNNL_BIG_ROWS: at most ROWS / ROW_STEP + 1 primitives per weight,
 * made on first use (under the lock) and kept. Used by the int8 layers
 * (qlinear.c: s8 x s8 -> s32) and the f32 and bf16 layers
 * (linear_packed.c: -> f32 with the bias added by the primitive).
 *
 * Threads: the primitives are made with a user scratchpad (each run brings
 * its own, allocated for that run), so one weight may be run by any number
 * of threads at once — oneDNN's default, a scratchpad shared by every
 * primitive, lets a primitive run only on the thread that made it. */
typedef struct {
    int N, K;
    dnnl_data_type_t xdt, ydt;  /* x and W are xdt, y is ydt */
    int bias;                   /* 1: the primitives add an f32 bias [N] */
    dnnl_memory_desc_t w_md;    /* the packed layout, the same for every M */
    dnnl_memory_t w_mem;        /* the packed weights (oneDNN's allocation) */
    pthread_mutex_t lock;       /* guards prim[] creation and refused[] */
    dnnl_primitive_t prim[BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP + 1]; /* for M = 16, 32, ..., ROWS, then BIG_ROWS */
    dnnl_memory_desc_t scratch_md[BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP + 1]; /* each one's scratchpad */
    dnnl_status_t refused[BERT_DNNL_ROWS / BERT_DNNL_ROW_STEP + 1]; /* why oneDNN would not make one (kept, not retried) */
} bert_dnnl_packed;

/* Pack W [N x K] (row-major, out x in, of type xdt) into p. Fails (p then
 * holds nothing) with BERT_ERR_SHAPE for N or K < 1, BERT_ERR_UNSUPPORTED
 * when oneDNN's primitives are not available, and with what oneDNN said
 * (bert_dnnl_fail) when it refuses the shape or types or runs out of
 * memory. */
bert_status bert_dnnl_packed_init(bert_dnnl_packed *p, const void *W, int N, int K, dnnl_data_type_t xdt,
                                  dnnl_data_type_t ydt, int bias, bert_error *err);
void bert_dnnl_packed_destroy(bert_dnnl_packed *p);

/* y [Mp x N] (rows dense) = x [Mp x K] (rows dense) W^T (+ bias when p->bias),
 * Mp a multiple of BERT_DNNL_ROW_STEP up to BERT_DNNL_ROWS, or
 * BERT_DNNL_BIG_ROWS (else BERT_ERR_INPUT). Threads: oneDNN's OpenMP, omp_get_max_threads()
 * (bert_blas_threads_enter). Fails with what oneDNN said when the primitive
 * for Mp cannot be made or run (bert_dnnl_fail). */
bert_status bert_dnnl_packed_run(const bert_dnnl_packed *p, int Mp, const void *x, void *y, const float *bias,
                                 bert_error *err);

/* 1 when p's BERT_DNNL_BIG_ROWS primitive exists or could be made now (it
 * is made on first call, under the lock); 0 when oneDNN refused it for
 * the layout packed for 128 rows (a refusal is kept, as for every row
 * count, and not retried), so callers run those rows 128 at a time. */
int bert_dnnl_packed_big_ok(const bert_dnnl_packed *p);
#endif

#endif
