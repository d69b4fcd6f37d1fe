/* text_examples.c — libFuzzer target: bert_text_examples_read, the
 * sequence-classification data reader. The first byte picks the format
 * (even: TSV, odd: JSONL) and the columns (TSV by header name or number,
 * with or without a pair; JSONL with or without a named pair field). */
#include "fuzz_util.h"
#include "bert.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int sel = data[0];
    char path[512];
    fuzz_write(sel & 1 ? "data.jsonl" : "data.tsv", data + 1, size - 1, path, sizeof path);
    static const bert_text_columns cols[4] = {
        {"sentence", NULL, "label", 1}, {"0", "1", "2", 0}, {"text", "text_pair", "label", 1}, {"1", NULL, "0", 1}};
    bert_text_examples ex = {0};
    bert_error err;
    const bert_text_columns *c = (sel >> 1) & 4 ? NULL : &cols[(sel >> 1) & 3];
    if (bert_text_examples_read(path, c, &ex, &err) == BERT_OK) bert_text_examples_free(&ex);
    else if (ex.n != 0 || ex.v) abort(); /* on error *out is empty */
    return 0;
}
