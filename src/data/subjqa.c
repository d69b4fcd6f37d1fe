/* subjqa.c — the SubjQA CSV reader: one row per question, review and
 * annotator; rows repeat per q_review_id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/qa_data.h"
#include "util/error.h"

#define MAX_FIELDS 64
#define MAX_SPANS 8

/* One RFC-4180 CSV record from *p (quoted fields, "" for a quote, newlines
 * inside quotes): fields are written NUL-terminated into the buffer in
 * place; returns the count (at most max), 0 at the end. *line advances by
 * the newlines consumed. */
static int csv_record(char **p, char **fields, int max, long *line) {
    char *r = *p, *w = *p;
    if (!*r) return 0;
    int n = 0;
    for (;;) {
        char *start = w;
        if (*r == '"') {
            for (r++; *r; r++) {
                if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                else if (*r == '"') { r++; break; }
                else *line += *r == '\n', *w++ = *r;
            }
        }
        while (*r && *r != ',' && *r != '\n' && *r != '\r') *w++ = *r++;
        char end = *r;
        if (end) r++; /* consume the separator before the NUL may land on it */
        *line += end == '\n';
        *w++ = '\0';
        if (n < max) fields[n++] = start;
        if (end == ',') continue;
        for (; *r == '\r' || *r == '\n'; r++) *line += *r == '\n';
        break;
    }
    *p = r;
    return n;
}

/* The index of header field `name`, or -1. */
static int find_column(char **h, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(h[i], name) == 0) return i;
    return -1;
}

/* The example of question id (repeats are adjacent: the last 50 are
 * searched), or a new one; *added = 1 when new. NULL: out of memory. */
static bert_qa_example *question_of(bert_qa_data *d, int first, const char *id, const char *question,
                                    const char *review, int *added) {
    *added = 0;
    for (int k = d->n - 1; k >= first && k >= d->n - 50; k--)
        if (strcmp(d->v[k].id, id) == 0) return &d->v[k];
    bert_qa_example *e = bert_qa_data_push(d);
    if (!e) return NULL;
    *added = 1;
    e->id = strdup(id), e->question = strdup(question), e->context = strdup(review);
    e->answers = calloc(MAX_SPANS, sizeof *e->answers), e->starts = calloc(MAX_SPANS, sizeof *e->starts);
    if (!e->id || !e->question || !e->context || !e->answers || !e->starts) return NULL;
    size_t L = strlen(e->context);
    if (L >= 15 && strcmp(e->context + L - 15, " ANSWERNOTFOUND") == 0) e->context[L - 15] = '\0';
    e->is_impossible = 1;
    return e;
}

/* Add the span "(a, b)" (code points of the review) to e unless it is
 * ANSWERNOTFOUND, malformed, past the text, a duplicate or one too many.
 * 0 when out of memory. */
static int add_span(bert_qa_example *e, const char *span, const char *indices) {
    int a, b;
    if (strcmp(span, "ANSWERNOTFOUND") == 0 || sscanf(indices, "(%d, %d)", &a, &b) != 2 || a < 0 || b <= a ||
        e->n_answers == MAX_SPANS)
        return 1;
    size_t ba = bert_qa_cp_to_byte(e->context, a), bb = bert_qa_cp_to_byte(e->context, b);
    if (bb <= ba || bb > strlen(e->context)) return 1; /* a span past the review's text */
    for (int k = 0; k < e->n_answers; k++)
        if (e->starts[k] == a && strlen(e->answers[k]) == bb - ba) return 1;
    if (!(e->answers[e->n_answers] = strndup(e->context + ba, bb - ba))) return 0;
    e->starts[e->n_answers++] = a;
    e->is_impossible = 0;
    return 1;
}

bert_status bert_qa_read_subjqa(const char *path, char *text, int limit, bert_qa_data *d, bert_error *err) {
    char *p = text, *f[MAX_FIELDS], *h[MAX_FIELDS];
    long line = 1;
    int nh = csv_record(&p, h, MAX_FIELDS, &line); /* the header's fields stay valid: later records lie beyond them */
    int cid = find_column(h, nh, "q_review_id"), cq = find_column(h, nh, "question"), cr = find_column(h, nh, "review"),
        cs = find_column(h, nh, "human_ans_spans"), ci = find_column(h, nh, "human_ans_indices");
    if (cid < 0 || cq < 0 || cr < 0 || cs < 0 || ci < 0)
        return bert_fail(err, BERT_ERR_FORMAT,
                         "%s:1: not SubjQA CSV (needs q_review_id, question, review, human_ans_spans, human_ans_indices)",
                         path);
    int maxc = cid, first = d->n, nf, added;
    int cols[] = {cq, cr, cs, ci};
    for (int k = 0; k < 4; k++) maxc = cols[k] > maxc ? cols[k] : maxc;
    for (long at = line; (nf = csv_record(&p, f, MAX_FIELDS, &line)) > 0; at = line) {
        if (nf <= maxc) continue; /* a short row (e.g. a trailing blank field list) */
        if (limit > 0 && d->n - first >= limit) {
            int known = 0;
            for (int k = d->n - 1; k >= first && k >= d->n - 50 && !known; k--) known = strcmp(d->v[k].id, f[cid]) == 0;
            if (!known) break;
        }
        bert_qa_example *e = question_of(d, first, f[cid], f[cq], f[cr], &added);
        if (!e || !add_span(e, f[cs], f[ci])) return bert_fail(err, BERT_ERR_NOMEM, "%s:%ld: out of memory", path, at);
    }
    if (d->n == first) return bert_fail(err, BERT_ERR_INPUT, "%s: no questions", path);
    return BERT_OK;
}
