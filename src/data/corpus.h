/* corpus.h — a tokenized pre-training corpus: documents made of segments
 * (sentences or paragraphs) made of token ids.
 *
 * It comes either from text files, tokenized when read, or from the compact
 * binary file bert_corpus_prepare writes and bert_pretrain memory-maps, so a
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
#ifndef BERT_DATA_CORPUS_H
#define BERT_DATA_CORPUS_H

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
} corpus;

/* Token i of the corpus, the segments of document d, the length of segment s. */
static inline int32_t corpus_token(const corpus *c, int64_t i) { return c->tok16 ? c->tok16[i] : c->tok32[i]; }
static inline int64_t corpus_doc_segs(const corpus *c, int64_t d) { return (int64_t)(c->doc_start[d + 1] - c->doc_start[d]); }
static inline int64_t corpus_seg_len(const corpus *c, int64_t s) { return (int64_t)(c->seg_start[s + 1] - c->seg_start[s]); }

/* Append text files (one sentence or paragraph per line, blank lines
 * between documents; or prose: a file is a document, blank lines end
 * paragraphs) to c, which starts zeroed. Lines that are not valid UTF-8 are
 * skipped: stats->bad_lines counts them and stats->first_bad names the
 * first ("FILE:LINE (reason)"). stats' sizes are left to the caller. */
bert_status corpus_read_text(corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                             const bert_corpus_read_params *p, bert_corpus_stats *stats, bert_error *err);

/* Write c as a binary corpus file for tok's vocabulary, atomically. */
bert_status corpus_write(const corpus *c, const bert_tokenizer *tok, const char *path, bert_error *err);

/* 1 when the file at path starts with the binary magic. */
int corpus_is_binary(const char *path);

/* Map a binary corpus and check it against tok's vocabulary; errors name
 * the path ("different vocabulary", "truncated", "not a bert.c corpus"). */
bert_status corpus_open(corpus *c, const bert_tokenizer *tok, const char *path, bert_error *err);

/* The corpus of files: one binary file, or text files (see
 * corpus_read_text); a binary file among others is an error. stats gets
 * the sizes (and the skipped lines of text). */
bert_status corpus_load(corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                        const bert_corpus_read_params *p, bert_corpus_stats *stats, bert_error *err);

/* Release what c owns or maps; c is zeroed. */
void corpus_free(corpus *c);

/* Split text[0..n) into sentences: ends at . ! ? (plus closing quotes and
 * brackets) followed by space and an upper-case letter, digit or opening
 * quote, except after common abbreviations and single-letter initials.
 * Writes up to max (start, length) pairs; returns the count. */
int corpus_split_sentences(const char *text, int n, int *starts, int *lens, int max);

#endif
