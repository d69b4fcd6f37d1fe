/* corpus_file.c — the binary corpus file: writing it, mapping and checking
 * it (layout in corpus.h), and bert_corpus_prepare. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/corpus.h"
#include "io/file.h"
#include "util/error.h"

#define MAGIC "BERTCRP1"
#define HEADER_BYTES 64

/* FNV-1a of the vocabulary, one token per line: a file is only read with
 * the vocabulary it was made with. */
static uint64_t vocab_hash(const bert_tokenizer *tok) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < bert_tokenizer_vocab_size(tok); i++) {
        const char *t = bert_tokenizer_id_to_token(tok, i);
        for (const unsigned char *p = (const unsigned char *)(t ? t : ""); *p; p++) h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ (unsigned char)'\n') * 1099511628211ULL;
    }
    return h;
}

/* The header, offsets and ids of c into fp; 0 on a write error. */
static int write_body(FILE *fp, const corpus *c, const bert_tokenizer *tok) {
    int V = bert_tokenizer_vocab_size(tok);
    uint32_t token_bytes = V <= 65536 ? 2 : 4;
    unsigned char h[HEADER_BYTES] = {0};
    uint32_t version = 1, vs = (uint32_t)V;
    uint64_t hash = vocab_hash(tok), nd = (uint64_t)c->n_docs, ns = (uint64_t)c->n_segs, nt = (uint64_t)c->n_tokens;
    memcpy(h, MAGIC, 8), memcpy(h + 8, &version, 4), memcpy(h + 12, &token_bytes, 4), memcpy(h + 16, &hash, 8);
    memcpy(h + 24, &nd, 8), memcpy(h + 32, &ns, 8), memcpy(h + 40, &nt, 8), memcpy(h + 48, &vs, 4);
    int ok = fwrite(h, 1, sizeof h, fp) == sizeof h && fwrite(c->doc_start, 8, (size_t)nd + 1, fp) == nd + 1 &&
             fwrite(c->seg_start, 8, (size_t)ns + 1, fp) == ns + 1;
    if (token_bytes == 4) {
        for (int64_t i = 0; ok && i < c->n_tokens; i++) {
            int32_t v = corpus_token(c, i);
            ok = fwrite(&v, 4, 1, fp) == 1;
        }
    } else {
        uint16_t buf[4096];
        for (int64_t i = 0; ok && i < c->n_tokens;) {
            int k = 0;
            for (; k < 4096 && i < c->n_tokens; k++, i++) buf[k] = (uint16_t)corpus_token(c, i);
            ok = fwrite(buf, 2, (size_t)k, fp) == (size_t)k;
        }
    }
    return ok;
}

bert_status corpus_write(const corpus *c, const bert_tokenizer *tok, const char *path, bert_error *err) {
    bert_atomic_file out;
    bert_status rc = bert_atomic_open(path, &out, err);
    if (rc != BERT_OK) return rc;
    if (!write_body(out.fp, c, tok)) {
        bert_atomic_abort(&out);
        return bert_fail(err, BERT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return bert_atomic_commit(&out, err);
}

int corpus_is_binary(const char *path) {
    char m[8];
    FILE *f = fopen(path, "rb");
    int yes = f && fread(m, 1, 8, f) == 8 && memcmp(m, MAGIC, 8) == 0;
    if (f) fclose(f);
    return yes;
}

/* What is wrong with the mapped file c->map (NULL when nothing); sets c's
 * sizes and array pointers as it goes. */
static const char *check_mapped(corpus *c, const bert_tokenizer *tok) {
    const unsigned char *h = c->map;
    size_t size = c->map_size;
    uint32_t version, token_bytes, vs;
    uint64_t hash, nd, ns, nt;
    memcpy(&version, h + 8, 4), memcpy(&token_bytes, h + 12, 4), memcpy(&hash, h + 16, 8);
    memcpy(&nd, h + 24, 8), memcpy(&ns, h + 32, 8), memcpy(&nt, h + 40, 8), memcpy(&vs, h + 48, 4);
    if (memcmp(h, MAGIC, 8) != 0 || version != 1 || (token_bytes != 2 && token_bytes != 4))
        return "not a bert.c corpus file (version 1)";
    if (vs != (uint32_t)bert_tokenizer_vocab_size(tok) || hash != vocab_hash(tok))
        return "was prepared with a different vocabulary than this model's";
    if (nd > size / 8 || ns > size / 8 || nt > size / 2 ||
        HEADER_BYTES + 8 * (nd + 1) + 8 * (ns + 1) + (uint64_t)token_bytes * nt != size)
        return "is truncated or has trailing bytes (sizes in the header disagree with the file)";
    c->n_docs = (int64_t)nd, c->n_segs = (int64_t)ns, c->n_tokens = (int64_t)nt;
    c->doc_start = (const uint64_t *)(h + HEADER_BYTES);
    c->seg_start = c->doc_start + nd + 1;
    const void *toks = c->seg_start + ns + 1;
    if (token_bytes == 2) c->tok16 = toks;
    else c->tok32 = toks;
    if (c->doc_start[0] != 0 || c->doc_start[nd] != ns || c->seg_start[0] != 0 || c->seg_start[ns] != nt)
        return "has offsets that do not span it";
    for (uint64_t i = 0; i < nd; i++)
        if (c->doc_start[i + 1] <= c->doc_start[i]) return "has an empty or backwards document";
    for (uint64_t i = 0; i < ns; i++)
        if (c->seg_start[i + 1] <= c->seg_start[i]) return "has an empty or backwards segment";
    for (int64_t i = 0; i < c->n_tokens; i++)
        if (corpus_token(c, i) < 0 || corpus_token(c, i) >= (int32_t)vs) return "holds a token id outside the vocabulary";
    return NULL;
}

bert_status corpus_open(corpus *c, const bert_tokenizer *tok, const char *path, bert_error *err) {
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return rc;
    }
    size_t size = (size_t)st.st_size;
    void *map = size >= HEADER_BYTES ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED)
        return bert_fail(err, BERT_ERR_FORMAT, "%s: too short for a corpus file (%zu bytes)", path, size);
    c->map = map, c->map_size = size;
    const char *why = check_mapped(c, tok);
    if (why) {
        corpus_free(c);
        return bert_fail(err, BERT_ERR_FORMAT, "%s: %s", path, why);
    }
    return BERT_OK;
}

void corpus_free(corpus *c) {
    if (c->map) munmap(c->map, c->map_size);
    free(c->own_docs), free(c->own_segs), free(c->own_tokens);
    memset(c, 0, sizeof *c);
}

bert_status corpus_load(corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                        const bert_corpus_read_params *p, bert_corpus_stats *stats, bert_error *err) {
    memset(c, 0, sizeof *c);
    memset(stats, 0, sizeof *stats);
    if (n_files < 1) return bert_fail(err, BERT_ERR_INPUT, "no corpus file given");
    int binary = 0;
    for (int f = 0; f < n_files; f++) binary += corpus_is_binary(files[f]);
    bert_status rc;
    if (binary) {
        if (n_files != 1) return bert_fail(err, BERT_ERR_INPUT, "a prepared (binary) corpus must be the only --corpus");
        rc = corpus_open(c, tok, files[0], err);
    } else {
        rc = corpus_read_text(c, tok, files, n_files, p, stats, err);
    }
    if (rc != BERT_OK) return corpus_free(c), rc;
    stats->documents = c->n_docs, stats->segments = c->n_segs, stats->tokens = c->n_tokens;
    return BERT_OK;
}

int bert_corpus_is_prepared(const char *path) { return path && corpus_is_binary(path); }

bert_status bert_corpus_prepare(const bert_tokenizer *tok, const char *const *files, int n_files,
                                const bert_corpus_read_params *params, const char *output_path,
                                bert_corpus_stats *stats, bert_error *err) {
    bert_corpus_read_params dp = bert_corpus_read_default_params();
    bert_corpus_stats own;
    if (!stats) stats = &own;
    memset(stats, 0, sizeof *stats);
    if (!tok || !files || n_files < 1 || !output_path)
        return bert_fail(err, BERT_ERR_INPUT, "bert_corpus_prepare needs a tokenizer, corpus files and an output path");
    for (int f = 0; f < n_files; f++)
        if (corpus_is_binary(files[f])) return bert_fail(err, BERT_ERR_INPUT, "%s is already a prepared corpus", files[f]);
    corpus c = {0};
    bert_status rc = corpus_read_text(&c, tok, files, n_files, params ? params : &dp, stats, err);
    stats->documents = c.n_docs, stats->segments = c.n_segs, stats->tokens = c.n_tokens;
    if (rc == BERT_OK && c.n_tokens == 0) rc = bert_fail(err, BERT_ERR_INPUT, "the corpus holds no text");
    if (rc == BERT_OK) rc = corpus_write(&c, tok, output_path, err);
    corpus_free(&c);
    return rc;
}
