/* route_classify.c — TEI's POST /predict (a text, a pair, or a batch of
 * both) and /rerank (a query against texts): tokenized here, scored by the
 * pipeline's classifier in the batcher's ragged batches together with
 * other requests' sequences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

typedef struct {
    int n, raw, batch, return_text;
    const char **texts, **pairs; /* point into the request's JSON (freed once queued: srv_submit); with
                                  * return_text, pairs are copies (owned) */
    srv_trunc t;
    int L;                       /* labels: the job's out is [n x L] scores */
} cls_state;

/* Free a cls_state. */
static void cls_free(void *p) {
    cls_state *c = p;
    if (!c) return;
    for (int i = 0; c->return_text && c->pairs && i < c->n; i++) free((char *)c->pairs[i]);
    free(c->texts), free(c->pairs);
    free(c);
}

/* Whether the model can classify sequences; else a 424 in out. */
static int needs_classifier(srv_req *r, srv_reply *out) {
    if ((r->s->heads & BERT_HEAD_CLASSIFIER) && !r->s->is_token_classifier) return 1;
    return !srv_error(SRV_SHAPE_TEI, out, 424, "backend", NULL, "%s needs a sequence classification model", r->route->path);
}

/* A new state for n inputs with a classification job of n sequences; 0 with a reply. */
static int cls_new(srv_req *r, int n, srv_reply *out) {
    cls_state *c = calloc(1, sizeof *c);
    srv_job *j = calloc(1, sizeof *j);
    r->state = c, r->state_free = cls_free, r->job = j;
    int L = bert_model_num_labels(r->s->model);
    if (!c || !j || !(c->texts = calloc((size_t)n, sizeof *c->texts)) || !(c->pairs = calloc((size_t)n, sizeof *c->pairs)) ||
        !(j->seqs = calloc((size_t)n, sizeof *j->seqs)) || !(j->out_row = calloc((size_t)n, sizeof *j->out_row)) ||
        !(j->out = calloc((size_t)n * (size_t)L, sizeof *j->out)))
        return !srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    c->n = n, c->L = L;
    j->classify = 1, j->dim = L;
    for (int i = 0; i < n; i++) j->out_row[i] = (size_t)i;
    return 1;
}

/* Tokenize input i (texts[i], pairs[i]) into the job; 0 with a reply. */
static int cls_input(srv_req *r, cls_state *c, int i, srv_reply *out) {
    srv_job *j = r->job;
    if (!srv_count_tokens(r, c->texts[i], c->pairs[i], &c->t, i, &j->tokens, &j->seqs[i], out)) return 0;
    j->n_seqs = i + 1; /* the sequences srv_job_free releases */
    return 1;
}

/* One PredictInput item (a string, [a], or [a, b]) into texts[i]/pairs[i]; 0 with a reply. */
static int predict_item(const cJSON *e, cls_state *c, int i, srv_reply *out) {
    if (cJSON_IsString(e)) {
        c->texts[i] = e->valuestring;
        return 1;
    }
    int k = cJSON_IsArray(e) ? cJSON_GetArraySize(e) : 0;
    if ((k != 1 && k != 2) || !cJSON_IsString(e->child) || (k == 2 && !cJSON_IsString(e->child->next)))
        return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs", "input %d must be [text] or [text, text_pair]", i);
    c->texts[i] = e->child->valuestring;
    c->pairs[i] = k == 2 ? e->child->next->valuestring : NULL;
    return 1;
}

/* POST /predict. */
int route_predict(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be a JSON object");
    if (!needs_classifier(r, out)) return 1;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    /* A string; a pair ["a", "b"]; or a batch [[...], ...]. */
    int batch = cJSON_IsArray(in) && in->child && cJSON_IsArray(in->child);
    int pair = cJSON_IsArray(in) && !batch;
    int n = batch ? cJSON_GetArraySize(in) : 1;
    if (!in || (!cJSON_IsString(in) && !cJSON_IsArray(in)))
        return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs", "'inputs' must be a string, a pair or a batch");
    if (cJSON_IsArray(in) && !in->child) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", "inputs", "'inputs' is empty");
    if (n > r->s->prm.max_client_batch)
        return srv_error(SRV_SHAPE_TEI, out, 413, "validation", "inputs", "batch size %d > maximum allowed batch size %d",
                         n, r->s->prm.max_client_batch);
    if (!cls_new(r, n, out)) return 1;
    cls_state *c = r->state;
    c->batch = batch;
    if (!srv_read_bool(r, b, "raw_scores", 0, &c->raw, out) || !srv_read_trunc(r, b, &c->t, out)) return 1;
    r->job->score_fn = c->raw ? BERT_SCORE_NONE : BERT_SCORE_AUTO;
    const cJSON *e = batch ? in->child : in;
    for (int i = 0; i < n; i++, e = batch ? e->next : e)
        if (!(pair ? predict_item(in, c, 0, out) : predict_item(e, c, i, out))) return 1;
    for (int i = 0; i < n; i++) {
        if (!*c->texts[i]) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", "inputs", "input %d is an empty string", i);
        if (!cls_input(r, c, i, out)) return 1;
    }
    return srv_submit(r, out);
}

/* Labels of one input, best first. */
static void predictions(srv_req *r, const float *s, int L, sbuf *o) {
    int order[256], n = L < 256 ? L : 256;
    for (int i = 0; i < n; i++) { /* insertion sort, stable: ties keep label order */
        int k = i;
        while (k > 0 && s[order[k - 1]] < s[i]) order[k] = order[k - 1], k--;
        order[k] = i;
    }
    sb_puts(o, "[");
    for (int i = 0; i < n; i++) {
        const char *l = bert_model_label(r->s->model, order[i]);
        sb_puts(o, i ? ",{\"score\":" : "{\"score\":");
        sb_printf(o, "%.9g,\"label\":", s[order[i]]);
        if (l) sb_json_str(o, l);
        else sb_printf(o, "\"LABEL_%d\"", order[i]);
        sb_puts(o, "}");
    }
    sb_puts(o, "]");
}

/* The answer of /predict: [{"score","label"}...] or a list of those. */
void route_predict_finish(srv_req *r, srv_reply *out) {
    if (r->job->failed) return srv_job_error(r, out);
    cls_state *c = r->state;
    out->status = 200;
    if (c->batch) sb_puts(&out->body, "[");
    for (int i = 0; i < c->n; i++) {
        if (i) sb_puts(&out->body, ",");
        predictions(r, r->job->out + (size_t)i * c->L, c->L, &out->body);
    }
    if (c->batch) sb_puts(&out->body, "]");
}

/* POST /rerank: {"query", "texts", "raw_scores", "return_text", "truncate", ...}. */
int route_rerank(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be a JSON object");
    if (!needs_classifier(r, out)) return 1;
    if (bert_model_num_labels(r->s->model) > 2) /* the last label is a relevance for one or two labels alone */
        return srv_error(SRV_SHAPE_TEI, out, 424, "backend", NULL, "/rerank needs a cross-encoder of one or two labels; "
                         "this model has %d (use /predict)", bert_model_num_labels(r->s->model));
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(b, "query"), *texts = cJSON_GetObjectItemCaseSensitive(b, "texts");
    if (!cJSON_IsString(q)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "query", "'query' must be a string");
    if (!cJSON_IsArray(texts)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "texts", "'texts' must be a list of strings");
    int n = cJSON_GetArraySize(texts);
    if (n == 0 || !*q->valuestring) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", "texts", "'query' and 'texts' must not be empty");
    if (n > r->s->prm.max_client_batch)
        return srv_error(SRV_SHAPE_TEI, out, 413, "validation", "texts", "batch size %d > maximum allowed batch size %d",
                         n, r->s->prm.max_client_batch);
    if (!cls_new(r, n, out)) return 1;
    cls_state *c = r->state;
    if (!srv_read_bool(r, b, "raw_scores", 0, &c->raw, out) || !srv_read_bool(r, b, "return_text", 0, &c->return_text, out) ||
        !srv_read_trunc(r, b, &c->t, out))
        return 1;
    /* bert_rerank's scores: a single-logit cross-encoder's sigmoid, else the
     * model's score function; the relevance is the last label's. */
    r->job->score_fn = c->raw ? BERT_SCORE_NONE : c->L == 1 ? BERT_SCORE_SIGMOID : BERT_SCORE_AUTO;
    int i = 0;
    for (const cJSON *e = texts->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e) || !*e->valuestring)
            return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "texts", "texts[%d] must be a non-empty string", i);
        c->texts[i] = q->valuestring;
        c->pairs[i] = c->return_text ? strdup(e->valuestring) : e->valuestring; /* the answer names it */
        if (!c->pairs[i]) return srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
        if (!cls_input(r, c, i, out)) return 1;
    }
    return srv_submit(r, out);
}

/* The answer of /rerank: [{"index","score"[,"text"]}], best first. */
void route_rerank_finish(srv_req *r, srv_reply *out) {
    if (r->job->failed) return srv_job_error(r, out);
    cls_state *c = r->state;
    int *order = malloc((size_t)c->n * sizeof *order);
    float *score = malloc((size_t)c->n * sizeof *score);
    if (!order || !score) {
        free(order), free(score);
        return (void)srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    }
    for (int i = 0; i < c->n; i++) {
        score[i] = r->job->out[(size_t)i * c->L + (size_t)(c->L - 1)];
        int k = i;
        while (k > 0 && score[order[k - 1]] < score[i]) order[k] = order[k - 1], k--;
        order[k] = i;
    }
    out->status = 200;
    sb_puts(&out->body, "[");
    for (int i = 0; i < c->n; i++) {
        sb_printf(&out->body, "%s{\"index\":%d,\"score\":%.9g", i ? "," : "", order[i], score[order[i]]);
        if (c->return_text) {
            sb_puts(&out->body, ",\"text\":");
            sb_json_str(&out->body, c->pairs[order[i]]);
        }
        sb_puts(&out->body, "}");
    }
    sb_puts(&out->body, "]");
    free(order), free(score);
}
