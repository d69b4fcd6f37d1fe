/* qa_features.c — QA examples into training windows with answer labels. */
#include <stdlib.h>
#include <string.h>

#include "data/qa_data.h"
#include "util/error.h"

/* Code points in the UTF-8 string s. */
static int cp_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += (*s & 0xC0) != 0x80;
    return n;
}

void bert_qa_features_free(bert_qa_features *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->v[i].ids), free(f->v[i].types);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* Append window x of example `example` with labels (s, t). */
static bert_status add_window(bert_qa_features *out, const bert_encoding *x, int example, float s, float t,
                              bert_error *err) {
    if (out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 1024;
        bert_qa_feature *g = realloc(out->v, sizeof *g * (size_t)cap);
        if (!g) return bert_fail(err, BERT_ERR_NOMEM, "out of memory for QA windows");
        out->v = g, out->cap = cap;
    }
    bert_qa_feature *f = &out->v[out->n];
    size_t bytes = sizeof *f->ids * (size_t)x->n_tokens;
    f->ids = malloc(bytes), f->types = malloc(bytes);
    if (!f->ids || !f->types) {
        free(f->ids), free(f->types);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory for QA windows");
    }
    memcpy(f->ids, x->input_ids, bytes);
    memcpy(f->types, x->token_type_ids, bytes);
    f->n_tokens = x->n_tokens;
    f->example = example;
    f->label[0] = s, f->label[1] = t;
    out->n++;
    return BERT_OK;
}

/* The windows of example i. */
static bert_status featurize_one(const bert_tokenizer *tok, const bert_qa_example *e, int i, const bert_encode_params *ep,
                                 int drop, bert_qa_features *out, bert_error *err) {
    bert_encodings w;
    bert_error terr;
    if (bert_tokenize(tok, e->question, -1, e->context, -1, ep, &w, &terr) != BERT_OK) {
        /* A question too long for the window skips that question; a stride
         * that leaves no room for the context is the run's setting. */
        if (strstr(terr.message, "stride"))
            return bert_fail(err, BERT_ERR_INPUT, "doc_stride %d leaves no room in a %d-token window: %s", ep->stride,
                             ep->max_length, terr.message);
        out->skipped++;
        return BERT_OK;
    }
    int a0 = e->n_answers ? e->starts[0] : -1, a1 = e->n_answers ? a0 + cp_len(e->answers[0]) : -1;
    bert_status rc = BERT_OK;
    for (int k = 0; rc == BERT_OK && k < w.n; k++) {
        const bert_encoding *x = &w.encodings[k];
        int first = -1, last = -1;
        for (int j = 0; j < x->n_tokens; j++)
            if (x->token_type_ids[j] == 1 && !x->special_tokens_mask[j]) last = j, first = first < 0 ? j : first;
        float s = 0, t = 0;
        if (a0 >= 0 && first >= 0 && x->offsets[2 * first] <= a0 && x->offsets[2 * last + 1] >= a1) {
            int j = first;
            while (j <= last && x->offsets[2 * j] <= a0) j++;
            int m = last;
            while (m >= first && x->offsets[2 * m + 1] >= a1) m--;
            s = (float)(j - 1), t = (float)(m + 1);
        } else if (drop) {
            continue;
        }
        rc = add_window(out, x, i, s, t, err);
    }
    bert_encodings_free(&w);
    return rc;
}

bert_status bert_qa_featurize(const bert_tokenizer *tok, const bert_qa_data *d, int max_seq_len, int doc_stride,
                              int drop_without_answer, bert_qa_features *out, bert_error *err) {
    bert_error_clear(err);
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_ONLY_SECOND;
    ep.max_length = max_seq_len;
    ep.stride = doc_stride;
    ep.return_overflowing = 1;
    bert_status rc = BERT_OK;
    for (int i = 0; rc == BERT_OK && i < d->n; i++)
        rc = featurize_one(tok, &d->v[i], i, &ep, drop_without_answer, out, err);
    return rc;
}
