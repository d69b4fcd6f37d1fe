/* task_sequence.c — the sequence task type of bert_finetune: single-label
 * classification, multi-label classification and regression of one text or
 * a pair of texts (GLUE presets, or TSV / JSONL files).
 *
 * The data: examples read with bert_text_examples_read, labels mapped to
 * floats (class id, 0/1 per label, or the value), texts tokenized with
 * longest_first truncation to max_seq_len. The scoring: bert_trainer_eval
 * in batches of batch_size; single-label reports loss, accuracy, f1 (of
 * the label "1", else class 1) and mcc; multi-label loss, accuracy (exact
 * match) and micro f1 (logit > 0); regression loss, pearson and spearman. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/notice.h"
#include "util/clock.h"
#include "io/file.h"
#include "train/task.h"
#include "util/error.h"

/* Examples as token ids and label floats. */
typedef struct {
    int n, L;              /* examples; label floats each                     */
    int32_t *ids, *types;  /* the tokens of all examples back to back         */
    size_t *start;         /* [n] each example's first token                  */
    int *len;              /* [n] its token count                             */
    float *labels;         /* [n x L]                                         */
    size_t n_tokens, cap;  /* tokens held; room for                           */
} seq_set;

typedef struct {
    seq_set train, dev, test;
    char **labels;                 /* [n_labels] the class names (none for regression) */
    int n_labels, positive;        /* positive: the class binary f1 scores               */
    bert_problem problem;
    int batch, eval_only;
    const char *metric;            /* the metric that picks the best model ("" = none)   */
    bert_train_params tp;          /* for scoring saved models                            */
    char train_path[4096], dev_path[4096], test_path[4096];
} seq_state;

/* The metrics of each problem type, in the order they are reported. */
static const char *const single_metrics[] = {"loss", "accuracy", "f1", "mcc", NULL};
static const char *const multi_metrics[] = {"loss", "accuracy", "f1", NULL};
static const char *const regression_metrics[] = {"loss", "pearson", "spearman", NULL};

/* The metric names problem type p reports, NULL-terminated. */
static const char *const *problem_metrics(bert_problem p) {
    return p == BERT_PROBLEM_REGRESSION ? regression_metrics : p == BERT_PROBLEM_MULTI_LABEL ? multi_metrics
                                                                                             : single_metrics;
}

/* "single_label", "multi_label" or "regression". */
static const char *problem_name(bert_problem p) {
    return p == BERT_PROBLEM_REGRESSION ? "regression" : p == BERT_PROBLEM_MULTI_LABEL ? "multi_label" : "single_label";
}

/* Free a set's arrays; s is left empty. */
static void set_free(seq_set *s) {
    free(s->ids), free(s->types), free(s->start), free(s->len), free(s->labels);
    memset(s, 0, sizeof *s);
}

/* Free the names of the label list and the list. */
static void labels_free(char **labels, int n) {
    for (int i = 0; labels && i < n; i++) free(labels[i]);
    free(labels);
}

/* The class of label `name` (the last one of that name), or -1. */
static int label_id(const seq_state *st, const char *name) {
    int id = -1;
    for (int k = 0; k < st->n_labels; k++)
        if (strcmp(st->labels[k], name) == 0) id = k;
    return id;
}

/* Example e's label floats into out[0..L): the class id, 0/1 per label of
 * "a,b" (multi-label), or the number (regression). */
static bert_status example_label(const seq_state *st, const bert_text_example *e, const char *path, float *out,
                                 bert_error *err) {
    if (st->problem == BERT_PROBLEM_REGRESSION) {
        char *end;
        out[0] = strtof(e->label, &end);
        if (end == e->label || *end)
            return bert_fail(err, BERT_ERR_INPUT, "%s:%ld: label '%s' is not a number", path, e->line, e->label);
        return BERT_OK;
    }
    if (st->problem == BERT_PROBLEM_SINGLE_LABEL) {
        int id = label_id(st, e->label);
        if (id < 0) return bert_fail(err, BERT_ERR_INPUT, "%s:%ld: unknown label '%s'", path, e->line, e->label);
        out[0] = (float)id;
        return BERT_OK;
    }
    char *copy = strdup(e->label), *save = NULL;
    if (!copy) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    for (char *tk = strtok_r(copy, ",", &save); tk && rc == BERT_OK; tk = strtok_r(NULL, ",", &save)) {
        int id = label_id(st, tk);
        if (id < 0) rc = bert_fail(err, BERT_ERR_INPUT, "%s:%ld: unknown label '%s'", path, e->line, tk);
        else out[id] = 1.0f;
    }
    free(copy);
    return rc;
}

/* Append one encoding's tokens to s as example i. */
static bert_status set_tokens(seq_set *s, int i, const bert_encoding *x, bert_error *err) {
    size_t need = s->n_tokens + (size_t)x->n_tokens;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < need) cap *= 2;
        int32_t *ids = realloc(s->ids, sizeof *ids * cap);
        if (ids) s->ids = ids;
        int32_t *types = ids ? realloc(s->types, sizeof *types * cap) : NULL;
        if (types) s->types = types;
        if (!ids || !types) return bert_fail(err, BERT_ERR_NOMEM, "out of memory for the token ids");
        s->cap = cap;
    }
    memcpy(s->ids + s->n_tokens, x->input_ids, sizeof(int32_t) * (size_t)x->n_tokens);
    memcpy(s->types + s->n_tokens, x->token_type_ids, sizeof(int32_t) * (size_t)x->n_tokens);
    s->start[i] = s->n_tokens, s->len[i] = x->n_tokens;
    s->n_tokens = need;
    return BERT_OK;
}

/* The first `limit` examples (all when limit <= 0) as token ids and labels. */
static bert_status build_set(const seq_state *st, const bert_tokenizer *tok, const bert_text_examples *ex, int limit,
                             int max_len, const char *path, seq_set *s, bert_error *err) {
    int n = limit > 0 && limit < ex->n ? limit : ex->n;
    s->n = n;
    s->L = st->problem == BERT_PROBLEM_MULTI_LABEL ? st->n_labels : 1;
    s->start = calloc((size_t)n, sizeof *s->start);
    s->len = calloc((size_t)n, sizeof *s->len);
    s->labels = calloc((size_t)n * (size_t)s->L, sizeof *s->labels);
    if (!s->start || !s->len || !s->labels) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
    ep.max_length = max_len;
    for (int i = 0; i < n; i++) {
        const bert_text_example *e = &ex->v[i];
        bert_status rc = example_label(st, e, path, s->labels + (size_t)i * s->L, err);
        if (rc != BERT_OK) return rc;
        bert_encodings es;
        if (bert_tokenize(tok, e->text, -1, e->pair, -1, &ep, &es, err) != BERT_OK)
            return bert_error_prefix(err, "%s:%ld", path, e->line);
        rc = set_tokens(s, i, &es.encodings[0], err);
        bert_encodings_free(&es);
        if (rc != BERT_OK) return rc;
    }
    return BERT_OK;
}

/* qsort order of C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Append a copy of name to the label list (unless unique is set and the
 * list has it). */
static bert_status add_label(seq_state *st, int *cap, const char *name, int unique, bert_error *err) {
    if (unique && label_id(st, name) >= 0) return BERT_OK;
    if (st->n_labels == *cap) {
        int c = *cap ? 2 * *cap : 8;
        char **g = realloc(st->labels, sizeof *g * (size_t)c);
        if (!g) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        st->labels = g, *cap = c;
    }
    if (!(st->labels[st->n_labels] = strdup(name))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    st->n_labels++;
    return BERT_OK;
}

/* The label list: csv ("a,b,c") as given, else the sorted distinct labels
 * of train (every name of "a,b" for multi-label). */
static bert_status collect_labels(seq_state *st, const char *csv, const bert_text_examples *train, bert_error *err) {
    int cap = 0, n_items = csv ? 1 : train->n;
    bert_status rc = BERT_OK;
    for (int i = 0; rc == BERT_OK && i < n_items; i++) {
        int split = csv || st->problem == BERT_PROBLEM_MULTI_LABEL;
        char *copy = strdup(csv ? csv : train->v[i].label), *save = NULL;
        if (!copy) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        for (char *tk = split ? strtok_r(copy, ",", &save) : copy; tk && rc == BERT_OK;
             tk = split ? strtok_r(NULL, ",", &save) : NULL)
            rc = add_label(st, &cap, tk, !csv, err);
        free(copy);
    }
    if (rc == BERT_OK && !csv) qsort(st->labels, (size_t)st->n_labels, sizeof *st->labels, cmp_str);
    return rc;
}

/* eval_only without a label list: the classes (and, when the caller and
 * the preset leave it open, the problem type) of the model in dir. */
static bert_status model_labels(seq_state *st, const char *dir, int problem_known, bert_error *err) {
    bert_model_params mp = bert_model_default_params();
    mp.pack_weights = 0;
    bert_model *m = NULL;
    bert_status rc = bert_model_load(dir, &mp, &m, err);
    if (rc != BERT_OK) return rc;
    const bert_config *c = bert_model_config(m);
    if (!problem_known && strcmp(c->problem_type, "regression") == 0) st->problem = BERT_PROBLEM_REGRESSION;
    if (!problem_known && strcmp(c->problem_type, "multi_label_classification") == 0)
        st->problem = BERT_PROBLEM_MULTI_LABEL;
    int cap = 0;
    if (st->problem != BERT_PROBLEM_REGRESSION && c->num_labels < 1)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s/config.json has no labels (id2label): give the label list", dir);
    for (int i = 0; rc == BERT_OK && st->problem != BERT_PROBLEM_REGRESSION && i < c->num_labels; i++) {
        const char *name = bert_model_label(m, i);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "LABEL_%d", i);
        rc = add_label(st, &cap, name ? name : fallback, 0, err);
    }
    bert_model_free(m);
    return rc;
}

/* The metric that picks the best model: the caller's (one this problem
 * type reports; "" is no choice), else the preset's, else accuracy
 * (pearson for regression). */
static bert_status choose_metric(seq_state *st, const char *asked, const char *preset_metric, bert_error *err) {
    const char *const *names = problem_metrics(st->problem);
    if (asked && !*asked) asked = NULL;
    const char *want = asked ? asked : preset_metric;
    st->metric = st->problem == BERT_PROBLEM_REGRESSION ? "pearson" : "accuracy";
    for (int i = 0; want && names[i]; i++)
        if (strcmp(names[i], want) == 0) {
            st->metric = names[i];
            return BERT_OK;
        }
    if (!asked) return BERT_OK;
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return bert_fail(err, BERT_ERR_INPUT, "metric '%s' is not reported for %s problems (%s)", asked,
                     problem_name(st->problem), list);
}

/* path = DATA_DIR/dir/file, or DATA_DIR/<dir without "glue/">/file when
 * only that exists (a data directory that is the GLUE directory itself);
 * when neither exists, an error that names the path and the data directory. */
static bert_status preset_path(char *path, size_t cap, const char *data_dir, const bert_glue_preset *g,
                               const char *file, bert_error *err) {
    const char *slash = strrchr(g->dir, '/');
    for (int k = 0; k < 3; k++) { /* the preset's directory, the GLUE-root form, then the error */
        const char *dir = k == 1 && slash ? slash + 1 : g->dir;
        if (snprintf(path, cap, "%s/%s/%s", data_dir, dir, file) >= (int)cap)
            return bert_fail(err, BERT_ERR_INPUT, "data directory path too long");
        if (k < 2 && bert_file_exists(path)) return BERT_OK;
    }
    return bert_fail(err, BERT_ERR_IO,
                     "%s: no such file (preset '%s' reads DATA_DIR/%s/%s with the data directory '%s'; "
                     "point --data-dir at the directory that holds %s)",
                     path, g->name, g->dir, file, data_dir, g->dir);
}

/* Copy the caller's file name into buf (it must fit). */
static bert_status given_path(char *buf, size_t cap, const char *path, bert_error *err) {
    if (snprintf(buf, cap, "%s", path) >= (int)cap) return bert_fail(err, BERT_ERR_INPUT, "%s: path too long", path);
    return BERT_OK;
}

/* The files, columns, problem type and preset metric p asks for. */
static bert_status resolve(seq_state *st, const bert_finetune_params *p, bert_text_columns *cols,
                           const char **preset_metric, bert_error *err) {
    const bert_glue_preset *g = NULL;
    const char *data_dir = p->data_dir ? p->data_dir : "data";
    *preset_metric = NULL;
    st->problem = p->train.problem;
    cols->text = p->text_column ? p->text_column : "text";
    cols->pair = p->pair_column;
    cols->label = p->label_column ? p->label_column : "label";
    cols->header = !p->no_header;
    if (p->preset) {
        if (!(g = bert_glue_preset_find(p->preset)))
            return bert_fail(err, BERT_ERR_INPUT, "unknown sequence preset '%s' (sst2, cola, mrpc, rte, stsb, wnli)",
                             p->preset);
        *cols = g->cols, *preset_metric = g->metric;
        if (!p->problem_given) st->problem = g->problem;
    }
    bert_status rc = BERT_OK;
    if (!p->eval_only && p->train_file) rc = given_path(st->train_path, sizeof st->train_path, p->train_file, err);
    else if (!p->eval_only && g) rc = preset_path(st->train_path, sizeof st->train_path, data_dir, g, g->train, err);
    else if (!p->eval_only) rc = bert_fail(err, BERT_ERR_INPUT, "no training data: give a preset or a train file");
    if (rc == BERT_OK && p->dev_file) rc = given_path(st->dev_path, sizeof st->dev_path, p->dev_file, err);
    else if (rc == BERT_OK && g) rc = preset_path(st->dev_path, sizeof st->dev_path, data_dir, g, g->dev, err);
    else if (rc == BERT_OK) rc = bert_fail(err, BERT_ERR_INPUT, "no dev data: give a preset or a dev file");
    if (rc == BERT_OK && p->test_file) rc = given_path(st->test_path, sizeof st->test_path, p->test_file, err);
    return rc;
}

/* Read the files, settle the labels, tokenize. */
static bert_status load_data(seq_state *st, const bert_finetune_params *p, const bert_tokenizer *tok,
                             const bert_text_columns *cols, int problem_known, bert_error *err) {
    bert_text_examples train = {0}, dev = {0}, test = {0};
    bert_status rc = BERT_OK;
    if (!st->eval_only) rc = bert_text_examples_read(st->train_path, cols, &train, err);
    if (rc == BERT_OK) rc = bert_text_examples_read(st->dev_path, cols, &dev, err);
    if (rc == BERT_OK && st->test_path[0]) rc = bert_text_examples_read(st->test_path, cols, &test, err);
    if (rc == BERT_OK && st->problem != BERT_PROBLEM_REGRESSION && (p->labels || !st->eval_only))
        rc = collect_labels(st, p->labels, &train, err);
    else if (rc == BERT_OK && st->problem != BERT_PROBLEM_REGRESSION)
        rc = model_labels(st, p->model_dir, problem_known, err);
    int max_len = p->max_seq_len > 0 ? p->max_seq_len : 128;
    if (rc == BERT_OK && !st->eval_only)
        rc = build_set(st, tok, &train, p->max_train, max_len, st->train_path, &st->train, err);
    if (rc == BERT_OK) rc = build_set(st, tok, &dev, p->max_dev, max_len, st->dev_path, &st->dev, err);
    if (rc == BERT_OK && st->test_path[0]) rc = build_set(st, tok, &test, 0, max_len, st->test_path, &st->test, err);
    if (rc == BERT_OK && st->problem != BERT_PROBLEM_REGRESSION && st->n_labels < 2 && !st->eval_only)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: fewer than 2 distinct labels", st->train_path);
    if (rc == BERT_OK && st->problem != BERT_PROBLEM_REGRESSION && st->n_labels < 1)
        rc = bert_fail(err, BERT_ERR_INPUT, "no labels to score");
    bert_text_examples_free(&train), bert_text_examples_free(&dev), bert_text_examples_free(&test);
    return rc;
}

/* train_task_ops.free: everything prepare made (NULL is allowed). */
static void seq_free(void *state) {
    seq_state *st = state;
    if (!st) return;
    set_free(&st->train), set_free(&st->dev), set_free(&st->test);
    labels_free(st->labels, st->n_labels);
    free(st);
}

/* train_task_ops.prepare: see task.h. */
static bert_status seq_prepare(const bert_finetune_params *p, const bert_tokenizer *tok, bert_train_params *tp,
                               const char **metric, int *greater_is_better, void **state, bert_error *err) {
    *state = NULL;
    if (p->batch_size < 1) return bert_fail(err, BERT_ERR_INPUT, "batch size %d: must be at least 1", p->batch_size);
    seq_state *st = calloc(1, sizeof *st);
    if (!st) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    st->batch = p->batch_size, st->eval_only = p->eval_only;
    bert_text_columns cols;
    const char *preset_metric;
    bert_status rc = resolve(st, p, &cols, &preset_metric, err);
    if (rc == BERT_OK) rc = load_data(st, p, tok, &cols, p->problem_given || p->preset, err);
    if (rc == BERT_OK) rc = choose_metric(st, p->loop.metric, preset_metric, err);
    if (rc != BERT_OK) {
        seq_free(st);
        return rc;
    }
    st->positive = 1;
    for (int k = 0; k < st->n_labels; k++)
        if (strcmp(st->labels[k], "1") == 0) st->positive = k;
    tp->task = BERT_TASK_SEQUENCE;
    tp->problem = st->problem;
    tp->num_labels = st->problem == BERT_PROBLEM_REGRESSION ? 1 : st->n_labels;
    tp->labels = st->problem == BERT_PROBLEM_REGRESSION ? NULL : (const char *const *)st->labels;
    st->tp = *tp;
    *metric = st->metric;
    *greater_is_better = strcmp(st->metric, "loss") != 0;
    *state = st;
    return BERT_OK;
}

/* train_task_ops.n_train: training examples (0 with eval_only). */
static int seq_n_train(void *state) { return ((seq_state *)state)->train.n; }

/* train_task_ops.label_floats: 1, or the number of labels (multi-label). */
static int seq_label_floats(void *state) {
    const seq_state *st = state;
    return st->problem == BERT_PROBLEM_MULTI_LABEL ? st->n_labels : 1;
}

/* Example i of s as a sequence (pointing into s). */
static bert_sequence seq_of(const seq_set *s, int i) {
    return (bert_sequence){.input_ids = s->ids + s->start[i], .token_type_ids = s->types + s->start[i],
                           .n_tokens = s->len[i]};
}

/* train_task_ops.fill: see task.h. */
static bert_status seq_fill(void *state, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens,
                            bert_error *err) {
    const seq_set *s = &((seq_state *)state)->train;
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        if (i < 0 || i >= s->n) return bert_fail(err, BERT_ERR_INPUT, "training item %d of %d", i, s->n);
        seqs[k] = seq_of(s, i);
        memcpy(labels + (size_t)k * s->L, s->labels + (size_t)i * s->L, sizeof *labels * (size_t)s->L);
        *tokens += s->len[i];
    }
    return BERT_OK;
}

/* Per-example predictions of one evaluated batch (logits z, L classes)
 * into pred/gold/x/y from example i0 on, with the multi-label counts. */
static void score_batch(const seq_state *st, const seq_set *s, int i0, int n, int L, const float *logits, int *pred,
                        int *gold, double *x, double *y, long counts[3]) {
    for (int k = 0; k < n; k++) {
        const float *z = logits + (size_t)k * L;
        const float *g = s->labels + (size_t)(i0 + k) * s->L;
        if (st->problem == BERT_PROBLEM_MULTI_LABEL) { /* exact match in pred/gold; micro counts */
            int all = 1;
            for (int j = 0; j < L; j++) {
                int pj = z[j] > 0, gj = g[j] > 0.5f;
                all &= pj == gj;
                counts[0] += pj && gj, counts[1] += pj && !gj, counts[2] += !pj && gj;
            }
            pred[i0 + k] = all, gold[i0 + k] = 1;
            continue;
        }
        int best = 0;
        for (int j = 1; j < L; j++)
            if (z[j] > z[best]) best = j;
        pred[i0 + k] = best, gold[i0 + k] = (int)g[0];
        x[i0 + k] = z[0], y[i0 + k] = g[0];
    }
}

/* Score t's model on s: the problem type's metrics into out. */
static bert_status eval_set(const seq_state *st, bert_trainer *t, const seq_set *s, bert_metrics *out,
                            bert_error *err) {
    int L = bert_model_num_labels(bert_trainer_model(t)), n_all = s->n, batch = st->batch;
    if (n_all < 1) return bert_fail(err, BERT_ERR_INPUT, "no examples to score");
    if (st->problem == BERT_PROBLEM_MULTI_LABEL && L != s->L)
        return bert_fail(err, BERT_ERR_INPUT, "the model has %d labels, the data %d", L, s->L);
    int *pred = malloc(sizeof *pred * (size_t)n_all), *gold = malloc(sizeof *gold * (size_t)n_all);
    double *x = malloc(sizeof *x * (size_t)n_all), *y = malloc(sizeof *y * (size_t)n_all);
    float *logits = malloc(sizeof *logits * (size_t)batch * (size_t)L);
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    bert_status rc = pred && gold && x && y && logits && seqs ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    double loss_sum = 0;
    long counts[3] = {0, 0, 0}; /* multi-label true positives, false positives, false negatives */
    for (int i = 0; rc == BERT_OK && i < n_all; i += batch) {
        int n = n_all - i < batch ? n_all - i : batch;
        for (int k = 0; k < n; k++) seqs[k] = seq_of(s, i + k);
        double loss;
        rc = bert_trainer_eval(t, seqs, n, s->labels + (size_t)i * s->L, &loss, logits, err);
        if (rc != BERT_OK) break;
        loss_sum += loss * n;
        score_batch(st, s, i, n, L, logits, pred, gold, x, y, counts);
    }
    if (rc == BERT_OK) {
        memset(out, 0, sizeof *out);
        bert_metrics_set(out, "loss", loss_sum / n_all);
        if (st->problem == BERT_PROBLEM_REGRESSION) {
            bert_metrics_set(out, "pearson", bert_metric_pearson(x, y, n_all));
            bert_metrics_set(out, "spearman", bert_metric_spearman(x, y, n_all));
        } else if (st->problem == BERT_PROBLEM_MULTI_LABEL) {
            long tp = counts[0], fp = counts[1], fn = counts[2];
            bert_metrics_set(out, "accuracy", bert_metric_accuracy(pred, gold, n_all));
            bert_metrics_set(out, "f1", tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0);
        } else {
            bert_metrics_set(out, "accuracy", bert_metric_accuracy(pred, gold, n_all));
            bert_metrics_set(out, "f1", bert_metric_f1(pred, gold, n_all, st->positive));
            bert_metrics_set(out, "mcc", bert_metric_mcc(pred, gold, n_all));
        }
    }
    free(pred), free(gold), free(x), free(y), free(logits), free(seqs);
    return rc;
}

/* train_task_ops.evaluate: the dev data. */
static bert_status seq_evaluate(void *state, bert_trainer *t, bert_metrics *out, bert_error *err) {
    const seq_state *st = state;
    bert_status rc = eval_set(st, t, &st->dev, out, err);
    return rc == BERT_OK ? rc : bert_error_prefix(err, "evaluation");
}

/* Score the saved model in dir on s (a trainer of its own, p->train's
 * threads and dtype, this process alone: the report is rank 0's work). A
 * model without a trained classifier is an error. */
static bert_status score_dir(const seq_state *st, const char *dir, const seq_set *s, bert_metrics *out,
                             bert_error *err) {
    bert_trainer *t = NULL;
    unsigned created = 0;
    bert_train_params tp = st->tp;
    tp.dist = NULL;
    if (tp.total_steps < 1) tp.total_steps = 1;
    bert_status rc = bert_trainer_open(dir, &tp, &t, &created, err);
    if (rc == BERT_OK && created)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s has no trained classifier to evaluate", dir);
    if (rc == BERT_OK) rc = eval_set(st, t, s, out, err);
    bert_trainer_free(t);
    return rc;
}

/* A growing report text; oom once an append failed. */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} report_buf;

static void add(report_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* printf-style append to b (b->oom is set when memory runs out). */
static void add(report_buf *b, const char *fmt, ...) {
    for (int tries = 0; !b->oom && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (len < 0) b->oom = 1;
        else if (b->s && b->n + (size_t)len < b->cap) {
            b->n += (size_t)len;
            return;
        } else {
            size_t cap = (b->cap + (size_t)len + 1) * 2;
            char *g = realloc(b->s, cap);
            if (!g) b->oom = 1;
            else b->s = g, b->cap = cap;
        }
    }
}

/* ", \"key\": value" with %.6f, or null when value is not finite. */
static void add_number(report_buf *b, const char *prefix, const char *name, double v) {
    if (isfinite(v)) add(b, ", \"%s%s\": %.6f", prefix, name, v);
    else add(b, ", \"%s%s\": null", prefix, name);
}

/* A JSON string of s (quotes, backslashes and control characters escaped). */
static void add_string(report_buf *b, const char *s) {
    add(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') add(b, "\\%c", *c);
        else if (*c < 0x20) add(b, "\\u%04x", *c);
        else add(b, "%c", *c);
    }
    add(b, "\"");
}

/* What report.json says about one run. */
typedef struct {
    double best, seconds;
    long best_step, steps, tokens;
    bert_metrics dev, test;
    const char *best_model; /* NULL: none */
} seq_report;

/* Write OUT/report.json atomically. */
static bert_status write_report(const seq_state *st, const char *out_dir, const seq_report *r, bert_error *err) {
    report_buf b = {0};
    if (st->metric[0]) {
        add(&b, "{\"best_%s\": ", st->metric);
        if (isfinite(r->best)) add(&b, "%.6f", r->best);
        else add(&b, "null");
        add(&b, ", \"best_step\": %ld, \"steps\": %ld", r->best_step, r->steps);
    } else {
        add(&b, "{\"steps\": %ld", r->steps);
    }
    for (int i = 0; i < r->dev.n; i++)
        add_number(&b, "final_", strcmp(r->dev.name[i], "loss") == 0 ? "eval_loss" : r->dev.name[i], r->dev.value[i]);
    add(&b, ", \"train_examples\": %d, \"dev_examples\": %d", st->train.n, st->dev.n);
    if (st->test.n) add(&b, ", \"test_examples\": %d", st->test.n);
    for (int i = 0; i < r->test.n; i++) add_number(&b, "test_", r->test.name[i], r->test.value[i]);
    add(&b, ", \"seconds\": %.1f, \"tokens_per_s\": %.0f", r->seconds,
        r->seconds > 0 ? (double)r->tokens / r->seconds : 0.0);
    if (r->best_model) add(&b, ", \"best_model\": "), add_string(&b, r->best_model);
    add(&b, "}\n");
    char path[4200];
    bert_status rc = b.oom ? bert_fail(err, BERT_ERR_NOMEM, "out of memory") : BERT_OK;
    if (rc == BERT_OK) rc = bert_path_join(path, sizeof path, out_dir, "report.json", err);
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, b.s, b.n, err);
    free(b.s);
    return rc;
}

/* 1 when path names a directory. */
static int is_dir(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}


/* train_task_ops.finish: see task.h. With eval_only and no evaluation in r,
 * the dev data is scored here on best_dir (p->model_dir when NULL). */
static bert_status seq_finish(void *state, const bert_finetune_params *p, const char *best_dir,
                              const bert_loop_result *r, bert_error *err) {
    const seq_state *st = state;
    seq_report rep;
    memset(&rep, 0, sizeof rep);
    rep.best = NAN, rep.best_step = -1;
    const char *scored = st->eval_only && !best_dir ? p->model_dir : best_dir;
    bert_status rc = BERT_OK;
    if (r && (!st->eval_only || r->last_metrics.n > 0)) {
        rep.best = r->best, rep.best_step = r->best_step, rep.steps = r->steps;
        rep.tokens = r->tokens, rep.seconds = r->seconds, rep.dev = r->last_metrics;
    } else if (st->eval_only) {
        double t0 = bert_now_s();
        rc = score_dir(st, scored, &st->dev, &rep.dev, err);
        rep.seconds = bert_now_s() - t0, rep.best_step = 0;
        if (rc == BERT_OK && st->metric[0]) bert_metrics_get(&rep.dev, st->metric, &rep.best);
    }
    if (rc == BERT_OK && st->test.n && is_dir(scored)) rc = score_dir(st, scored, &st->test, &rep.test, err);
    else if (rc == BERT_OK && st->test.n) train_notice(&p->loop, 0, 0, "%s", "no best model was saved: the test data is not scored");
    if (rc == BERT_OK && !st->eval_only && is_dir(best_dir)) rep.best_model = best_dir;
    if (rc == BERT_OK && p->output_dir && mkdir(p->output_dir, 0755) != 0 && errno != EEXIST)
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p->output_dir, strerror(errno));
    if (rc == BERT_OK && p->output_dir) rc = write_report(st, p->output_dir, &rep, err);
    return rc;
}

/* train_task_ops.metric_names: the problem type's metrics. */
static const char *const *seq_metric_names(void *state) { return problem_metrics(((const seq_state *)state)->problem); }

const train_task_ops train_task_sequence = {
    .name = "sequence",
    .prepare = seq_prepare,
    .n_train = seq_n_train,
    .label_floats = seq_label_floats,
    .fill = seq_fill,
    .metric_names = seq_metric_names,
    .evaluate = seq_evaluate,
    .finish = seq_finish,
    .free = seq_free,
};
