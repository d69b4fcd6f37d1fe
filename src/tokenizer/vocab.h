/* vocab.h — token text <-> id, with lookups of "prefix + bytes" that do
 * not build the string (WordPiece asks for "##" + a substring a lot). */
#ifndef BERT_TOKENIZER_VOCAB_H
#define BERT_TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

typedef struct {
    char **tokens;      /* [n] id -> text (NULL for ids without a token) */
    int n;              /* number of ids (max id + 1) */
    int cap;            /* allocated entries of tokens */
    int32_t *slots;     /* open-addressing table of ids, -1 = empty */
    size_t n_slots;     /* a power of two */
    size_t max_len;     /* longest token text in bytes */
} bert_vocab;

/* Ids are below this bound (2^28): a vocabulary larger than any real one,
 * small enough that the id table's size cannot overflow. */
#define BERT_VOCAB_MAX_ID (1 << 28)

/* Start an empty vocabulary able to hold ids below `capacity` (grows). */
bert_status bert_vocab_init(bert_vocab *v, int capacity, bert_error *err);
/* Set token `id` (0 <= id < BERT_VOCAB_MAX_ID, else BERT_ERR_FORMAT) to
 * text (len bytes). A later add of the same text wins
 * the text -> id direction, as in Hugging Face's dict-based loaders. */
bert_status bert_vocab_add(bert_vocab *v, const char *text, size_t len, int id, bert_error *err);
/* The id of prefix + bytes[0..len), or -1. prefix may be NULL. */
int bert_vocab_find(const bert_vocab *v, const char *prefix, size_t prefix_len, const char *bytes, size_t len);
void bert_vocab_free(bert_vocab *v);
/* FNV-1a of a[0..na) followed by b[0..nb) (a may be NULL): the table's hash,
 * also used by the vocabulary trainer's string map. */
uint64_t bert_vocab_hash(const char *a, size_t na, const char *b, size_t nb);

#endif
