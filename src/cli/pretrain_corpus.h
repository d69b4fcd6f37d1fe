/* pretrain_corpus.h — a tokenized pre-training corpus: documents made of
 * segments (sentences or paragraphs) made of token ids.
 *
 * It comes either from text files, tokenized when read, or from the compact
 * binary file `bert prepare` writes and `bert pretrain` memory-maps, so a
 * large corpus is tokenized once and costs no heap. Binary layout (all
 * little-endian, arrays 8-byte aligned):
 *
 *   char magic[8] = "BERTCRP1"; u32 version = 1; u32 token_bytes (2 or 4);
 *   u64 vocab_hash (FNV-1a of the vocabulary, one token per line);
 *   u64 n_docs, n_segs, n_tokens; u32 vocab_size; u32 reserved = 0;
 *   u64 doc_start[n_docs + 1]   (index of each document's first segment)
 *   u64 seg_start[n_segs + 1]   (index of each segment's first token)
 *   u16 or i32 tokens[n_tokens] (u16 when the vocabulary fits)
 *
 * The file must be exactly this long, the offsets must grow, and every id
 * must be inside the vocabulary it was made with (checked at open). */
#ifndef BERT_CLI_PRETRAIN_CORPUS_H
#define BERT_CLI_PRETRAIN_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

typedef struct {
    int64_t n_docs, n_segs, n_tokens;
    const uint64_t *doc_start, *seg_start;
    const uint16_t *tok16; /* one of these two holds the ids */
    const int32_t *tok32;
    /* ownership: a mapping, or malloc'd arrays (text) */
    void *map;
    size_t map_size;
    uint64_t *own_docs, *own_segs;
    int32_t *own_tokens;
    int64_t cap_docs, cap_segs, cap_tokens;
} pt_corpus;

typedef struct {
    int split_sentences; /* split each line (or prose paragraph) into sentences */
    int prose;           /* hard-wrapped text: a file is one document, blank lines end paragraphs */
    int progress;        /* progress line on stderr */
} pt_read_options;

static inline int32_t pt_token(const pt_corpus *c, int64_t i) { return c->tok16 ? c->tok16[i] : c->tok32[i]; }
static inline int64_t pt_doc_segs(const pt_corpus *c, int64_t d) { return (int64_t)(c->doc_start[d + 1] - c->doc_start[d]); }
static inline int64_t pt_seg_len(const pt_corpus *c, int64_t s) { return (int64_t)(c->seg_start[s + 1] - c->seg_start[s]); }

/* Append text files (one sentence or paragraph per line, blank lines
 * between documents; or prose). Lines that are not valid UTF-8 are skipped:
 * *bad counts them, first_bad names the first (file:line and why). */
int pt_corpus_read_text(pt_corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                        const pt_read_options *o, long *bad, char *first_bad, size_t bad_cap, char *msg, size_t cap);

/* Write c in the binary layout, atomically (temporary file, then rename). */
int pt_corpus_write(const pt_corpus *c, const bert_tokenizer *tok, const char *path, char *msg, size_t cap);

/* 1 when path starts with the binary magic. */
int pt_corpus_is_binary(const char *path);

/* Map a binary corpus and check it against tok's vocabulary. */
int pt_corpus_open(pt_corpus *c, const bert_tokenizer *tok, const char *path, char *msg, size_t cap);

void pt_corpus_free(pt_corpus *c);

/* Split text[0..n) into sentences: ends at . ! ? (plus closing quotes and
 * brackets) followed by space and an upper-case letter, digit or opening
 * quote, except after common abbreviations and single-letter initials.
 * Writes up to max (start, length) pairs; returns the count. */
int pt_split_sentences(const char *text, int n, int *starts, int *lens, int max);

#endif
