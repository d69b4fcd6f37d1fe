/* dialogue.c — joint intent + slot inference (bert_dialogue): each turn
 * laid out as the dialogue task trained it (train/task_dialogue.c), one
 * batched forward for the slot tagger and the intent head, the intents by
 * softmax (or sigmoid, multi-label) and the slots as "first"-aggregated
 * entities of the turn's own tokens. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/finite.h"
#include "tasks/ner.h"
#include "tasks/pipeline.h"
#include "util/error.h"

/* One turn: the text's own encoding (offsets for the slots) and the ids of
 * the whole input, history appended as segment B. */
typedef struct {
    bert_encodings text;
    int32_t *ids, *types;
    int n;
} dlg_input;

static void input_free(dlg_input *d) {
    bert_encodings_free(&d->text);
    free(d->ids), free(d->types);
    memset(d, 0, sizeof *d);
}

static bert_status encode(bert_pipeline *p, const bert_dialogue_input *in, int turns, int max_len, dlg_input *d, int index,
                          bert_error *err) {
    bert_encode_params ep = bert_encode_default_params();
    bert_status rc = bert_tokenize(p->tok, in->text ? in->text : "", -1, NULL, 0, &ep, &d->text, err);
    if (rc != BERT_OK) return rc;
    const bert_encoding *e = &d->text.encodings[0];
    if (e->n_tokens > max_len) {
        bert_fail(err, BERT_ERR_INPUT, "input %d: the turn alone is %d tokens; the model takes %d", index, e->n_tokens, max_len);
        if (err) err->item = index;
        return BERT_ERR_INPUT;
    }
    d->ids = malloc(sizeof *d->ids * (size_t)max_len), d->types = calloc((size_t)max_len, sizeof *d->types);
    if (!d->ids || !d->types) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memcpy(d->ids, e->input_ids, sizeof *d->ids * (size_t)e->n_tokens);
    d->n = e->n_tokens;
    int sep = bert_tokenizer_special_id(p->tok, BERT_SPECIAL_SEP);
    ep.add_special_tokens = 0;
    int n_history = in->history ? in->n_history : 0;
    for (int h = n_history - 1, used = 0; rc == BERT_OK && h >= 0 && used < turns && d->n < max_len - 1; h--, used++) {
        bert_encodings he;
        if ((rc = bert_tokenize(p->tok, in->history[h] ? in->history[h] : "", -1, NULL, 0, &ep, &he, err)) != BERT_OK) break;
        int k = 0;
        for (; k < he.encodings[0].n_tokens && d->n < max_len - 1; k++) d->types[d->n] = 1, d->ids[d->n++] = he.encodings[0].input_ids[k];
        int all = k == he.encodings[0].n_tokens;
        bert_encodings_free(&he);
        d->types[d->n] = 1, d->ids[d->n++] = sep;
        if (!all) break;
    }
    return rc;
}

/* The intents of logits z into o: softmax top_k, or sigmoid > 0.5 (multi). */
static int intents_of(const bert_model *m, const float *z, int top_k, bert_dialogue_output *o) {
    const bert_config *c = bert_model_config(m);
    int I = c->num_intents, multi = c->intent_multi_label;
    double *pr = malloc(sizeof *pr * (size_t)I);
    int *order = malloc(sizeof *order * (size_t)I);
    if (!pr || !order) return free(pr), free(order), 0;
    for (int i = 0; i < I; i++) pr[i] = z[i], order[i] = i;
    if (multi) for (int i = 0; i < I; i++) pr[i] = 1.0 / (1.0 + exp(-pr[i]));
    else task_softmax(pr, I);
    for (int i = 1; i < I; i++) /* best first; ties by id */
        for (int j = i; j > 0 && pr[order[j]] > pr[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    int n = 0;
    if (multi) while (n < I && pr[order[n]] > 0.5) n++;
    else n = top_k < I ? top_k : I;
    if (n < 1) n = 1;
    o->intents = calloc((size_t)n, sizeof *o->intents), o->scores = malloc(sizeof *o->scores * (size_t)n);
    int ok = o->intents && o->scores;
    for (int i = 0; ok && i < n; i++) ok = (o->intents[i] = task_strdup(bert_model_intent(m, order[i]))) != NULL, o->scores[i] = pr[order[i]], o->n_intents = i + 1;
    free(pr), free(order);
    return ok;
}

void bert_dialogue_output_free(bert_dialogue_output *o, int n) {
    for (int i = 0; o && i < n; i++) {
        for (int k = 0; k < o[i].n_intents; k++) free(o[i].intents[k]);
        free(o[i].intents), free(o[i].scores);
        bert_entities_free(&o[i].slots, 1);
        memset(&o[i], 0, sizeof o[i]);
    }
}

bert_status bert_dialogue(bert_pipeline *p, const bert_dialogue_input *in, int n, int context_turns, int top_k,
                          bert_dialogue_output *out, bert_error *err) {
    bert_error_clear(err);
    if (!p || !in || !out || n <= 0) return bert_fail(err, BERT_ERR_INPUT, "bert_dialogue: no inputs");
    memset(out, 0, sizeof *out * (size_t)n);
    const bert_config *c = bert_model_config(p->model);
    if (!(bert_model_heads(p->model) & BERT_HEAD_INTENT) || c->num_intents < 1 || c->num_labels < 1)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model is not a joint intent + slot model (no intent_classifier / intent_id2label)");
    int turns = context_turns >= 0 ? context_turns : c->dialogue_context_turns;
    int max_len = c->dialogue_max_length > 0 && c->dialogue_max_length < c->max_position_embeddings ? c->dialogue_max_length
                                                                                                   : c->max_position_embeddings;
    dlg_input *d = calloc((size_t)n, sizeof *d);
    bert_sequence *seqs = calloc((size_t)n, sizeof *seqs);
    bert_status rc = d && seqs ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < n; i++) {
        rc = encode(p, &in[i], turns, max_len, &d[i], i, err);
        seqs[i] = (bert_sequence){.input_ids = d[i].ids, .token_type_ids = d[i].types, .n_tokens = d[i].n};
    }
    unsigned outputs = BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_INTENT;
    if (rc == BERT_OK) rc = bert_forward(p->ctx, seqs, n, outputs, err);
    if (rc == BERT_OK) rc = task_check_finite(p->ctx, p->model, seqs, n, outputs, err);
    for (int i = 0; rc == BERT_OK && i < n; i++) {
        if (!intents_of(p->model, bert_output_intent_logits(p->ctx, i), top_k > 0 ? top_k : 1, &out[i]))
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        else
            rc = task_entities(p, in[i].text ? in[i].text : "", &d[i].text.encodings[0],
                               bert_output_token_classifier_logits(p->ctx, i), BERT_AGGREGATE_FIRST, 0, &out[i].slots, err);
    }
    for (int i = 0; d && i < n; i++) input_free(&d[i]);
    free(d), free(seqs);
    if (rc != BERT_OK) bert_dialogue_output_free(out, n);
    return rc;
}

char *bert_dialogue_output_json(const bert_dialogue_output *r) {
    cJSON *o = cJSON_CreateObject(), *best = cJSON_AddObjectToObject(o, "intent"), *all = cJSON_AddArrayToObject(o, "intents");
    if (r->n_intents > 0) {
        cJSON_AddStringToObject(best, "label", r->intents[0]);
        cJSON_AddNumberToObject(best, "score", r->scores[0]);
    }
    for (int k = 0; k < r->n_intents; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "label", r->intents[k]);
        cJSON_AddNumberToObject(x, "score", r->scores[k]);
        cJSON_AddItemToArray(all, x);
    }
    cJSON *slots = cJSON_AddArrayToObject(o, "slots");
    for (int k = 0; k < r->slots.n; k++) {
        const bert_entity *e = &r->slots.entities[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "slot", e->entity);
        cJSON_AddStringToObject(x, "value", e->word);
        cJSON_AddNumberToObject(x, "start", e->start);
        cJSON_AddNumberToObject(x, "end", e->end);
        cJSON_AddNumberToObject(x, "score", e->score);
        cJSON_AddItemToArray(slots, x);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
