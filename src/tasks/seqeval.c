/* seqeval.c — entity-level precision / recall / F1 as the seqeval library
 * computes them (default mode = the conlleval chunking rules; strict mode
 * for IOB2 / BIOES), micro and per type. */
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "util/error.h"

typedef struct {
    const char *type; /* points into a tag */
    int type_len, start, end;
} chunk;

/* "B-PER" -> prefix 'B', type "PER"; "O" -> 'O', ""; "PER" -> 'I'? seqeval
 * takes tag[0] as the prefix and tag[2:] as the type whatever they are. */
static void split_tag(const char *tag, char *prefix, const char **type, int *len) {
    if (!tag || !*tag || strcmp(tag, "O") == 0) {
        *prefix = 'O', *type = "", *len = 0;
        return;
    }
    *prefix = tag[0];
    const char *dash = strchr(tag, '-');
    *type = dash ? dash + 1 : tag + 1;
    *len = (int)strlen(*type);
}

static int same_type(const char *a, int la, const char *b, int lb) { return la == lb && memcmp(a, b, (size_t)la) == 0; }

static int end_of_chunk(char prev, char tag, const char *pt, int pl, const char *t, int tl) {
    if (prev == 'E' || prev == 'S') return 1;
    if (prev == 'B' && (tag == 'B' || tag == 'S' || tag == 'O')) return 1;
    if (prev == 'I' && (tag == 'B' || tag == 'S' || tag == 'O')) return 1;
    if (prev != 'O' && !same_type(pt, pl, t, tl)) return 1;
    return 0;
}

static int start_of_chunk(char prev, char tag, const char *pt, int pl, const char *t, int tl) {
    if (tag == 'B' || tag == 'S') return 1;
    if ((prev == 'E' || prev == 'S' || prev == 'O') && (tag == 'E' || tag == 'I')) return 1;
    if (tag != 'O' && !same_type(pt, pl, t, tl)) return 1;
    return 0;
}

/* Default (conlleval) chunks of one sentence. */
static int chunks_default(const char *const *tags, int n, chunk *out) {
    int k = 0, begin = 0;
    char prev = 'O';
    const char *pt = "";
    int pl = 0;
    for (int i = 0; i <= n; i++) {
        char tag;
        const char *t;
        int tl;
        split_tag(i < n ? tags[i] : "O", &tag, &t, &tl);
        if (end_of_chunk(prev, tag, pt, pl, t, tl)) out[k++] = (chunk){pt, pl, begin, i - 1};
        if (start_of_chunk(prev, tag, pt, pl, t, tl)) begin = i;
        prev = tag, pt = t, pl = tl;
    }
    return k;
}

/* Strict chunks: IOB2 (B then I of the same type) or BIOES (S, or B I* E). */
static int chunks_strict(const char *const *tags, int n, int bioes, chunk *out) {
    int k = 0;
    for (int i = 0; i < n;) {
        char p;
        const char *t;
        int tl;
        split_tag(tags[i], &p, &t, &tl);
        if (bioes && p == 'S') {
            out[k++] = (chunk){t, tl, i, i};
            i++;
            continue;
        }
        if (p != 'B') {
            i++;
            continue;
        }
        int j = i + 1, ok = !bioes;
        for (; j < n; j++) {
            char q;
            const char *u;
            int ul;
            split_tag(tags[j], &q, &u, &ul);
            if (!same_type(t, tl, u, ul)) break;
            if (q == 'I') continue;
            if (bioes && q == 'E') {
                ok = 1;
                j++;
            }
            break;
        }
        if (ok) out[k++] = (chunk){t, tl, i, j - 1};
        i = j > i + 1 ? j : i + 1;
    }
    return k;
}

static int chunk_eq(const chunk *a, const chunk *b) {
    return a->start == b->start && a->end == b->end && same_type(a->type, a->type_len, b->type, b->type_len);
}

static int type_index(bert_seqeval_result *r, const char *t, int tl) {
    for (int i = 0; i < r->n_types; i++)
        if ((int)strlen(r->types[i]) == tl && memcmp(r->types[i], t, (size_t)tl) == 0) return i;
    char **types = realloc(r->types, sizeof *types * (size_t)(r->n_types + 1));
    if (!types) return -1;
    r->types = types;
    char *s = malloc((size_t)tl + 1);
    if (!s) return -1;
    memcpy(s, t, (size_t)tl);
    s[tl] = '\0';
    r->types[r->n_types] = s;
    return r->n_types++;
}

void bert_seqeval_free(bert_seqeval_result *r) {
    for (int i = 0; r && i < r->n_types; i++) free(r->types[i]);
    if (r) free(r->types), free(r->type_precision), free(r->type_recall), free(r->type_f1), free(r->type_support);
    if (r) memset(r, 0, sizeof *r);
}

static double f1_of(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

bert_status bert_seqeval(const char *const *gold, const char *const *pred, const int *sent_len, int n_sent, int strict,
                         bert_seqeval_result *out, bert_error *err) {
    bert_error_clear(err);
    memset(out, 0, sizeof *out);
    long total = 0;
    int longest = 0, bioes = 0;
    for (int s = 0; s < n_sent; s++) total += sent_len[s], longest = sent_len[s] > longest ? sent_len[s] : longest;
    for (long i = 0; i < total; i++) bioes |= (gold[i][0] == 'S' || gold[i][0] == 'E') && gold[i][1] == '-';
    chunk *cg = malloc(sizeof *cg * (size_t)(longest + 1)), *cp = malloc(sizeof *cp * (size_t)(longest + 1));
    /* per-type counts: gold, pred, correct (grown with the types) */
    long (*cnt)[3] = NULL;
    long tokens_ok = 0, off = 0;
    if (!cg || !cp) {
        free(cg), free(cp);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    bert_status rc = BERT_OK;
    for (int s = 0; s < n_sent && rc == BERT_OK; s++) {
        const char *const *g = gold + off, *const *p = pred + off;
        int n = sent_len[s];
        for (int i = 0; i < n; i++) tokens_ok += strcmp(g[i], p[i]) == 0;
        int ng = strict ? chunks_strict(g, n, bioes, cg) : chunks_default(g, n, cg);
        int np = strict ? chunks_strict(p, n, bioes, cp) : chunks_default(p, n, cp);
        for (int pass = 0; pass < 2 && rc == BERT_OK; pass++) {
            const chunk *c = pass ? cp : cg;
            for (int i = 0; i < (pass ? np : ng); i++) {
                int before = out->n_types, ti = type_index(out, c[i].type, c[i].type_len);
                long (*grown)[3] = ti >= 0 ? realloc(cnt, sizeof *cnt * (size_t)out->n_types) : NULL;
                if (!grown) {
                    rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
                    break;
                }
                if (out->n_types > before) memset(grown[ti], 0, sizeof grown[ti]);
                cnt = grown;
                cnt[ti][pass]++;
                if (pass)
                    for (int j = 0; j < ng; j++)
                        if (chunk_eq(&cp[i], &cg[j])) cnt[ti][2]++;
            }
        }
        off += n;
    }
    free(cg), free(cp);
    if (rc != BERT_OK) {
        free(cnt);
        bert_seqeval_free(out);
        return rc;
    }
    /* Sort types by name (seqeval reports them sorted), carrying counts. */
    for (int i = 1; i < out->n_types; i++)
        for (int j = i; j > 0 && strcmp(out->types[j - 1], out->types[j]) > 0; j--) {
            char *t = out->types[j];
            out->types[j] = out->types[j - 1], out->types[j - 1] = t;
            long c3[3];
            memcpy(c3, cnt[j], sizeof c3), memcpy(cnt[j], cnt[j - 1], sizeof c3), memcpy(cnt[j - 1], c3, sizeof c3);
        }
    int T = out->n_types;
    out->type_precision = calloc((size_t)(T ? T : 1), sizeof(double));
    out->type_recall = calloc((size_t)(T ? T : 1), sizeof(double));
    out->type_f1 = calloc((size_t)(T ? T : 1), sizeof(double));
    out->type_support = calloc((size_t)(T ? T : 1), sizeof(long));
    double macro = 0;
    int macro_n = 0;
    for (int i = 0; i < T; i++) {
        long g = cnt[i][0], p = cnt[i][1], c = cnt[i][2];
        out->n_gold += g, out->n_pred += p, out->n_correct += c;
        out->type_precision[i] = p ? (double)c / p : 0.0;
        out->type_recall[i] = g ? (double)c / g : 0.0;
        out->type_f1[i] = f1_of(out->type_precision[i], out->type_recall[i]);
        out->type_support[i] = g;
        macro += out->type_f1[i], macro_n++; /* over every type seen in gold or predictions */
    }
    free(cnt);
    out->precision = out->n_pred ? (double)out->n_correct / out->n_pred : 0.0;
    out->recall = out->n_gold ? (double)out->n_correct / out->n_gold : 0.0;
    out->f1 = f1_of(out->precision, out->recall);
    out->macro_f1 = macro_n ? macro / macro_n : 0.0;
    out->token_accuracy = total ? (double)tokens_ok / total : 0.0;
    return BERT_OK;
}
