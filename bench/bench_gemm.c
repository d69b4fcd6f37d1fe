/* bench_gemm.c — the machine's matrix-product ceiling, measured the way
 * bert.c calls it.
 *
 *   build/bench_gemm [--threads 1] [--reps 20]
 *
 * For BERT's dense shapes (M tokens x N outputs x K inputs) it times
 *   - OpenBLAS cblas_sgemm on its own (the library's best, all threads given),
 *   - bert_linear (bert.c's fp32 product: column slabs over threads, oneDNN
 *     sgemm inside when libdnnl is present, OpenBLAS otherwise),
 *   - bert_plinear_run (oneDNN's f32 matmul primitive, W packed once: what
 *     the encoder runs for layers of at least 256 x 256 with pack_weights),
 *   - bert_linear_bf16 (oneDNN's bf16 gemm, f32 sums, W repacked per call:
 *     bf16 training's forward) when the CPU has it,
 *   - bert_plinear_run_bf16 (oneDNN's bf16 matmul primitive, W packed once:
 *     --dtype bf16 inference's dense layers of at least 256 x 256; on the
 *     Intel Xeon with AMX 1.2-1.5x the gemm's rate),
 *   - bert_amx_linear (bert.c's own AMX bf16 kernel, W packed once: what
 *     --dtype bf16's dense layers run where the CPU has AMX) when it can,
 *     and bert_amx_linear_resident ("amx in L2": the same kernel without
 *     its prefetch of W into L2, which costs a few % where W is already
 *     there, as it is here, and saves more in a pass, where it is not),
 *   - bert_qlinear_run (int8 products, int32 sums: bert.c's AMX kernel
 *     where the CPU has AMX-INT8, else oneDNN's matmul on VNNI; the
 *     weights quantized and packed once, the inputs quantized beforehand, as
 *     the encoder stages them) when the CPU and build have it, and
 *     bert_amx_qlinear_resident ("int8 in L2", as above) on AMX-INT8,
 * every buffer on a 64-byte boundary (bert_alloc64, as the encoder's: see
 * util/mem.h), and prints GFLOP/s (2MNK / time, median of --reps; int8 counts its
 * multiply-adds as FLOPs too). The largest per dtype is the ceiling
 * bert.c's whole-model figures of that dtype are compared with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/half.h"
#include "kernels/linear_amx.h"
#include "kernels/linear_packed.h"
#include "kernels/qlinear.h"
#include "kernels/qlinear_amx.h"
#include "util/mem.h"

#ifdef BERT_USE_CBLAS
#include <cblas.h>
#endif

typedef struct {
    int M, N, K, threads;
    float *x, *W, *b, *y;
    uint16_t *x16, *W16, *Wamx; /* Wamx: W packed for bert_amx_linear (NULL without AMX) */
    int8_t *Wq8amx;             /* W quantized per row and packed for bert_amx_qlinear (NULL without AMX-INT8) */
    float *sw;                  /* its row scales */
    bert_qlinear *q8;   /* int8: W quantized and packed */
    int8_t *xq;         /* int8: x quantized per row, */
    float *sx;          /* its row scales */
    int32_t *acc;
    bert_plinear *pf32, *pbf16; /* W packed for oneDNN's matmul (NULL where it is not available) */
    float *scratch;
} shape;

static void run_openblas(const shape *s) {
#ifdef BERT_USE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->M, s->N, s->K, 1.0f, s->x, s->K, s->W, s->K, 0.0f, s->y, s->N);
#else
    (void)s;
#endif
}
static void run_linear(const shape *s) { bert_linear(s->y, s->N, s->x, s->W, s->b, s->M, s->N, s->K, s->threads); }
static void run_bf16(const shape *s) { bert_linear_bf16(s->y, s->N, s->x16, s->W16, s->b, s->M, s->N, s->K, s->threads); }
static void run_amx(const shape *s) { bert_amx_linear(s->y, s->N, s->x16, s->Wamx, s->b, s->M, s->N, s->K, s->threads, NULL); }
static void run_amx_l2(const shape *s) {
    bert_amx_linear_resident(s->y, s->N, s->x16, s->Wamx, s->b, s->M, s->N, s->K, s->threads, NULL);
}
static void run_int8_l2(const shape *s) {
    bert_amx_qlinear_resident(s->y, s->N, s->xq, s->sx, s->Wq8amx, s->sw, s->b, s->M, s->N, s->K, s->threads, NULL);
}
static void check_packed(bert_status rc, const bert_error *err) {
    if (rc != BERT_OK) {
        fprintf(stderr, "bench_gemm: packed product: %s\n", err->message);
        exit(1);
    }
}
static void run_pf32(const shape *s) {
    bert_error err;
    check_packed(bert_plinear_run(s->pf32, s->y, s->N, s->x, s->b, s->M, s->scratch, NULL, s->threads, &err), &err);
}
static void run_pbf16(const shape *s) {
    bert_error err;
    check_packed(bert_plinear_run_bf16(s->pbf16, s->y, s->N, s->x16, s->b, s->M, s->scratch, NULL, s->threads, &err), &err);
}
static void run_int8(const shape *s) {
    bert_error err;
    if (bert_qlinear_run(s->q8, s->y, s->N, s->xq, s->sx, s->b, s->M, s->acc, NULL, s->threads, &err) != BERT_OK) {
        fprintf(stderr, "bench_gemm: int8: %s\n", err.message);
        exit(1);
    }
}

/* Median GFLOP/s of reps calls after WARMUP_MS of calls: the AMX units
 * reach their full rate only after some tens of ms of work (one thread,
 * 128 x 768 x 768, bf16: ~1,600 GFLOP/s over the first 10 calls, ~1,840
 * over 100), so a kernel timed straight after another's or after the
 * set-up was under-measured. */
enum { WARMUP_MS = 100 };
static double gflops(void (*fn)(const shape *), const shape *s, int reps) {
    double *t = malloc(sizeof *t * (size_t)reps);
    for (double t0 = bench_now_ms(); bench_now_ms() - t0 < WARMUP_MS;) fn(s);
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now_ms();
        fn(s);
        t[r] = bench_now_ms() - t0;
    }
    bench_sort(t, reps);
    double med = t[reps / 2];
    free(t);
    return 2.0 * s->M * s->N * s->K / (med * 1e6);
}

int main(int argc, char **argv) {
    int threads = 1, reps = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    }
    bert_gemm_init();
    int saved = bert_blas_threads_enter(threads);
    int bf16 = bert_bf16_unavailable() == NULL, int8 = bert_int8_unavailable() == NULL;
    static const int shapes[][3] = {{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {1024, 768, 768},
                                    {1024, 3072, 768}, {4096, 3072, 768}};
    printf("gemm ceiling, %d thread(s), median of %d; GFLOP/s\n", threads, reps);
    printf("%-18s %10s %12s %10s %10s %11s %10s %10s %10s %10s\n", "M x N x K", "openblas", "bert_linear", "f32 packed",
           "bf16", "bf16 packed", "bf16 amx", "amx in L2", "int8", "int8 in L2");
    double best[3] = {0, 0, 0}; /* f32, bf16, int8 */
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        shape s = {.M = shapes[i][0], .N = shapes[i][1], .K = shapes[i][2], .threads = threads};
        size_t nx = (size_t)s.M * s.K, nw = (size_t)s.N * s.K;
        s.x = bert_alloc64(nx * sizeof *s.x), s.W = bert_alloc64(nw * sizeof *s.W), s.b = bert_alloc64((size_t)s.N * sizeof *s.b);
        s.y = bert_alloc64((size_t)s.M * s.N * sizeof *s.y);
        if (!s.x || !s.W || !s.b || !s.y) return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
        memset(s.b, 0, (size_t)s.N * sizeof *s.b);
        for (size_t k = 0; k < nx; k++) s.x[k] = (float)((k * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t k = 0; k < nw; k++) s.W[k] = (float)((k * 104729) % 1000) / 1000.0f - 0.5f;
        if (bf16) {
            s.x16 = bert_alloc64(nx * sizeof *s.x16), s.W16 = bert_alloc64(nw * sizeof *s.W16);
            if (!s.x16 || !s.W16) return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
            bert_f32_to_bf16_array(s.x16, s.x, nx);
            bert_f32_to_bf16_array(s.W16, s.W, nw);
        }
        if (bf16 && bert_amx_linear_available(s.N, s.K)) {
            if (!(s.Wamx = bert_alloc64(nw * sizeof *s.Wamx))) return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
            bert_amx_pack_weights(s.Wamx, s.W, s.N, s.K);
        }
        if (bert_plinear_preferred(s.N, s.K)) s.pf32 = bert_plinear_create(s.W, s.N, s.K, 1);
        if (bf16 && bert_plinear_bf16_preferred(s.N, s.K)) s.pbf16 = bert_plinear_create_bf16(s.W16, s.N, s.K, 1);
        if ((s.pf32 || s.pbf16) && !(s.scratch = bert_alloc64(sizeof(float) * bert_plinear_scratch(s.K, s.N))))
            return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
        const char *why = NULL;
        if (int8 && (s.q8 = bert_qlinear_create(s.W, s.N, s.K, &why))) {
            s.xq = bert_alloc64(bert_qlinear_rows(s.M) * (size_t)s.K), s.sx = bert_alloc64(sizeof *s.sx * bert_qlinear_rows(s.M));
            s.acc = bert_alloc64(bert_qlinear_scratch(s.M, s.N));
            if (!s.xq || !s.sx || !s.acc) return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
            bert_quantize_rows(s.xq, s.sx, s.x, s.M, s.K, threads);
            if (bert_amx_qlinear_available(s.N, s.K)) {
                int8_t *wq = bert_alloc64(nw);
                s.Wq8amx = bert_alloc64(nw), s.sw = bert_alloc64(sizeof *s.sw * (size_t)s.N);
                if (!wq || !s.Wq8amx || !s.sw) return fprintf(stderr, "bench_gemm: out of memory\n"), 1;
                bert_quantize_rows(wq, s.sw, s.W, s.N, s.K, threads);
                bert_amx_qlinear_pack(s.Wq8amx, wq, s.N, s.K);
                free(wq);
            }
        }
        char name[32];
        snprintf(name, sizeof name, "%dx%dx%d", s.M, s.N, s.K);
        double g[9] = {gflops(run_openblas, &s, reps), gflops(run_linear, &s, reps), s.pf32 ? gflops(run_pf32, &s, reps) : 0,
                       bf16 ? gflops(run_bf16, &s, reps) : 0, s.pbf16 ? gflops(run_pbf16, &s, reps) : 0,
                       s.Wamx ? gflops(run_amx, &s, reps) : 0, s.Wamx ? gflops(run_amx_l2, &s, reps) : 0,
                       s.q8 ? gflops(run_int8, &s, reps) : 0, s.Wq8amx ? gflops(run_int8_l2, &s, reps) : 0};
        printf("%-18s %10.1f %12.1f", name, g[0], g[1]);
        if (s.pf32) printf(" %10.1f", g[2]);
        else printf(" %10s", "-");
        if (bf16) printf(" %10.1f", g[3]);
        else printf(" %10s", "-");
        if (s.pbf16) printf(" %11.1f", g[4]);
        else printf(" %11s", "-");
        if (s.Wamx) printf(" %10.1f %10.1f", g[5], g[6]);
        else printf(" %10s %10s", "-", "-");
        if (s.q8) printf(" %10.1f", g[7]);
        else printf(" %10s", int8 ? (why ? why : "-") : "-");
        if (s.Wq8amx) printf(" %10.1f\n", g[8]);
        else printf(" %10s\n", "-");
        for (int k = 0; k < 9; k++) { /* columns 0-2 f32, 3-6 bf16, 7-8 int8 */
            int d = k < 3 ? 0 : k < 7 ? 1 : 2;
            if (g[k] > best[d]) best[d] = g[k];
        }
        free(s.x), free(s.W), free(s.b), free(s.y), free(s.x16), free(s.W16), free(s.Wamx), free(s.xq), free(s.sx), free(s.acc);
        free(s.Wq8amx), free(s.sw);
        bert_qlinear_free(s.q8), bert_plinear_free(s.pf32), bert_plinear_free(s.pbf16), free(s.scratch);
    }
    /* One line for scripts: the ceilings the whole-model figures are divided by. */
    printf("ceiling_gflops threads %d f32 %.1f bf16 %.1f int8 %.1f\n", threads, best[0], best[1], best[2]);
    bert_blas_threads_leave(saved);
    return 0;
}
