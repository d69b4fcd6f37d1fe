/* embed_input.h — one input line of `bert embed`: text (tokenized with the
 * model directory's tokenizer) or token ids, into a record. */
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

/* 1 when v[0..n) are all finite (JSON has no NaN or infinity). */
int embed_all_finite(const float *v, size_t n);
/* v[0..n) scaled to unit L2 norm (a norm below 1e-12 divides by 1e-12). */
void embed_l2_normalize(float *v, int n);
/* v[0..n) as a JSON array of %.9g numbers onto f. */
void embed_print_vector(FILE *f, const float *v, int n);

#endif
