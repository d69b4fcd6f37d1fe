/* cuda_fp16.h (emulated; see cuda_runtime.h here): the float16 type and the
 * conversions src/cuda uses. */
#ifndef BERT_EMU_CUDA_FP16_H
#define BERT_EMU_CUDA_FP16_H

#include <stdint.h>
#include <string.h>

typedef struct __half {
    uint16_t x;
} __half; /* C too: the stand-in cuBLAS (cublas.c) reads its operands */

/* IEEE binary16 bits to float (exact). */
static inline float bert_emu_half_bits_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13); /* inf, NaN */
    else if (e) u = sign | ((e + 112) << 23) | (m << 13);
    else if (!m) u = sign;
    else { /* subnormal: m x 2^-24, normalised */
        int k = 0;
        while (!(m & 0x400u)) m <<= 1, k++;
        u = sign | ((uint32_t)(113 - k) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float to binary16, round to nearest even (subnormals too; past 65504
 * rounding up: inf); NaN stays a (quiet) NaN. */
static inline __half __float2half_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    __half h;
    if (a > 0x7f800000u) h.x = (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    else if (a >= 0x477ff000u) h.x = (uint16_t)(sign | 0x7c00u); /* >= 65520 (and inf): inf */
    else if (a >= 0x38800000u) { /* normal in binary16: >= 2^-14 */
        uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* nearest even at 13 dropped bits */
        h.x = (uint16_t)(sign | ((r - 0x38000000u) >> 13));
    } else if (a < 0x33000000u) h.x = sign; /* below half the smallest subnormal 2^-25 (ties to 0) */
    else { /* subnormal: a's value / 2^-24, nearest even */
        uint32_t m = (a & 0x7fffffu) | 0x800000u, shift = 126 - (a >> 23); /* value = m x 2^(e-150) */
        uint32_t q = m >> shift, rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (q & 1u))) q++;
        h.x = (uint16_t)(sign | q);
    }
    return h;
}

static inline float __half2float(__half h) { return bert_emu_half_bits_to_float(h.x); }

#endif
