/* task.h — what one fine-tuning task type gives bert_finetune (finetune.c).
 *
 * bert_finetune owns the run: the tokenizer, the trainer (open or resume),
 * the shuffled-epoch batching (epochs.c), the loop (loop.c). A task type
 * owns its data: reading train/dev/test through src/data, turning examples
 * into token ids and labels, scoring a model, and report.json.
 *
 * Call order: prepare -> (n_train, label_floats, fill during training;
 * evaluate at each evaluation) -> finish -> free. prepare may be told
 * p->eval_only: then there is no training data (n_train is 0) and finish
 * scores p->model_dir itself. */
#ifndef BERT_TRAIN_TASK_H
#define BERT_TRAIN_TASK_H

#include <stdio.h>

#include "bert.h"

typedef struct {
    const char *name; /* "sequence", "token", "qa" */
    /* Read and featurise the data p names (presets resolved by the task).
     * Sets tp->num_labels, tp->labels (owned by the state), tp->problem
     * where the data decides them, and the loop's default metric when
     * p->loop.metric is NULL (*metric, greater_is_better). Notices for the
     * user go to p->loop.on_event as BERT_EVENT_NOTICE. */
    bert_status (*prepare)(const bert_finetune_params *p, const bert_tokenizer *tok, bert_train_params *tp,
                           const char **metric, int *greater_is_better, void **state, bert_error *err);
    int (*n_train)(void *state);
    /* Label floats one training item can need (1 for sequence tasks,
     * max_seq_len for token tasks, 2 for QA): the batch buffer's size. */
    int (*label_floats)(void *state);
    /* Training items idx[0..n) into seqs[0..n) and labels (packed as
     * bert_trainer_step takes them); *tokens += their tokens. The sequences
     * point into the state. */
    bert_status (*fill)(void *state, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens,
                        bert_error *err);
    /* The metric names evaluate reports for this data, NULL-terminated
     * (valid while the state lives). */
    const char *const *(*metric_names)(void *state);
    /* Score the trainer's current model on the dev data. */
    bert_status (*evaluate)(void *state, bert_trainer *t, bert_metrics *out, bert_error *err);
    /* After the loop: score best_dir (the best model, or p->model_dir with
     * eval_only) on the test data if any, write the task's other outputs
     * and OUT/report.json (atomically) from r. */
    bert_status (*finish)(void *state, const bert_finetune_params *p, const char *best_dir, const bert_loop_result *r,
                          bert_error *err);
    void (*free)(void *state);
} train_task_ops;

extern const train_task_ops train_task_sequence, train_task_token, train_task_qa, train_task_dialogue;

#endif
