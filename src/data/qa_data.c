/* qa_data.c — the QA example container (bert_qa_data) and the code-point /
 * byte offset conversions the SQuAD and SubjQA readers share. */
#include <stdlib.h>
#include <string.h>

#include "data/qa_data.h"

size_t bert_qa_cp_to_byte(const char *s, int cp) {
    size_t b = 0;
    for (int n = 0; s[b] && n < cp; n++)
        for (b++; (s[b] & 0xC0) == 0x80; b++) {}
    return b;
}

int bert_qa_byte_to_cp(const char *s, size_t b) {
    int n = 0;
    for (size_t i = 0; i < b && s[i]; i++) n += (s[i] & 0xC0) != 0x80;
    return n;
}

bert_qa_example *bert_qa_data_push(bert_qa_data *d) {
    if ((d->n & (d->n - 1)) == 0) {
        bert_qa_example *v = realloc(d->v, sizeof *v * (size_t)(d->n ? 2 * d->n : 1));
        if (!v) return NULL;
        d->v = v;
    }
    bert_qa_example *e = &d->v[d->n++];
    memset(e, 0, sizeof *e);
    return e;
}

void bert_qa_data_free(bert_qa_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        bert_qa_example *e = &d->v[i];
        free(e->id), free(e->question), free(e->context);
        for (int k = 0; k < e->n_answers; k++) free(e->answers[k]);
        free(e->answers), free(e->starts);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}
