/* ner.c — token classification as transformers pipelines/
 * token_classification.py does it: softmax per token, special tokens
 * dropped, words rebuilt from sub-tokens (a token is a sub-token when its
 * text is not as long as the original span it covers, e.g. "##ing"), the
 * aggregation strategy, B-/I- grouping, and "O" removed. */
#include <stdlib.h>
#include <string.h>

#include "tasks/ner.h"
#include "tasks/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

/* One token, or one word after word-level aggregation. */
typedef struct {
    const char *word; /* token text, or the original text for [UNK] */
    char *owned;      /* when word was allocated */
    const double *scores;
    double *owned_scores;
    int label;
    double score;
    int start, end, index, is_subword;
} item;

static int argmax(const double *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static int utf8_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += (*s & 0xC0) != 0x80;
    return n;
}

/* "B-PER" -> ('B', "PER"); anything else is a continuation of itself. */
static const char *tag_of(const char *label, char *bi) {
    if ((label[0] == 'B' || label[0] == 'I') && label[1] == '-') {
        *bi = label[0];
        return label + 2;
    }
    *bi = 'I';
    return label;
}

static char *join_words(const bert_tokenizer *t, const item *items, int n) {
    const char **w = malloc(sizeof *w * (size_t)n);
    if (!w) return NULL;
    for (int i = 0; i < n; i++) w[i] = items[i].word;
    /* convert_tokens_to_string of a fast tokenizer: the decoder only, without
     * transformers' clean_up_tokenization. */
    char *s = bert_decode_tokens(t, w, n);
    free(w);
    return s;
}

void bert_entities_free(bert_entities *e, int n) {
    for (int i = 0; e && i < n; i++) {
        for (int j = 0; j < e[i].n; j++) {
            free(e[i].entities[j].entity);
            free(e[i].entities[j].word);
        }
        free(e[i].entities);
        memset(&e[i], 0, sizeof e[i]);
    }
}

static int push_entity(bert_entities *out, const char *label, double score, char *word, int start, int end, int index) {
    bert_entity *a = realloc(out->entities, sizeof *a * (size_t)(out->n + 1));
    if (!a) return 0;
    out->entities = a;
    bert_entity *x = &a[out->n++];
    x->entity = task_strdup(label);
    x->score = score;
    x->word = word;
    x->start = start;
    x->end = end;
    x->index = index;
    return x->entity != NULL;
}

/* Word-level aggregation of items [a, b) into one item. */
static int aggregate_word(const bert_tokenizer *t, item *items, int a, int b, bert_aggregation agg, int L, item *w) {
    memset(w, 0, sizeof *w);
    const double *sc = items[a].scores;
    if (agg == BERT_AGGREGATE_MAX) {
        int best = a;
        for (int i = a + 1; i < b; i++)
            if (items[i].scores[argmax(items[i].scores, L)] > items[best].scores[argmax(items[best].scores, L)]) best = i;
        sc = items[best].scores;
    } else if (agg == BERT_AGGREGATE_AVERAGE) {
        w->owned_scores = calloc((size_t)L, sizeof *w->owned_scores);
        if (!w->owned_scores) return 0;
        for (int i = a; i < b; i++)
            for (int j = 0; j < L; j++) w->owned_scores[j] += items[i].scores[j];
        for (int j = 0; j < L; j++) w->owned_scores[j] /= (b - a);
        sc = w->owned_scores;
    }
    w->label = argmax(sc, L);
    w->score = sc[w->label];
    w->owned = join_words(t, items + a, b - a);
    w->word = w->owned;
    w->start = items[a].start;
    w->end = items[b - 1].end;
    w->index = -1;
    return w->owned != NULL;
}

bert_status task_entities(bert_pipeline *p, const char *text, const bert_encoding *e, const float *logits,
                          bert_aggregation agg, int first_only, bert_entities *out, bert_error *err) {
    const bert_model *m = p->model;
    int L = bert_model_num_labels(m), unk = bert_tokenizer_special_id(p->tok, BERT_SPECIAL_UNK);
    double *scores = malloc(sizeof *scores * (size_t)e->n_tokens * (size_t)L);
    item *items = calloc((size_t)e->n_tokens + 1, sizeof *items), *words = calloc((size_t)e->n_tokens + 1, sizeof *words);
    int n = 0, nw = 0, ok = scores && items && words;
    for (int t = 0; ok && t < e->n_tokens; t++) {
        if (e->special_tokens_mask[t] || (first_only && e->token_type_ids[t] != 0)) continue;
        double *s = scores + (size_t)t * L;
        for (int j = 0; j < L; j++) s[j] = logits[(size_t)t * L + j];
        task_softmax(s, L);
        item *it = &items[n++];
        it->scores = s;
        it->start = e->offsets[2 * t];
        it->end = e->offsets[2 * t + 1];
        it->index = t;
        it->word = e->tokens[t];
        char *ref = task_cp_slice(text, it->start, it->end);
        ok = ref != NULL;
        if (ok) it->is_subword = utf8_len(it->word) != utf8_len(ref);
        if (ok && e->input_ids[t] == unk) {
            it->owned = ref;
            it->word = ref;
            it->is_subword = 0;
        } else {
            free(ref);
        }
        it->label = argmax(s, L);
        it->score = s[it->label];
    }
    const item *ents = items;
    int n_ents = n;
    if (ok && agg >= BERT_AGGREGATE_FIRST) { /* words first */
        for (int a = 0; ok && a < n;) {
            int b = a + 1;
            while (b < n && items[b].is_subword) b++;
            ok = aggregate_word(p->tok, items, a, b, agg, L, &words[nw++]);
            a = b;
        }
        ents = words;
        n_ents = nw;
    }
    if (ok && agg == BERT_AGGREGATE_NONE) {
        for (int i = 0; ok && i < n_ents; i++) {
            const char *label = bert_model_label(m, ents[i].label);
            if (strcmp(label, "O") == 0) continue;
            char *w = task_strdup(ents[i].word);
            ok = w && push_entity(out, label, ents[i].score, w, ents[i].start, ents[i].end, ents[i].index);
        }
    } else if (ok) {
        /* group_entities: extend while the type matches and the tag is not B-. */
        for (int a = 0; ok && a < n_ents;) {
            char bi, lbi;
            const char *tag = tag_of(bert_model_label(m, ents[a].label), &lbi);
            int b = a + 1;
            while (b < n_ents) {
                const char *t2 = tag_of(bert_model_label(m, ents[b].label), &bi);
                if (strcmp(t2, tag) != 0 || bi == 'B') break;
                tag = t2;
                b++;
            }
            /* entity_group = the first label's part after the last '-'. */
            const char *first = bert_model_label(m, ents[a].label), *dash = strrchr(first, '-');
            const char *group = dash ? dash + 1 : first;
            double mean = 0;
            for (int i = a; i < b; i++) mean += ents[i].score;
            mean /= (b - a);
            if (strcmp(group, "O") != 0) {
                char *w = join_words(p->tok, ents + a, b - a);
                ok = w && push_entity(out, group, mean, w, ents[a].start, ents[b - 1].end, -1);
            }
            a = b;
        }
    }
    for (int i = 0; items && i < n; i++) free(items[i].owned);
    for (int i = 0; words && i < nw; i++) free(words[i].owned), free(words[i].owned_scores);
    free(items);
    free(words);
    free(scores);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

bert_status bert_ner(bert_pipeline *p, const char *const *texts, int n, bert_aggregation agg, bert_entities *out,
                     bert_error *err) {
    bert_error_clear(err);
    memset(out, 0, sizeof *out * (size_t)(n > 0 ? n : 0));
    if (!(bert_model_heads(p->model) & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no token classification head (classifier)");
    if (bert_model_config(p->model)->num_labels <= 0)
        return bert_fail(err, BERT_ERR_CONFIG, "config.json has no id2label: entity labels are unknown");
    task_batch b;
    bert_status rc = task_run(p, texts, NULL, n, 0, BERT_OUTPUT_TOKEN_CLASSIFIER, &b, err);
    for (int i = 0; rc == BERT_OK && i < n; i++)
        rc = task_entities(p, texts[i], &b.enc[i].encodings[0], bert_output_token_classifier_logits(p->ctx, i), agg, 0,
                           &out[i], err);
    task_batch_free(&b);
    if (rc != BERT_OK) bert_entities_free(out, n);
    return rc;
}
