/* squad.c — QA data sets: the SQuAD JSON reader (v1.1 / 2.0, gzip or not),
 * answer alignment, the context-level dev split and the named presets.
 * The SubjQA CSV reader is in subjqa.c, the BioASQ golden file in
 * bioasq.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/qa_data.h"
#include "io/gzip.h"
#include "util/error.h"

/* 1 for the whitespace answer texts are trimmed of. */
static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t'; }

/* Put an answer at its text: 0 when the start was right, 1 when moved (the
 * text trimmed of surrounding whitespace, the occurrence nearest the given
 * start within 200 bytes), -1 when the text is not near. */
static int align_answer(const char *ctx, char *t, int *start) {
    size_t tl = strlen(t), full = tl, a = 0;
    while (a < tl && is_ws(t[a])) a++;
    while (tl > a && is_ws(t[tl - 1])) tl--;
    size_t b = bert_qa_cp_to_byte(ctx, *start), n = tl - a, cl = strlen(ctx);
    if (b + full <= cl && strncmp(ctx + b, t, full) == 0) return 0;
    if (n == 0) return -1;
    size_t lo = b > 200 ? b - 200 : 0, hi = b + 200 < cl ? b + 200 : cl, best = (size_t)-1, best_d = 0;
    for (size_t i = lo; i + n <= cl && i <= hi; i++) {
        size_t dist = i > b ? i - b : b - i;
        if (strncmp(ctx + i, t + a, n) == 0 && (best == (size_t)-1 || dist < best_d)) best = i, best_d = dist;
    }
    if (best == (size_t)-1) return -1;
    memmove(t, t + a, n), t[n] = '\0';
    *start = bert_qa_byte_to_cp(ctx, best);
    return 1;
}

/* One question object q (item named by where) into a new example of d. */
static bert_status read_question(const char *path, const char *where, const cJSON *q, const char *ctx, bert_qa_data *d,
                                 bert_error *err) {
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(q, "id");
    char idbuf[32];
    const char *id = cJSON_GetStringValue(idj); /* COVID-QA's ids are numbers */
    if (!id && cJSON_IsNumber(idj)) snprintf(idbuf, sizeof idbuf, "%.0f", idj->valuedouble), id = idbuf;
    const char *question = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "question"));
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(q, "answers");
    if (!id) return bert_fail(err, BERT_ERR_FORMAT, "%s: %s: no \"id\" (a string or a number)", path, where);
    if (!question) return bert_fail(err, BERT_ERR_FORMAT, "%s: %s (id %s): no \"question\" string", path, where, id);
    if (!cJSON_IsArray(ans)) return bert_fail(err, BERT_ERR_FORMAT, "%s: %s (id %s): no \"answers\" list", path, where, id);
    bert_qa_example *e = bert_qa_data_push(d);
    if (!e) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    int na = cJSON_GetArraySize(ans);
    e->id = strdup(id), e->question = strdup(question), e->context = strdup(ctx);
    e->answers = calloc((size_t)(na ? na : 1), sizeof *e->answers);
    e->starts = calloc((size_t)(na ? na : 1), sizeof *e->starts);
    if (!e->id || !e->question || !e->context || !e->answers || !e->starts)
        return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    for (const cJSON *a = ans->child; a; a = a->next) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "text"));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "answer_start");
        if (!t || !cJSON_IsNumber(st)) continue;
        if (!(st->valuedouble >= 0 && st->valuedouble <= 2147483647.0))
            return bert_fail(err, BERT_ERR_FORMAT, "%s: %s: answer_start %g is not a position in the context", path, where,
                             st->valuedouble);
        if (!(e->answers[e->n_answers] = strdup(t))) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
        e->starts[e->n_answers] = (int)st->valuedouble; /* Python string index = code points */
        int r = align_answer(ctx, e->answers[e->n_answers], &e->starts[e->n_answers]);
        d->moved += r > 0, d->unaligned += r < 0;
        e->n_answers++;
    }
    e->is_impossible = e->n_answers == 0 || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "is_impossible"));
    return BERT_OK;
}

/* The articles of a parsed SQuAD file into d. */
static bert_status read_articles(const char *path, const cJSON *data, int limit, bert_qa_data *d, bert_error *err) {
    int ai = 0;
    for (const cJSON *art = data->child; art; art = art->next, ai++) {
        const cJSON *paras = cJSON_GetObjectItemCaseSensitive(art, "paragraphs");
        if (!cJSON_IsArray(paras))
            return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d]: no \"paragraphs\" list", path, ai);
        int pi = 0;
        for (const cJSON *p = paras->child; p; p = p->next, pi++) {
            const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "context"));
            const cJSON *qas = cJSON_GetObjectItemCaseSensitive(p, "qas");
            if (!ctx) return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d].paragraphs[%d]: no \"context\" string", path, ai, pi);
            if (!cJSON_IsArray(qas))
                return bert_fail(err, BERT_ERR_FORMAT, "%s: data[%d].paragraphs[%d]: no \"qas\" list", path, ai, pi);
            int qi = 0;
            for (const cJSON *q = qas->child; q; q = q->next, qi++) {
                if (limit > 0 && d->n >= limit) return BERT_OK;
                char where[96];
                snprintf(where, sizeof where, "data[%d].paragraphs[%d].qas[%d]", ai, pi, qi);
                bert_status rc = read_question(path, where, q, ctx, d, err);
                if (rc != BERT_OK) return rc;
            }
        }
    }
    return BERT_OK;
}

/* The 1-based line of position pos in text. */
static long line_of(const char *text, const char *pos) {
    long line = 1;
    for (const char *c = text; c < pos && *c; c++) line += *c == '\n';
    return line;
}

bert_status bert_qa_data_read(const char *path, int limit, bert_qa_data *out, bert_error *err) {
    bert_error_clear(err);
    char *text;
    bert_status rc = bert_file_read_gz(path, 0, &text, NULL, err);
    if (rc != BERT_OK) return rc;
    size_t pl = strlen(path);
    if (pl > 4 && strcmp(path + pl - 4, ".csv") == 0) {
        rc = bert_qa_read_subjqa(path, text, limit, out, err);
        free(text);
        return rc;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: not valid JSON", path, end ? line_of(text, end) : 1L);
        free(text);
        return rc;
    }
    free(text);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    int before = out->n;
    if (!cJSON_IsArray(data)) rc = bert_fail(err, BERT_ERR_FORMAT, "%s: not SQuAD JSON (no \"data\" list)", path);
    else rc = read_articles(path, data, limit, out, err);
    cJSON_Delete(root);
    if (rc == BERT_OK && out->n == before) rc = bert_fail(err, BERT_ERR_INPUT, "%s: no questions", path);
    return rc;
}

/* FNV-1a of n bytes continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

bert_status bert_qa_data_split(bert_qa_data *all, double frac, uint64_t seed, bert_qa_data *dev, bert_error *err) {
    bert_error_clear(err);
    if (!(frac > 0 && frac < 1)) return bert_fail(err, BERT_ERR_INPUT, "the dev split must be in (0, 1), not %g", frac);
    int kept = 0;
    for (int i = 0; i < all->n; i++) {
        const char *ctx = all->v[i].context;
        uint64_t h = fnv1a(1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL), ctx, strlen(ctx));
        h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ULL, h ^= h >> 32;
        if ((double)(h >> 11) / 9007199254740992.0 < frac) {
            bert_qa_example *e = bert_qa_data_push(dev);
            if (!e) { /* keep every example in exactly one of the two sets */
                for (int j = i; j < all->n; j++) all->v[kept++] = all->v[j];
                all->n = kept;
                return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            }
            *e = all->v[i];
        } else {
            all->v[kept++] = all->v[i];
        }
    }
    all->n = kept;
    return BERT_OK;
}

static const bert_qa_preset presets[] = {
    {"squad", "squad_v1.1/train-v1.1.json.gz", "squad_v1.1/dev-v1.1.json.gz", NULL, 0},
    {"tydi", "tydiqa_goldp_en/english_tydiqa_train.json", "tydiqa_goldp_en/english_tydiqa_dev.json", NULL, 0},
    {"xquad", NULL, "xquad_en/xquad.en.json", NULL, 0},
    {"bioasq", "bioasq7b_squad/BioASQ-train-factoid-7b.json", "bioasq7b_squad/BioASQ-test-factoid-7b.json",
     "bioasq7b_squad/7B_golden.json", 0},
    {"covid_qa", "covid_qa/200423_covidQA.json", NULL, NULL, 0.1},
    {"subjqa", "subjqa/{domain}/train.csv", "subjqa/{domain}/dev.csv", NULL, 0},
    {NULL, NULL, NULL, NULL, 0},
};

const bert_qa_preset *bert_qa_presets(void) { return presets; }

const bert_qa_preset *bert_qa_preset_find(const char *name) {
    for (const bert_qa_preset *p = presets; name && p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

bert_status bert_qa_preset_path(const char *data_dir, const char *file, const char *subjqa_domain, char *buf,
                                size_t cap, bert_error *err) {
    bert_error_clear(err);
    const char *dom = strstr(file, "{domain}");
    if (!subjqa_domain) subjqa_domain = "electronics";
    int n = dom ? snprintf(buf, cap, "%s/%.*s%s%s", data_dir, (int)(dom - file), file, subjqa_domain, dom + 8)
                : snprintf(buf, cap, "%s/%s", data_dir, file);
    if (n < 0 || (size_t)n >= cap) return bert_fail(err, BERT_ERR_INPUT, "the path %s/%s is too long", data_dir, file);
    return BERT_OK;
}
