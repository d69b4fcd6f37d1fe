/* bench_train.c — one training step (forward + backward + AdamW) of a
 * sequence classifier on the bert-base shape, batch B x sequence T.
 *
 *   build/bench_train MODEL_DIR [--batch 8] [--seq 128] [--reps 5] [--threads N] [--dtype f32|bf16]
 *
 * MODEL_DIR: e.g. build/bench-model-L2 (written by bench_forward --write-only).
 * Prints the median and min step time over --reps steps after one warm-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bert.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_train MODEL_DIR [--batch 8] [--seq 128] [--reps 5] [--threads N] [--dtype f32|bf16]\n");
        return 2;
    }
    int B = 8, T = 128, reps = 5, threads = 1;
    bert_compute_dtype compute = BERT_COMPUTE_F32;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0) B = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seq") == 0) T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dtype") == 0) compute = strcmp(argv[i + 1], "bf16") == 0 ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32;
    }
    bert_train_params p = bert_train_default_params();
    p.num_labels = 2;
    p.total_steps = 1000;
    p.warmup_steps = 0;
    p.n_threads = threads;
    p.compute = compute;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.1;
    bert_trainer *t;
    bert_error err;
    if (bert_trainer_open(argv[1], &p, &t, NULL, &err) != BERT_OK) {
        fprintf(stderr, "bench_train: %s\n", err.message);
        return 1;
    }
    int32_t *ids = malloc(sizeof *ids * (size_t)B * T);
    float *labels = malloc(sizeof *labels * (size_t)B);
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)B);
    for (int i = 0; i < B * T; i++) ids[i] = 1000 + (i * 7919) % 29000;
    for (int b = 0; b < B; b++) seqs[b] = (bert_sequence){.input_ids = ids + b * T, .n_tokens = T}, labels[b] = (float)(b % 2);
    double *ms = malloc(sizeof *ms * (size_t)reps), loss;
    int stepped;
    bert_trainer_step(t, seqs, B, labels, &loss, &stepped, &err); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now_ms();
        if (bert_trainer_step(t, seqs, B, labels, &loss, &stepped, &err) != BERT_OK) {
            fprintf(stderr, "bench_train: %s\n", err.message);
            return 1;
        }
        ms[r] = bench_now_ms() - t0;
    }
    bench_sort(ms, reps);
    int layers = bert_model_config(bert_trainer_model(t))->num_hidden_layers;
    printf("bert.c%s train-step layers %d threads %d batch %d seq %d median_ms %.1f min_ms %.1f\n",
           compute == BERT_COMPUTE_BF16 ? "-bf16" : "   ", layers, threads, B, T,
           ms[reps / 2], ms[0]);
    free(ms), free(ids), free(labels), free(seqs);
    bert_trainer_free(t);
    return 0;
}
