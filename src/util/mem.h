/* mem.h — memory on 64-byte boundaries for the buffers the kernels stream.
 *
 * glibc's malloc gives 16-byte boundaries, from which most 64-byte AVX-512
 * loads and AMX tile rows of a buffer split a cache line. Measured on the
 * Intel Xeon with AMX (one thread): oneDNN's packed bf16 product at
 * 128 x 768 x 768 1,126 GFLOP/s from such a buffer, 1,410 from an aligned
 * one; bert-base int8 inference 27 -> 23 ms at batch 8 once its staging
 * buffers were aligned; bert.c's f32 AVX-512 kernel ~8 % slower on
 * 16-byte-aligned packed weights. free() gives the memory back. */
#ifndef BERT_UTIL_MEM_H
#define BERT_UTIL_MEM_H

#include <stddef.h>

/* n bytes (at least 1) on a 64-byte boundary, uninitialised; NULL when
 * short of memory. */
void *bert_alloc64(size_t n);

/* The same, zeroed (as calloc: count x size bytes, NULL on overflow). */
void *bert_calloc64(size_t count, size_t size);

/* n elements of esize bytes (a divisor of 64) rounded up to whole 64-byte
 * lines, in elements: the step from one view of a block to the next that
 * keeps each view on a cache line. */
static inline size_t bert_lines(size_t n, size_t esize) {
    size_t per = 64 / esize;
    return (n + per - 1) / per * per;
}

#endif
