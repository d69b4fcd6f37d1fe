/* task_token.h — the state of token-classification fine-tuning
 * (train_task_token), shared by task_token.c (data, features, batches)
 * and task_token_eval.c (scoring, predictions, report.json). */
#ifndef BERT_TRAIN_TASK_TOKEN_H
#define BERT_TRAIN_TASK_TOKEN_H

#include "bert.h"

/* One sentence as the model sees it: [CLS] pieces [SEP], at most
 * max_seq_len tokens. The first piece of a word carries the word's tag id;
 * the other pieces -100 (not scored) unless label_all_tokens, and so do
 * words whose tag is not one of the labels. */
typedef struct {
    int32_t *ids;
    float *labels;    /* [n_tokens]: tag id or -100                             */
    int n_tokens;
    int *first_piece; /* [n_words]: token of each word's first piece, -1 when
                         truncation cut the word off (or it has no pieces)     */
} token_feat;

typedef struct {
    bert_tagged_data data;
    token_feat *feat; /* [data.n] */
    char *path;       /* the file read, or NULL */
} token_split;

typedef struct {
    token_split train, dev, test;
    char **labels; /* [n_labels] sorted distinct training tags (or the model's, eval_only) */
    int n_labels;
    char *task_name;  /* the preset, or "token" */
    bert_tag_scheme scheme;
    int converted;    /* the tags were rewritten as IOB2 */
    int batch, max_seq_len, label_all, n_threads, grad_accum, eval_only;
    bert_model *model; /* eval_only: the model scored */
    bert_dist *dist;   /* the run's job: the dev set's evaluation is shared out */
    double t0;         /* monotonic seconds at prepare */
} token_state;

/* Entity-level and loss scores of one model on one split. */
typedef struct {
    bert_seqeval_result r, strict;
    double loss_sum;
    long loss_count;   /* scored tokens (labels not -100) */
    const char **pred; /* [words of the split, in order]: predicted tags (the state's labels) */
} token_scores;

/* Predict and score split s with model m (n_threads from the state). With
 * a job d of several ranks (NULL: alone), each rank predicts its share of
 * the sentences and every rank gets all the predictions and the summed loss
 * (every rank calls it); the scores are the same on every rank. */
bert_status token_score(const token_state *st, const bert_model *m, const token_split *s, bert_dist *d,
                        token_scores *out, bert_error *err);
void token_scores_free(token_scores *sc);
/* The scores as loss, precision, recall, f1, f1_strict, macro_f1,
 * token_accuracy (loss only when a token was scored). */
void token_scores_metrics(const token_scores *sc, bert_metrics *m);

/* train_task_token's evaluate and finish (task_token_eval.c). */
bert_status token_evaluate(void *state, bert_trainer *t, bert_metrics *out, bert_error *err);
bert_status token_finish(void *state, const bert_finetune_params *p, const char *best_dir, const bert_loop_result *r,
                         bert_error *err);

#endif
