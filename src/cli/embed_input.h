/* embed_input.h — one input line of `bert embed`: text (tokenized with the
 * model directory's tokenizer) or token ids, into a record (embed_input.c);
 * the command's input loop (embed_run.c). */
#ifndef BERT_CLI_EMBED_INPUT_H
#define BERT_CLI_EMBED_INPUT_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "bert.h"

/* One sequence: ids, and the token types and attention mask when given. */
typedef struct {
    int32_t *ids, *types, *mask;
    int n;
    long line;
} record;

void record_free(record *r);

/* Parse one input line into r: {"text", "text_pair"?} or {"input_ids",
 * "token_type_ids"?, "attention_mask"?}; 0 with the reason in msg. */
int parse_record(const char *line, const bert_tokenizer *tok, const bert_encode_params *ep, record *r, char *msg,
                 size_t cap);

/* The command's options (cmd_embed.c parses them). */
typedef struct {
    const char *input, *output;
    int pooling; /* a bert_pooling, -1 for none, -2 = not given, -3 = the directory's modules */
    int normalize, batch_size, threads, truncate, truncate_left;
    int normalize_given;            /* --normalize on the command line                */
    const bert_sentence_head *head; /* the directory's modules (pooling -3)          */
    int dim;                        /* values per pooled embedding                    */
    bert_compute_dtype compute;
    bert_device device;
    int profile;                    /* --profile: the table of where the time went, on stderr */
    const char *profile_json;       /* --profile-json FILE: the same as JSON              */
} embed_opts;

/* What the loop runs with: the model, a context on it, the tokenizer
 * (NULL: token ids only) and how texts are encoded. */
typedef struct {
    bert_model *m;
    bert_context *ctx;
    const bert_tokenizer *tok;
    bert_encode_params ep;
} embed_model;

/* Read o->input (stdin) line by line, embed the lines in batches of
 * o->batch_size, write one line per input line to o->output (stdout),
 * atomically; with d a job of several ranks, the batches are shared by the
 * ranks (shard.h). Returns the exit code (the same on every rank). */
int embed_run_jsonl(const embed_model *em, const embed_opts *o, bert_dist *d);

/* 1 when v[0..n) are all finite (JSON has no NaN or infinity). */
int embed_all_finite(const float *v, size_t n);
/* v[0..n) scaled to unit L2 norm (a norm below 1e-12 divides by 1e-12). */
void embed_l2_normalize(float *v, int n);
/* v[0..n) as a JSON array of %.9g numbers onto f. */
void embed_print_vector(FILE *f, const float *v, int n);

#endif
