/* task_dialogue.c — joint intent + slot filling (JointBERT) for
 * bert_finetune: dialogue turns (src/data/dialogue.c: the SNIPS / ATIS
 * layout or JSONL with the turns before), their features and batches,
 * scoring (intent accuracy, seqeval's slot F1, sentence accuracy: the
 * intent and every slot right) and report.json.
 *
 * Features: [CLS] the turn's pieces [SEP] (segment A: the turn whole when it fits)
 * then, with context_turns > 0, the last context_turns earlier turns, most
 * recent first, each followed by [SEP] (segment B), pieces added while
 * they fit so that the oldest are cut first. A word's first piece carries
 * its slot tag; other pieces and segment B are not scored (-100). Intents:
 * the sorted distinct training intents, "a#b" one of them; with
 * split_intents and a training intent holding '#' (ATIS's
 * "atis_flight#atis_airfare"), multi-label over the parts instead. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "train/heads.h"
#include "train/notice.h"
#include "train/task.h"
#include "util/error.h"

typedef struct {
    int32_t *ids, *types;
    float *slots;     /* [n_tokens]: tag id or -100 */
    int n_tokens;
    int *first_piece; /* [n_words]: -1 when cut off */
} dlg_feat;

typedef struct {
    bert_dialogue_data data;
    dlg_feat *feat;
    char path[4096];
} dlg_split;

typedef struct {
    dlg_split train, dev, test;
    char **slots, **intents; /* sorted distinct training tags and intents (or the model's) */
    char **services;         /* SGD: the training turns' services */
    int n_services;
    int n_slots, n_intents, multi, split; /* split: "a#b" is multi-label over its parts */
    int batch, max_seq_len, context_turns, n_threads, eval_only;
    const char *task_name;
    bert_model *model; /* eval_only */
} dlg_state;

static int find(char *const *v, int n, const char *s, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(v[i]) == len && strncmp(v[i], s, len) == 0) return i;
    return -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Add s[0..len) to the set v[0..*n) when new; 0 when out of memory. */
static int add_name(char ***v, int *n, const char *s, size_t len) {
    if (find(*v, *n, s, len) >= 0) return 1;
    char **a = realloc(*v, sizeof *a * (size_t)(*n + 1)), *c = malloc(len + 1);
    if (a) *v = a;
    if (!a || !c) return free(c), 0;
    memcpy(c, s, len), c[len] = 0;
    a[(*n)++] = c;
    return 1;
}

/* The slot tags and intents of the training data. */
static bert_status label_sets(dlg_state *st, bert_error *err) {
    const bert_dialogue_data *d = &st->train.data;
    int ok = 1;
    for (int i = 0; ok && i < d->n; i++) {
        for (int w = 0; ok && w < d->v[i].s.n; w++) ok = add_name(&st->slots, &st->n_slots, d->v[i].s.tags[w], strlen(d->v[i].s.tags[w]));
        st->multi |= st->split && strchr(d->v[i].intent, '#') != NULL;
    }
    for (int i = 0; ok && i < d->n; i++)
        for (const char *p = d->v[i].intent, *q; ok && *p; p = *q ? q + 1 : q) {
            q = st->multi ? strchr(p, '#') : NULL;
            if (!q) q = p + strlen(p);
            if (q > p) ok = add_name(&st->intents, &st->n_intents, p, (size_t)(q - p));
        }
    if (!ok) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    qsort(st->slots, (size_t)st->n_slots, sizeof *st->slots, cmp_str);
    qsort(st->intents, (size_t)st->n_intents, sizeof *st->intents, cmp_str);
    return BERT_OK;
}

/* Append the pieces of text to f as segment `type` while they fit in
 * limit tokens; 1 when all fit. */
static int append(const bert_tokenizer *tok, const char *text, int type, int limit, dlg_feat *f, int *first, bert_error *err) {
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    bert_encodings es;
    if (bert_tokenize(tok, text, -1, NULL, 0, &ep, &es, err) != BERT_OK) return -1;
    const bert_encoding *e = &es.encodings[0];
    int all = 1;
    if (first) *first = e->n_tokens ? f->n_tokens : -1;
    for (int k = 0; k < e->n_tokens; k++) {
        if (f->n_tokens >= limit) {
            all = 0;
            if (first && k == 0) *first = -1;
            break;
        }
        f->ids[f->n_tokens] = e->input_ids[k], f->types[f->n_tokens] = type, f->slots[f->n_tokens++] = -100;
    }
    bert_encodings_free(&es);
    return all;
}

static bert_status build_feat(const dlg_state *st, const bert_tokenizer *tok, const bert_dialogue_turn *t, dlg_feat *f,
                              bert_error *err) {
    int max = st->max_seq_len;
    f->ids = malloc(sizeof *f->ids * (size_t)max), f->types = malloc(sizeof *f->types * (size_t)max);
    f->slots = malloc(sizeof *f->slots * (size_t)max), f->first_piece = malloc(sizeof *f->first_piece * (size_t)(t->s.n + 1));
    if (!f->ids || !f->types || !f->slots || !f->first_piece) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int cls = bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS), sep = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP);
    f->ids[0] = cls, f->types[0] = 0, f->slots[0] = -100, f->n_tokens = 1;
    for (int w = 0; w < t->s.n; w++) {
        if (append(tok, t->s.words[w], 0, max - 1, f, &f->first_piece[w], err) < 0) return err ? err->code : BERT_ERR_INPUT;
        int y = find(st->slots, st->n_slots, t->s.tags[w], strlen(t->s.tags[w]));
        if (f->first_piece[w] >= 0) f->slots[f->first_piece[w]] = y >= 0 ? (float)y : -100.0f;
    }
    f->ids[f->n_tokens] = sep, f->types[f->n_tokens] = 0, f->slots[f->n_tokens++] = -100;
    for (int h = t->n_history - 1, used = 0; h >= 0 && used < st->context_turns && f->n_tokens < max - 1; h--, used++) {
        int all = append(tok, t->history[h], 1, max - 1, f, NULL, err);
        if (all < 0) return err ? err->code : BERT_ERR_INPUT;
        f->ids[f->n_tokens] = sep, f->types[f->n_tokens] = 1, f->slots[f->n_tokens++] = -100;
        if (!all) break;
    }
    return BERT_OK;
}

static void split_free(dlg_split *s) {
    for (int i = 0; s->feat && i < s->data.n; i++)
        free(s->feat[i].ids), free(s->feat[i].types), free(s->feat[i].slots), free(s->feat[i].first_piece);
    free(s->feat);
    bert_dialogue_free(&s->data);
    memset(s, 0, sizeof *s);
}

/* Read a split's turns (no features yet), the first max of them when max > 0. */
static bert_status split_read(const char *path, int max, dlg_split *s, bert_error *err) {
    snprintf(s->path, sizeof s->path, "%s", path);
    bert_status rc = bert_dialogue_read(path, &s->data, err);
    if (rc == BERT_OK && max > 0) bert_dialogue_keep(&s->data, max);
    return rc;
}

/* A split's features, once the tags have ids. */
static bert_status split_features(const dlg_state *st, const bert_tokenizer *tok, dlg_split *s, bert_error *err) {
    bert_status rc = (s->feat = calloc((size_t)s->data.n, sizeof *s->feat)) ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < s->data.n; i++)
        if ((rc = build_feat(st, tok, &s->data.v[i], &s->feat[i], err)) != BERT_OK)
            bert_error_prefix(err, "%s:%ld", s->path, s->data.v[i].s.line);
    return rc;
}

static void state_free(void *state) {
    dlg_state *st = state;
    if (!st) return;
    split_free(&st->train), split_free(&st->dev), split_free(&st->test);
    for (int i = 0; i < st->n_slots; i++) free(st->slots[i]);
    for (int i = 0; i < st->n_intents; i++) free(st->intents[i]);
    for (int i = 0; i < st->n_services; i++) free(st->services[i]);
    free(st->slots), free(st->intents), free(st->services);
    bert_model_free(st->model);
    free(st);
}

/* A preset's split: DATA/NAME/SPLIT (SNIPS, ATIS), DATA/sgd/SPLIT.jsonl.gz
 * (dev for valid); or the file given. */
static const char *split_path(const bert_finetune_params *p, const char *split, const char *given, char *buf, size_t cap) {
    if (given) return given;
    if (!p->preset || !p->data_dir) return NULL;
    if (strcmp(p->preset, "sgd") == 0)
        snprintf(buf, cap, "%s/sgd/%s.jsonl.gz", p->data_dir, strcmp(split, "valid") == 0 ? "dev" : split);
    else
        snprintf(buf, cap, "%s/%s/%s", p->data_dir, p->preset, split);
    struct stat sb;
    return stat(buf, &sb) == 0 || strcmp(split, "test") != 0 ? buf : NULL;
}

/* eval_only: the model's own slot tags and intents. */
static bert_status model_labels(dlg_state *st, const bert_finetune_params *p, bert_error *err) {
    bert_model_params mp = bert_model_default_params();
    bert_status rc = bert_model_load(p->model_dir, &mp, &st->model, err);
    const bert_config *c = rc == BERT_OK ? bert_model_config(st->model) : NULL;
    if (rc == BERT_OK && (c->num_intents < 1 || c->num_labels < 1))
        return bert_fail(err, BERT_ERR_INPUT, "%s is not a joint intent + slot model (no intent_id2label)", p->model_dir);
    for (int i = 0; rc == BERT_OK && i < c->num_labels; i++)
        if (!add_name(&st->slots, &st->n_slots, bert_model_label(st->model, i), strlen(bert_model_label(st->model, i))))
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < c->num_intents; i++)
        if (!add_name(&st->intents, &st->n_intents, bert_model_intent(st->model, i), strlen(bert_model_intent(st->model, i))))
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) st->multi = c->intent_multi_label;
    return rc;
}

static const char *const metric_list[] = {"loss", "intent_accuracy", "slot_precision", "slot_recall", "slot_f1",
                                          "sentence_accuracy", NULL};

static bert_status prepare(const bert_finetune_params *p, const bert_tokenizer *tok, bert_train_params *tp,
                           const char **metric, int *gib, void **state, bert_error *err) {
    dlg_state *st = calloc(1, sizeof *st);
    if (!st) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    *state = st;
    st->batch = p->batch_size, st->max_seq_len = p->max_seq_len, st->context_turns = p->context_turns;
    st->n_threads = tp->n_threads > 0 ? tp->n_threads : 1, st->eval_only = p->eval_only, st->split = p->split_intents;
    st->task_name = p->preset ? p->preset : "dialogue";
    char b1[4096], b2[4096], b3[4096];
    const char *train = split_path(p, "train", p->train_file, b1, sizeof b1), *dev = split_path(p, "valid", p->dev_file, b2, sizeof b2),
               *test = split_path(p, "test", p->test_file, b3, sizeof b3);
    if (!dev || (!train && !p->eval_only))
        return bert_fail(err, BERT_ERR_INPUT, "dialogue fine-tuning needs --train and --dev (a directory in the SNIPS layout, or JSONL turns), or --task snips|atis");
    bert_status rc = p->eval_only ? model_labels(st, p, err) : split_read(train, p->max_train, &st->train, err);
    if (rc == BERT_OK && p->eval_only) { /* the layout the model was trained with, unless given */
        const bert_config *c = bert_model_config(st->model);
        if (!st->context_turns) st->context_turns = c->dialogue_context_turns;
        if (c->dialogue_max_length > 0 && p->max_seq_len == bert_finetune_default_params(BERT_TASK_DIALOGUE).max_seq_len)
            st->max_seq_len = c->dialogue_max_length;
    }
    if (rc == BERT_OK && (st->context_turns < 0 || st->context_turns > 1000))
        rc = bert_fail(err, BERT_ERR_INPUT, "context turns %d: 0..1000", st->context_turns);
    if (rc == BERT_OK && p->eval_only && train) rc = split_read(train, p->max_train, &st->train, err); /* its services */
    for (int i = 0; rc == BERT_OK && i < st->train.data.n; i++) {
        const char *sv = st->train.data.v[i].service;
        if (sv && !add_name(&st->services, &st->n_services, sv, strlen(sv))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    if (rc == BERT_OK && !p->eval_only) rc = label_sets(st, err);
    if (rc == BERT_OK && (st->n_slots < 1 || st->n_intents < 1)) rc = bert_fail(err, BERT_ERR_INPUT, "%s: no slot tags or intents", train);
    if (rc == BERT_OK && !p->eval_only) rc = split_features(st, tok, &st->train, err);
    if (rc == BERT_OK && (rc = split_read(dev, p->max_dev, &st->dev, err)) == BERT_OK) rc = split_features(st, tok, &st->dev, err);
    if (rc == BERT_OK && test && (rc = split_read(test, 0, &st->test, err)) == BERT_OK) rc = split_features(st, tok, &st->test, err);
    if (rc != BERT_OK) return rc;
    tp->task = BERT_TASK_DIALOGUE;
    tp->num_labels = st->n_slots, tp->labels = (const char *const *)st->slots;
    tp->num_intents = st->n_intents, tp->intents = (const char *const *)st->intents, tp->intent_multi_label = st->multi;
    tp->context_turns = st->context_turns, tp->max_length = st->max_seq_len;
    if (!p->loop.metric) *metric = "sentence_accuracy", *gib = 1;
    train_notice(&p->loop, 0, 0, "%s: %d turns, %d intents%s, %d slot tags, %d earlier turns as context", st->task_name,
                 st->train.data.n, st->n_intents, st->multi ? " (multi-label)" : "", st->n_slots, st->context_turns);
    return BERT_OK;
}

static int n_train(void *state) { return ((dlg_state *)state)->train.data.n; }

static int label_floats(void *state) {
    const dlg_state *st = state;
    return (st->multi ? st->n_intents : 1) + st->max_seq_len;
}

/* The intent of turn t as labels: its id, or the 0/1 row over the parts. */
static void intent_labels(const dlg_state *st, const bert_dialogue_turn *t, float *out) {
    if (!st->multi) {
        out[0] = (float)find(st->intents, st->n_intents, t->intent, strlen(t->intent));
        return;
    }
    for (int i = 0; i < st->n_intents; i++) out[i] = 0;
    for (const char *p = t->intent, *q; *p; p = *q ? q + 1 : q) {
        q = strchr(p, '#');
        if (!q) q = p + strlen(p);
        int id = find(st->intents, st->n_intents, p, (size_t)(q - p));
        if (id >= 0) out[id] = 1;
    }
}

static bert_status fill(void *state, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens, bert_error *err) {
    const dlg_state *st = state;
    int per = st->multi ? st->n_intents : 1;
    float *slots = labels + (size_t)n * per;
    for (int k = 0; k < n; k++) {
        const dlg_feat *f = &st->train.feat[idx[k]];
        intent_labels(st, &st->train.data.v[idx[k]], labels + (size_t)k * per);
        if (!st->multi && labels[k] < 0)
            return bert_fail(err, BERT_ERR_INPUT, "%s:%ld: intent not in the training intents", st->train.path, st->train.data.v[idx[k]].s.line);
        seqs[k] = (bert_sequence){.input_ids = f->ids, .token_type_ids = f->types, .n_tokens = f->n_tokens};
        memcpy(slots, f->slots, sizeof *slots * (size_t)f->n_tokens);
        slots += f->n_tokens;
        *tokens += f->n_tokens;
    }
    return BERT_OK;
}

static const char *const *metric_names(void *state) {
    (void)state;
    return metric_list;
}

/* ---- scoring ---------------------------------------------------------- */

typedef struct {
    double intent_loss, slot_loss;
    long slot_count, intent_right, sentence_right, n;
    long hist_right, hist_n; /* turns whose intent only the turns before tell (SGD) */
    long seen[2][2], unseen[2][2]; /* SGD: [intent, sentence] right and turns, by the service's presence in training */
    char **svc;                    /* SGD: the services met, and per service turns, intents and sentences right */
    long (*svc_n)[3];
    int n_svc, oom;
    const char **gold, **pred; /* [words of the split] */
    long words;
} dlg_scores;

/* The predicted intents of logits z: argmax, or (multi) every positive
 * logit and the best one when none is; into on[] as 0/1. */
static void intent_pred(const dlg_state *st, const float *z, unsigned char *on) {
    int best = 0, any = 0;
    for (int i = 0; i < st->n_intents; i++) {
        on[i] = st->multi && z[i] > 0;
        any |= on[i];
        if (z[i] > z[best]) best = i;
    }
    if (!any) on[best] = 1;
}

/* One turn: its losses, intent and slot predictions, sentence result. */
static void score_turn(const dlg_state *st, const dlg_feat *f, const bert_dialogue_turn *t, const float *zi, const float *zs,
                       dlg_scores *sc, unsigned char *on, float *gold) {
    int I = st->n_intents, L = st->n_slots;
    intent_labels(st, t, gold);
    /* the training losses (heads.c): an intent the training data lacks has none */
    if (st->multi || gold[0] >= 0)
        sc->intent_loss += train_loss(st->multi ? BERT_PROBLEM_MULTI_LABEL : BERT_PROBLEM_SINGLE_LABEL, zi, gold, 1, I, NULL, 1.0);
    intent_pred(st, zi, on);
    int intent_ok = 1;
    for (int i = 0; i < I; i++) intent_ok &= st->multi ? on[i] == (gold[i] > 0.5f) : on[i] == (i == (int)gold[0]);
    int slots_ok = 1;
    for (int w = 0; w < t->s.n; w++) {
        int k = f->first_piece[w], best = 0;
        const char *p = "O";
        if (k >= 0) {
            const float *row = zs + (size_t)k * L;
            for (int j = 1; j < L; j++) best = row[j] > row[best] ? j : best;
            p = st->slots[best];
            if (f->slots[k] >= 0)
                sc->slot_loss += train_loss(BERT_PROBLEM_SINGLE_LABEL, row, &f->slots[k], 1, L, NULL, 1.0), sc->slot_count++;
        }
        sc->gold[sc->words] = t->s.tags[w], sc->pred[sc->words++] = p;
        slots_ok &= strcmp(p, t->s.tags[w]) == 0;
    }
    sc->intent_right += intent_ok, sc->sentence_right += intent_ok && slots_ok, sc->n++;
    if (t->intent_in_history) sc->hist_right += intent_ok, sc->hist_n++;
    if (t->service) {
        long (*c)[2] = find(st->services, st->n_services, t->service, strlen(t->service)) >= 0 ? sc->seen : sc->unseen;
        c[0][0] += intent_ok, c[1][0] += intent_ok && slots_ok, c[0][1]++, c[1][1]++;
        int k = find(sc->svc, sc->n_svc, t->service, strlen(t->service));
        if (k < 0) {
            long (*n)[3] = realloc(sc->svc_n, sizeof *n * (size_t)(sc->n_svc + 1));
            if (n) sc->svc_n = n, memset(n[sc->n_svc], 0, sizeof n[0]);
            if (!n || !add_name(&sc->svc, &sc->n_svc, t->service, strlen(t->service))) return (void)(sc->oom = 1);
            k = sc->n_svc - 1;
        }
        sc->svc_n[k][0]++, sc->svc_n[k][1] += intent_ok, sc->svc_n[k][2] += intent_ok && slots_ok;
    }
}

/* Score model m on split s into metrics out. */
/* Per service: {"turns", "intent_accuracy", "sentence_accuracy", "seen"}. */
static cJSON *services_json(const dlg_state *st, const dlg_scores *sc) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < sc->n_svc; k++) {
        cJSON *e = cJSON_AddObjectToObject(o, sc->svc[k]);
        double n = (double)sc->svc_n[k][0];
        cJSON_AddNumberToObject(e, "turns", n);
        cJSON_AddNumberToObject(e, "intent_accuracy", sc->svc_n[k][1] / n);
        cJSON_AddNumberToObject(e, "sentence_accuracy", sc->svc_n[k][2] / n);
        cJSON_AddBoolToObject(e, "seen", find(st->services, st->n_services, sc->svc[k], strlen(sc->svc[k])) >= 0);
    }
    return o;
}

/* Score model m on split s into metrics out; with per_service, the SGD
 * services' scores as a JSON object (NULL when no turn has a service). */
static bert_status dlg_score(const dlg_state *st, const bert_model *m, const dlg_split *s, bert_metrics *out,
                             cJSON **per_service, bert_error *err) {
    long words = 0;
    for (int i = 0; i < s->data.n; i++) words += s->data.v[i].s.n;
    dlg_scores sc = {0};
    sc.gold = malloc(sizeof *sc.gold * (size_t)(words + 1)), sc.pred = malloc(sizeof *sc.pred * (size_t)(words + 1));
    int *lens = malloc(sizeof *lens * (size_t)(s->data.n + 1));
    unsigned char *on = malloc((size_t)st->n_intents + 1);
    float *gold = malloc(sizeof *gold * (size_t)(st->n_intents + 1));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)st->batch);
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = st->n_threads;
    bert_context *ctx = NULL;
    bert_status rc = sc.gold && sc.pred && lens && on && gold && seqs ? bert_context_create(m, &cp, &ctx, err)
                                                                      : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < s->data.n; i += st->batch) {
        int n = s->data.n - i < st->batch ? s->data.n - i : st->batch;
        for (int k = 0; k < n; k++)
            seqs[k] = (bert_sequence){.input_ids = s->feat[i + k].ids, .token_type_ids = s->feat[i + k].types,
                                      .n_tokens = s->feat[i + k].n_tokens};
        rc = bert_forward(ctx, seqs, n, BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_INTENT, err);
        for (int k = 0; rc == BERT_OK && k < n; k++) {
            lens[i + k] = s->data.v[i + k].s.n;
            score_turn(st, &s->feat[i + k], &s->data.v[i + k], bert_output_intent_logits(ctx, k),
                       bert_output_token_classifier_logits(ctx, k), &sc, on, gold);
        }
    }
    bert_seqeval_result r;
    memset(&r, 0, sizeof r);
    if (rc == BERT_OK) rc = bert_seqeval(sc.gold, sc.pred, lens, s->data.n, BERT_SEQEVAL_DEFAULT, &r, err);
    if (rc == BERT_OK) {
        double n = sc.n ? (double)sc.n : 1;
        bert_metrics_set(out, "loss", sc.intent_loss / n + (sc.slot_count ? sc.slot_loss / (double)sc.slot_count : 0));
        bert_metrics_set(out, "intent_accuracy", sc.intent_right / n);
        bert_metrics_set(out, "slot_precision", r.precision);
        bert_metrics_set(out, "slot_recall", r.recall);
        bert_metrics_set(out, "slot_f1", r.f1);
        bert_metrics_set(out, "sentence_accuracy", sc.sentence_right / n);
        if (sc.hist_n) bert_metrics_set(out, "history_intent_accuracy", sc.hist_right / (double)sc.hist_n);
        if (sc.hist_n) bert_metrics_set(out, "history_turns", (double)sc.hist_n);
        if (sc.seen[0][1]) bert_metrics_set(out, "seen_services_intent_accuracy", sc.seen[0][0] / (double)sc.seen[0][1]);
        if (sc.seen[1][1]) bert_metrics_set(out, "seen_services_sentence_accuracy", sc.seen[1][0] / (double)sc.seen[1][1]);
        if (sc.unseen[0][1]) bert_metrics_set(out, "unseen_services_intent_accuracy", sc.unseen[0][0] / (double)sc.unseen[0][1]);
        if (sc.unseen[1][1]) bert_metrics_set(out, "unseen_services_sentence_accuracy", sc.unseen[1][0] / (double)sc.unseen[1][1]);
        if (sc.unseen[0][1]) bert_metrics_set(out, "unseen_services_turns", (double)sc.unseen[0][1]);
    }
    if (rc == BERT_OK && sc.oom) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK && per_service) *per_service = sc.n_svc ? services_json(st, &sc) : NULL;
    for (int k = 0; k < sc.n_svc; k++) free(sc.svc[k]);
    free(sc.svc), free(sc.svc_n);
    bert_seqeval_free(&r);
    bert_context_free(ctx);
    free(sc.gold), free(sc.pred), free(lens), free(on), free(gold), free(seqs);
    return rc;
}

static bert_status evaluate(void *state, bert_trainer *t, bert_metrics *out, bert_error *err) {
    return dlg_score(state, bert_trainer_model(t), &((dlg_state *)state)->dev, out, NULL, err);
}

/* The metrics as a JSON object. */
static cJSON *metrics_json(const bert_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; m && i < m->n; i++) cJSON_AddNumberToObject(o, m->name[i], m->value[i]);
    return o;
}

/* report.json: the run, the best dev scores, the test scores of the best model. */
static bert_status finish(void *state, const bert_finetune_params *p, const char *best_dir, const bert_loop_result *r,
                          bert_error *err) {
    dlg_state *st = state;
    bert_metrics dev = {0}, test = {0};
    const bert_metrics *devp = r && r->best_step >= 0 && r->best_metrics.n ? &r->best_metrics : r && r->last_metrics.n ? &r->last_metrics : NULL;
    bert_model *loaded = NULL;
    const bert_model *m = st->model;
    bert_status rc = BERT_OK;
    if (!m && best_dir && (st->test.data.n || !devp) && (rc = bert_model_load(best_dir, NULL, &loaded, err)) == BERT_OK) m = loaded;
    cJSON *services = NULL;
    if (rc == BERT_OK && !devp && m && (rc = dlg_score(st, m, &st->dev, &dev, NULL, err)) == BERT_OK) devp = &dev;
    if (rc == BERT_OK && m && st->test.data.n) rc = dlg_score(st, m, &st->test, &test, &services, err);
    bert_model_free(loaded);
    if (rc != BERT_OK) return cJSON_Delete(services), rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "task", st->task_name);
    cJSON_AddNumberToObject(o, "intents", st->n_intents);
    cJSON_AddBoolToObject(o, "multi_label_intents", st->multi);
    cJSON_AddNumberToObject(o, "slot_tags", st->n_slots);
    cJSON_AddNumberToObject(o, "context_turns", st->context_turns);
    cJSON_AddNumberToObject(o, "train_turns", st->train.data.n);
    cJSON_AddNumberToObject(o, "best_step", r ? (double)r->best_step : -1);
    cJSON_AddNumberToObject(o, "steps", r ? (double)r->steps : 0);
    if (devp) cJSON_AddItemToObject(o, "dev", metrics_json(devp));
    if (test.n) cJSON_AddItemToObject(o, "test", metrics_json(&test));
    if (services) cJSON_AddItemToObject(o, "test_per_service", services);
    if (best_dir && !st->eval_only) cJSON_AddStringToObject(o, "best_model", best_dir);
    char *text = cJSON_Print(o), path[4096];
    cJSON_Delete(o);
    if (!text) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (mkdir(p->output_dir, 0755) != 0 && errno != EEXIST) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p->output_dir, strerror(errno));
    if (rc == BERT_OK) rc = bert_path_join(path, sizeof path, p->output_dir, "report.json", err);
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

const train_task_ops train_task_dialogue = {
    .name = "dialogue",
    .prepare = prepare,
    .n_train = n_train,
    .label_floats = label_floats,
    .fill = fill,
    .metric_names = metric_names,
    .evaluate = evaluate,
    .finish = finish,
    .free = state_free,
};
