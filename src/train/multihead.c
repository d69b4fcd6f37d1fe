/* multihead.c — a multi-task trainer's heads: one classifier per task on
 * the shared encoder (and the shared pooler for sequence tasks).
 *
 * Head 0's classifier is the model's own (it is created where the
 * single-task trainer would create it, from the same RNG draws); heads 1..
 * follow it in the parameter block. Selecting a head points the model's
 * classifier at it and gives the trainer its task, labels and problem, so
 * the training pass (heads.c), the evaluation (eval.c) and the saved
 * directories (checkpoint.c) work on whichever head is selected. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "train/trainer.h"
#include "util/error.h"

static const char *const task_names[] = {"sequence", "token"};
static const char *const problem_names[] = {"single_label_classification", "multi_label_classification", "regression"};

static int head_labels(const train_head *h) {
    return h->task == BERT_TASK_SEQUENCE && h->problem == BERT_PROBLEM_REGRESSION ? 1 : h->num_labels;
}

int train_head_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

static bert_status check_spec(const bert_head_spec *specs, int k, bert_error *err) {
    const bert_head_spec *h = &specs[k];
    if (!train_head_name_ok(h->name))
        return bert_fail(err, BERT_ERR_INPUT, "head %d: name '%s' must be 1..64 of A-Z a-z 0-9 _ . - (not starting with '.')",
                         k, h->name ? h->name : "");
    for (int j = 0; j < k; j++)
        if (strcmp(specs[j].name, h->name) == 0) return bert_fail(err, BERT_ERR_INPUT, "head name '%s' given twice", h->name);
    if (h->task != BERT_TASK_SEQUENCE && h->task != BERT_TASK_TOKEN)
        return bert_fail(err, BERT_ERR_INPUT, "head '%s': a multi-task head is a sequence or token task", h->name);
    if ((unsigned)h->problem > BERT_PROBLEM_REGRESSION || h->num_labels < 1 || h->num_labels > 100000)
        return bert_fail(err, BERT_ERR_INPUT, "head '%s': unknown problem type or num_labels %d outside 1..100000", h->name,
                         h->num_labels);
    for (int i = 0; h->labels && i < h->num_labels; i++)
        if (!h->labels[i]) return bert_fail(err, BERT_ERR_INPUT, "head '%s': label %d is NULL", h->name, i);
    if (!(h->loss_weight >= 0 && h->loss_weight <= 1e6))
        return bert_fail(err, BERT_ERR_INPUT, "head '%s': loss weight must be in [0, 1e6]", h->name);
    return BERT_OK;
}

static bert_status copy_spec(train_head *d, const bert_head_spec *h, bert_error *err) {
    d->name = strdup(h->name);
    d->task = h->task, d->problem = h->problem, d->num_labels = h->num_labels;
    d->loss_weight = h->loss_weight > 0 ? h->loss_weight : 1.0;
    int ok = d->name != NULL;
    if (ok && h->labels) {
        ok = (d->labels = calloc((size_t)h->num_labels, sizeof *d->labels)) != NULL;
        for (int i = 0; ok && i < h->num_labels; i++) ok = (d->labels[i] = strdup(h->labels[i])) != NULL;
    }
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

void train_heads_use(bert_trainer *t, int k) {
    const train_head *h = &t->heads[k];
    t->p.task = h->task, t->p.problem = h->problem, t->p.num_labels = h->num_labels;
    t->p.labels = (const char *const *)h->labels;
}

bert_status train_heads_init(bert_trainer *t, const bert_train_params *params, bert_error *err) {
    t->p.heads = NULL, t->p.n_heads = 0; /* the trainer keeps its own copy */
    int n = params ? params->n_heads : 0;
    if (n == 0) return BERT_OK;
    if (n < 0 || n > BERT_MAX_HEADS || !params->heads)
        return bert_fail(err, BERT_ERR_INPUT, "a multi-task trainer takes 1..%d heads", BERT_MAX_HEADS);
    for (int k = 0; k < n; k++) {
        bert_status rc = check_spec(params->heads, k, err);
        if (rc != BERT_OK) return rc;
    }
    if (!(t->heads = calloc((size_t)n, sizeof *t->heads))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->n_heads = n;
    for (int k = 0; k < n; k++) {
        bert_status rc = copy_spec(&t->heads[k], &params->heads[k], err);
        if (rc != BERT_OK) return rc;
    }
    train_heads_use(t, 0);
    return BERT_OK;
}

bert_status train_heads_requests(bert_trainer *t, bert_weight_list *list, int hidden, bert_error *err) {
    for (int k = 1; k < t->n_heads; k++) {
        if (list->n + 2 > list->cap) {
            int cap = list->cap + 2 * t->n_heads;
            bert_weight_req *v = realloc(list->v, (size_t)cap * sizeof *v);
            if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            list->v = v, list->cap = cap;
        }
        int64_t L = head_labels(&t->heads[k]);
        list->v[list->n++] = (bert_weight_req){"classifier.weight", &t->heads[k].w, L, hidden, BERT_HEAD_CLASSIFIER, 0};
        list->v[list->n++] = (bert_weight_req){"classifier.bias", &t->heads[k].b, L, 0, BERT_HEAD_CLASSIFIER, 0};
    }
    return BERT_OK;
}

void train_heads_bind(bert_trainer *t) {
    if (!t->n_heads) return;
    t->heads[0].w = t->model->w.classifier.w, t->heads[0].b = t->model->w.classifier.b;
    for (int i = 0; i < t->n_tensors; i++) {
        train_tensor *tt = &t->tensors[i];
        const float *at = t->params + tt->offset;
        tt->group = strncmp(tt->name, "bert.pooler.", 12) == 0;
        for (int k = 0; k < t->n_heads; k++)
            if (at == t->heads[k].w || at == t->heads[k].b) {
                /* "HEAD/" in front: a name is at most 64 bytes, so this fits */
                size_t ln = strlen(t->heads[k].name), lt = strlen(tt->name);
                if (ln + 1 + lt < sizeof tt->name) {
                    memmove(tt->name + ln + 1, tt->name, lt + 1);
                    memcpy(tt->name, t->heads[k].name, ln);
                    tt->name[ln] = '/';
                }
                tt->group = 2 + k;
            }
    }
}

void train_heads_touch(bert_trainer *t) {
    if (!t->n_heads) return;
    t->heads[t->cur].touched = 1;
    if (t->heads[t->cur].task == BERT_TASK_SEQUENCE) t->pooler_touched = 1;
}

void train_heads_groups(const bert_trainer *t, unsigned char *on, long *step) {
    on[0] = 1, step[0] = t->step + 1;
    on[1] = (unsigned char)t->pooler_touched, step[1] = t->pooler_steps + 1;
    for (int k = 0; k < t->n_heads; k++) on[2 + k] = (unsigned char)t->heads[k].touched, step[2 + k] = t->heads[k].steps + 1;
}

void train_heads_stepped(bert_trainer *t) {
    for (int k = 0; k < t->n_heads; k++) t->heads[k].steps += t->heads[k].touched, t->heads[k].touched = 0;
    t->pooler_steps += t->pooler_touched, t->pooler_touched = 0;
}

void train_heads_free(bert_trainer *t) {
    for (int k = 0; k < t->n_heads; k++) {
        free(t->heads[k].name);
        for (int i = 0; t->heads[k].labels && i < t->heads[k].num_labels; i++) free(t->heads[k].labels[i]);
        free(t->heads[k].labels);
    }
    free(t->heads);
    t->heads = NULL, t->n_heads = 0;
}

int bert_trainer_n_heads(const bert_trainer *t) { return t ? t->n_heads : 0; }

bert_status train_heads_write_specs(const bert_trainer *t, const char *dir, bert_error *err) {
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "heads");
    for (int k = 0; k < t->n_heads; k++) {
        const train_head *h = &t->heads[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", h->name);
        cJSON_AddStringToObject(e, "task", task_names[h->task == BERT_TASK_TOKEN]);
        if (h->task == BERT_TASK_SEQUENCE) cJSON_AddStringToObject(e, "problem_type", problem_names[h->problem]);
        cJSON_AddNumberToObject(e, "num_labels", head_labels(h));
        cJSON *labels = h->labels ? cJSON_AddArrayToObject(e, "labels") : NULL;
        for (int i = 0; labels && i < h->num_labels; i++) cJSON_AddItemToArray(labels, cJSON_CreateString(h->labels[i]));
        cJSON_AddNumberToObject(e, "loss_weight", h->loss_weight);
        cJSON_AddItemToArray(arr, e);
    }
    char *text = cJSON_Print(o), path[PATH_MAX];
    cJSON_Delete(o);
    bert_status rc = text ? bert_path_join(path, sizeof path, dir, "heads.json", err)
                          : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

bert_status train_heads_check_specs(const bert_trainer *t, const char *dir, bert_error *err) {
    char path[PATH_MAX];
    cJSON *o = NULL;
    bert_status rc = bert_path_join(path, sizeof path, dir, "heads.json", err);
    if (rc == BERT_OK) rc = bert_json_load_file(path, &o, err);
    if (rc != BERT_OK) return rc;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "heads");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n != t->n_heads)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: the checkpoint has %d heads; this run has %d", path, n, t->n_heads);
    for (int k = 0; rc == BERT_OK && k < n; k++) {
        const cJSON *e = cJSON_GetArrayItem(arr, k), *name = cJSON_GetObjectItemCaseSensitive(e, "name"),
                    *task = cJSON_GetObjectItemCaseSensitive(e, "task"), *nl = cJSON_GetObjectItemCaseSensitive(e, "num_labels"),
                    *pt = cJSON_GetObjectItemCaseSensitive(e, "problem_type"), *labels = cJSON_GetObjectItemCaseSensitive(e, "labels");
        const train_head *h = &t->heads[k];
        int same_labels = !labels == !h->labels && (!labels || cJSON_GetArraySize(labels) == h->num_labels);
        for (int i = 0; same_labels && labels && i < h->num_labels; i++) {
            const cJSON *l = cJSON_GetArrayItem(labels, i);
            same_labels = cJSON_IsString(l) && strcmp(l->valuestring, h->labels[i]) == 0;
        }
        int same_problem = h->task != BERT_TASK_SEQUENCE || (cJSON_IsString(pt) && strcmp(pt->valuestring, problem_names[h->problem]) == 0);
        if (!cJSON_IsString(name) || strcmp(name->valuestring, h->name) != 0 || !cJSON_IsString(task) ||
            strcmp(task->valuestring, task_names[h->task == BERT_TASK_TOKEN]) != 0 || !cJSON_IsNumber(nl) ||
            nl->valuedouble != head_labels(h) || !same_labels || !same_problem)
            rc = bert_fail(err, BERT_ERR_INPUT, "%s: head %d is not this run's '%s' (%s, %d labels, their names and problem type)",
                           path, k, h->name, task_names[h->task == BERT_TASK_TOKEN], head_labels(h));
    }
    cJSON_Delete(o);
    return rc;
}
