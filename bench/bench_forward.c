/* bench_forward.c — forward-pass speed of the bert-base shape.
 *
 *   build/bench_forward [--layers 12] [--threads N] [--seq 128] [--reps 10]
 *                       [--model-dir DIR] [--write-only] [--dtype f32|bf16|int8|tf32|f16]
 *                       [--batches 1,8] [--shape base|tiny] [--ragged FILE] [--no-pack]
 *                       [--profile] [--profile-json FILE] [--device cpu|cuda]
 *
 * Writes a random-initialised model of the bert-base shape (hidden 768,
 * 12 heads, intermediate 3072, vocabulary 30522; --layers sets the depth)
 * or of the BERT-Tiny shape (--shape tiny: hidden 128, 2 heads,
 * intermediate 512, 2 layers) in the Hugging Face layout to DIR (default
 * build/bench-model-L<layers> or build/bench-model-tiny, reused when
 * present), loads it through the public API and times the forward pass
 * (last_hidden_state + pooler) at each batch size. --ragged FILE times one
 * batch of the sequences in FILE (one line of token ids each, lengths
 * differing), run as they are: bert.c never pads. --no-pack loads with
 * bert_model_params.pack_weights = 0 (f32 weights in the file's layout, for
 * A/B runs of the packing). Prints the median and
 * min over --reps runs, after one warm-up run. --profile prints, after each
 * batch size's line, where the time of its --reps runs went (ms per pass of
 * each kind of operation, per layer: bert_profile_format); --profile-json
 * FILE writes the same as one JSON line per batch size. A profiled run reads
 * the clock between operations: its times are not the plain run's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "bert.h"
#include "io/file.h"
#include "io/safetensors.h"

/* Fill with uniform values in [-scale, scale) from a fixed LCG. */
static float *random_block(size_t n, float scale, uint32_t *seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = scale * ((float)(*seed >> 8) / 8388608.0f - 1.0f);
    }
    return p;
}

static int write_model(const char *dir, int layers, int tiny) {
    const int C = tiny ? 128 : 768, I = 4 * C, V = 30522, P = 512, H = tiny ? 2 : 12;
    mkdir(dir, 0755);
    char path[1024], cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\", \"hidden_size\": %d,"
             " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"intermediate_size\": %d,"
             " \"vocab_size\": %d, \"max_position_embeddings\": %d, \"type_vocab_size\": 2}\n",
             C, layers, H, I, V, P);
    bert_error err;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (bert_file_write_atomic(path, cfg, strlen(cfg), &err) != BERT_OK) goto fail;
    int n = 0, cap = 8 + 16 * layers;
    st_write_tensor *ts = calloc((size_t)cap, sizeof *ts);
    char (*names)[96] = calloc((size_t)cap, sizeof *names);
    uint32_t seed = 42;
#define ADD(rows, cols, scale, ...)                                                                  \
    do {                                                                                             \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                            \
        ts[n] = (st_write_tensor){.name = names[n], .dtype = ST_F32, .ndim = (cols) ? 2 : 1,          \
                                  .shape = {(rows), (cols)}, .data = random_block((size_t)(rows) * ((cols) ? (cols) : 1), scale, &seed)}; \
        n++;                                                                                         \
    } while (0)
    ADD(V, C, 0.05f, "embeddings.word_embeddings.weight");
    ADD(P, C, 0.05f, "embeddings.position_embeddings.weight");
    ADD(2, C, 0.05f, "embeddings.token_type_embeddings.weight");
    ADD(C, 0, 0.1f, "embeddings.LayerNorm.weight");
    ADD(C, 0, 0.1f, "embeddings.LayerNorm.bias");
    for (int l = 0; l < layers; l++) {
        const char *dense[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                               "attention.output.dense", "intermediate.dense", "output.dense"};
        for (int d = 0; d < 6; d++) {
            int out = d == 4 ? I : C, in = d == 5 ? I : C;
            ADD(out, in, 0.05f, "encoder.layer.%d.%s.weight", l, dense[d]);
            ADD(out, 0, 0.05f, "encoder.layer.%d.%s.bias", l, dense[d]);
        }
        ADD(C, 0, 0.1f, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(C, 0, 0.1f, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(C, 0, 0.1f, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(C, 0, 0.1f, "encoder.layer.%d.output.LayerNorm.bias", l);
    }
    ADD(C, C, 0.05f, "pooler.dense.weight");
    ADD(C, 0, 0.05f, "pooler.dense.bias");
#undef ADD
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    bert_status rc = st_write(path, ts, n, "{\"format\":\"pt\"}", &err);
    for (int i = 0; i < n; i++) free((void *)ts[i].data);
    free(ts);
    free(names);
    if (rc == BERT_OK) return 1;
fail:
    fprintf(stderr, "bench_forward: %s\n", err.message);
    return 0;
}

int main(int argc, char **argv) {
    int layers = 12, threads = 0, seq = 128, reps = 10, write_only = 0, tiny = 0, no_pack = 0, profile = 0;
    const char *profile_json = NULL;
    bert_compute_dtype dtype = BERT_COMPUTE_F32;
    bert_device device = BERT_DEVICE_CPU;
    const char *dir = NULL, *batch_list = NULL, *ragged = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--layers") == 0) layers = atoi(v), i++;
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(v), i++;
        else if (strcmp(argv[i], "--seq") == 0) seq = atoi(v), i++;
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(v), i++;
        else if (strcmp(argv[i], "--model-dir") == 0) dir = v, i++;
        else if (strcmp(argv[i], "--write-only") == 0) write_only = 1;
        else if (strcmp(argv[i], "--no-pack") == 0) no_pack = 1;
        else if (strcmp(argv[i], "--profile") == 0) profile = 1;
        else if (strcmp(argv[i], "--profile-json") == 0) profile_json = v, i++;
        else if (strcmp(argv[i], "--batches") == 0) batch_list = v, i++;
        else if (strcmp(argv[i], "--dtype") == 0) {
            static const char *const names[] = {"f32", "bf16", "int8", "tf32", "f16"}; /* by bert_compute_dtype */
            int k = 0;
            while (k < 5 && strcmp(v, names[k]) != 0) k++;
            if (k == 5) {
                fprintf(stderr, "bench_forward: --dtype must be f32, bf16, int8, tf32 or f16, not '%s'\n", v);
                return 2;
            }
            dtype = (bert_compute_dtype)k, i++;
        }
        else if (strcmp(argv[i], "--shape") == 0) tiny = strcmp(v, "tiny") == 0, layers = tiny ? 2 : layers, i++;
        else if (strcmp(argv[i], "--ragged") == 0) ragged = v, i++;
        else if (strcmp(argv[i], "--device") == 0) device = strcmp(v, "cuda") == 0 ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU, i++;
        else {
            fprintf(stderr, "usage: bench_forward [--layers N] [--threads N] [--seq N] [--reps N] [--model-dir DIR] [--write-only]\n");
            return 2;
        }
    }
    if (layers < 1 || seq < 1 || seq > 512 || reps < 1) {
        fprintf(stderr, "bench_forward: need layers >= 1, 1 <= seq <= 512, reps >= 1\n");
        return 2;
    }
    char dbuf[256];
    if (!dir) {
        if (tiny) snprintf(dbuf, sizeof dbuf, "build/bench-model-tiny");
        else snprintf(dbuf, sizeof dbuf, "build/bench-model-L%d", layers);
        dir = dbuf;
    }
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/model.safetensors", dir);
    if (!bert_file_exists(cfg) && !write_model(dir, layers, tiny)) return 1;
    if (write_only) return 0;

    bert_error err;
    bert_model *m;
    bert_model_params mp = bert_model_default_params();
    mp.compute = dtype;
    mp.pack_weights = !no_pack;
    mp.device = device;
    if (bert_model_load(dir, &mp, &m, &err) != BERT_OK) {
        fprintf(stderr, "bench_forward: %s\n", err.message);
        return 1;
    }
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = threads;
    cp.profile = profile || profile_json;
    FILE *pj = profile_json ? fopen(profile_json, "w") : NULL;
    if (profile_json && !pj) return fprintf(stderr, "bench_forward: cannot create %s\n", profile_json), 1;
    bert_context *ctx;
    if (bert_context_create(m, &cp, &ctx, &err) != BERT_OK) {
        fprintf(stderr, "bench_forward: %s\n", err.message);
        return 1;
    }
    int batches[16] = {1, 8}, n_batches = 2;
    if (batch_list) { /* --batches 1,8,32 */
        n_batches = 0;
        for (const char *q = batch_list; *q && n_batches < 16; q = strchr(q, ',') ? strchr(q, ',') + 1 : "")
            if (atoi(q) > 0) batches[n_batches++] = atoi(q);
    }
    int max_b = 1;
    for (int b = 0; b < n_batches; b++) max_b = batches[b] > max_b ? batches[b] : max_b;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_b * (size_t)seq);
    for (int i = 0; i < max_b * seq; i++) ids[i] = 1000 + (i * 7919) % 29000;
    /* --ragged: the sequences of FILE as one batch */
    int n_ragged = 0, ragged_tokens = 0, lens[256];
    int32_t *rids = NULL;
    if (ragged) {
        FILE *f = fopen(ragged, "r");
        if (!f) return fprintf(stderr, "bench_forward: cannot open %s\n", ragged), 1;
        rids = malloc(sizeof *rids * 256 * 512);
        char line[65536];
        while (n_ragged < 256 && fgets(line, sizeof line, f)) {
            int n = 0;
            for (char *q = line, *e; n < 512; q = e) {
                long v = strtol(q, &e, 10);
                if (e == q) break;
                rids[ragged_tokens + n++] = (int32_t)v;
            }
            if (n) lens[n_ragged++] = n, ragged_tokens += n;
        }
        fclose(f);
        n_batches = 1, batches[0] = n_ragged;
    }
    char info[512];
    printf("%s\n", bert_system_info(info, sizeof info));
    if (bert_blas_coretype_hint())
        printf("WARNING: OpenBLAS runs kernels older than this CPU; rerun with OPENBLAS_CORETYPE=%s\n",
               bert_blas_coretype_hint());
    printf("bert.c forward, %s shape, %d layer(s), seq %d, threads %d, %d reps%s\n", tiny ? "BERT-Tiny" : "bert-base",
           layers, seq, threads ? threads : -1, reps, device == BERT_DEVICE_CUDA ? ", layers on the GPU" : "");
    printf("%-8s %-8s %8s %8s %12s %12s %14s %10s\n", "runtime", "layers", "threads", "batch", "median ms", "min ms",
           "tokens/s", "GFLOP/s");
    const bert_config *mc = bert_model_config(m);
    double C = mc->hidden_size, I = mc->intermediate_size;
    for (int b = 0; b < n_batches; b++) {
        int B = batches[b], tokens = ragged ? ragged_tokens : B * seq;
        bert_sequence *seqs = malloc(sizeof *seqs * (size_t)B);
        for (int s = 0, off = 0; s < B; s++) {
            seqs[s] = ragged ? (bert_sequence){.input_ids = rids + off, .n_tokens = lens[s]}
                             : (bert_sequence){.input_ids = ids + s * seq, .n_tokens = seq};
            off += seqs[s].n_tokens;
        }
        double *t = malloc(sizeof(double) * (size_t)reps);
        if (bert_forward(ctx, seqs, B, BERT_OUTPUT_POOLED, &err) != BERT_OK) { /* warm-up: sizes the arena, touches weights */
            fprintf(stderr, "bench_forward: %s\n", err.message);
            return 1;
        }
        bert_context_profile_reset(ctx);
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now_ms();
            if (bert_forward(ctx, seqs, B, BERT_OUTPUT_POOLED, &err) != BERT_OK) {
                fprintf(stderr, "bench_forward: %s\n", err.message);
                return 1;
            }
            t[r] = bench_now_ms() - t0;
        }
        bench_sort(t, reps);
        double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
        double flops = 0;
        for (int s = 0; s < B; s++) flops += bench_sequence_flops(layers, C, I, seqs[s].n_tokens);
        char bname[16];
        snprintf(bname, sizeof bname, ragged ? "R%d" : "%d", B);
        printf("%-8s %-8d %8d %8s %12.2f %12.2f %14.0f %10.1f\n", dtype == BERT_COMPUTE_BF16 ? "bert.c16" : dtype == BERT_COMPUTE_INT8 ? "bert.c8" : dtype == BERT_COMPUTE_TF32 ? "bert.ctf" : dtype == BERT_COMPUTE_F16 ? "bert.ch" : "bert.c", layers, threads, bname, med, t[0],
               tokens / (med / 1e3), flops / (med * 1e6));
        bert_profile prof;
        char text[16384];
        if (cp.profile && bert_context_profile(ctx, &prof, &err) == BERT_OK) {
            if (profile && bert_profile_format(&prof, 0, text, sizeof text) < (int)sizeof text) fputs(text, stdout);
            if (pj && bert_profile_format(&prof, 1, text, sizeof text) < (int)sizeof text) fputs(text, pj);
        }
        free(t);
        free(seqs);
    }
    free(ids), free(rids);
    if (pj && fclose(pj) != 0) return fprintf(stderr, "bench_forward: %s: write failed\n", profile_json), 1;
    bert_context_free(ctx);
    bert_model_free(m);
    return 0;
}
