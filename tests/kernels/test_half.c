/* test_half.c — 16-bit float conversions, exhaustively. */
#include <math.h>

#include "kernels/half.h"
#include "test.h"

/* IEEE binary16 decoded with ldexp, the obviously-correct way. */
static double f16_reference(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0) v = ldexp(man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexp(man + 1024, exp - 25);
    return sign ? -v : v;
}

TEST(half_f16_to_f32_all_values) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = bert_f16_to_f32((uint16_t)h);
        double want = f16_reference((uint16_t)h);
        if (isnan(want) ? !isnan(got) : (double)got != want || (signbit(got) != 0) != ((h >> 15) != 0)) bad++;
    }
    CHECK(bad == 0);
}

TEST(half_f32_to_f16_round_trips_and_rounds_to_even) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 31 && (h & 0x3ff)) continue; /* NaN payloads need not survive */
        if (bert_f32_to_f16(bert_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0);
    CHECK(bert_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00); /* tie -> even (down) */
    CHECK(bert_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02); /* tie -> even (up) */
    CHECK(bert_f32_to_f16(70000.0f) == 0x7c00);
    CHECK(bert_f32_to_f16(ldexpf(1.0f, -25) * 1.5f) == 0x0001); /* subnormal rounding */
}

TEST(half_bf16_conversions) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bert_bf16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        if (bert_f32_to_bf16(f) != h) bad++;
    }
    CHECK(bad == 0);
    CHECK(bert_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(bert_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80); /* tie -> even */
    unsigned char le[4] = {0x80, 0x3f, 0x00, 0xc0};                /* 1.0, -2.0 little-endian */
    float out[2];
    bert_bf16_to_f32_array(out, le, 2);
    CHECK(out[0] == 1.0f && out[1] == -2.0f);
    /* the vectorised array conversion rounds exactly as the scalar one, NaN and infinities included */
    enum { N = 1 << 16 };
    static float src[N];
    static uint16_t dst[N];
    uint32_t seed = 1;
    for (int i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t u = i < 8 ? (uint32_t[]){0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f800001u, 0x00000001u, 0x3f808000u,
                                         0x3f818000u, 0x80000000u}[i] : seed;
        memcpy(&src[i], &u, 4);
    }
    /* both paths (AVX512-BF16 where the CPU has it, and the portable one),
     * whole and at a length leaving a partial vector, subnormals included */
    for (int path = 0; path < 2; path++) {
        for (int n = N; n >= N - 5; n -= 5) {
            memset(dst, 0xAB, sizeof dst);
            if (path == 0) bert_f32_to_bf16_array(dst, src, (size_t)n);
            else bert_f32_to_bf16_array_portable(dst, src, (size_t)n);
            int diff = 0;
            for (int i = 0; i < n; i++) diff += dst[i] != bert_f32_to_bf16(src[i]);
            for (int i = n; i < N; i++) diff += dst[i] != 0xABAB; /* nothing written past n */
            if (diff) test_fail(__FILE__, __LINE__, "path %d, %d values: %d differ from bert_f32_to_bf16", path, n, diff);
        }
    }
    int subnormals = 0;
    for (int i = 0; i < N; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        subnormals += (u & 0x7f800000u) == 0 && (u & 0x007fffffu) != 0;
    }
    CHECK(subnormals > 100); /* the lanes the AVX512-BF16 path redoes were met */
}
