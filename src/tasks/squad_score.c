/* squad_score.c — scoring a SQuAD predictions file against a data file
 * exactly as the official scripts do: evaluate-v1.1.py (every question
 * counts, one without a prediction scores 0) or evaluate-v2.0.py (gold
 * answers that normalise to "" dropped, no-answer questions, the
 * --na-prob-file thresholding and best_exact / best_f1), down to the
 * scripts' float arithmetic and their JSON output. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "io/gzip.h"
#include "tasks/pytext.h"
#include "util/error.h"

/* The most questions / predictions one file may hold. */
#define MAX_ITEMS 50000000L

/* A string -> index map (open addressing), keys borrowed. */
typedef struct {
    const char **key;
    long *val, cap;
} strmap;

/* FNV-1a of a NUL-terminated string. */
static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A map with room for n keys; 0 when out of memory. */
static int map_init(strmap *m, long n) {
    m->cap = 16;
    while (m->cap < 2 * n + 16) m->cap *= 2;
    m->key = calloc((size_t)m->cap, sizeof *m->key);
    m->val = calloc((size_t)m->cap, sizeof *m->val);
    return m->key && m->val;
}

/* Release the map (not its borrowed keys). */
static void map_free(strmap *m) { free(m->key), free(m->val); }

/* The slot of key: where it is, or the empty one where it would go. */
static long map_slot(const strmap *m, const char *key) {
    long i = (long)(hash_str(key) & (uint64_t)(m->cap - 1));
    while (m->key[i] && strcmp(m->key[i], key) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

/* The value of key, or -1. */
static long map_get(const strmap *m, const char *key) {
    long i = map_slot(m, key);
    return m->key[i] ? m->val[i] : -1;
}

/* One question of the data file. */
typedef struct {
    const char *id;
    const char **golds;
    int n_golds;
} sq_question;

/* Everything one evaluation reads. */
typedef struct {
    cJSON *data, *preds, *na;
    sq_question *q;
    long n_q;
    const char **gold_pool;
    strmap pred_map, na_map; /* id -> the member (last of duplicates, as Python's dict) */
    cJSON **pred_items, **na_items;
    char *na_is_int;         /* per na member: written as an integer (Python keeps it an int) */
    long n_pred, n_na;
} sq_input;

/* Parse a JSON file (gzip allowed) into *out. */
static bert_status read_json(const char *path, cJSON **out, bert_error *err) {
    char *text;
    bert_status rc = bert_file_read_gz(path, 0, &text, NULL, err);
    if (rc != BERT_OK) return rc;
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 0);
    if (!*out) {
        long line = 1;
        for (const char *c = text; end && c < end && *c; c++) line += *c == '\n';
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: not valid JSON", path, line);
    }
    free(text);
    return rc;
}

/* The questions of the data file, in file order; *auto_v2 set when one has
 * no answers or an "is_impossible" field (SQuAD 2.0). */
static bert_status read_questions(const char *path, sq_input *in, int *auto_v2, bert_error *err) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in->data, "data");
    if (!cJSON_IsArray(data)) return bert_fail(err, BERT_ERR_FORMAT, "%s: not SQuAD JSON (no \"data\" list)", path);
    long nq = 0, ng = 0;
    for (int pass = 0; pass < 2; pass++) {
        nq = ng = 0;
        int ai = 0;
        for (const cJSON *art = data->child; art; art = art->next, ai++) {
            const cJSON *paras = cJSON_GetObjectItemCaseSensitive(art, "paragraphs");
            if (!cJSON_IsArray(paras)) return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d]: no \"paragraphs\" list", path, ai);
            int pi = 0;
            for (const cJSON *p = paras->child; p; p = p->next, pi++) {
                const cJSON *qas = cJSON_GetObjectItemCaseSensitive(p, "qas");
                if (!cJSON_IsArray(qas))
                    return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d].paragraphs[%d]: no \"qas\" list", path, ai, pi);
                int qi = 0;
                for (const cJSON *q = qas->child; q; q = q->next, qi++, nq++) {
                    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "id"));
                    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(q, "answers");
                    if (!id || !cJSON_IsArray(ans))
                        return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d].paragraphs[%d].qas[%d]: needs a string \"id\" and an \"answers\" list",
                                         path, ai, pi, qi);
                    if (nq >= MAX_ITEMS) return bert_fail(err, BERT_ERR_INPUT, "%s: more than %ld questions", path, MAX_ITEMS);
                    if (pass) in->q[nq] = (sq_question){id, in->gold_pool + ng, 0};
                    int k = 0;
                    for (const cJSON *a = ans->child; a; a = a->next, k++) {
                        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "text"));
                        if (!t)
                            return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d].paragraphs[%d].qas[%d].answers[%d]: no \"text\" string",
                                             path, ai, pi, qi, k);
                        if (pass) in->gold_pool[ng] = t, in->q[nq].n_golds++;
                        ng++;
                    }
                    if (!ans->child || cJSON_GetObjectItemCaseSensitive(q, "is_impossible")) *auto_v2 = 1;
                }
            }
        }
        if (!pass) {
            in->q = malloc(sizeof *in->q * (size_t)(nq ? nq : 1));
            in->gold_pool = malloc(sizeof *in->gold_pool * (size_t)(ng ? ng : 1));
            if (!in->q || !in->gold_pool) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    in->n_q = nq;
    if (nq == 0) return bert_fail(err, BERT_ERR_INPUT, "%s: no questions", path);
    return BERT_OK;
}

/* The members of a JSON object file as an id map (the last of duplicate
 * keys wins, at the place of the first, as Python's dict); strings = 1:
 * every value must be a string, else a finite number. */
static bert_status read_object(const char *path, cJSON *o, int strings, strmap *map, cJSON ***items, long *n,
                               bert_error *err) {
    if (!cJSON_IsObject(o)) return bert_fail(err, BERT_ERR_FORMAT, "%s: not a JSON object of question ids", path);
    long count = 0;
    for (const cJSON *c = o->child; c; c = c->next) count++;
    if (count > MAX_ITEMS) return bert_fail(err, BERT_ERR_INPUT, "%s: more than %ld entries", path, MAX_ITEMS);
    *items = malloc(sizeof **items * (size_t)(count ? count : 1));
    if (!*items || !map_init(map, count)) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    *n = 0;
    for (cJSON *c = o->child; c; c = c->next) {
        if (strings ? !cJSON_IsString(c) : !(cJSON_IsNumber(c) && isfinite(c->valuedouble)))
            return bert_fail(err, BERT_ERR_FORMAT, "%s: \"%.200s\": the value must be %s", path, c->string,
                             strings ? "a string (the answer)" : "a finite number (the no-answer probability)");
        long s = map_slot(map, c->string);
        if (map->key[s]) (*items)[map->val[s]] = c; /* a repeated key: the later value, the first place */
        else map->key[s] = c->string, map->val[s] = *n, (*items)[(*n)++] = c;
    }
    return BERT_OK;
}

/* For each member of the flat JSON object in text, in order: 1 when its
 * value is written as an integer (no '.', 'e' or 'E'), as Python's
 * json.load then keeps it an int. Members past cap are not marked. */
static void int_literals(const char *text, char *is_int, long cap) {
    const char *c = strchr(text, '{');
    long k = 0;
    while (c && *c && k < cap) {
        c = strchr(c, '"'); /* the key */
        if (!c) return;
        for (c++; *c && *c != '"'; c++)
            if (*c == '\\' && c[1]) c++;
        if (!*c) return;
        c = strchr(c, ':');
        if (!c) return;
        c += strspn(c + 1, " \t\r\n") + 1;
        size_t len = strspn(c, "+-0123456789.eE");
        is_int[k++] = len > 0 && !memchr(c, '.', len) && !memchr(c, 'e', len) && !memchr(c, 'E', len);
        c += len;
    }
}

/* Read the predictions and, when named, the no-answer probabilities. */
static bert_status read_side_files(const char *pred_path, const char *na_path, sq_input *in, bert_error *err) {
    bert_status rc = read_json(pred_path, &in->preds, err);
    if (rc == BERT_OK) rc = read_object(pred_path, in->preds, 1, &in->pred_map, &in->pred_items, &in->n_pred, err);
    if (rc != BERT_OK || !na_path) return rc;
    char *text;
    if ((rc = bert_file_read_gz(na_path, 0, &text, NULL, err)) != BERT_OK) return rc;
    in->na = cJSON_Parse(text);
    if (!in->na) rc = bert_fail(err, BERT_ERR_FORMAT, "%s: not valid JSON", na_path);
    long count = 0;
    for (const cJSON *c = in->na ? in->na->child : NULL; c; c = c->next) count++;
    char *flags = rc == BERT_OK ? calloc((size_t)(count ? count : 1), 1) : NULL;
    if (rc == BERT_OK && !flags) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) int_literals(text, flags, count);
    free(text);
    if (rc == BERT_OK) rc = read_object(na_path, in->na, 0, &in->na_map, &in->na_items, &in->n_na, err);
    if (rc == BERT_OK) { /* per kept member: the flag of the member whose value is kept */
        in->na_is_int = calloc((size_t)(in->n_na ? in->n_na : 1), 1);
        if (!in->na_is_int) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        long k = 0;
        for (const cJSON *c = in->na->child; rc == BERT_OK && c; c = c->next, k++) {
            long i = map_get(&in->na_map, c->string);
            if (in->na_items[i] == c) in->na_is_int[i] = flags[k];
        }
    }
    free(flags);
    return rc;
}

/* Release everything read_questions / read_side_files filled. */
static void input_free(sq_input *in) {
    cJSON_Delete(in->data), cJSON_Delete(in->preds), cJSON_Delete(in->na);
    free(in->q), free(in->gold_pool), free(in->pred_items), free(in->na_items), free(in->na_is_int);
    map_free(&in->pred_map), map_free(&in->na_map);
}

/* A growing text buffer. */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

/* Append printf output (under 256 bytes) to b; b->oom set when out of memory. */
static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0 || b->oom) return;
    if (b->n + (size_t)w + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap + (size_t)w : 256 + (size_t)w;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s, b->cap = cap;
    }
    memcpy(b->s + b->n, tmp, (size_t)w + 1);
    b->n += (size_t)w;
}

/* A Python float as json.dumps writes it. */
static void put_float(sbuf *b, double x) {
    char r[40];
    py_float_repr(x, r, sizeof r);
    put(b, "%s", r);
}

/* evaluate-v1.1.py: total counts every question; a missing prediction
 * scores 0 (its id kept in out->missing). */
static bert_status score_v1(const sq_input *in, bert_squad_eval *out, bert_error *err) {
    long em = 0;
    double f1 = 0;
    out->missing = malloc(sizeof *out->missing * (size_t)in->n_q);
    if (!out->missing) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (long i = 0; i < in->n_q; i++) {
        const sq_question *q = &in->q[i];
        long p = map_get(&in->pred_map, q->id);
        if (p < 0) {
            if (!(out->missing[out->n_missing++] = strdup(q->id))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            continue;
        }
        if (q->n_golds == 0)
            return bert_fail(err, BERT_ERR_INPUT, "question %s has no answers: the v1.1 rules cannot score it (SQuAD 2.0 rules can)",
                             q->id);
        double x, y;
        bert_squad_score_question(in->pred_items[p]->valuestring, q->golds, q->n_golds, BERT_SQUAD_V1, &x, &y);
        em += x > 0, f1 += y;
    }
    out->total = in->n_q;
    out->exact = 100.0 * (double)em / (double)in->n_q;
    out->f1 = 100.0 * f1 / (double)in->n_q;
    return BERT_OK;
}

/* One question of the v2.0 evaluation (a distinct id: the last of
 * repeated ids holds its answers and scores, at the place of the first). */
typedef struct {
    long q;                 /* its (last) question in the data            */
    long pred;              /* its prediction                             */
    int has_ans, nonempty;  /* gold answers given; a non-empty prediction */
    double exact, f1;       /* raw scores                                 */
    double exact_t, f1_t;   /* after the no-answer threshold              */
} v2_row;

/* A member of the na file: its probability, its place in the file, its row (-1: not in the data). */
typedef struct {
    double na;
    long idx, row;
} na_order;

/* qsort order: ascending probability, then file order (Python's sort is stable). */
static int by_na_prob(const void *a, const void *b) {
    const na_order *x = a, *y = b;
    if (x->na != y->na) return x->na < y->na ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* find_best_thresh of evaluate-v2.0.py over raw scores (use_f1 picks which):
 * na members sorted (stably) by probability, each adding its score (a gold
 * answer given) or -1 for a non-empty prediction of an unanswerable one;
 * the best total as a percentage and its na member (-1: threshold 0.0). */
static void best_thresh(const v2_row *rows, long n, const na_order *ord, long n_ord, int use_f1, double *best_pct,
                        long *best_idx) {
    double cur = 0;
    for (long i = 0; i < n; i++) cur += !rows[i].has_ans;
    double best = cur;
    *best_idx = -1; /* -1: the threshold 0.0 */
    for (long k = 0; k < n_ord; k++) {
        if (ord[k].row < 0) continue;
        const v2_row *r = &rows[ord[k].row];
        cur += r->has_ans ? (use_f1 ? r->f1 : r->exact) : (r->nonempty ? -1.0 : 0.0);
        if (cur > best) best = cur, *best_idx = ord[k].idx;
    }
    *best_pct = 100.0 * best / (double)n;
}

/* The no-answer probability as the script prints it: a Python float, or an
 * int when the file wrote an integer. */
static void put_thresh(sbuf *b, const sq_input *in, long idx) {
    if (idx < 0) {
        put(b, "0.0");
        return;
    }
    double v = in->na_items[idx]->valuedouble;
    if (in->na_is_int[idx] && fabs(v) < 9007199254740992.0) put(b, "%.0f", v == 0 ? 0.0 : v);
    else put_float(b, v);
}

/* Sum of the thresholded scores of rows (those with has_ans == which, or
 * all with which < 0), in row order, as Python's sum(); *count set. */
static double sum_rows(const v2_row *rows, long n, int which, int use_f1, double *tmp, long *count) {
    long m = 0;
    for (long i = 0; i < n; i++)
        if (which < 0 || rows[i].has_ans == which) tmp[m++] = use_f1 ? rows[i].f1_t : rows[i].exact_t;
    *count = m;
    return py_sum(tmp, m);
}

/* evaluate-v2.0.py: every question needs a prediction (the script stops
 * with a KeyError otherwise) and, with a na file, a probability. The JSON
 * (json.dumps(out_eval, indent=2)) goes to b. */
static bert_status score_v2(const sq_input *in, const bert_squad_eval_params *p, const char *pred_path,
                            bert_squad_eval *out, sbuf *b, bert_error *err) {
    strmap ids = {0};
    v2_row *rows = malloc(sizeof *rows * (size_t)in->n_q);
    double *tmp = malloc(sizeof *tmp * (size_t)in->n_q);
    na_order *ord = malloc(sizeof *ord * (size_t)(in->n_na ? in->n_na : 1));
    bert_status rc = rows && tmp && ord && map_init(&ids, in->n_q) ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    long n = 0;
    for (long i = 0; rc == BERT_OK && i < in->n_q; i++) {
        const sq_question *q = &in->q[i];
        long s = map_slot(&ids, q->id), r = ids.key[s] ? ids.val[s] : n;
        if (!ids.key[s]) ids.key[s] = q->id, ids.val[s] = n++;
        long pi = map_get(&in->pred_map, q->id);
        if (pi < 0) {
            rc = bert_fail(err, BERT_ERR_INPUT, "%s: no prediction for question %s (the v2.0 rules need one for every question)",
                           pred_path, q->id);
            break;
        }
        const char *pred = in->pred_items[pi]->valuestring;
        rows[r] = (v2_row){.q = i, .pred = pi, .has_ans = q->n_golds > 0, .nonempty = *pred != 0};
        bert_squad_score_question(pred, q->golds, q->n_golds, BERT_SQUAD_V2, &rows[r].exact, &rows[r].f1);
        double na = 0.0;
        if (in->na) {
            long k = map_get(&in->na_map, q->id);
            if (k < 0) {
                rc = bert_fail(err, BERT_ERR_INPUT, "%s: no no-answer probability for question %s", p->na_prob_file, q->id);
                break;
            }
            na = in->na_items[k]->valuedouble;
        }
        int pred_na = na > p->na_prob_thresh;
        rows[r].exact_t = pred_na ? (double)!rows[r].has_ans : rows[r].exact;
        rows[r].f1_t = pred_na ? (double)!rows[r].has_ans : rows[r].f1;
    }
    if (rc == BERT_OK) {
        long cnt;
        out->total = n;
        out->exact = 100.0 * sum_rows(rows, n, -1, 0, tmp, &cnt) / (double)n;
        out->f1 = 100.0 * sum_rows(rows, n, -1, 1, tmp, &cnt) / (double)n;
        double he = sum_rows(rows, n, 1, 0, tmp, &out->has_total), hf = sum_rows(rows, n, 1, 1, tmp, &cnt);
        double ne = sum_rows(rows, n, 0, 0, tmp, &out->no_total), nf = sum_rows(rows, n, 0, 1, tmp, &cnt);
        if (out->has_total) out->has_exact = 100.0 * he / (double)out->has_total, out->has_f1 = 100.0 * hf / (double)out->has_total;
        if (out->no_total) out->no_exact = 100.0 * ne / (double)out->no_total, out->no_f1 = 100.0 * nf / (double)out->no_total;
        put(b, "{\n  \"exact\": "), put_float(b, out->exact), put(b, ",\n  \"f1\": "), put_float(b, out->f1);
        put(b, ",\n  \"total\": %ld", n);
        if (out->has_total) {
            put(b, ",\n  \"HasAns_exact\": "), put_float(b, out->has_exact), put(b, ",\n  \"HasAns_f1\": ");
            put_float(b, out->has_f1), put(b, ",\n  \"HasAns_total\": %ld", out->has_total);
        }
        if (out->no_total) {
            put(b, ",\n  \"NoAns_exact\": "), put_float(b, out->no_exact), put(b, ",\n  \"NoAns_f1\": ");
            put_float(b, out->no_f1), put(b, ",\n  \"NoAns_total\": %ld", out->no_total);
        }
    }
    if (rc == BERT_OK && in->na) {
        for (long k = 0; k < in->n_na; k++) {
            long r = map_get(&ids, in->na_items[k]->string);
            ord[k] = (na_order){in->na_items[k]->valuedouble, k, r};
        }
        qsort(ord, (size_t)in->n_na, sizeof *ord, by_na_prob);
        long ie, i1;
        best_thresh(rows, n, ord, in->n_na, 0, &out->best_exact, &ie);
        best_thresh(rows, n, ord, in->n_na, 1, &out->best_f1, &i1);
        out->has_best = 1;
        out->best_exact_thresh = ie < 0 ? 0.0 : in->na_items[ie]->valuedouble;
        out->best_f1_thresh = i1 < 0 ? 0.0 : in->na_items[i1]->valuedouble;
        put(b, ",\n  \"best_exact\": "), put_float(b, out->best_exact), put(b, ",\n  \"best_exact_thresh\": "), put_thresh(b, in, ie);
        put(b, ",\n  \"best_f1\": "), put_float(b, out->best_f1), put(b, ",\n  \"best_f1_thresh\": "), put_thresh(b, in, i1);
    }
    if (rc == BERT_OK) put(b, "\n}\n");
    map_free(&ids);
    free(rows), free(tmp), free(ord);
    return rc;
}

/* evaluate-v1.1.py's output: json.dumps({"exact_match", "f1"}). */
static void put_v1_json(sbuf *b, const bert_squad_eval *e) {
    put(b, "{\"exact_match\": "), put_float(b, e->exact), put(b, ", \"f1\": "), put_float(b, e->f1), put(b, "}\n");
}

bert_squad_eval_params bert_squad_eval_default_params(void) {
    return (bert_squad_eval_params){.version = BERT_SQUAD_AUTO, .na_prob_file = NULL, .na_prob_thresh = 1.0};
}

bert_status bert_squad_evaluate(const char *data_path, const char *pred_path, const bert_squad_eval_params *p,
                                bert_squad_eval *out, bert_error *err) {
    bert_error_clear(err);
    memset(out, 0, sizeof *out);
    bert_squad_eval_params d = bert_squad_eval_default_params();
    if (!p) p = &d;
    if (p->version != BERT_SQUAD_AUTO && p->version != BERT_SQUAD_V1 && p->version != BERT_SQUAD_V2)
        return bert_fail(err, BERT_ERR_INPUT, "unknown SQuAD version %d (0 auto, 1 v1.1, 2 v2.0)", p->version);
    if (!isfinite(p->na_prob_thresh)) return bert_fail(err, BERT_ERR_INPUT, "the no-answer threshold must be a finite number");
    sq_input in = {0};
    int auto_v2 = 0;
    bert_status rc = read_json(data_path, &in.data, err);
    if (rc == BERT_OK) rc = read_questions(data_path, &in, &auto_v2, err);
    const char *ver = rc == BERT_OK ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in.data, "version")) : NULL;
    if (ver && !(out->data_version = strdup(ver))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (ver && strstr(ver, "2.")) auto_v2 = 1;
    out->version = p->version != BERT_SQUAD_AUTO ? p->version : auto_v2 ? BERT_SQUAD_V2 : BERT_SQUAD_V1;
    if (rc == BERT_OK && p->na_prob_file && out->version == BERT_SQUAD_V1)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s is scored with the v1.1 rules, which have no no-answer probabilities: "
                                            "ask for the v2.0 rules to use them", data_path);
    if (rc == BERT_OK) rc = read_side_files(pred_path, p->na_prob_file, &in, err);
    sbuf b = {0};
    if (rc == BERT_OK && out->version == BERT_SQUAD_V1) {
        if ((rc = score_v1(&in, out, err)) == BERT_OK) put_v1_json(&b, out);
    } else if (rc == BERT_OK) {
        rc = score_v2(&in, p, pred_path, out, &b, err);
    }
    if (rc == BERT_OK && b.oom) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) out->json = b.s;
    else free(b.s);
    input_free(&in);
    if (rc != BERT_OK) bert_squad_eval_free(out);
    return rc;
}

void bert_squad_eval_free(bert_squad_eval *e) {
    if (!e) return;
    for (long i = 0; i < e->n_missing; i++) free(e->missing[i]);
    free(e->missing), free(e->json), free(e->data_version);
    memset(e, 0, sizeof *e);
}
