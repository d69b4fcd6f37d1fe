/* slabs.h — how a dense layer's output is split over threads and finished:
 * column slabs, the bias written before the product, and the epilogue run
 * on each slab while it is in cache. Shared by every dense-layer backend
 * (gemm.c, gemm_onednn.c, linear_amx.c, qlinear.c, linear_packed.c). */
#ifndef BERT_KERNELS_SLABS_H
#define BERT_KERNELS_SLABS_H

#include <stddef.h>
#include <stdint.h>

/* What a dense layer may do to each thread's output slab right after its
 * product, while the slab is still in cache (the "epilogue"): apply the
 * activation (act >= 0, a bert_activation) and/or write the result also as
 * bf16 into y16 (same row stride as y), the next layer's input under bf16
 * compute (the AMX kernels' epilogues in registers make f32 subnormals
 * zeros there: bert_bf16_store16_daz, half.h). Saves one pass over [M x N]
 * each. y16_only (with y16): the caller reads only y16, so a kernel may
 * leave y unwritten (the AMX kernels, linear_amx.c and qlinear_amx.c, do;
 * the others write both). */
typedef struct {
    int act;
    uint16_t *y16;
    int y16_only;
} bert_epilogue;

/* Runs the epilogue on rows [i0, i0 + M) x columns [j0, j1) of the output
 * y (its row 0 at y, as epi->y16's; epi NULL: nothing). */
void bert_epilogue_run(const bert_epilogue *epi, float *y, int ldy, int i0, int M, int j0, int j1);

/* 1 when the epilogue is an erf GELU alone (no bf16 copy): the AVX-512
 * kernels (linear_avx512.c, qlinear_amx.c) then apply it in registers
 * before their stores (bert_gelu16, the same bits as bert_epilogue_run's
 * pass, without its call per row and second pass) and skip
 * bert_epilogue_run. */
int bert_epilogue_gelu_only(const bert_epilogue *epi);

/* Runs fn(j0, j1, arg) for column ranges [j0, j1) of 0..N, multiples of 16
 * apart, one per thread (n_threads < 1 means 1): how every dense layer is
 * split over threads. */
typedef void (*bert_slab_fn)(int j0, int j1, void *arg);
void bert_for_column_slabs(int N, int n_threads, bert_slab_fn fn, void *arg);

/* Runs fn(i0, i1, j0, j1, arg) on blocks [i0, i1) x [j0, j1) of the M x N
 * output, one per thread: row slabs (all columns) when every thread gets at
 * least BERT_ROW_SLAB_ROWS rows, else column slabs as above (all rows). Row
 * slabs let each thread run one product of the full width: on BERT-Tiny's
 * shapes (128 and 1024 rows, N and K 128..512) two threads measured
 * 172-213 GFLOP/s by rows vs 128-200 by columns (AMD EPYC, oneDNN sgemm,
 * quiet; a column slab of 64-256 outputs is a narrow, slow product, and
 * each thread packs the same input). Short inputs keep column slabs: each
 * thread then streams only its part of W. */
enum { BERT_ROW_SLAB_ROWS = 64 };
typedef void (*bert_block_fn)(int i0, int i1, int j0, int j1, void *arg);
void bert_for_slabs(int M, int N, int n_threads, bert_block_fn fn, void *arg);

/* Products of fewer rows than this run zero-padded to this many (the BLAS
 * backends switch kernels below it, and sum in another order: gemm.c). */
enum { BERT_LINEAR_MIN_ROWS = 16 };

/* A product's input and output padded to BERT_LINEAR_MIN_ROWS rows. */
typedef struct {
    void *x;  /* the M rows of the input, then zero rows */
    float *y; /* [BERT_LINEAR_MIN_ROWS x N], rows of N */
} bert_padded;

/* Into p: a copy of x's M rows (row_bytes each) followed by zero rows, and
 * an output block for N columns. 0 when memory is short (p holds nothing). */
int bert_padded_begin(bert_padded *p, const void *x, size_t row_bytes, int M, int N);

/* p's first M output rows into y (row stride ldy), the epilogue on them,
 * and p's memory freed. */
void bert_padded_end(bert_padded *p, float *y, int ldy, int M, int N, const bert_epilogue *epi);

/* Copies bias[j0..j1) into rows 0..M of y and returns the GEMM beta to add
 * onto it (1), or returns 0 when bias is NULL. */
float bert_bias_prefill(float *y, int ldy, const float *bias, int M, int j0, int j1);

#endif
