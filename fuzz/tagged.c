/* tagged.c — libFuzzer target: bert_tagged_read (CoNLL columns or NER
 * JSONL; the first byte picks: even CoNLL, odd JSONL), then the tagging
 * scheme detection and the IOB2 rewrite on what was read. */
#include "fuzz_util.h"
#include "bert.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[512];
    fuzz_write(data[0] & 1 ? "data.jsonl" : "data.conll", data + 1, size - 1, path, sizeof path);
    bert_tagged_data d = {0};
    bert_error err;
    if (bert_tagged_read(path, &d, &err) == BERT_OK) {
        bert_tag_scheme s = bert_tag_scheme_detect(&d);
        (void)bert_tag_scheme_name(s);
        bert_tags_to_iob2(&d);
    }
    bert_tagged_free(&d);
    return 0;
}
