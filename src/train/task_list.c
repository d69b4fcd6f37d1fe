/* task_list.c — the tasks file of multi-task runs (see bert.h,
 * bert_task_list_read): every key checked for its type and range, strings
 * copied into the list, paths resolved against the file's directory. */
#include "train/task_list.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "util/error.h"

#define MAX_STRINGS (BERT_MAX_HEADS * 16)

struct bert_task_list {
    bert_multitask_task tasks[BERT_MAX_HEADS];
    int n;
    char *strings[MAX_STRINGS]; /* what the tasks point to */
    int n_strings;
};

/* Keep a copy of s (of n bytes) in the list. */
static const char *keep(bert_task_list *l, const char *s, size_t n, bert_error *err) {
    if (l->n_strings == MAX_STRINGS) return bert_fail(err, BERT_ERR_INPUT, "too many strings (a key given again and again?)"), NULL;
    char *c = malloc(n + 1);
    if (!c) return bert_fail(err, BERT_ERR_NOMEM, "out of memory"), NULL;
    memcpy(c, s, n), c[n] = 0;
    return l->strings[l->n_strings++] = c;
}

/* A path relative to base unless absolute. */
static const char *keep_path(bert_task_list *l, const char *base, const char *path, bert_error *err) {
    if (path[0] == '/' || !strcmp(base, ".")) return keep(l, path, strlen(path), err);
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s/%s", base, path);
    if (n < 0 || (size_t)n >= sizeof buf) return bert_fail(err, BERT_ERR_INPUT, "%s: path too long", path), NULL;
    return keep(l, buf, (size_t)n, err);
}

/* `labels`: an array of 1..100000 non-empty names without commas, into "a,b,c". */
static const char *keep_labels(bert_task_list *l, const cJSON *v, bert_error *err) {
    int n = cJSON_GetArraySize(v);
    size_t len = 0;
    if (n < 1 || n > 100000) return NULL;
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, ',')) return NULL;
        len += strlen(e->valuestring) + 1;
    }
    char *joined = malloc(len);
    if (!joined) return bert_fail(err, BERT_ERR_NOMEM, "out of memory"), NULL;
    size_t at = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        size_t k = strlen(e->valuestring);
        memcpy(joined + at, e->valuestring, k), at += k;
        joined[at++] = e->next ? ',' : 0;
    }
    const char *r = keep(l, joined, len - 1, err);
    free(joined);
    return r;
}

/* Index of s in names[0..n), or -1. */
static int one_of(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static const char *const str_keys[] = {"name", "preset", "train", "dev", "text_column", "pair_column", "label_column", "metric"};
static const char *const int_keys[] = {"batch_size", "max_seq_len", "max_train", "max_dev"};

/* One key of a task object into t; 0 with err set when it is not valid. */
static int set_key(bert_task_list *l, bert_multitask_task *t, const cJSON *v, const char *base, bert_error *err) {
    const char *key = v->string;
    bert_finetune_params *d = &t->data;
    static const char *const types[] = {"sequence", "token"}, *const problems[] = {"single_label", "multi_label", "regression"},
                             *const schemes[] = {"keep", "iob2"};
    int i;
    if ((i = one_of(key, str_keys, 8)) >= 0) {
        if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 4096) return 0;
        const char *s = i == 2 || i == 3 ? keep_path(l, base, v->valuestring, err) : keep(l, v->valuestring, strlen(v->valuestring), err);
        if (!s) return 0;
        const char **dst[] = {&t->name, &d->preset, &d->train_file, &d->dev_file, &d->text_column, &d->pair_column,
                              &d->label_column, &d->loop.metric};
        *dst[i] = s;
        if (i == 1) d->task = BERT_TASK_SEQUENCE; /* its type comes from the preset */
        return 1;
    }
    if ((i = one_of(key, int_keys, 4)) >= 0) {
        int lo = i == 1 ? 8 : 1, hi = i == 1 ? 65536 : i == 0 ? 65536 : INT_MAX;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != (int)v->valuedouble) return 0;
        int *dst[] = {&d->batch_size, &d->max_seq_len, &d->max_train, &d->max_dev};
        *dst[i] = (int)v->valuedouble;
        return 1;
    }
    if (!strcmp(key, "labels")) return cJSON_IsArray(v) && (d->labels = keep_labels(l, v, err)) != NULL;
    if (!strcmp(key, "loss_weight"))
        return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble <= 1e6 && (t->loss_weight = v->valuedouble, 1);
    if (!strcmp(key, "no_header") || !strcmp(key, "label_all_tokens")) {
        if (!cJSON_IsBool(v)) return 0;
        *(!strcmp(key, "no_header") ? &d->no_header : &d->label_all_tokens) = cJSON_IsTrue(v);
        return 1;
    }
    const char *const *set = !strcmp(key, "type") ? types : !strcmp(key, "problem") ? problems : !strcmp(key, "tag_scheme") ? schemes : NULL;
    int n = set == problems ? 3 : 2;
    if (!set) return bert_fail(err, BERT_ERR_INPUT, "unknown key"), 0;
    if (!cJSON_IsString(v) || (i = one_of(v->valuestring, set, n)) < 0) return 0;
    if (set == types) d->task = i ? BERT_TASK_TOKEN : BERT_TASK_SEQUENCE;
    else if (set == problems) d->train.problem = (bert_problem)i, d->problem_given = 1;
    else d->tag_scheme_iob2 = i;
    return 1;
}

static bert_status parse_task(bert_task_list *l, const cJSON *o, int k, const char *what, const char *base,
                              const bert_finetune_params *defaults, bert_error *err) {
    bert_multitask_task *t = &l->tasks[k];
    memset(t, 0, sizeof *t);
    t->data = *defaults;
    t->data.preset = NULL;
    if (!cJSON_IsObject(o)) return bert_fail(err, BERT_ERR_INPUT, "%s: task %d is not an object", what, k + 1);
    for (const cJSON *v = o->child; v; v = v->next) {
        bert_error e2;
        bert_error_clear(&e2);
        if (!set_key(l, t, v, base, &e2)) {
            if (e2.code == BERT_ERR_NOMEM) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            return bert_fail(err, BERT_ERR_INPUT, "%s: task %d: key \"%s\": %s", what, k + 1, v->string ? v->string : "",
                             e2.code ? e2.message : "wrong type or value");
        }
    }
    if (!t->data.preset && !(t->data.train_file && t->data.dev_file))
        return bert_fail(err, BERT_ERR_INPUT, "%s: task %d needs \"preset\", or \"train\" and \"dev\"", what, k + 1);
    if (!t->data.preset && !t->name) return bert_fail(err, BERT_ERR_INPUT, "%s: task %d needs a \"name\"", what, k + 1);
    return BERT_OK;
}

bert_status train_task_list_parse(const char *text, const char *what, const char *base_dir,
                                  const bert_finetune_params *defaults, bert_task_list **out, bert_error *err) {
    *out = NULL;
    cJSON *root = NULL;
    bert_status rc = bert_json_parse(text, what, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *arr = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "tasks") : root;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    bert_task_list *l = NULL;
    if (n < 1 || n > BERT_MAX_HEADS)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: wants a list of 1..%d tasks (or {\"tasks\": [...]})", what, BERT_MAX_HEADS);
    else if (!(l = calloc(1, sizeof *l)))
        rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (const cJSON *o = rc == BERT_OK ? arr->child : NULL; o && rc == BERT_OK; o = o->next, k++)
        rc = parse_task(l, o, k, what, base_dir, defaults, err);
    cJSON_Delete(root);
    if (rc != BERT_OK) {
        bert_task_list_free(l);
        return rc;
    }
    l->n = n;
    *out = l;
    return BERT_OK;
}

bert_status bert_task_list_read(const char *path, const bert_finetune_params *defaults, bert_task_list **out,
                                bert_error *err) {
    bert_error_clear(err);
    if (!path || !defaults || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_task_list_read: NULL argument");
    *out = NULL;
    char *text = NULL, base[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(base, sizeof base, ".");
    else if ((size_t)(slash - path) >= sizeof base) return bert_fail(err, BERT_ERR_INPUT, "%s: path too long", path);
    else snprintf(base, sizeof base, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    bert_status rc = bert_file_read_text(path, &text, NULL, err);
    if (rc == BERT_OK) rc = train_task_list_parse(text, path, base, defaults, out, err);
    free(text);
    return rc;
}

int bert_task_list_count(const bert_task_list *l) { return l ? l->n : 0; }
const bert_multitask_task *bert_task_list_tasks(const bert_task_list *l) { return l ? l->tasks : NULL; }

void bert_task_list_free(bert_task_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n_strings; i++) free(l->strings[i]);
    free(l);
}
