/* cuda_bf16.h (emulated; see cuda_runtime.h here): the bf16 type and the
 * rounding src/cuda uses. */
#ifndef BERT_EMU_CUDA_BF16_H
#define BERT_EMU_CUDA_BF16_H

#include <stdint.h>
#include <string.h>

struct __nv_bfloat16 {
    uint16_t x;
};

/* round to nearest even; NaN stays a (quiet) NaN */
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) b.x = (uint16_t)((u >> 16) | 0x40);
    else b.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return b;
}

static inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
