/* pipeline.h — what the task files share: a model, its tokenizer, one
 * context, and the batch plumbing (tokenize, run, map errors to inputs). */
#ifndef BERT_TASKS_PIPELINE_H
#define BERT_TASKS_PIPELINE_H

#include "bert.h"

struct bert_pipeline {
    bert_model *model;
    bert_tokenizer *tok;
    bert_context *ctx;
    bert_pipeline_params params;
    bert_sentence_config st;  /* sentence-transformers settings (present = 0: none) */
    bert_sentence_head *head; /* their modules; NULL without modules.json */
};

/* A tokenized batch. */
typedef struct {
    int n;
    bert_encodings *enc; /* [n] */
    bert_sequence *seqs; /* [n], pointing into enc[i].encodings[0] */
} task_batch;

/* Tokenize texts (and pairs) with the pipeline's truncation policy, capped
 * at max_len tokens (0: the model's max_position_embeddings), and run them
 * with `outputs`. An input too long without truncation is an error naming
 * it. */
bert_status task_run(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n, int max_len,
                     unsigned outputs, task_batch *b, bert_error *err);
void task_batch_free(task_batch *b);

/* The sentence embedding of sequence seq of the last run into out
 * (bert_pipeline_embed_output; e checked): from its BERT_OUTPUT_SENTENCE
 * when pooled as e and prompt_len ask, else pooled from its hidden
 * states; BERT_ERR_STATE when the run kept neither. */
bert_status embed_output(bert_pipeline *p, const bert_embed_params *e, int seq, int prompt_len, float *out,
                         bert_error *err);

/* In-place numerically stable softmax / sigmoid over n doubles. */
void task_softmax(double *x, int n);

/* The code points [s, e) of UTF-8 text as a new string (NULL: no memory). */
char *task_cp_slice(const char *text, int s, int e);

/* strdup that fails loudly: NULL only when out of memory. */
char *task_strdup(const char *s);

#endif
