/* config.c — libFuzzer target: config.json as BertConfig (bert_config_parse
 * on the bytes as text). */
#include "fuzz_util.h"
#include "model/config.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    bert_config_full c;
    bert_error err;
    if (bert_config_parse(text, "fuzz/config.json", &c, &err) == BERT_OK) bert_config_free(&c);
    free(text);
    return 0;
}
