/* tokenizer.h — the loaded tokenizer (internal view). */
#ifndef BERT_TOKENIZER_TOKENIZER_H
#define BERT_TOKENIZER_TOKENIZER_H

#include "bert.h"
#include "tokenizer/vocab.h"

/* An added token: matched in the raw text before normalization and never
 * split (the special tokens of a BERT vocabulary). */
typedef struct {
    char *content;
    uint32_t *cps; /* content as code points */
    int n_cps;
    int id;
    int special;
} bert_added_token;

struct bert_tokenizer {
    bert_vocab vocab;
    /* BertNormalizer */
    int clean_text, handle_chinese_chars, strip_accents, lowercase;
    /* WordPiece */
    char *unk_token, *prefix;
    size_t prefix_len;
    int max_input_chars_per_word;
    int unk_id;
    /* Special tokens by role (bert_special), -1 when absent. */
    char *special_text[5];
    int special_id[5];
    bert_added_token *added;
    int n_added;
    /* WordPiece decoder */
    int decode_cleanup;
    /* tokenizer_config.json's clean_up_tokenization_spaces: whether
     * transformers' decode() runs clean_up_tokenization (" ." -> ".",
     * " n't" -> "n't", ...) after the decoder. Absent means false, as in
     * transformers >= 4.45 (earlier versions defaulted to true). */
    int clean_up_spaces;
    int model_max_length;
};

/* WordPiece-decode token texts (the Rust decoder: "##" joins, per-token
 * clean-up). Returns a malloc'd string or NULL when out of memory. */
char *bert_decode_tokens(const bert_tokenizer *t, const char *const *tokens, int n);

/* The BERT pre-tokenizer alone (normalizer, whitespace and punctuation
 * split): each word of text, normalized, as UTF-8 to fn; fn returns 0 to
 * stop (out of memory). encode.c */
bert_status bert_pretokenize(const bert_tokenizer *t, const char *text, size_t len,
                             int (*fn)(void *ctx, const char *word, int n), void *ctx, bert_error *err);

/* transformers' clean_up_tokenization over a whole string, in place. */
void bert_clean_up_tokenization(char *s);

#endif
