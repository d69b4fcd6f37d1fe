/* embed_input.h — one input line of `bert embed`: text (tokenized with the
 * model directory's tokenizer) or token ids, into a record. */
#ifndef BERT_CLI_EMBED_INPUT_H
#define BERT_CLI_EMBED_INPUT_H

#include <cjson/cJSON.h>
#include <stdint.h>

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

#endif
