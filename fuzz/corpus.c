/* corpus.c — libFuzzer target: the pre-training corpus reader
 * (corpus_load: text lines or prose, or a prepared binary corpus when the
 * bytes start with its magic) with the fixture MLM model's tokenizer, then
 * every document, segment and token of what was read visited, and the
 * sentence splitter on the raw bytes. */
#include "fuzz_util.h"
#include "data/corpus.h"

#ifndef FUZZ_FIXTURES
#define FUZZ_FIXTURES "tests/fixtures"
#endif

/* The tokenizer every input is read with, loaded at the first input and
 * kept for the process (read-only afterwards). */
static bert_tokenizer *tok;

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bert_error err;
    if (!tok && bert_tokenizer_load(FUZZ_FIXTURES "/tasks/mlm", &tok, &err) != BERT_OK) {
        fprintf(stderr, "fuzz corpus: %s\n", err.message);
        abort();
    }
    if (size < 1) return 0;
    char path[512];
    fuzz_write("corpus.txt", data + 1, size - 1, path, sizeof path);
    bert_corpus_read_params p = bert_corpus_read_default_params();
    p.split_sentences = data[0] & 1, p.prose = (data[0] >> 1) & 1;
    const char *files[1] = {path};
    corpus c;
    bert_corpus_stats st;
    if (corpus_load(&c, tok, files, 1, &p, &st, &err) == BERT_OK) {
        int vocab = bert_tokenizer_vocab_size(tok);
        for (int64_t d = 0; d < c.n_docs; d++)
            if (corpus_doc_segs(&c, d) < 0 || c.doc_start[d + 1] > (uint64_t)c.n_segs) abort();
        for (int64_t s = 0; s < c.n_segs; s++)
            if (corpus_seg_len(&c, s) < 0 || c.seg_start[s + 1] > (uint64_t)c.n_tokens) abort();
        for (int64_t i = 0; i < c.n_tokens; i++)
            if (corpus_token(&c, i) < 0 || corpus_token(&c, i) >= vocab) abort();
        corpus_free(&c);
    }
    int starts[64], lens[64];
    int n = corpus_split_sentences((const char *)data, size > 1 << 20 ? 1 << 20 : (int)size, starts, lens, 64);
    for (int i = 0; i < n; i++)
        if (starts[i] < 0 || lens[i] < 0 || (size_t)starts[i] + (size_t)lens[i] > size) abort();
    return 0;
}
