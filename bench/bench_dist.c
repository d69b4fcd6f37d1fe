/* bench_dist.c — data-parallel pre-training steps (MLM + NSP) under
 * mpirun: each rank trains on its share of a global batch of
 * ranks x --batch sequences of --seq tokens (every 7th token masked), the
 * gradients summed over the ranks (bert_dist).
 *
 *   mpirun -np N build/bench_dist MODEL_DIR [--batch 8] [--seq 128] [--steps 6]
 *          [--threads 1] [--no-overlap] [--compress bf16]
 *
 * Rank 0 prints one line: the median step time over --steps steps after
 * one warm-up, the global throughput (sequences/s), and per step the time
 * the communication thread spent summing (reduce_ms), the part the trainer
 * waited for at the step (wait_ms: what overlap could not hide) and the
 * bytes each rank sent into the sums. Alone (no mpirun) it is the
 * one-process baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bert.h"

/* Say what failed and end the job (every rank: the others would wait for this one). */
static void die(bert_dist *d, const char *what, const bert_error *err) {
    fprintf(stderr, "bench_dist: %s: %s\n", what, err->message);
    bert_dist_abort(d, 1);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_dist MODEL_DIR [--batch 8] [--seq 128] [--steps 6] [--threads 1] [--no-overlap] [--compress bf16]\n");
        return 2;
    }
    int B = 8, T = 128, steps = 6, threads = 1;
    bert_dist_params dp = bert_dist_default_params();
    dp.checksum_steps = 0;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--no-overlap") == 0) dp.overlap = 0;
        else if (strcmp(argv[i], "--compress") == 0) dp.compress_bf16 = strcmp(v, "bf16") == 0, i++;
        else if (strcmp(argv[i], "--batch") == 0) B = atoi(v), i++;
        else if (strcmp(argv[i], "--seq") == 0) T = atoi(v), i++;
        else if (strcmp(argv[i], "--steps") == 0) steps = atoi(v), i++;
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(v), i++;
        else return fprintf(stderr, "bench_dist: unknown option %s\n", argv[i]), 2;
    }
    if (B < 1 || T < 8 || steps < 1 || threads < 1) return fprintf(stderr, "bench_dist: bad --batch, --seq, --steps or --threads\n"), 2;
    bert_error err;
    bert_dist *d = NULL;
    if (bert_dist_open(&dp, &d, &err) != BERT_OK) die(NULL, "joining the job", &err);
    int N = bert_dist_size(d), G = B * N;
    bert_train_params p = bert_train_default_params();
    p.task = BERT_TASK_PRETRAINING;
    p.total_steps = 1000, p.warmup_steps = 0, p.n_threads = threads, p.dist = d;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.1;
    bert_trainer *t;
    if (bert_trainer_open(argv[1], &p, &t, NULL, &err) != BERT_OK) die(d, argv[1], &err);
    int32_t *ids = malloc(sizeof *ids * (size_t)G * T);
    float *labels = malloc(sizeof *labels * ((size_t)G * T + G));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)G);
    if (!ids || !labels || !seqs) return fprintf(stderr, "bench_dist: out of memory\n"), 1;
    for (size_t i = 0; i < (size_t)G * T; i++) ids[i] = 1000 + (int32_t)((i * 7919) % 29000), labels[i] = i % 7 == 3 ? (float)ids[i] : -100.0f;
    for (int s = 0; s < G; s++) seqs[s] = (bert_sequence){.input_ids = ids + (size_t)s * T, .n_tokens = T}, labels[(size_t)G * T + s] = (float)(s % 2);
    double *ms = malloc(sizeof *ms * (size_t)steps), loss;
    int stepped;
    bert_dist_stats st;
    for (int k = -1; k < steps; k++) {
        if (k == 0) bert_dist_stats_reset(d);
        double t0 = bench_now_ms();
        if (bert_trainer_step(t, seqs, G, labels, &loss, &stepped, &err) != BERT_OK) die(d, "step", &err);
        if (k >= 0) ms[k] = bench_now_ms() - t0;
    }
    bert_dist_stats_get(d, &st);
    bench_sort(ms, steps);
    int layers = bert_model_config(bert_trainer_model(t))->num_hidden_layers,
        hidden = bert_model_config(bert_trainer_model(t))->hidden_size;
    if (bert_dist_rank(d) == 0)
        printf("ranks %d threads %d batch/rank %d seq %d layers %d hidden %d overlap %s compress %s: step median_ms %.1f "
               "min_ms %.1f seqs_per_s %.2f reduce_ms %.1f wait_ms %.1f MB_per_step %.1f\n",
               N, threads, B, T, layers, hidden, N > 1 && dp.overlap ? "on" : "off", dp.compress_bf16 ? "bf16" : "none",
               ms[steps / 2], ms[0], G / (ms[steps / 2] / 1e3), st.reduce_s * 1e3 / steps, st.wait_s * 1e3 / steps,
               st.bytes / 1e6 / steps);
    free(ms), free(ids), free(labels), free(seqs);
    bert_trainer_free(t);
    bert_dist_close(d);
    return 0;
}
