/* tokenizer.c — libFuzzer target: a tokenizer directory. The input is
 * vocab.txt, then (after a line "--8<--") tokenizer.json, then (after
 * another) tokenizer_config.json; an empty part is a missing file. A
 * tokenizer that loads encodes a fixed text and a pair with truncation,
 * overflow and padding, and decodes the result. */
#include "fuzz_util.h"
#include "bert.h"

/* Write part data[0..n) as dir/name, or remove dir/name when n is 0. */
static void put(const char *name, const uint8_t *p, size_t n) {
    char path[512];
    if (n) fuzz_write(name, p, n, path, sizeof path);
    else snprintf(path, sizeof path, "%s/%s", fuzz_dir, name), unlink(path);
}

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dir_init();
    const uint8_t *vocab, *rest, *json, *cfg;
    size_t nv, nr, nj, nc;
    fuzz_split(data, size, &vocab, &nv, &rest, &nr);
    fuzz_split(rest, nr, &json, &nj, &cfg, &nc);
    put("vocab.txt", vocab, nv);
    put("tokenizer.json", json, nj);
    put("tokenizer_config.json", cfg, nc);
    bert_tokenizer *tok = NULL;
    bert_error err;
    if (bert_tokenizer_load(fuzz_dir, &tok, &err) != BERT_OK) return 0;
    bert_encode_params p = bert_encode_default_params();
    p.max_length = 12, p.truncation = BERT_TRUNCATE_LONGEST_FIRST, p.stride = 2, p.return_overflowing = 1;
    p.padding = BERT_PAD_MAX_LENGTH;
    bert_encodings e;
    if (bert_tokenize(tok, "Hello, [MASK] world! naïve café 東京 don't", -1, "the [SEP] pair", -1, &p, &e, &err) == BERT_OK) {
        for (int i = 0; i < e.n; i++) {
            char *s = NULL;
            if (bert_detokenize(tok, e.encodings[i].input_ids, e.encodings[i].n_tokens, 1, &s, &err) == BERT_OK) free(s);
        }
        bert_encodings_free(&e);
    }
    bert_tokenizer_free(tok);
    return 0;
}
