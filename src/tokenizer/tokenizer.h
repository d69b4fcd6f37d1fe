/* tokenizer.h — the loaded tokenizer (internal view). */
#ifndef BERT_TOKENIZER_TOKENIZER_H
#define BERT_TOKENIZER_TOKENIZER_H

#include "bert.h"
#include "tokenizer/vocab.h"

/* An added token (tokenizers' AddedToken). Tokens with normalized = 0 are
 * matched in the raw text; the others in the normalized text, against
 * their content normalized the same way (pat). lstrip / rstrip: the match
 * takes in the whitespace on that side; single_word: it only counts with
 * no word character (regex \w) right before or after it. */
typedef struct {
    char *content;
    uint32_t *cps; /* content as code points */
    int n_cps;
    int id;
    int special;
    int single_word, lstrip, rstrip, normalized;
    int outside_vocab; /* not in the WordPiece vocabulary (added to it by id only) */
    uint32_t *pat; /* the code points matched: cps, or cps normalized (owned when != cps) */
    int n_pat;
} bert_added_token;

/* A trie of added-token patterns: node 0 is the root; the children of a
 * node are nodes first .. first + count - 1, sorted by their code point;
 * token is the added[] index of the pattern ending there, or -1. */
typedef struct {
    uint32_t *cp;
    int32_t *first, *count, *token;
    int n;
} bert_added_trie;

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
    int n_added, cap_added;
    /* added_ids[id]: an added token has that id (n_added_ids entries) */
    unsigned char *added_ids;
    int n_added_ids;
    /* Tries of the patterns matched in raw text ([0]) and in normalized
     * text ([1]) (added.c). */
    bert_added_trie trie[2];
    /* added_only[id]: the id is an added token outside the WordPiece
     * vocabulary, which WordPiece never produces (n_added_only entries) */
    unsigned char *added_only;
    int n_added_only;
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

/* Scratch space of the normalizer: normalized code points and, for each,
 * the index of the original code point it came from. */
typedef struct {
    uint32_t *norm;
    int32_t *align;
    size_t cap;     /* entries of norm/align */
    char *utf8;     /* one word as UTF-8 */
    int32_t *cbyte; /* byte offset of each character of that word (+1) */
    size_t wcap;
} bert_tok_scratch;

/* BertNormalizer over original code points [a, b) of cps into w->norm /
 * w->align (*n_out entries). 0 when out of memory. encode.c */
int bert_normalize_range(const bert_tokenizer *t, const uint32_t *cps, int a, int b, bert_tok_scratch *w, int *n_out);
void bert_tok_scratch_free(bert_tok_scratch *w);

/* One match of an added token in s[0..n): [start, end) after lstrip /
 * rstrip. */
typedef struct {
    int start, end;
    const bert_added_token *tok;
} bert_added_match;

/* The next accepted match, leftmost-longest, of the tokens matched on raw
 * (normalized = 0) or normalized (1) text in s[0..n), scanning from *scan
 * (advanced past each candidate, as tokenizers' Aho-Corasick iterator
 * does); prev_end is the end of the previous accepted match (lstrip never
 * reaches before it). Returns 0 when there is none. added.c */
int bert_added_next(const bert_tokenizer *t, const uint32_t *s, int n, int normalized, int *scan, int prev_end,
                    bert_added_match *m);

/* After all added tokens are in t->added: their normalized patterns, the
 * tries and added_only. A pattern that normalizes to nothing is a
 * format error naming path. added.c */
bert_status bert_added_prepare(bert_tokenizer *t, const char *path, bert_error *err);

/* Release what bert_added_prepare made and the added tokens. added.c */
void bert_added_free(bert_tokenizer *t);

/* transformers' clean_up_tokenization over a whole string, in place. */
void bert_clean_up_tokenization(char *s);

#endif
