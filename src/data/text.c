/* text.c — text classification examples from TSV or JSONL, and the GLUE
 * presets (see bert.h, "Data sets: text classification examples").
 *
 * GLUE TSVs have no quoting: lines are split on tabs only (bare '"' occurs
 * in MRPC and SST-2); MRPC starts with a UTF-8 byte-order mark. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "util/error.h"

#define MAX_FIELDS 64

static const bert_glue_preset presets[] = {
    {"sst2", "glue/SST-2", "train.tsv", "dev.tsv", {"sentence", NULL, "label", 1}, BERT_PROBLEM_SINGLE_LABEL, "accuracy"},
    {"cola", "glue/CoLA", "train.tsv", "dev.tsv", {"3", NULL, "1", 0}, BERT_PROBLEM_SINGLE_LABEL, "mcc"},
    {"mrpc", "glue/MRPC", "train.tsv", "dev.tsv", {"3", "4", "0", 1}, BERT_PROBLEM_SINGLE_LABEL, "f1"},
    {"rte", "glue/RTE", "train.tsv", "dev.tsv", {"sentence1", "sentence2", "label", 1}, BERT_PROBLEM_SINGLE_LABEL,
     "accuracy"},
    {"stsb", "glue/STS-B", "train.tsv", "dev.tsv", {"7", "8", "9", 1}, BERT_PROBLEM_REGRESSION, "pearson"},
    {"wnli", "glue/WNLI", "train.tsv", "dev.tsv", {"sentence1", "sentence2", "label", 1}, BERT_PROBLEM_SINGLE_LABEL,
     "accuracy"},
    {NULL, NULL, NULL, NULL, {NULL, NULL, NULL, 0}, BERT_PROBLEM_SINGLE_LABEL, NULL},
};

/* The GLUE presets, NULL-name terminated. */
const bert_glue_preset *bert_glue_presets(void) { return presets; }

/* The preset called name, or NULL (also for a NULL name). */
const bert_glue_preset *bert_glue_preset_find(const char *name) {
    for (const bert_glue_preset *p = presets; name && p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

/* Free every example's strings and the array; e is left empty. */
void bert_text_examples_free(bert_text_examples *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) free(e->v[i].text), free(e->v[i].pair), free(e->v[i].label);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

/* Append copies of text, pair (may be NULL) and label; BERT_ERR_NOMEM when
 * an allocation fails (the example is then not kept). */
static bert_status push(bert_text_examples *e, const char *text, const char *pair, const char *label, long line,
                        bert_error *err) {
    if ((e->n & (e->n - 1)) == 0) { /* grow at powers of two */
        bert_text_example *v = realloc(e->v, sizeof *v * (size_t)(e->n ? 2 * e->n : 1));
        if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        e->v = v;
    }
    bert_text_example x = {strdup(text), pair ? strdup(pair) : NULL, strdup(label), line};
    if (!x.text || !x.label || (pair && !x.pair)) {
        free(x.text), free(x.pair), free(x.label);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    e->v[e->n++] = x;
    return BERT_OK;
}

/* Split line (modified in place) on tabs into at most max fields; returns
 * the count. */
static int split_tabs(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') *p = '\0', f[n++] = p + 1;
    return n;
}

/* The column `spec` names: a number is the index itself, else the header
 * field of that name; -1 when there is none. */
static int column_index(const char *spec, char **header, int n_header) {
    char *end;
    long v = strtol(spec, &end, 10);
    if (*spec && !*end) return v >= 0 && v < MAX_FIELDS ? (int)v : -1;
    for (int i = 0; header && i < n_header; i++)
        if (strcmp(header[i], spec) == 0) return i;
    return -1;
}

/* One JSONL line's example, or an error naming path:no. */
static bert_status jsonl_example(const char *line, const char *path, long no, const bert_text_columns *c,
                                 bert_text_examples *out, bert_error *err) {
    cJSON *o = cJSON_Parse(line);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: not a JSON object", path, no);
    }
    const char *pair_name = c->pair ? c->pair : "text_pair";
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, c->text);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, pair_name);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, c->label);
    char num[64];
    const char *label = cJSON_IsString(l) ? l->valuestring : NULL;
    if (cJSON_IsNumber(l)) snprintf(num, sizeof num, "%.17g", l->valuedouble), label = num;
    bert_status rc = BERT_OK;
    if (!cJSON_IsString(t) || !label || (c->pair && !cJSON_IsString(p)))
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: needs string \"%s\"%s%s%s and a \"%s\"", path, no, c->text,
                       c->pair ? ", \"" : "", c->pair ? c->pair : "", c->pair ? "\"" : "", c->label);
    else if (!c->pair && p && !cJSON_IsString(p) && !cJSON_IsNull(p))
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: \"%s\" must be a string", path, no, pair_name);
    else
        rc = push(out, t->valuestring, cJSON_IsString(p) ? p->valuestring : NULL, label, no, err);
    cJSON_Delete(o);
    return rc;
}

/* JSONL: one object a line; blank lines are skipped. */
static bert_status read_jsonl(FILE *f, const char *path, const bert_text_columns *c, bert_text_examples *out,
                              bert_error *err) {
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    bert_status rc = BERT_OK;
    while (rc == BERT_OK && getline(&line, &cap, f) != -1) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        rc = jsonl_example(line, path, no, c, out, err);
    }
    free(line);
    return rc;
}

/* The text, pair and label column indices from the first line s (which is
 * split in place when it is a header); *need = the largest index. */
static bert_status tsv_columns(char *s, const char *path, const bert_text_columns *c, int idx[3], int *need,
                               bert_error *err) {
    char *hf[MAX_FIELDS];
    int nh = c->header ? split_tabs(s, hf, MAX_FIELDS) : 0;
    char **h = c->header ? hf : NULL;
    idx[0] = column_index(c->text, h, nh);
    idx[1] = c->pair ? column_index(c->pair, h, nh) : -1;
    idx[2] = column_index(c->label, h, nh);
    if (idx[0] < 0 || idx[2] < 0 || (c->pair && idx[1] < 0))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: no column '%s'", path,
                         idx[0] < 0 ? c->text : idx[2] < 0 ? c->label : c->pair);
    *need = idx[0] > idx[2] ? idx[0] : idx[2];
    if (idx[1] > *need) *need = idx[1];
    return BERT_OK;
}

/* TSV: columns by header name or number; blank lines are skipped. */
static bert_status read_tsv(FILE *f, const char *path, const bert_text_columns *c, bert_text_examples *out,
                            bert_error *err) {
    char *line = NULL, *fields[MAX_FIELDS];
    size_t cap = 0;
    long no = 0;
    int idx[3] = {-1, -1, -1}, need = 0;
    bert_status rc = BERT_OK;
    while (rc == BERT_OK && getline(&line, &cap, f) != -1) {
        no++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *s = line;
        if (no == 1 && len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3;
        if (no == 1) {
            rc = tsv_columns(s, path, c, idx, &need, err);
            if (rc != BERT_OK || c->header) continue;
        }
        if (!*s) continue;
        int n = split_tabs(s, fields, MAX_FIELDS);
        if (n <= need)
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: %d columns, need at least %d", path, no, n, need + 1);
        else
            rc = push(out, fields[idx[0]], idx[1] >= 0 ? fields[idx[1]] : NULL, fields[idx[2]], no, err);
    }
    free(line);
    return rc;
}

/* Read path as JSONL (".jsonl") or TSV; see bert.h. */
bert_status bert_text_examples_read(const char *path, const bert_text_columns *cols, bert_text_examples *out,
                                    bert_error *err) {
    static const bert_text_columns defaults = {"text", NULL, "label", 1};
    const bert_text_columns *c = cols ? cols : &defaults;
    memset(out, 0, sizeof *out);
    if (!path) return bert_fail(err, BERT_ERR_INPUT, "no file given");
    if (!c->text || !c->label) return bert_fail(err, BERT_ERR_INPUT, "the text and label columns must be named");
    FILE *f = fopen(path, "r");
    if (!f) return bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = strlen(path);
    bert_status rc = n > 6 && strcmp(path + n - 6, ".jsonl") == 0 ? read_jsonl(f, path, c, out, err)
                                                                   : read_tsv(f, path, c, out, err);
    if (rc == BERT_OK && ferror(f)) rc = bert_fail(err, BERT_ERR_IO, "%s: read error", path);
    fclose(f);
    if (rc == BERT_OK && out->n == 0) rc = bert_fail(err, BERT_ERR_INPUT, "%s: no examples", path);
    if (rc != BERT_OK) bert_text_examples_free(out);
    return rc;
}
