/* task_token.c — token classification (NER) for bert_finetune: tagged
 * sentences from CoNLL or JSONL files (or a NER preset), the label list,
 * the features and the training batches. Scoring and report.json are in
 * task_token_eval.c.
 *
 * Words are tokenized one by one; the first piece of a word carries its
 * tag, the other pieces are not scored (-100), unless label_all_tokens
 * (then they carry the word's tag with B- turned into I-, as transformers'
 * run_ner.py does). Predictions are read back at each word's first piece. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/notice.h"
#include "util/clock.h"
#include "train/task.h"
#include "train/task_token.h"
#include "util/error.h"



/* The index of tag t in the labels, or -1. */
static int tag_id(char *const *labels, int n, const char *t) {
    for (int i = 0; i < n; i++)
        if (strcmp(labels[i], t) == 0) return i;
    return -1;
}

/* Free a split's features, sentences and path. */
static void split_free(token_split *s) {
    for (int i = 0; s->feat && i < s->data.n; i++)
        free(s->feat[i].ids), free(s->feat[i].labels), free(s->feat[i].first_piece);
    free(s->feat);
    bert_tagged_free(&s->data);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* train_task_token's free: everything prepare made (NULL is allowed). */
static void state_free(void *state) {
    token_state *st = state;
    if (!st) return;
    split_free(&st->train), split_free(&st->dev), split_free(&st->test);
    for (int i = 0; i < st->n_labels; i++) free(st->labels[i]);
    free(st->labels);
    free(st->task_name);
    bert_model_free(st->model);
    free(st);
}

/* Features of sentence s (see token_feat); tags that are not labels get
 * -100. */
static bert_status build_feat(const token_state *st, const bert_tokenizer *tok, const bert_tagged_sentence *s,
                              int label_all, token_feat *f, bert_error *err) {
    int max_len = st->max_seq_len, n = 0;
    f->ids = malloc(sizeof *f->ids * (size_t)max_len);
    f->labels = malloc(sizeof *f->labels * (size_t)max_len);
    f->first_piece = malloc(sizeof *f->first_piece * (size_t)(s->n + 1));
    if (!f->ids || !f->labels || !f->first_piece) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    f->ids[n] = bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS), f->labels[n++] = -100;
    for (int w = 0; w < s->n; w++) {
        f->first_piece[w] = -1;
        int tid = tag_id(st->labels, st->n_labels, s->tags[w]), inside = tid;
        if (label_all && tid >= 0 && strncmp(s->tags[w], "B-", 2) == 0) { /* the other pieces take the I- tag */
            size_t len = strlen(s->tags[w]) + 1;
            char *itag = malloc(len);
            if (!itag) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            memcpy(itag, s->tags[w], len);
            itag[0] = 'I';
            int iid = tag_id(st->labels, st->n_labels, itag);
            free(itag);
            if (iid >= 0) inside = iid;
        }
        bert_encodings es;
        if (bert_tokenize(tok, s->words[w], -1, NULL, 0, &ep, &es, err) != BERT_OK) return err ? err->code : BERT_ERR_INPUT;
        const bert_encoding *e = &es.encodings[0];
        for (int k = 0; k < e->n_tokens && n < max_len - 1; k++) {
            if (k == 0) f->first_piece[w] = n;
            f->ids[n] = e->input_ids[k];
            f->labels[n++] = k == 0 ? (float)tid : label_all ? (float)inside : -100.0f;
        }
        bert_encodings_free(&es);
    }
    for (int k = 0; k < n; k++)
        if (f->labels[k] < 0) f->labels[k] = -100.0f;
    f->ids[n] = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP), f->labels[n++] = -100;
    f->n_tokens = n;
    return BERT_OK;
}

/* Features for every sentence of s; errors name the sentence's file:line. */
static bert_status split_features(const token_state *st, const bert_tokenizer *tok, token_split *s, int label_all,
                                  bert_error *err) {
    s->feat = calloc((size_t)(s->data.n ? s->data.n : 1), sizeof *s->feat);
    if (!s->feat) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->data.n; i++)
        if (build_feat(st, tok, &s->data.v[i], label_all, &s->feat[i], err) != BERT_OK)
            return bert_error_prefix(err, "%s:%ld", s->path ? s->path : "data", s->data.v[i].line);
    return BERT_OK;
}

/* qsort order of C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Labels: the sorted distinct training tags (transformers' run_ner.py). */
static bert_status labels_from_train(token_state *st, bert_error *err) {
    const bert_tagged_data *d = &st->train.data;
    for (int i = 0; i < d->n; i++)
        for (int w = 0; w < d->v[i].n; w++) {
            if (tag_id(st->labels, st->n_labels, d->v[i].tags[w]) >= 0) continue;
            char **l = realloc(st->labels, sizeof *l * (size_t)(st->n_labels + 1));
            if (!l) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            st->labels = l;
            if (!(l[st->n_labels] = strdup(d->v[i].tags[w]))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            st->n_labels++;
        }
    qsort(st->labels, (size_t)st->n_labels, sizeof *st->labels, cmp_str);
    return BERT_OK;
}

/* eval_only: load the model scored and take its labels (id2label). */
static bert_status labels_from_model(token_state *st, const char *dir, bert_error *err) {
    if (bert_model_load(dir, NULL, &st->model, err) != BERT_OK) return err ? err->code : BERT_ERR_IO;
    if (!(bert_model_heads(st->model) & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_INPUT, "%s has no token classifier", dir);
    int n = bert_model_num_labels(st->model);
    st->labels = calloc((size_t)(n ? n : 1), sizeof *st->labels);
    if (!st->labels) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char name[32];
        const char *l = bert_model_label(st->model, i);
        if (!l) snprintf(name, sizeof name, "LABEL_%d", i), l = name;
        if (!(st->labels[i] = strdup(l))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        st->n_labels = i + 1;
    }
    return BERT_OK;
}

/* The file of a split: the caller's, else the preset's under data_dir
 * (NULL when neither); malloc'd into *out. */
static bert_status split_path(const char *given, const char *data_dir, const bert_ner_preset *pre, const char *file,
                              char **out, bert_error *err) {
    *out = NULL;
    if (!given && !(pre && file)) return BERT_OK;
    size_t n = given ? strlen(given) + 1 : strlen(data_dir) + strlen(pre->dir) + strlen(file) + 3;
    if (!(*out = malloc(n))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (given) memcpy(*out, given, n);
    else snprintf(*out, n, "%s/%s/%s", data_dir, pre->dir, file);
    return BERT_OK;
}

/* Read the files p names into st (train / dev / test, the seeded dev
 * split, max_train / max_dev), detect the tag scheme and convert it. */
static bert_status read_splits(token_state *st, const bert_finetune_params *p, bert_error *err) {
    const bert_ner_preset *pre = NULL;
    if (p->preset && !(pre = bert_ner_preset_find(p->preset)))
        return bert_fail(err, BERT_ERR_INPUT, "unknown NER task '%s'", p->preset);
    const char *data_dir = p->data_dir ? p->data_dir : "data";
    bert_status rc;
    if ((rc = split_path(p->train_file, data_dir, pre, pre ? pre->train : NULL, &st->train.path, err)) != BERT_OK ||
        (rc = split_path(p->dev_file, data_dir, pre, pre ? pre->dev : NULL, &st->dev.path, err)) != BERT_OK ||
        (rc = split_path(p->test_file, data_dir, pre, pre ? pre->test : NULL, &st->test.path, err)) != BERT_OK)
        return rc;
    int carve = !st->dev.path && pre && !pre->dev; /* the preset has no dev split */
    if (!st->dev.path && !carve) return bert_fail(err, BERT_ERR_INPUT, "token classification needs a dev file or a preset");
    if (!p->eval_only && !st->train.path) return bert_fail(err, BERT_ERR_INPUT, "token classification needs a training file or a preset");
    int read_train = !p->eval_only || carve;
    if ((read_train && (rc = bert_tagged_read(st->train.path, &st->train.data, err)) != BERT_OK) ||
        (st->dev.path && (rc = bert_tagged_read(st->dev.path, &st->dev.data, err)) != BERT_OK) ||
        (st->test.path && (rc = bert_tagged_read(st->test.path, &st->test.data, err)) != BERT_OK))
        return rc;
    const token_split *ref = read_train ? &st->train : &st->dev;
    st->scheme = bert_tag_scheme_detect(&ref->data);
    st->converted = p->tag_scheme_iob2 && st->scheme != BERT_TAGS_IOB2;
    train_notice(&p->loop, 0, 0, "tag scheme of %s: %s%s", ref->path, bert_tag_scheme_name(st->scheme), st->converted ? " (converted to IOB2)" : "");
    if (p->tag_scheme_iob2) bert_tags_to_iob2(&st->train.data), bert_tags_to_iob2(&st->dev.data), bert_tags_to_iob2(&st->test.data);
    if (carve && (rc = bert_tagged_split_dev(&st->train.data, p->train.seed, &st->dev.data, err)) != BERT_OK) return rc;
    if (carve && st->dev.data.n == 0) return bert_fail(err, BERT_ERR_INPUT, "%s: too few sentences to hold 10 %% out as dev", st->train.path);
    bert_tagged_data *cut[2] = {&st->train.data, &st->dev.data};
    int keep[2] = {p->max_train, p->max_dev};
    for (int k = 0; k < 2; k++) {
        if (keep[k] <= 0 || keep[k] >= cut[k]->n) continue;
        bert_tagged_data rest = {cut[k]->v + keep[k], cut[k]->n - keep[k]};
        for (int i = 0; i < rest.n; i++) {
            bert_tagged_sentence *s = &rest.v[i];
            for (int j = 0; j < s->n; j++) free(s->words[j]), free(s->tags[j]);
            free(s->words), free(s->tags);
        }
        cut[k]->n = keep[k];
    }
    return BERT_OK;
}

/* Warn once about a dev tag the model cannot predict. */
static void warn_unseen(const token_state *st, const bert_finetune_params *p) {
    const bert_tagged_data *d = &st->dev.data;
    for (int i = 0; i < d->n; i++)
        for (int w = 0; w < d->v[i].n; w++)
            if (tag_id(st->labels, st->n_labels, d->v[i].tags[w]) < 0) {
                train_notice(&p->loop, 0, 0, "warning: dev tag '%s' never occurs in training; it cannot be predicted", d->v[i].tags[w]);
                return;
            }
}

/* train_task_token's prepare (task.h): read, label and featurise the data;
 * the default metric is the entity-level F1. */
static bert_status prepare(const bert_finetune_params *p, const bert_tokenizer *tok, bert_train_params *tp,
                           const char **metric, int *greater_is_better, void **state, bert_error *err) {
    *state = NULL;
    if (p->batch_size < 1 || p->max_seq_len < 3)
        return bert_fail(err, BERT_ERR_INPUT, "token classification needs batch_size >= 1 and max_seq_len >= 3");
    token_state *st = calloc(1, sizeof *st);
    if (!st) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    st->t0 = bert_now_s();
    st->batch = p->batch_size, st->max_seq_len = p->max_seq_len, st->label_all = p->label_all_tokens;
    st->dist = p->train.dist;
    st->n_threads = p->train.n_threads, st->grad_accum = p->train.grad_accum > 1 ? p->train.grad_accum : 1;
    st->eval_only = p->eval_only;
    bert_status rc = (st->task_name = strdup(p->preset ? p->preset : "token")) ? BERT_OK
                                                                               : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = read_splits(st, p, err);
    if (rc == BERT_OK) rc = p->eval_only ? labels_from_model(st, p->model_dir, err) : labels_from_train(st, err);
    if (rc == BERT_OK && !p->eval_only) rc = split_features(st, tok, &st->train, st->label_all, err);
    if (rc == BERT_OK) rc = split_features(st, tok, &st->dev, st->label_all, err);
    if (rc == BERT_OK) rc = split_features(st, tok, &st->test, st->label_all, err);
    if (rc != BERT_OK) {
        state_free(st);
        return rc;
    }
    warn_unseen(st, p);
    tp->task = BERT_TASK_TOKEN;
    tp->problem = BERT_PROBLEM_SINGLE_LABEL;
    tp->num_labels = st->n_labels;
    tp->labels = (const char *const *)st->labels;
    if (!p->loop.metric) *metric = "f1", *greater_is_better = 1;
    *state = st;
    return BERT_OK;
}

/* With eval_only there is nothing to train on (a preset without a dev split
 * still reads train, to hold out the dev sentences). */
static int n_train(void *state) {
    const token_state *st = state;
    return st->eval_only ? 0 : st->train.data.n;
}

/* A token item needs one label a token: max_seq_len floats at most. */
static int label_floats(void *state) { return ((token_state *)state)->max_seq_len; }

/* train_task_token's fill (task.h): the items' features, their labels
 * packed back to back (n_tokens each). */
static bert_status fill(void *state, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens,
                        bert_error *err) {
    const token_state *st = state;
    int nl = 0;
    for (int k = 0; k < n; k++) {
        if (idx[k] < 0 || idx[k] >= st->train.data.n)
            return bert_fail(err, BERT_ERR_INPUT, "training item %d out of range (0..%d)", idx[k], st->train.data.n - 1);
        const token_feat *f = &st->train.feat[idx[k]];
        seqs[k] = (bert_sequence){.input_ids = f->ids, .n_tokens = f->n_tokens};
        memcpy(labels + nl, f->labels, sizeof *labels * (size_t)f->n_tokens);
        nl += f->n_tokens;
        *tokens += f->n_tokens;
    }
    return BERT_OK;
}

/* train_task_ops.metric_names: what token_evaluate sets. */
static const char *const *metric_names(void *state) {
    (void)state;
    static const char *const names[] = {"loss", "precision", "recall", "f1", "f1_strict", "macro_f1", "token_accuracy", NULL};
    return names;
}

const train_task_ops train_task_token = {
    .name = "token",
    .prepare = prepare,
    .n_train = n_train,
    .label_floats = label_floats,
    .fill = fill,
    .metric_names = metric_names,
    .evaluate = token_evaluate,
    .finish = token_finish,
    .free = state_free,
};
