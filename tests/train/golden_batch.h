/* golden_batch.h — the batch and the settings of the training fixtures
 * (tools/make_train_golden.py writes tests/fixtures/train/NAME/golden.safetensors:
 * input_ids, token_type_ids, attention_mask [B x T], labels). */
#ifndef TESTS_TRAIN_GOLDEN_BATCH_H
#define TESTS_TRAIN_GOLDEN_BATCH_H

#include <stdlib.h>

#include "bert.h"
#include "io/safetensors.h"
#include "test.h"

/* The fixture's batch: sequences cut at their attention masks. */
typedef struct {
    st_file g;
    bert_sequence *seqs;
    int B;
    const float *labels;
} golden_batch;

static inline int batch_open(const char *dir, golden_batch *gb, bert_error *err) {
    char path[300];
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    if (st_open(path, 0, &gb->g, err) != BERT_OK) return 0;
    const st_tensor *ids = st_find(&gb->g, "input_ids");
    int B = (int)ids->shape[0], T = (int)ids->shape[1];
    const int32_t *id = (const int32_t *)(const void *)ids->data;
    const int32_t *tt = (const int32_t *)(const void *)st_find(&gb->g, "token_type_ids")->data;
    const int32_t *mk = (const int32_t *)(const void *)st_find(&gb->g, "attention_mask")->data;
    gb->labels = (const float *)(const void *)st_find(&gb->g, "labels")->data;
    gb->B = B;
    gb->seqs = calloc((size_t)B, sizeof *gb->seqs);
    for (int b = 0; b < B; b++) {
        int n = 0;
        while (n < T && mk[b * T + n]) n++;
        gb->seqs[b] = (bert_sequence){.input_ids = id + b * T, .token_type_ids = tt + b * T, .n_tokens = n};
    }
    return 1;
}

/* batch_open of the fixture in dir; where it cannot be opened, the running
 * test fails (test_fail, naming dir) and 0 is returned. */
static inline int batch_ready(const char *dir, golden_batch *gb) {
    bert_error err;
    if (batch_open(dir, gb, &err)) return 1;
    test_fail(__FILE__, __LINE__, "%s: %s", dir, err.message);
    return 0;
}

static inline bert_train_params golden_params(bert_task task, bert_problem problem, int num_labels, double lr,
                                              long total_steps, bert_compute_dtype compute) {
    bert_train_params p = bert_train_default_params();
    p.task = task;
    p.problem = problem;
    p.num_labels = num_labels;
    p.lr = lr;
    p.total_steps = total_steps;
    p.warmup_steps = 0;
    p.warmup_ratio = 0;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0;
    p.compute = compute;
    return p;
}

static inline void batch_close(golden_batch *gb) {
    free(gb->seqs);
    st_close(&gb->g);
}

#endif
