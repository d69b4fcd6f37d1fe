/* finetune_data.c — see finetune_data.h. GLUE TSVs have no quoting: split
 * on tabs only (bare '"' occurs in MRPC and SST-2); MRPC starts with a
 * UTF-8 byte-order mark. */
#include "cli/finetune_data.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ft_preset presets[] = {
    {"sst2", "SST-2", "train.tsv", "dev.tsv", {"sentence", NULL, "label", 1}, BERT_PROBLEM_SINGLE_LABEL, "accuracy"},
    {"cola", "CoLA", "train.tsv", "dev.tsv", {"3", NULL, "1", 0}, BERT_PROBLEM_SINGLE_LABEL, "mcc"},
    {"mrpc", "MRPC", "train.tsv", "dev.tsv", {"3", "4", "0", 1}, BERT_PROBLEM_SINGLE_LABEL, "f1"},
    {"rte", "RTE", "train.tsv", "dev.tsv", {"sentence1", "sentence2", "label", 1}, BERT_PROBLEM_SINGLE_LABEL, "accuracy"},
    {"stsb", "STS-B", "train.tsv", "dev.tsv", {"7", "8", "9", 1}, BERT_PROBLEM_REGRESSION, "pearson"},
    {"wnli", "WNLI", "train.tsv", "dev.tsv", {"sentence1", "sentence2", "label", 1}, BERT_PROBLEM_SINGLE_LABEL, "accuracy"},
};

const ft_preset *ft_preset_find(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

void ft_free(ft_examples *e) {
    for (int i = 0; i < e->n; i++) free(e->v[i].text), free(e->v[i].pair), free(e->v[i].label);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

static int push(ft_examples *e, const char *text, const char *pair, const char *label, long line) {
    if ((e->n & (e->n - 1)) == 0) { /* grow at powers of two */
        ft_example *v = realloc(e->v, sizeof *v * (size_t)(e->n ? 2 * e->n : 1));
        if (!v) return 0;
        e->v = v;
    }
    ft_example *v = e->v;
    ft_example *x = &v[e->n++];
    x->text = strdup(text);
    x->pair = pair ? strdup(pair) : NULL;
    x->label = strdup(label);
    x->line = line;
    return x->text && x->label && (!pair || x->pair);
}

/* Split line (modified in place) on tabs into fields; returns the count. */
static int split_tabs(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') *p = '\0', f[n++] = p + 1;
    return n;
}

static int column_index(const char *spec, char **header, int n_header) {
    char *end;
    long v = strtol(spec, &end, 10);
    if (*spec && !*end) return (int)v;
    for (int i = 0; header && i < n_header; i++)
        if (strcmp(header[i], spec) == 0) return i;
    return -1;
}

static int read_jsonl(FILE *f, const char *path, const ft_columns *c, ft_examples *out, char *msg, size_t cap) {
    char *line = NULL;
    size_t lc = 0;
    long no = 0;
    int ok = 1;
    while (ok && getline(&line, &lc, f) != -1) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, c->text) : NULL;
        const cJSON *p = o && c->pair ? cJSON_GetObjectItemCaseSensitive(o, c->pair) : NULL;
        const cJSON *l = o ? cJSON_GetObjectItemCaseSensitive(o, c->label) : NULL;
        char num[64];
        const char *label = cJSON_IsString(l) ? l->valuestring : NULL;
        if (cJSON_IsNumber(l)) snprintf(num, sizeof num, "%.17g", l->valuedouble), label = num;
        if (!o) snprintf(msg, cap, "%s:%ld: not a JSON object", path, no), ok = 0;
        else if (!cJSON_IsString(t) || !label || (c->pair && !cJSON_IsString(p)))
            snprintf(msg, cap, "%s:%ld: needs string \"%s\"%s%s%s and a \"%s\"", path, no, c->text, c->pair ? ", \"" : "",
                     c->pair ? c->pair : "", c->pair ? "\"" : "", c->label),
                ok = 0;
        else if (!push(out, t->valuestring, c->pair ? p->valuestring : NULL, label, no))
            snprintf(msg, cap, "out of memory"), ok = 0;
        cJSON_Delete(o);
    }
    free(line);
    return ok;
}

static int read_tsv(FILE *f, const char *path, const ft_columns *c, ft_examples *out, char *msg, size_t cap) {
    char *line = NULL, *hdr = NULL, *hf[64], *f2[64];
    size_t lc = 0;
    long no = 0;
    int nh = 0, ti = -1, pi = -1, li = -1, ok = 1, need = 0;
    while (ok && getline(&line, &lc, f) != -1) {
        no++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *s = line;
        if (no == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
        if (no == 1) {
            if (c->header) {
                hdr = strdup(s);
                nh = split_tabs(hdr, hf, 64);
            }
            ti = column_index(c->text, c->header ? hf : NULL, nh);
            pi = c->pair ? column_index(c->pair, c->header ? hf : NULL, nh) : -1;
            li = column_index(c->label, c->header ? hf : NULL, nh);
            if (ti < 0 || li < 0 || (c->pair && pi < 0)) {
                snprintf(msg, cap, "%s: no column '%s'", path, ti < 0 ? c->text : li < 0 ? c->label : c->pair);
                ok = 0;
                break;
            }
            need = ti > li ? ti : li;
            if (pi > need) need = pi;
            if (c->header) continue;
        }
        if (!*s) continue;
        int n = split_tabs(s, f2, 64);
        if (n <= need) {
            snprintf(msg, cap, "%s:%ld: %d columns, need at least %d", path, no, n, need + 1);
            ok = 0;
        } else if (!push(out, f2[ti], pi >= 0 ? f2[pi] : NULL, f2[li], no)) {
            snprintf(msg, cap, "out of memory");
            ok = 0;
        }
    }
    free(line);
    free(hdr);
    return ok;
}

int ft_read(const char *path, const ft_columns *cols, ft_examples *out, char *msg, size_t cap) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    size_t n = strlen(path);
    int ok = n > 6 && strcmp(path + n - 6, ".jsonl") == 0 ? read_jsonl(f, path, cols, out, msg, cap)
                                                           : read_tsv(f, path, cols, out, msg, cap);
    fclose(f);
    if (ok && out->n == 0) snprintf(msg, cap, "%s: no examples", path), ok = 0;
    if (!ok) ft_free(out);
    return ok;
}
