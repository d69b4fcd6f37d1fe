/* seqeval.c — entity-level precision / recall / F1 as the seqeval library
 * computes them (its default mode, or mode='strict' with a scheme given or
 * detected), per type and micro / macro / weighted averaged as
 * classification_report does (numpy's float arithmetic included), and the
 * report as JSON. The entity extraction is in seqeval_schemes.c. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "tasks/pytext.h"
#include "tasks/seqeval_schemes.h"
#include "util/error.h"

/* Byte order of two chunk types (Python's str order for UTF-8). */
static int type_cmp(const char *a, int la, const char *b, int lb) {
    int c = memcmp(a, b, (size_t)(la < lb ? la : lb));
    return c ? c : la - lb;
}

/* qsort order of chunk pointers: by type. */
static int by_type(const void *x, const void *y) {
    const seq_chunk *a = *(const seq_chunk *const *)x, *b = *(const seq_chunk *const *)y;
    return type_cmp(a->type, a->type_len, b->type, b->type_len);
}

/* The sorted distinct types of the ng + np chunks into out->types; 0 when
 * out of memory. */
static int collect_types(const seq_chunk *g, long ng, const seq_chunk *p, long np, bert_seqeval_result *out) {
    const seq_chunk **all = malloc(sizeof *all * (size_t)(ng + np + 1));
    if (!all) return 0;
    for (long i = 0; i < ng; i++) all[i] = &g[i];
    for (long i = 0; i < np; i++) all[ng + i] = &p[i];
    qsort(all, (size_t)(ng + np), sizeof *all, by_type);
    long distinct = 0;
    for (long i = 0; i < ng + np; i++) distinct += i == 0 || by_type(&all[i - 1], &all[i]) != 0;
    out->types = calloc((size_t)(distinct ? distinct : 1), sizeof *out->types);
    int ok = out->types != NULL;
    for (long i = 0; ok && i < ng + np; i++) {
        if (i > 0 && by_type(&all[i - 1], &all[i]) == 0) continue;
        char *s = malloc((size_t)all[i]->type_len + 1);
        if (!s) ok = 0;
        else memcpy(s, all[i]->type, (size_t)all[i]->type_len), s[all[i]->type_len] = '\0', out->types[out->n_types++] = s;
    }
    free(all);
    return ok;
}

/* The index of a chunk's type in the sorted out->types. */
static int type_of(const bert_seqeval_result *r, const seq_chunk *c) {
    int lo = 0, hi = r->n_types - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (type_cmp(r->types[mid], (int)strlen(r->types[mid]), c->type, c->type_len) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void bert_seqeval_free(bert_seqeval_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n_types; i++) free(r->types[i]);
    free(r->types), free(r->type_precision), free(r->type_recall), free(r->type_f1), free(r->type_support);
    memset(r, 0, sizeof *r);
}

/* numpy's F1 of precision p and recall r: 2pr / (p + r), 0 when both are 0. */
static double f1_of(double p, double r) {
    double d = p + r;
    return 2.0 * p * r / (d == 0 ? 1 : d);
}

/* The per-type scores and the averages from counts [type][gold, pred, tp]. */
static bert_status finish(bert_seqeval_result *out, const long (*cnt)[3], bert_error *err) {
    int T = out->n_types;
    size_t m = (size_t)(T ? T : 1);
    out->type_precision = calloc(m, sizeof(double)), out->type_recall = calloc(m, sizeof(double));
    out->type_f1 = calloc(m, sizeof(double)), out->type_support = calloc(m, sizeof(long));
    double *tmp = calloc(m, sizeof(double)), *w = calloc(m, sizeof(double));
    if (!out->type_precision || !out->type_recall || !out->type_f1 || !out->type_support || !tmp || !w) {
        free(tmp), free(w);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < T; i++) {
        long g = cnt[i][0], p = cnt[i][1], c = cnt[i][2];
        out->n_gold += g, out->n_pred += p, out->n_correct += c;
        out->type_precision[i] = p ? (double)c / (double)p : 0.0;
        out->type_recall[i] = g ? (double)c / (double)g : 0.0;
        out->type_f1[i] = f1_of(out->type_precision[i], out->type_recall[i]);
        out->type_support[i] = g;
        w[i] = (double)g;
    }
    out->precision = out->n_pred ? (double)out->n_correct / (double)out->n_pred : 0.0;
    out->recall = out->n_gold ? (double)out->n_correct / (double)out->n_gold : 0.0;
    out->f1 = f1_of(out->precision, out->recall);
    /* macro: np.average (seqeval gives nan without any type; 0 here) */
    const double *per[3] = {out->type_precision, out->type_recall, out->type_f1};
    double *macro[3] = {&out->macro_precision, &out->macro_recall, &out->macro_f1};
    double *weighted[3] = {&out->weighted_precision, &out->weighted_recall, &out->weighted_f1};
    double wsum = np_sum(w, T);
    for (int k = 0; k < 3; k++) {
        *macro[k] = T ? np_sum(per[k], T) / T : 0.0;
        for (int i = 0; i < T; i++) tmp[i] = per[k][i] * w[i];
        *weighted[k] = wsum != 0 ? np_sum(tmp, T) / wsum : 0.0; /* no gold entity: 0, as seqeval */
    }
    free(tmp), free(w);
    return BERT_OK;
}

/* Count the entities per type and the matches (same type, start, end). */
static bert_status count(const seq_chunk *g, long ng, const seq_chunk *p, long np, long positions,
                         bert_seqeval_result *out, bert_error *err) {
    if (!collect_types(g, ng, p, np, out)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    long (*cnt)[3] = calloc((size_t)(out->n_types ? out->n_types : 1), sizeof *cnt);
    long *gold_at = malloc(sizeof *gold_at * (size_t)(positions + 1));
    if (!cnt || !gold_at) {
        free(cnt), free(gold_at);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    for (long i = 0; i <= positions; i++) gold_at[i] = -1;
    for (long i = 0; i < ng; i++) cnt[type_of(out, &g[i])][0]++, gold_at[g[i].end] = i; /* one entity ends at a position */
    for (long i = 0; i < np; i++) {
        int t = type_of(out, &p[i]);
        cnt[t][1]++;
        long j = gold_at[p[i].end];
        if (j >= 0 && g[j].start == p[i].start && type_cmp(g[j].type, g[j].type_len, p[i].type, p[i].type_len) == 0) cnt[t][2]++;
    }
    free(gold_at);
    bert_status rc = finish(out, (const long (*)[3])cnt, err);
    free(cnt);
    return rc;
}

/* The entities of one side with the mode's rules; -1 with err set. */
static long chunks_of(const char *const *tags, const int *sent_len, int n_sent, int scheme, seq_chunk *out,
                      const char *side, bert_error *err) {
    return scheme ? seq_strict_chunks(tags, sent_len, n_sent, scheme, out, side, err)
                  : seq_default_chunks(tags, sent_len, n_sent, out, side, err);
}

bert_status bert_seqeval(const char *const *gold, const char *const *pred, const int *sent_len, int n_sent, int mode,
                         bert_seqeval_result *out, bert_error *err) {
    bert_error local;
    if (!err) err = &local;
    bert_error_clear(err);
    memset(out, 0, sizeof *out);
    if (n_sent < 0 || (n_sent > 0 && (!gold || !pred || !sent_len))) return bert_fail(err, BERT_ERR_INPUT, "no tags");
    if (mode < BERT_SEQEVAL_DEFAULT || mode > BERT_SEQEVAL_BILOU) return bert_fail(err, BERT_ERR_INPUT, "unknown seqeval mode %d", mode);
    long total = 0, tokens_ok = 0;
    for (int s = 0; s < n_sent; s++) {
        if (sent_len[s] < 0) return bert_fail(err, BERT_ERR_INPUT, "sentence %d: negative length", s);
        total += sent_len[s];
    }
    for (long i = 0; i < total; i++) {
        if (!gold[i] || !pred[i]) return bert_fail(err, BERT_ERR_INPUT, "tag %ld: missing", i);
        tokens_ok += strcmp(gold[i], pred[i]) == 0;
    }
    int scheme = mode == BERT_SEQEVAL_STRICT ? seq_auto_detect(gold, total, err) : mode == BERT_SEQEVAL_DEFAULT ? 0 : mode;
    if (scheme < 0) return err->code;
    long positions = total + n_sent + 1;
    seq_chunk *cg = malloc(sizeof *cg * (size_t)positions), *cp = malloc(sizeof *cp * (size_t)positions);
    if (!cg || !cp) {
        free(cg), free(cp);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    long ng = chunks_of(gold, sent_len, n_sent, scheme, cg, "gold", err);
    long np = ng < 0 ? -1 : chunks_of(pred, sent_len, n_sent, scheme, cp, "predicted", err);
    bert_status rc = np < 0 ? err->code : count(cg, ng, cp, np, positions, out, err);
    free(cg), free(cp);
    if (rc != BERT_OK) {
        bert_seqeval_free(out);
        return rc;
    }
    out->scheme = scheme;
    out->token_accuracy = total ? (double)tokens_ok / (double)total : 0.0;
    return BERT_OK;
}

const char *bert_seqeval_scheme_name(int mode) {
    if (mode == BERT_SEQEVAL_DEFAULT) return "default";
    if (mode == BERT_SEQEVAL_STRICT) return "strict";
    return seq_scheme_name(mode)[0] ? seq_scheme_name(mode) : NULL;
}

int bert_seqeval_scheme_from_name(const char *name) {
    for (int m = BERT_SEQEVAL_DEFAULT; name && m <= BERT_SEQEVAL_BILOU; m++)
        if (strcmp(bert_seqeval_scheme_name(m), name) == 0) return m;
    return -1;
}

/* One row of the report: {"precision", "recall", "f1-score", "support"}. */
static void add_row(cJSON *o, const char *name, double p, double r, double f, long s) {
    cJSON *row = cJSON_AddObjectToObject(o, name);
    if (!row) return;
    cJSON_AddNumberToObject(row, "precision", p);
    cJSON_AddNumberToObject(row, "recall", r);
    cJSON_AddNumberToObject(row, "f1-score", f);
    cJSON_AddNumberToObject(row, "support", (double)s);
}

char *bert_seqeval_report_json(const bert_seqeval_result *r) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < r->n_types; i++)
        add_row(o, r->types[i], r->type_precision[i], r->type_recall[i], r->type_f1[i], r->type_support[i]);
    if (o) {
        add_row(o, "micro avg", r->precision, r->recall, r->f1, r->n_gold);
        add_row(o, "macro avg", r->macro_precision, r->macro_recall, r->macro_f1, r->n_gold);
        add_row(o, "weighted avg", r->weighted_precision, r->weighted_recall, r->weighted_f1, r->n_gold);
    }
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
