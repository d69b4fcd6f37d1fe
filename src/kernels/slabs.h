/* slabs.h — how a dense layer's output is split over threads and finished:
 * column slabs, the bias written before the product, and the epilogue run
 * on each slab while it is in cache. Shared by every dense-layer backend
 * (gemm.c, gemm_onednn.c, linear_amx.c, qlinear.c, linear_packed.c). */
#ifndef BERT_KERNELS_SLABS_H
#define BERT_KERNELS_SLABS_H

#include <stdint.h>

/* What a dense layer may do to each thread's output slab right after its
 * product, while the slab is still in cache (the "epilogue"): apply the
 * activation (act >= 0, a bert_activation) and/or write the result also as
 * bf16 into y16 (same row stride as y), the next layer's input under bf16
 * compute. Saves one pass over [M x N] each. */
typedef struct {
    int act;
    uint16_t *y16;
} bert_epilogue;

/* Runs the epilogue on columns [j0, j1) of y's M rows (epi NULL: nothing). */
void bert_epilogue_run(const bert_epilogue *epi, float *y, int ldy, int M, int j0, int j1);

/* Runs fn(j0, j1, arg) for column ranges [j0, j1) of 0..N, multiples of 16
 * apart, one per thread (n_threads < 1 means 1): how every dense layer is
 * split over threads. */
typedef void (*bert_slab_fn)(int j0, int j1, void *arg);
void bert_for_column_slabs(int N, int n_threads, bert_slab_fn fn, void *arg);

/* Copies bias[j0..j1) into rows 0..M of y and returns the GEMM beta to add
 * onto it (1), or returns 0 when bias is NULL. */
float bert_bias_prefill(float *y, int ldy, const float *bias, int M, int j0, int j1);

#endif
