/* finetune_qa.c — `bert finetune MODEL_DIR --task squad|tydi` (or
 * --task-type qa --train F --dev F): extractive QA fine-tuning on SQuAD
 * JSON (.json or .json.gz), evaluated with the official SQuAD EM / F1.
 *
 * Features as transformers' run_qa.py builds them: (question, context)
 * truncated only_second to --max-seq-len with --doc-stride tokens shared
 * by consecutive windows; the answer's characters map to the first and
 * last context tokens covering them; a window that does not contain the
 * whole answer is labelled [CLS] (0, 0) — or dropped with
 * --drop-windows-without-answer. Evaluation runs `bert qa`'s decoding on
 * the saved model (max answer length 30, as SQuAD evaluation). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

typedef struct {
    char *id, *question, *context;
    char **answers; /* gold texts */
    int *starts;    /* their character (code point) starts */
    int n_answers;
} qa_example;

typedef struct {
    qa_example *v;
    int n;
    int moved, unaligned; /* answers whose answer_start did not point at their text */
} qa_data;

static void qa_free(qa_data *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->v[i].id), free(d->v[i].question), free(d->v[i].context);
        for (int k = 0; k < d->v[i].n_answers; k++) free(d->v[i].answers[k]);
        free(d->v[i].answers), free(d->v[i].starts);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* Read all of a file, decompressing .gz with gzip. */
static char *slurp(const char *path, char *msg, size_t cap) {
    size_t n = strlen(path);
    int gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    FILE *f;
    if (gz) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
        f = popen(cmd, "r");
    } else {
        f = fopen(path, "r");
    }
    if (!f) return snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno)), NULL;
    size_t len = 0, sz = 1 << 20;
    char *buf = malloc(sz);
    for (size_t got; buf && (got = fread(buf + len, 1, sz - len - 1, f)) > 0;) {
        len += got;
        if (len + 1 == sz) {
            char *b = realloc(buf, sz *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    int rc = gz ? pclose(f) : fclose(f);
    if (!buf || rc != 0) {
        free(buf);
        snprintf(msg, cap, "%s: read failed", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Byte offset of code point cp in s (or the end). */
static size_t cp_to_byte(const char *s, int cp) {
    size_t b = 0;
    for (int n = 0; s[b] && n < cp; n++)
        for (b++; (s[b] & 0xC0) == 0x80; b++) {}
    return b;
}

static int byte_to_cp(const char *s, size_t b) {
    int n = 0;
    for (size_t i = 0; i < b && s[i]; i++) n += (s[i] & 0xC0) != 0x80;
    return n;
}

/* Some sets' answer_start is off (COVID-QA: 17 % of answers start at a
 * space the text does not have, or a few characters away). Put the answer
 * at its text: trim surrounding whitespace from the text, then take the
 * occurrence nearest the given start (within 200 bytes). Returns 0 when the
 * start was right, 1 when moved, -1 when the text is not near. */
static int align_answer(const char *ctx, char **text, int *start) {
    char *t = *text;
    size_t tl = strlen(t), a = 0;
    while (a < tl && (t[a] == ' ' || t[a] == '\n' || t[a] == '\t')) a++;
    while (tl > a && (t[tl - 1] == ' ' || t[tl - 1] == '\n' || t[tl - 1] == '\t')) tl--;
    size_t b = cp_to_byte(ctx, *start), n = tl - a, cl = strlen(ctx);
    if (b + strlen(t) <= cl && strncmp(ctx + b, t, strlen(t)) == 0) return 0;
    if (n == 0) return -1;
    size_t lo = b > 200 ? b - 200 : 0, hi = b + 200 < cl ? b + 200 : cl, best = (size_t)-1;
    for (size_t i = lo; i + n <= cl && i <= hi; i++)
        if (strncmp(ctx + i, t + a, n) == 0 && (best == (size_t)-1 || (i > b ? i - b : b - i) < (best > b ? best - b : b - best))) best = i;
    if (best == (size_t)-1) return -1;
    memmove(t, t + a, n), t[n] = '\0';
    *start = byte_to_cp(ctx, best);
    return 1;
}

/* One RFC-4180 CSV record from *p (quoted fields, "" for a quote, newlines
 * inside quotes): fields are written NUL-terminated into the buffer in
 * place; returns the count (at most max), 0 at the end. */
static int csv_record(char **p, char **fields, int max) {
    char *r = *p, *w = *p;
    if (!*r) return 0;
    int n = 0;
    for (;;) {
        char *start = w;
        if (*r == '"') {
            for (r++; *r; r++) {
                if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                else if (*r == '"') { r++; break; }
                else *w++ = *r;
            }
        }
        while (*r && *r != ',' && *r != '\n' && *r != '\r') *w++ = *r++;
        char end = *r;
        if (end) r++; /* consume the separator before the NUL may land on it */
        *w++ = '\0';
        if (n < max) fields[n++] = start;
        if (end == ',') continue;
        while (*r == '\r' || *r == '\n') r++;
        break;
    }
    *p = r;
    return n;
}

static int find_column(char **h, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(h[i], name) == 0) return i;
    return -1;
}

/* SubjQA CSV (one row per question, review and annotator; rows repeat per
 * q_review_id): a question per q_review_id, its review as the context with
 * the trailing " ANSWERNOTFOUND" removed, the answers review[start:end]
 * from human_ans_indices, none (SQuAD 2.0 style unanswerable) where the
 * span is ANSWERNOTFOUND. */
static int read_subjqa(const char *path, qa_data *d, int limit, char *msg, size_t cap) {
    char *text = slurp(path, msg, cap), *p = text, *f[64], *h[64];
    if (!text) return 0;
    int nh = csv_record(&p, f, 64);
    for (int i = 0; i < nh; i++) h[i] = strdup(f[i]);
    int cid = find_column(h, nh, "q_review_id"), cq = find_column(h, nh, "question"), cr = find_column(h, nh, "review"),
        cs = find_column(h, nh, "human_ans_spans"), ci = find_column(h, nh, "human_ans_indices"), ok = 1;
    if (cid < 0 || cq < 0 || cr < 0 || cs < 0 || ci < 0)
        ok = 0, snprintf(msg, cap, "%s: not SubjQA CSV (needs q_review_id, question, review, human_ans_spans, human_ans_indices)", path);
    int nf, maxc = cid > cq ? cid : cq;
    maxc = maxc > cr ? maxc : cr, maxc = maxc > cs ? maxc : cs, maxc = maxc > ci ? maxc : ci;
    while (ok && (nf = csv_record(&p, f, 64)) > 0) {
        if (nf <= maxc) continue;
        qa_example *e = NULL;
        for (int k = d->n - 1; k >= 0 && k >= d->n - 50 && !e; k--) /* repeats are adjacent */
            if (strcmp(d->v[k].id, f[cid]) == 0) e = &d->v[k];
        if (!e) {
            if (limit > 0 && d->n >= limit) break;
            if ((d->n & (d->n - 1)) == 0) d->v = realloc(d->v, sizeof *d->v * (size_t)(d->n ? 2 * d->n : 1));
            e = &d->v[d->n++];
            memset(e, 0, sizeof *e);
            e->id = strdup(f[cid]), e->question = strdup(f[cq]), e->context = strdup(f[cr]);
            size_t L = strlen(e->context);
            if (L >= 15 && strcmp(e->context + L - 15, " ANSWERNOTFOUND") == 0) e->context[L - 15] = '\0';
            e->answers = calloc(8, sizeof *e->answers), e->starts = calloc(8, sizeof *e->starts);
        }
        int a, b;
        if (strcmp(f[cs], "ANSWERNOTFOUND") == 0 || sscanf(f[ci], "(%d, %d)", &a, &b) != 2 || a < 0 || b <= a || e->n_answers == 8)
            continue;
        size_t ba = cp_to_byte(e->context, a), bb = cp_to_byte(e->context, b);
        if (bb <= ba || bb > strlen(e->context)) continue; /* a span past the review's text */
        int dup = 0;
        for (int k = 0; k < e->n_answers; k++) dup |= e->starts[k] == a && strlen(e->answers[k]) == bb - ba;
        if (dup) continue;
        e->answers[e->n_answers] = strndup(e->context + ba, bb - ba);
        e->starts[e->n_answers++] = a;
    }
    for (int i = 0; i < nh; i++) free(h[i]);
    free(text);
    if (ok && d->n == 0) snprintf(msg, cap, "%s: no questions", path), ok = 0;
    return ok;
}

static int read_squad(const char *path, qa_data *d, int limit, char *msg, size_t cap) {
    size_t pl = strlen(path);
    if (pl > 4 && strcmp(path + pl - 4, ".csv") == 0) return read_subjqa(path, d, limit, msg, cap);
    char *text = slurp(path, msg, cap);
    if (!text) return 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (!cJSON_IsArray(data)) {
        cJSON_Delete(root);
        return snprintf(msg, cap, "%s: not SQuAD JSON (no \"data\" list)", path), 0;
    }
    int ok = 1;
    for (const cJSON *art = data->child; ok && art; art = art->next) {
        const cJSON *paras = cJSON_GetObjectItemCaseSensitive(art, "paragraphs");
        for (const cJSON *p = cJSON_IsArray(paras) ? paras->child : NULL; ok && p; p = p->next) {
            const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "context"));
            const cJSON *qas = cJSON_GetObjectItemCaseSensitive(p, "qas");
            for (const cJSON *q = cJSON_IsArray(qas) ? qas->child : NULL; ok && q && ctx; q = q->next) {
                if (limit > 0 && d->n >= limit) break;
                const cJSON *idj = cJSON_GetObjectItemCaseSensitive(q, "id");
                char idbuf[32];
                const char *id = cJSON_GetStringValue(idj); /* COVID-QA's ids are numbers */
                if (!id && cJSON_IsNumber(idj)) snprintf(idbuf, sizeof idbuf, "%.0f", idj->valuedouble), id = idbuf;
                const char *question = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "question"));
                const cJSON *ans = cJSON_GetObjectItemCaseSensitive(q, "answers");
                if (!id || !question || !cJSON_IsArray(ans)) {
                    snprintf(msg, cap, "%s: question without id, text or answers", path);
                    ok = 0;
                    break;
                }
                if ((d->n & (d->n - 1)) == 0) {
                    qa_example *v = realloc(d->v, sizeof *v * (size_t)(d->n ? 2 * d->n : 1));
                    if (!v) {
                        ok = 0;
                        break;
                    }
                    d->v = v;
                }
                qa_example *e = &d->v[d->n++];
                memset(e, 0, sizeof *e);
                e->id = strdup(id), e->question = strdup(question), e->context = strdup(ctx);
                int na = cJSON_GetArraySize(ans);
                e->answers = calloc((size_t)(na ? na : 1), sizeof *e->answers);
                e->starts = calloc((size_t)(na ? na : 1), sizeof *e->starts);
                for (const cJSON *a = ans->child; a; a = a->next) {
                    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "text"));
                    const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "answer_start");
                    if (!t || !cJSON_IsNumber(st)) continue;
                    e->answers[e->n_answers] = strdup(t);
                    e->starts[e->n_answers] = (int)st->valuedouble; /* Python string index = code points */
                    int r = align_answer(ctx, &e->answers[e->n_answers], &e->starts[e->n_answers]);
                    d->moved += r > 0, d->unaligned += r < 0;
                    e->n_answers++;
                }
            }
        }
    }
    cJSON_Delete(root);
    if (ok && d->n == 0) snprintf(msg, cap, "%s: no questions", path), ok = 0;
    return ok;
}

/* Move the questions of a seeded share `frac` of the contexts (articles)
 * from all to dev, so no context is in both: a dev split for sets that
 * come as one file (COVID-QA). A context goes to dev when a hash of its
 * text and the seed falls under frac. */
static void split_by_context(qa_data *all, double frac, uint64_t seed, qa_data *dev) {
    int kept = 0;
    for (int i = 0; i < all->n; i++) {
        uint64_t h = cli_fnv1a(CLI_FNV_START ^ (seed * 0x9E3779B97F4A7C15ULL), all->v[i].context, strlen(all->v[i].context));
        h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ULL, h ^= h >> 32;
        if ((double)(h >> 11) / 9007199254740992.0 < frac) {
            if ((dev->n & (dev->n - 1)) == 0) dev->v = realloc(dev->v, sizeof *dev->v * (size_t)(dev->n ? 2 * dev->n : 1));
            dev->v[dev->n++] = all->v[i];
        } else {
            all->v[kept++] = all->v[i];
        }
    }
    all->n = kept;
}

static int utf8_cp_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += (*s & 0xC0) != 0x80;
    return n;
}

typedef struct {
    int32_t *ids, *types;
    int n_tokens;
    float label[2];
} qa_feat;

/* cli_fill_batch for QA: each window's start and end token. */
static void fill_batch(const void *items, const int *idx, int n, bert_sequence *seqs, float *labels, double *tokens) {
    const qa_feat *fs = items;
    for (int k = 0; k < n; k++) {
        const qa_feat *f = &fs[idx[k]];
        seqs[k] = (bert_sequence){.input_ids = f->ids, .token_type_ids = f->types, .n_tokens = f->n_tokens};
        labels[2 * k] = f->label[0], labels[2 * k + 1] = f->label[1];
        *tokens += f->n_tokens;
    }
}

/* Windows of one example with their answer token positions. */
static int featurize(const bert_tokenizer *tok, const qa_example *e, int max_len, int stride, int drop, qa_feat **fs,
                     int *nf, int *capf, char *msg, size_t cap) {
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_ONLY_SECOND;
    ep.max_length = max_len;
    ep.stride = stride;
    ep.return_overflowing = 1;
    bert_encodings w;
    bert_error err;
    if (bert_tokenize(tok, e->question, -1, e->context, -1, &ep, &w, &err) != BERT_OK) {
        snprintf(msg, cap, "question %s: %s", e->id, err.message);
        return -1; /* skip this example */
    }
    int a0 = e->n_answers ? e->starts[0] : -1, a1 = e->n_answers ? a0 + utf8_cp_len(e->answers[0]) : -1;
    for (int k = 0; k < w.n; k++) {
        const bert_encoding *x = &w.encodings[k];
        int first = -1, last = -1;
        for (int i = 0; i < x->n_tokens; i++)
            if (x->token_type_ids[i] == 1 && !x->special_tokens_mask[i]) last = i, first = first < 0 ? i : first;
        float s = 0, t = 0;
        if (a0 >= 0 && first >= 0 && x->offsets[2 * first] <= a0 && x->offsets[2 * last + 1] >= a1) {
            int i = first;
            while (i <= last && x->offsets[2 * i] <= a0) i++;
            int j = last;
            while (j >= first && x->offsets[2 * j + 1] >= a1) j--;
            s = (float)(i - 1), t = (float)(j + 1);
        } else if (drop) {
            continue;
        }
        if (*nf == *capf) {
            qa_feat *g = realloc(*fs, sizeof *g * (size_t)(*capf = *capf ? 2 * *capf : 1024));
            if (!g) return 0;
            *fs = g;
        }
        qa_feat *f = &(*fs)[(*nf)++];
        f->n_tokens = x->n_tokens;
        f->ids = malloc(sizeof *f->ids * (size_t)x->n_tokens);
        f->types = malloc(sizeof *f->types * (size_t)x->n_tokens);
        memcpy(f->ids, x->input_ids, sizeof *f->ids * (size_t)x->n_tokens);
        memcpy(f->types, x->token_type_ids, sizeof *f->types * (size_t)x->n_tokens);
        f->label[0] = s, f->label[1] = t;
    }
    bert_encodings_free(&w);
    return 1;
}

/* SQuAD scores of the model in dir on data; predictions written to pred_path.
 * With unanswerable questions in data (SQuAD 2.0), the null answer competes
 * (its score: min over windows of p_start[CLS] x p_end[CLS]), and the
 * official v2 extras are computed: HasAns / NoAns scores and the best
 * exact / F1 over no-answer thresholds (evaluate-v2.0.py's find_best_thresh,
 * with the null score as na_prob and the best non-null answer as the
 * prediction). */
typedef struct {
    double em, f1, has_em, has_f1, no_em, no_f1, best_em, best_f1;
    int v2, n_has, n_no;
    /* BioASQ factoid scores (with a golden file): strict / lenient accuracy, MRR */
    int bioasq, bio_n;
    double strict, lenient, mrr;
} qa_scores;

/* BioASQ 7b factoid gold (7B_golden.json): question id -> exact_answer
 * synonyms, lower-cased. The test file's question ids are "<qid>_<nnn>",
 * one per snippet. */
typedef struct {
    char **qid;
    char ***syn;
    int *n_syn, n;
} bioasq_gold;

static void lower_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

static int read_bioasq_gold(const char *path, bioasq_gold *g, char *msg, size_t cap) {
    memset(g, 0, sizeof *g);
    char *text = slurp(path, msg, cap);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "questions");
    if (!cJSON_IsArray(qs)) {
        cJSON_Delete(root);
        return snprintf(msg, cap, "%s: not a BioASQ golden file (no \"questions\" list)", path), 0;
    }
    int n = cJSON_GetArraySize(qs);
    g->qid = calloc((size_t)n + 1, sizeof *g->qid), g->syn = calloc((size_t)n + 1, sizeof *g->syn);
    g->n_syn = calloc((size_t)n + 1, sizeof *g->n_syn);
    const cJSON *q;
    cJSON_ArrayForEach(q, qs) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(q, "type"), *id = cJSON_GetObjectItemCaseSensitive(q, "id"),
                    *ex = cJSON_GetObjectItemCaseSensitive(q, "exact_answer");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "factoid") != 0 || !cJSON_IsString(id) || !cJSON_IsArray(ex)) continue;
        int k = g->n++;
        g->qid[k] = strdup(id->valuestring);
        const cJSON *e, *x;
        cJSON_ArrayForEach(e, ex) { /* [["a", "a synonym"], ["b"]] or ["a"] */
            const cJSON *list = cJSON_IsArray(e) ? e : NULL;
            for (x = list ? list->child : e; x; x = list ? x->next : NULL) {
                if (!cJSON_IsString(x)) continue;
                g->syn[k] = realloc(g->syn[k], sizeof **g->syn * (size_t)(g->n_syn[k] + 1));
                char *t = strdup(x->valuestring);
                lower_ascii(t);
                g->syn[k][g->n_syn[k]++] = t;
            }
        }
    }
    cJSON_Delete(root);
    return 1;
}

static void bioasq_free(bioasq_gold *g) {
    for (int i = 0; i < g->n; i++) {
        for (int k = 0; k < g->n_syn[i]; k++) free(g->syn[i][k]);
        free(g->syn[i]), free(g->qid[i]);
    }
    free(g->syn), free(g->qid), free(g->n_syn);
    memset(g, 0, sizeof *g);
}

typedef struct {
    int q; /* index into the gold questions */
    double p;
    char *text;
} bio_cand;

static int by_q_then_p(const void *a, const void *b) {
    const bio_cand *x = a, *y = b;
    if (x->q != y->q) return x->q - y->q;
    return x->p > y->p ? -1 : x->p < y->p;
}

/* BioBERT's aggregation and BioASQ's factoid measures: every snippet's
 * n-best answers pooled per question, ranked by probability, duplicates
 * (case-insensitive) removed, the top 5 kept; strict accuracy = the first
 * is a gold synonym, lenient = any of the 5 is, MRR = mean of 1 / rank of
 * the first correct one (0 when none). Writes {"qid": [top 5]} to json. */
static void bioasq_score(const bioasq_gold *g, bio_cand *c, int nc, qa_scores *sc, cJSON *json) {
    qsort(c, (size_t)nc, sizeof *c, by_q_then_p);
    sc->bioasq = 1, sc->bio_n = g->n;
    for (int q = 0, i = 0; q < g->n; q++) {
        const char *top[5];
        int nt = 0, rank = 0;
        for (; i < nc && c[i].q == q; i++) {
            int dup = 0;
            for (int k = 0; k < nt; k++) dup |= strcmp(top[k], c[i].text) == 0;
            if (!dup && nt < 5) top[nt++] = c[i].text;
        }
        cJSON *list = cJSON_AddArrayToObject(json, g->qid[q]);
        for (int k = 0; k < nt; k++) {
            cJSON_AddItemToArray(list, cJSON_CreateString(top[k]));
            for (int s = 0; !rank && s < g->n_syn[q]; s++)
                if (strcmp(top[k], g->syn[q][s]) == 0) rank = k + 1;
        }
        sc->strict += rank == 1, sc->lenient += rank > 0, sc->mrr += rank ? 1.0 / rank : 0;
    }
    if (g->n) sc->strict *= 100.0 / g->n, sc->lenient *= 100.0 / g->n, sc->mrr *= 100.0 / g->n;
}

typedef struct {
    double na_prob, em, f1;
    int has_ans, nonempty;
} qa_row;

static int by_na(const void *a, const void *b) {
    const qa_row *x = a, *y = b;
    return x->na_prob < y->na_prob ? -1 : x->na_prob > y->na_prob;
}

static double best_thresh(qa_row *rows, int n, int use_f1) {
    int no_ans = 0;
    for (int i = 0; i < n; i++) no_ans += !rows[i].has_ans;
    double cur = no_ans, best = cur;
    for (int i = 0; i < n; i++) { /* rows sorted by na_prob */
        double diff = rows[i].has_ans ? (use_f1 ? rows[i].f1 : rows[i].em) : (rows[i].nonempty ? -1.0 : 0.0);
        cur += diff;
        if (cur > best) best = cur;
    }
    return 100.0 * best / n;
}

static int evaluate(const char *dir, const qa_data *d, int max_seq, int stride, const char *pred_path,
                    const bioasq_gold *bg, qa_scores *sc, char *msg, size_t cap) {
    bert_pipeline *p;
    bert_error err;
    if (bert_pipeline_open(dir, NULL, &p, &err) != BERT_OK) return snprintf(msg, cap, "%s", err.message), 0;
    memset(sc, 0, sizeof *sc);
    for (int i = 0; i < d->n && !bg; i++) sc->v2 |= d->v[i].n_answers == 0; /* BioASQ test snippets carry no answers */
    bio_cand *cands = NULL;
    int ncand = 0;
    bert_qa_params q = bert_qa_default_params();
    q.max_seq_len = max_seq, q.doc_stride = stride, q.max_answer_len = 30, q.max_question_len = 1 << 20;
    q.top_k = 20; /* the n-best list of run_squad.py */
    if (sc->v2) q.handle_impossible = 1;
    cJSON *preds = cJSON_CreateObject(), *nbest = cJSON_CreateObject();
    qa_row *rows = calloc((size_t)d->n, sizeof *rows);
    for (int i = 0; rows && i < d->n; i++) {
        const qa_example *e = &d->v[i];
        bert_answer *a = NULL;
        int na = 0;
        const char *ans = "", *non_null = "";
        double null_score = 0;
        cJSON *list = cJSON_AddArrayToObject(nbest, e->id);
        if (bert_qa(p, e->question, e->context, &q, &a, &na, &err) == BERT_OK && na > 0) {
            ans = a[0].answer;
            const char *us = strrchr(e->id, '_');
            int gq = -1;
            for (int k = 0; bg && us && k < bg->n && gq < 0; k++)
                if ((size_t)(us - e->id) == strlen(bg->qid[k]) && strncmp(e->id, bg->qid[k], (size_t)(us - e->id)) == 0) gq = k;
            for (int k = 0; gq >= 0 && k < na; k++)
                if (*a[k].answer && (cands = realloc(cands, sizeof *cands * (size_t)(ncand + 1)))) {
                    cands[ncand] = (bio_cand){gq, a[k].score, strdup(a[k].answer)};
                    lower_ascii(cands[ncand++].text);
                }
            for (int k = 0; k < na; k++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "text", a[k].answer);
                cJSON_AddNumberToObject(o, "probability", a[k].score);
                cJSON_AddNumberToObject(o, "start", a[k].start);
                cJSON_AddNumberToObject(o, "end", a[k].end);
                cJSON_AddItemToArray(list, o);
            }
            for (int k = 0; k < na; k++) {
                if (a[k].end == 0 && !*a[k].answer) null_score = a[k].score;
                else if (!*non_null) non_null = a[k].answer;
            }
        }
        /* gold: the answers, or "" for an unanswerable question */
        int ng = e->n_answers ? e->n_answers : 1;
        double bem = 0, bf1 = 0, nem = 0, nf1 = 0;
        for (int k = 0; k < ng; k++) {
            const char *g = e->n_answers ? e->answers[k] : "";
            double x = bert_squad_exact(ans, g), y = bert_squad_f1(ans, g);
            bem = x > bem ? x : bem, bf1 = y > bf1 ? y : bf1;
            x = bert_squad_exact(non_null, g), y = bert_squad_f1(non_null, g);
            nem = x > nem ? x : nem, nf1 = y > nf1 ? y : nf1;
        }
        sc->em += bem, sc->f1 += bf1;
        if (e->n_answers) sc->has_em += bem, sc->has_f1 += bf1, sc->n_has++;
        else sc->no_em += bem, sc->no_f1 += bf1, sc->n_no++;
        rows[i] = (qa_row){.na_prob = null_score, .em = nem, .f1 = nf1, .has_ans = e->n_answers > 0, .nonempty = *non_null != 0};
        cJSON_AddStringToObject(preds, e->id, ans);
        bert_answers_free(a, na);
    }
    bert_pipeline_free(p);
    sc->em *= 100.0 / d->n, sc->f1 *= 100.0 / d->n;
    if (sc->n_has) sc->has_em *= 100.0 / sc->n_has, sc->has_f1 *= 100.0 / sc->n_has;
    if (sc->n_no) sc->no_em *= 100.0 / sc->n_no, sc->no_f1 *= 100.0 / sc->n_no;
    if (sc->v2 && rows) {
        qsort(rows, (size_t)d->n, sizeof *rows, by_na);
        sc->best_em = best_thresh(rows, d->n, 0), sc->best_f1 = best_thresh(rows, d->n, 1);
    }
    free(rows);
    if (bg) {
        cJSON *bj = cJSON_CreateObject();
        bioasq_score(bg, cands, ncand, sc, bj);
        char path[4200], *txt = cJSON_Print(bj);
        const char *slash = strrchr(pred_path, '/');
        snprintf(path, sizeof path, "%.*sbioasq_predictions.json", slash ? (int)(slash - pred_path + 1) : 0, pred_path);
        cli_output o;
        if (txt && cli_output_open("finetune", path, &o)) fputs(txt, o.fp), cli_output_close("finetune", &o, 1);
        free(txt);
        cJSON_Delete(bj);
    }
    for (int i = 0; i < ncand; i++) free(cands[i].text);
    free(cands);
    /* {"id": "answer"} as the official evaluation script reads it, and the
     * n-best lists beside it (dev_nbest_predictions.json, as run_squad.py) */
    int ok = 1;
    for (int f = 0; f < 2 && ok; f++) {
        char path[4200];
        const char *slash = strrchr(pred_path, '/');
        if (f) snprintf(path, sizeof path, "%.*sdev_nbest_predictions.json", slash ? (int)(slash - pred_path + 1) : 0, pred_path);
        char *s = cJSON_Print(f ? nbest : preds);
        cli_output o;
        ok = s && cli_output_open("finetune", f ? path : pred_path, &o);
        if (ok) fputs(s, o.fp), ok = cli_output_close("finetune", &o, 1);
        free(s);
    }
    cJSON_Delete(preds), cJSON_Delete(nbest);
    return ok;
}

static void write_scores(FILE *f, const qa_scores *s) {
    if (s->bioasq) {
        fprintf(f, "\"bioasq_factoid_questions\": %d, \"strict_accuracy\": %.4f, \"lenient_accuracy\": %.4f, \"mrr\": %.4f",
                s->bio_n, s->strict, s->lenient, s->mrr);
        return;
    }
    fprintf(f, "\"dev_exact_match\": %.4f, \"dev_f1\": %.4f", s->em, s->f1);
    if (s->v2)
        fprintf(f, ", \"HasAns_exact\": %.4f, \"HasAns_f1\": %.4f, \"HasAns_total\": %d, \"NoAns_exact\": %.4f, "
                   "\"NoAns_f1\": %.4f, \"NoAns_total\": %d, \"best_exact\": %.4f, \"best_f1\": %.4f",
                s->has_em, s->has_f1, s->n_has, s->no_em, s->no_f1, s->n_no, s->best_em, s->best_f1);
}

int cmd_finetune_qa(int argc, char **argv) {
    static const char *usage =
        "usage: bert finetune MODEL_DIR --output-dir OUT --task squad|tydi|bioasq|covid_qa|subjqa [--data-dir ../shared/data]\n"
        "       | --task-type qa --train F --dev F          (SQuAD JSON, .json or .json.gz)\n"
        "       [--epochs 2] [--batch-size 12] [--lr 3e-5] [--max-seq-len 384] [--doc-stride 128]\n"
        "       [--drop-windows-without-answer] [--max-train N] [--max-dev N] [--seed 42] [--threads N] [--dtype f32|bf16]\n"
        "       [--bioasq-golden 7B_golden.json]   (score --dev snippets per question, BioASQ factoid)\n"
        "       [--dev-split FRAC] (hold out contexts of --train)  [--subjqa-domain electronics|grocery|...]\n"
        "       --train/--dev take SQuAD JSON (v1.1 or 2.0) or SubjQA CSV\n";
    const char *model = NULL, *out = NULL, *task = NULL, *data = "../shared/data", *train = NULL, *dev = NULL, *golden = NULL;
    const char *subjqa_domain = "electronics";
    int epochs = 2, batch = 12, max_seq = 384, stride = 128, drop = 0, max_train = 0, max_dev = 0, eval_only = 0;
    double dev_split = 0;
    const cli_task_flags shared = {&out, &task, &data, &train, &dev, &epochs, &batch, &max_seq, &max_train};
    bert_train_params tp = bert_train_default_params();
    tp.task = BERT_TASK_QA;
    tp.lr = 3e-5;
    for (int i = 1, flag; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_task_flag(a, v, &shared)) i++;
        else if (strcmp(a, "--doc-stride") == 0 && v) stride = atoi(v), i++;
        else if (strcmp(a, "--max-dev") == 0 && v) max_dev = atoi(v), i++;
        else if ((flag = cli_train_flag("finetune", a, v, &tp)) != 0) {
            if (flag < 0) return CLI_USAGE;
            i++;
        }
        else if (strcmp(a, "--drop-windows-without-answer") == 0) drop = 1;
        else if (strcmp(a, "--eval-only") == 0) eval_only = 1;
        else if (strcmp(a, "--bioasq-golden") == 0 && v) golden = v, i++;
        else if (strcmp(a, "--dev-split") == 0 && v) dev_split = atof(v), i++;
        else if (strcmp(a, "--subjqa-domain") == 0 && v) subjqa_domain = v, i++;
        else if (a[0] != '-' && !model) model = a;
        else return cli_help_if_asked(a, usage), fprintf(stderr, "bert finetune: unexpected argument \'%s\'\n%s", a, usage), CLI_USAGE;
    }
    if (!model || !out || epochs < 1 || batch < 1 || max_seq < 16 || stride < 0) return fputs(usage, stderr), CLI_USAGE;
    static char ptr[1024], pdv[1024];
    if (task) {
        if (strcmp(task, "squad") == 0)
            snprintf(ptr, sizeof ptr, "%s/squad_v1.1/train-v1.1.json.gz", data), snprintf(pdv, sizeof pdv, "%s/squad_v1.1/dev-v1.1.json.gz", data);
        else if (strcmp(task, "tydi") == 0)
            snprintf(ptr, sizeof ptr, "%s/tydiqa_goldp_en/english_tydiqa_train.json", data),
                snprintf(pdv, sizeof pdv, "%s/tydiqa_goldp_en/english_tydiqa_dev.json", data);
        else if (strcmp(task, "xquad") == 0) /* an evaluation set only (no train split): train on --task squad */
            *ptr = '\0', snprintf(pdv, sizeof pdv, "%s/xquad_en/xquad.en.json", data);
        else if (strcmp(task, "bioasq") == 0) { /* BioASQ 7b factoid: snippets as SQuAD, scored per question */
            static char pgold[1024];
            snprintf(ptr, sizeof ptr, "%s/bioasq7b_squad/BioASQ-train-factoid-7b.json", data);
            snprintf(pdv, sizeof pdv, "%s/bioasq7b_squad/BioASQ-test-factoid-7b.json", data);
            snprintf(pgold, sizeof pgold, "%s/bioasq7b_squad/7B_golden.json", data);
            if (!golden) golden = pgold;
        } else if (strcmp(task, "subjqa") == 0) { /* review QA with unanswerable questions (SQuAD 2.0 style) */
            snprintf(ptr, sizeof ptr, "%s/subjqa/%s/train.csv", data, subjqa_domain);
            snprintf(pdv, sizeof pdv, "%s/subjqa/%s/dev.csv", data, subjqa_domain);
        } else if (strcmp(task, "covid_qa") == 0) { /* one file: 10 % of the papers held out as dev (seeded) */
            snprintf(ptr, sizeof ptr, "%s/covid_qa/200423_covidQA.json", data);
            if (dev_split <= 0) dev_split = 0.1;
        } else return fprintf(stderr, "bert finetune: unknown QA task '%s' (squad, tydi, xquad, bioasq, covid_qa, subjqa)\n", task), CLI_USAGE;
        if (!*ptr && !eval_only && !train)
            return fprintf(stderr, "bert finetune: xquad has no training split; use `bert eval MODEL --task xquad` or --train\n"), CLI_USAGE;
        if (!train && *ptr) train = ptr;
        if (!dev && *pdv) dev = pdv;
    }
    if (dev_split < 0 || dev_split >= 1) return fprintf(stderr, "bert finetune: --dev-split must be in (0, 1)\n"), CLI_USAGE;
    if (dev_split > 0 && (!train || dev)) return fprintf(stderr, "bert finetune: --dev-split splits --train; give no --dev\n"), CLI_USAGE;
    if ((!train && !eval_only) || (!dev && dev_split <= 0)) return fprintf(stderr, "bert finetune: give --task or --train and --dev\n"), CLI_USAGE;
    char msg[4096];
    qa_data tr = {0}, dv = {0};
    bioasq_gold gold = {0};
    int ok = (eval_only || read_squad(train, &tr, max_train, msg, sizeof msg)) &&
             (dev_split > 0 || read_squad(dev, &dv, max_dev, msg, sizeof msg)) && (!golden || read_bioasq_gold(golden, &gold, msg, sizeof msg));
    if (ok && dev_split > 0) {
        split_by_context(&tr, dev_split, tp.seed, &dv);
        fprintf(stderr, "bert finetune: --dev-split %.2f: %d training and %d dev questions (no context in both)\n", dev_split, tr.n, dv.n);
        if (!tr.n || !dv.n) snprintf(msg, sizeof msg, "--dev-split %.2f left an empty side", dev_split), ok = 0;
    }
    if (ok && (tr.moved || tr.unaligned || dv.moved || dv.unaligned))
        fprintf(stderr, "bert finetune: notice: %d answer_start(s) moved to their text (trimmed, within 200 bytes); %d not found "
                        "near their start and kept as given\n", tr.moved + dv.moved, tr.unaligned + dv.unaligned);
    const bioasq_gold *bg = golden ? &gold : NULL;
    if (ok && eval_only) { /* `bert eval`: answer dev with the given model */
        qa_scores sc;
        char path[1100];
        mkdir(out, 0755);
        snprintf(path, sizeof path, "%s/dev_predictions.json", out);
        ok = evaluate(model, &dv, max_seq, stride, path, bg, &sc, msg, sizeof msg);
        snprintf(path, sizeof path, "%s/report.json", out);
        cli_output ro;
        if (ok && cli_output_open("eval", path, &ro)) {
            fprintf(ro.fp, "{\"task\": \"%s\", \"model\": \"%s\", \"dev_questions\": %d, ", task ? task : "qa", model, dv.n);
            write_scores(ro.fp, &sc);
            fprintf(ro.fp, "}\n");
            ok = cli_output_close("eval", &ro, 1);
        }
        if (ok && bg) fprintf(stderr, "BioASQ factoid (%d questions): strict %.2f lenient %.2f MRR %.2f\n", sc.bio_n, sc.strict, sc.lenient, sc.mrr);
        else if (ok) fprintf(stderr, "dev EM %.2f F1 %.2f (%d questions); predictions in %s/dev_predictions.json\n", sc.em, sc.f1, dv.n, out);
        else cli_error("eval", "%s", msg);
        qa_free(&dv);
        bioasq_free(&gold);
        return ok ? CLI_OK : CLI_ERROR;
    }
    bert_tokenizer *tok = NULL;
    bert_error err;
    if (ok && bert_tokenizer_load(model, &tok, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    qa_feat *fs = NULL;
    int nf = 0, capf = 0, skipped = 0;
    for (int i = 0; ok && i < tr.n; i++) {
        int r = featurize(tok, &tr.v[i], max_seq, stride, drop, &fs, &nf, &capf, msg, sizeof msg);
        if (r == 0) ok = 0;
        skipped += r < 0;
    }
    if (ok && skipped) fprintf(stderr, "bert finetune: %d training questions skipped (too long for the window)\n", skipped);
    tp.total_steps = (long)((nf + batch - 1) / batch) * epochs;
    bert_trainer *t = NULL;
    unsigned created = 0;
    if (ok) {
        mkdir(out, 0755);
        if (bert_trainer_open(model, &tp, &t, &created, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    }
    if (ok && created) fprintf(stderr, "bert finetune: notice: %s has no QA head; created from seed %llu\n", model, (unsigned long long)tp.seed);
    char path[1100], last[1100], best_dir[1100];
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    snprintf(last, sizeof last, "%s/last", out);
    snprintf(best_dir, sizeof best_dir, "%s/best", out);
    FILE *log = ok ? fopen(path, "w") : NULL;
    int *order = malloc(sizeof *order * (size_t)(nf ? nf : 1));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    float *lab = malloc(sizeof *lab * (size_t)batch * 2);
    double t0 = cli_now_s(), tokens = 0, best_f1 = -1;
    qa_scores sc = {0}, best_sc = {0};
    int best_epoch = -1;
    for (int epoch = 0; ok && epoch < epochs; epoch++) {
        double mean_loss;
        if (!(ok = cli_train_epoch(t, order, nf, batch, seqs, lab, fill_batch, fs, epoch, tp.total_steps, 100, t0, &tokens,
                                   &mean_loss, msg, sizeof msg)))
            break;
        if (!ok) break;
        if (bert_trainer_save(t, last, 0, NULL, &err) != BERT_OK) {
            snprintf(msg, sizeof msg, "%s", err.message);
            ok = 0;
            break;
        }
        snprintf(path, sizeof path, "%s/dev_predictions.json", out);
        if (!(ok = evaluate(last, &dv, max_seq, stride, path, bg, &sc, msg, sizeof msg))) break;
        if (bg) sc.f1 = sc.mrr, fprintf(stderr, "epoch %d: BioASQ strict %.2f lenient %.2f MRR %.2f\n", epoch + 1, sc.strict, sc.lenient, sc.mrr);
        fprintf(log, "{\"epoch\":%d,\"step\":%ld,\"loss\":%.6f,\"eval_exact_match\":%.4f,\"eval_f1\":%.4f}\n", epoch + 1,
                bert_trainer_steps(t), mean_loss, sc.em, sc.f1);
        fflush(log);
        if (!bg) fprintf(stderr, "epoch %d: dev EM %.2f F1 %.2f\n", epoch + 1, sc.em, sc.f1);
        if (sc.f1 > best_f1) { /* F1, or MRR for BioASQ */
            best_f1 = sc.f1, best_sc = sc, best_epoch = epoch + 1;
            char cmd[4096];
            snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", best_dir, last, best_dir);
            if (system(cmd) != 0) snprintf(msg, sizeof msg, "could not copy %s to %s", last, best_dir), ok = 0;
        }
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/report.json", out);
        cli_output ro;
        if (cli_output_open("finetune", path, &ro)) {
            fprintf(ro.fp, "{\"task\": \"%s\", \"train_questions\": %d, \"train_windows\": %d, \"dev_questions\": %d, "
                           "\"best_epoch\": %d, \"seconds\": %.1f, \"tokens_per_s\": %.0f, ",
                    task ? task : "qa", tr.n, nf, dv.n, best_epoch, cli_now_s() - t0, tokens / (cli_now_s() - t0));
            write_scores(ro.fp, &best_sc);
            fprintf(ro.fp, "}\n");
            ok = cli_output_close("finetune", &ro, 1);
        }
        if (bg)
            fprintf(stderr, "done: best BioASQ strict %.2f lenient %.2f MRR %.2f (epoch %d); model in %s\n", best_sc.strict,
                    best_sc.lenient, best_sc.mrr, best_epoch, best_dir);
        else
            fprintf(stderr, "done: best dev EM %.2f F1 %.2f (epoch %d); model in %s\n", best_sc.em, best_sc.f1, best_epoch, best_dir);
    } else {
        cli_error("finetune", "%s", msg);
    }
    if (log) fclose(log);
    for (int i = 0; i < nf; i++) free(fs[i].ids), free(fs[i].types);
    free(fs), free(order), free(seqs), free(lab);
    qa_free(&tr), qa_free(&dv);
    bioasq_free(&gold);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
