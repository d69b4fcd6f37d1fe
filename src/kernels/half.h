/* half.h — widening 16-bit floats (IEEE binary16 and bfloat16) to float. */
#ifndef BERT_KERNELS_HALF_H
#define BERT_KERNELS_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Exact conversions: every F16 and BF16 value is representable in float,
 * subnormals, infinities and NaN payloads included. */
float bert_f16_to_f32(uint16_t h);
float bert_bf16_to_f32(uint16_t h);

/* Convert n little-endian values read from src (any alignment) into dst. */
void bert_f16_to_f32_array(float *dst, const void *src, size_t n);
void bert_bf16_to_f32_array(float *dst, const void *src, size_t n);

/* Round-to-nearest-even narrowing, for writing F16/BF16 checkpoints. */
uint16_t bert_f32_to_bf16(float f);
/* bert_f32_to_bf16 over an array (round to nearest even, NaN kept), the
 * same bits on every path: AVX512-BF16's conversion where the CPU has it,
 * else bert_f32_to_bf16_array_portable. */
void bert_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n);
/* The same for any instruction set (the compiler's vectorisation); the tests
 * hold both paths to the scalar rounding. */
void bert_f32_to_bf16_array_portable(uint16_t *dst, const float *src, size_t n);
/* The same split over n_threads (for activations of training batches). */
void bert_f32_to_bf16_threaded(uint16_t *dst, const float *src, size_t n, int n_threads);
uint16_t bert_f32_to_f16(float f);

#endif
