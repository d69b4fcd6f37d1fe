/* test_qlinear_amx.c — the AMX int8 dense kernel against its formula.
 *
 * Reference: the int32 sums of xq and Wq computed exactly in 64-bit
 * integers, then (float)acc * (sx[m] * sw[n]) + b[n] in float, each
 * operation rounded as the kernel's contract says (this file is C11, so
 * nothing is fused into a multiply-add), then the activation through
 * bert_activation_forward on the whole row: every output and its bf16
 * copy must be the same bits. Shapes cover M below 16 (a configuration
 * with fewer tile rows), M % 32 = 16 (one A tile), other tails, an odd
 * number of 16-column blocks (one B tile), K of one and of several
 * 64-input chunks, row groups (K = 3,072: 128 rows a group), row and
 * column parts on 1-3 threads, no bias, and a row stride wider than N.
 * xq ends at a page followed by an inaccessible one, so a tile load past
 * its last row faults. Where the CPU has no AMX-INT8, the test says so
 * and checks only that the kernel declines. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/half.h"
#include "kernels/ops.h"
#include "kernels/qlinear.h"
#include "kernels/qlinear_amx.h"
#include "test.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* n bytes ending where an inaccessible page begins; *base and *len for munmap */
static void *guarded(size_t n, void **base, size_t *len) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *len = (n + page - 1) / page * page + page;
    char *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    mprotect(p + *len - page, page, PROT_NONE);
    *base = p;
    return p + *len - page - n;
}

/* outputs (and bf16 copies, where asked for: with_y16 1, or 2 for a copy
 * alone, y16_only) differing from the reference, over one case; without
 * the copy a GELU runs in the dequantization's registers, with it in the
 * epilogue's pass; a copy alone without a GELU leaves y as it was */
static int run_case(int M, int N, int K, int with_bias, int gelu, int with_y16, int n_threads, int resident,
                    unsigned seed) {
    int ldy = N + 16;
    float *x = malloc(sizeof *x * (size_t)M * K), *W = malloc(sizeof *W * (size_t)N * K), *b = malloc(sizeof *b * (size_t)N),
          *y = malloc(sizeof *y * (size_t)M * ldy), *sx = malloc(sizeof *sx * (size_t)M), *sw = malloc(sizeof *sw * (size_t)N),
          *ref = malloc(sizeof *ref * (size_t)N);
    int8_t *Wq = malloc((size_t)N * K), *Wp = malloc((size_t)N * K);
    uint16_t *y16 = calloc((size_t)M * ldy, 2);
    void *base;
    size_t len;
    int8_t *xq = guarded((size_t)M * K, &base, &len);
    if (!xq) return 1;
    for (int i = 0; i < M * K; i++) x[i] = 3.0f * frand(&seed);
    for (int i = 0; i < N * K; i++) W[i] = 0.2f * frand(&seed);
    for (int i = 0; i < N; i++) b[i] = frand(&seed);
    for (int j = 0; j < K; j++) W[j] = 0.0f; /* an all-zero weight row: scale 1 */
    for (int i = 0; i < M * ldy; i++) y[i] = 1e30f;
    bert_quantize_rows(xq, sx, x, M, K, 1);
    bert_quantize_rows(Wq, sw, W, N, K, 1);
    for (int k = 0; k < K; k++) xq[k] = (int8_t)(k % 2 ? 127 : -127), Wq[(size_t)(N - 1) * K + k] = -127; /* extremes */
    bert_amx_qlinear_pack(Wp, Wq, N, K);
    bert_epilogue epi = {gelu ? (int)BERT_ACT_GELU : -1, with_y16 ? y16 : NULL, with_y16 == 2};
    int y_untouched = with_y16 == 2 && !gelu;
    (resident ? bert_amx_qlinear_resident : bert_amx_qlinear)(y, ldy, xq, sx, Wp, sw, with_bias ? b : NULL, M, N, K,
                                                              n_threads, &epi);
    int bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            long long dot = 0;
            for (int k = 0; k < K; k++) dot += (long long)xq[(size_t)i * K + k] * Wq[(size_t)j * K + k];
            float s = sx[i] * sw[j], v = (float)dot * s;
            ref[j] = with_bias ? v + b[j] : v;
        }
        if (gelu) bert_activation_forward(ref, (size_t)N, BERT_ACT_GELU, 1);
        for (int j = 0; y_untouched && j < N; j++) bad += y[(size_t)i * ldy + j] != 1e30f;
        bad += !y_untouched && memcmp(ref, y + (size_t)i * ldy, sizeof *ref * (size_t)N) != 0;
        for (int j = 0; with_y16 && j < N; j++) bad += y16[(size_t)i * ldy + j] != bert_f32_to_bf16(ref[j]);
        for (int j = N; j < ldy; j++) bad += y[(size_t)i * ldy + j] != 1e30f; /* columns past N untouched */
    }
    munmap(base, len);
    free(x), free(W), free(b), free(y), free(sx), free(sw), free(ref), free(Wq), free(Wp), free(y16);
    return bad;
}

TEST(amx_int8_linear_is_its_formula_or_declines) {
    if (!bert_amx_qlinear_available(64, 64)) {
        printf("  no AMX-INT8 here: checking that the kernel declines\n");
        CHECK(!bert_amx_qlinear_available(64, 64));
        return;
    }
    CHECK(!bert_amx_qlinear_available(40, 64)); /* N: whole 16-column blocks only */
    CHECK(!bert_amx_qlinear_available(64, 96)); /* K: whole 64-input chunks only */
    const int shapes[][5] = {/* M, N, K, bias, gelu */
                             {1, 16, 64, 1, 0},    {7, 48, 128, 1, 1},  {16, 32, 64, 0, 0},   {17, 64, 192, 1, 0},
                             {45, 80, 128, 1, 1},  {48, 128, 256, 1, 0}, {64, 96, 512, 0, 1},  {131, 384, 128, 1, 1},
                             {200, 64, 64, 1, 1},  {256, 32, 64, 0, 0},  {300, 48, 3072, 1, 0}, /* row groups */
                             {300, 48, 768, 1, 1}}; /* k-blocks of 6 chunks in groups of 256 rows, and a rest */
    int bad = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int nt = 1; nt <= 3; nt++)
            for (int with_y16 = 0; with_y16 <= 2; with_y16++) {
                const int *s = shapes[c];
                int resident = with_y16 && nt == 2; /* bert_amx_qlinear_resident: the same formula */
                int b = run_case(s[0], s[1], s[2], s[3], s[4], with_y16, nt, resident, 7u + (unsigned)c);
                if (b)
                    printf("  M=%d N=%d K=%d threads %d, bf16 copy %d, resident %d: %d values differ\n", s[0], s[1], s[2],
                           nt, with_y16, resident, b);
                bad += b;
            }
    CHECK(bad == 0);
}

/* bert_qlinear_create takes this kernel for shapes it fits, and
 * bert_qlinear_run then reads exactly M rows (no padding) and needs no
 * int32 scratch beyond the contract's. */
TEST(int8_layer_uses_the_amx_kernel_where_it_fits) {
    if (!bert_amx_qlinear_available(64, 64) || bert_int8_unavailable()) return;
    enum { M = 5, N = 64, K = 128 };
    unsigned seed = 3;
    float W[N * K], x[M * K], sx[M], y1[M * N], y2[M * N], sw[N];
    int8_t Wq[N * K], Wp[N * K];
    for (int i = 0; i < N * K; i++) W[i] = frand(&seed);
    for (int i = 0; i < M * K; i++) x[i] = frand(&seed);
    const char *why = NULL;
    bert_qlinear *q = bert_qlinear_create(W, N, K, &why), *q80 = bert_qlinear_create(W, N, 80, &why);
    CHECK(q != NULL && q80 != NULL);
    if (!q || !q80) return;
    CHECK(bert_qlinear_on_amx(q));    /* K = 128: the AMX kernel */
    CHECK(!bert_qlinear_on_amx(q80)); /* K = 80: oneDNN */
    bert_qlinear_free(q80);
    void *base;
    size_t len;
    int8_t *xq = guarded((size_t)M * K, &base, &len);
    CHECK(xq != NULL);
    if (!xq) return;
    int32_t *acc = malloc(bert_qlinear_scratch(M, N));
    bert_quantize_rows(xq, sx, x, M, K, 1);
    bert_quantize_rows(Wq, sw, W, N, K, 1);
    bert_amx_qlinear_pack(Wp, Wq, N, K);
    bert_error err;
    CHECK_OK(bert_qlinear_run(q, y1, N, xq, sx, NULL, M, acc, NULL, 2, &err), err);
    bert_amx_qlinear(y2, N, xq, sx, Wp, sw, NULL, M, N, K, 1, NULL);
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    munmap(base, len);
    free(acc);
    bert_qlinear_free(q);
}
