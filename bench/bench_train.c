/* bench_train.c — one training step (forward + backward + AdamW) of a
 * sequence classifier on the bert-base shape, batch B x sequence T.
 *
 *   build/bench_train MODEL_DIR [--batch 8] [--seq 128] [--reps 5] [--threads N] [--dtype f32|bf16] [--heads K]
 *                    [--device cpu|cuda]
 *
 * MODEL_DIR: e.g. build/bench-model-L2 (written by bench_forward --write-only).
 * Prints the median and min step time over --reps steps after one warm-up,
 * and the step's GFLOP/s at the median: the encoder's and pooler's forward
 * products as bench_forward counts them (bench_sequence_flops), times 3 for
 * forward + backward (each product's backward is two of its size); the
 * embeddings and AdamW are not counted.
 * With --heads K (2..16), also a multi-task trainer of K sequence heads on
 * the same batch (each step selects the next head), its steps interleaved
 * with the single-task trainer's, and the ratio of the medians.
 * --device cuda: the encoder layers on the GPU (bert_train_params.device),
 * the rows then named bert.c-cuda.
 * --task pretraining: BertForPreTraining instead (MLM + NSP heads, created
 * where the model has none), every 7th token masked (its label its id),
 * NSP labels alternating; with --device cuda its heads train on the GPU
 * too. The MLM head's products are not counted in the GFLOP/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bert.h"

typedef struct {
    int B, T, reps, threads, heads, pretraining;
    bert_compute_dtype compute;
    bert_device device;
} opts;

static bert_trainer *open_trainer(const char *dir, const opts *o, int heads) {
    bert_train_params p = bert_train_default_params();
    p.num_labels = 2;
    p.task = o->pretraining ? BERT_TASK_PRETRAINING : BERT_TASK_SEQUENCE;
    p.total_steps = 1000;
    p.warmup_steps = 0;
    p.n_threads = o->threads;
    p.compute = o->compute;
    p.device = o->device;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.1;
    static const char *const names[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
                                        "t8", "t9", "t10", "t11", "t12", "t13", "t14", "t15"};
    bert_head_spec spec[BERT_MAX_HEADS];
    for (int k = 0; k < heads; k++) spec[k] = (bert_head_spec){.name = names[k], .task = BERT_TASK_SEQUENCE, .num_labels = 2};
    p.heads = heads ? spec : NULL, p.n_heads = heads;
    bert_trainer *t;
    bert_error err;
    if (bert_trainer_open(dir, &p, &t, NULL, &err) != BERT_OK) {
        fprintf(stderr, "bench_train: %s\n", err.message);
        exit(1);
    }
    return t;
}

/* One timed step (ms); the multi-task trainer moves to its next head first. */
static double step(bert_trainer *t, int k, const bert_sequence *seqs, int B, const float *labels) {
    bert_error err;
    double loss, t0 = bench_now_ms();
    int stepped;
    if ((bert_trainer_n_heads(t) && bert_trainer_select(t, k % bert_trainer_n_heads(t), &err) != BERT_OK) ||
        bert_trainer_step(t, seqs, B, labels, &loss, &stepped, &err) != BERT_OK) {
        fprintf(stderr, "bench_train: %s\n", err.message);
        exit(1);
    }
    return bench_now_ms() - t0;
}

static void report(const char *what, const opts *o, const bert_config *c, double *ms) {
    bench_sort(ms, o->reps);
    double flops = 3.0 * o->B * bench_sequence_flops(c->num_hidden_layers, c->hidden_size, c->intermediate_size, o->T);
    printf("bert.c%s%s %s%s layers %d threads %d batch %d seq %d median_ms %.1f min_ms %.1f gflops %.1f\n",
           o->device == BERT_DEVICE_CUDA ? "-cuda" : "", o->compute == BERT_COMPUTE_BF16 ? "-bf16" : "   ", what,
           o->pretraining ? " pretraining" : "", c->num_hidden_layers, o->threads, o->B, o->T,
           ms[o->reps / 2], ms[0], flops / (ms[o->reps / 2] * 1e6));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_train MODEL_DIR [--batch 8] [--seq 128] [--reps 5] [--threads N] [--dtype f32|bf16] [--heads K] [--device cpu|cuda] [--task sequence|pretraining]\n");
        return 2;
    }
    opts o = {8, 128, 5, 1, 0, 0, BERT_COMPUTE_F32, BERT_DEVICE_CPU};
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0) o.B = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seq") == 0) o.T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) o.reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) o.threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--heads") == 0) o.heads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--device") == 0) o.device = strcmp(argv[i + 1], "cuda") == 0 ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
        else if (strcmp(argv[i], "--dtype") == 0) o.compute = strcmp(argv[i + 1], "bf16") == 0 ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32;
        else if (strcmp(argv[i], "--task") == 0) o.pretraining = strcmp(argv[i + 1], "pretraining") == 0;
    }
    if (o.B < 1 || o.T < 2 || o.reps < 1 || o.heads < 0 || o.heads > BERT_MAX_HEADS || (o.heads && o.pretraining)) {
        fprintf(stderr, "bench_train: bad --batch, --seq, --reps or --heads (no --heads with --task pretraining)\n");
        return 2;
    }
    bert_trainer *t = open_trainer(argv[1], &o, 0), *mt = o.heads ? open_trainer(argv[1], &o, o.heads) : NULL;
    int32_t *ids = malloc(sizeof *ids * (size_t)o.B * o.T);
    size_t N = (size_t)o.B * o.T; /* pre-training: MLM labels [N], then NSP labels [B] */
    float *labels = malloc(sizeof *labels * (o.pretraining ? N + (size_t)o.B : (size_t)o.B));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)o.B);
    for (int i = 0; i < o.B * o.T; i++) ids[i] = 1000 + (i * 7919) % 29000;
    for (int b = 0; b < o.B; b++) seqs[b] = (bert_sequence){.input_ids = ids + b * o.T, .n_tokens = o.T}, labels[b] = (float)(b % 2);
    for (size_t i = 0; o.pretraining && i < N; i++) labels[i] = i % 7 == 3 ? (float)ids[i] : -100.0f;
    for (int b = 0; o.pretraining && b < o.B; b++) labels[N + (size_t)b] = (float)(b % 2);
    double *ms = malloc(sizeof *ms * (size_t)o.reps), *mms = malloc(sizeof *mms * (size_t)o.reps);
    step(t, 0, seqs, o.B, labels); /* warm-up */
    if (mt) step(mt, 0, seqs, o.B, labels);
    for (int r = 0; r < o.reps; r++) { /* interleaved: the host's noise falls on both */
        ms[r] = step(t, r, seqs, o.B, labels);
        if (mt) mms[r] = step(mt, r + 1, seqs, o.B, labels);
    }
    const bert_config *cfg = bert_model_config(bert_trainer_model(t));
    report("train-step", &o, cfg, ms);
    if (mt) {
        char what[48];
        snprintf(what, sizeof what, "multitask-step (%d heads)", o.heads);
        report(what, &o, cfg, mms);
        printf("multi-task / single-task step, medians: %.3f\n", mms[o.reps / 2] / ms[o.reps / 2]);
    }
    free(ms), free(mms), free(ids), free(labels), free(seqs);
    bert_trainer_free(t);
    bert_trainer_free(mt);
    return 0;
}
