/* pickle.c — libFuzzer target: the restricted pickle reader on any bytes,
 * then the root's container items and a dict lookup walked (one level:
 * values may form cycles through the memo). */
#include "fuzz_util.h"
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pk_doc doc;
    bert_error err;
    size_t used = 0;
    if (pk_load(data, size, &used, &doc, &err) != BERT_OK) return 0;
    if (used > size || !doc.root) abort();
    volatile size_t sum = 0;
    for (size_t i = 0; i < doc.root->n; i++) sum += doc.root->items[i]->kind + doc.root->items[i]->len;
    (void)pk_dict_get(doc.root, "a");
    (void)sum;
    pk_free(&doc);
    return 0;
}
