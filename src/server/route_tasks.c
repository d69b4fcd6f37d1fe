/* route_tasks.c — bert.c's own pipelines over HTTP: POST /fill-mask, /ner,
 * /qa and /dialogue take the objects the CLI commands read (one, or a
 * list) and answer with the JSON the CLI writes (one, or a list); TEI's
 * POST /embed_sparse runs the same way, one text at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

typedef enum { TASK_FILL, TASK_NER, TASK_QA, TASK_DIALOGUE, TASK_SPARSE } task_kind;

typedef struct {
    task_kind kind;
    int n, list;
    cJSON *own;      /* the request's objects, each cut to what its task reads (item_copy) */
    cJSON **items;   /* [n] in own                                    */
    srv_trunc *t;    /* [n]                                           */
    cJSON *answer;   /* built by the batcher                          */
} task_state;

/* Free a task_state. */
static void task_free(void *p) {
    task_state *s = p;
    if (!s) return;
    free(s->items), free(s->t);
    cJSON_Delete(s->own);
    cJSON_Delete(s->answer);
    free(s);
}

#define DIALOGUE_HISTORY 64

/* The fields each task reads from an object on the batcher. */
static const char *const item_keys[][9] = {
    [TASK_FILL] = {"text", "top_k", "targets"},
    [TASK_NER] = {"text", "aggregation_strategy"},
    [TASK_QA] = {"question", "context", "top_k", "max_answer_len", "max_seq_len", "doc_stride", "max_question_len",
                 "handle_impossible"},
    [TASK_DIALOGUE] = {"text", "top_k", "history"},
    [TASK_SPARSE] = {"text"},
};

/* A copy of object o with the fields its task reads alone (a dialogue's
 * last DIALOGUE_HISTORY turns), so a queued request holds no more than
 * that of its body; NULL when out of memory. */
static cJSON *item_copy(const cJSON *o, task_kind kind) {
    cJSON *c = cJSON_CreateObject();
    for (size_t k = 0; c && k < sizeof item_keys[0] / sizeof item_keys[0][0] && item_keys[kind][k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, item_keys[kind][k]);
        if (!v) continue;
        cJSON *d = NULL;
        if (cJSON_IsArray(v) && strcmp(item_keys[kind][k], "history") == 0) {
            int skip = cJSON_GetArraySize(v) - DIALOGUE_HISTORY;
            d = cJSON_CreateArray();
            for (const cJSON *e = v->child; d && e; e = e->next)
                if (skip-- <= 0 && !cJSON_AddItemToArray(d, cJSON_Duplicate(e, 1))) cJSON_Delete(d), d = NULL;
        } else {
            d = cJSON_Duplicate(v, 1);
        }
        if (!d || !cJSON_AddItemToObject(c, item_keys[kind][k], d)) cJSON_Delete(d), cJSON_Delete(c), c = NULL;
    }
    return c;
}

/* An int field in [lo, hi] (absent: def); 0 with j->err. */
static int item_int(const cJSON *o, const char *key, int def, int lo, int hi, int i, int *v, bert_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = def;
    if (!x || cJSON_IsNull(x)) return 1;
    if (cJSON_IsNumber(x) && x->valuedouble >= lo && x->valuedouble <= hi && (double)(int)x->valuedouble == x->valuedouble) {
        *v = (int)x->valuedouble;
        return 1;
    }
    err->code = BERT_ERR_INPUT;
    snprintf(err->message, sizeof err->message, "input %d: '%s' must be an integer in [%d, %d]", i, key, lo, hi);
    return 0;
}

enum { FILL_TARGETS = 64 }; /* a fill-mask object's targets, at most */

/* fill-mask of one object: the CLI's line. */
static cJSON *fill_one(bert_pipeline *p, const cJSON *o, int i, bert_error *err) {
    const char *text = cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring;
    int top_k, nt = 0;
    if (!item_int(o, "top_k", 5, 1, 1000, i, &top_k, err)) return NULL;
    const cJSON *tg = cJSON_GetObjectItemCaseSensitive(o, "targets");
    const char *targets[FILL_TARGETS];
    for (const cJSON *e = cJSON_IsArray(tg) ? tg->child : NULL; e && nt < FILL_TARGETS; e = e->next) /* start_items checked them */
        targets[nt++] = e->valuestring;
    bert_fill_mask_result res;
    if (bert_fill_mask(p, &text, 1, top_k, nt ? targets : NULL, nt, &res, err) != BERT_OK) return NULL;
    cJSON *all = cJSON_CreateArray();
    for (int m = 0; m < res.n_masks; m++) {
        cJSON *row = cJSON_CreateArray();
        for (int k = 0; k < res.top_k; k++) {
            const bert_fill_prediction *pr = &res.predictions[m * res.top_k + k];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "score", pr->score);
            cJSON_AddNumberToObject(x, "token", pr->token);
            cJSON_AddStringToObject(x, "token_str", pr->token_str);
            cJSON_AddStringToObject(x, "sequence", pr->sequence);
            cJSON_AddItemToArray(row, x);
        }
        cJSON_AddItemToArray(all, row);
    }
    if (res.n_masks == 1) { /* a single mask: its list, as the CLI writes */
        cJSON *row = cJSON_DetachItemFromArray(all, 0);
        cJSON_Delete(all);
        all = row;
    }
    bert_fill_mask_result_free(&res, 1);
    return all;
}

/* NER of one object: the CLI's line. */
static cJSON *ner_one(bert_pipeline *p, const cJSON *o, int i, bert_error *err) {
    static const char *names[] = {"none", "simple", "first", "average", "max"};
    const char *text = cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "aggregation_strategy");
    int agg = 0;
    if (cJSON_IsString(a))
        while (agg < 5 && strcmp(names[agg], a->valuestring) != 0) agg++;
    if (a && !cJSON_IsNull(a) && (!cJSON_IsString(a) || agg == 5)) {
        err->code = BERT_ERR_INPUT;
        snprintf(err->message, sizeof err->message, "input %d: 'aggregation_strategy' must be none, simple, first, average or max", i);
        return NULL;
    }
    bert_entities res;
    if (bert_ner(p, &text, 1, (bert_aggregation)agg, &res, err) != BERT_OK) return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < res.n; k++) {
        const bert_entity *e = &res.entities[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, agg == BERT_AGGREGATE_NONE ? "entity" : "entity_group", e->entity);
        cJSON_AddNumberToObject(x, "score", e->score);
        if (agg == BERT_AGGREGATE_NONE) cJSON_AddNumberToObject(x, "index", e->index);
        cJSON_AddStringToObject(x, "word", e->word);
        cJSON_AddNumberToObject(x, "start", e->start);
        cJSON_AddNumberToObject(x, "end", e->end);
        cJSON_AddItemToArray(arr, x);
    }
    bert_entities_free(&res, 1);
    return arr;
}

/* QA of one object: the CLI's line (an answer, or a list for top_k > 1). */
static cJSON *qa_one(bert_pipeline *p, const cJSON *o, int i, bert_error *err) {
    bert_qa_params q = bert_qa_default_params();
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(o, "handle_impossible");
    if (!item_int(o, "top_k", q.top_k, 1, 100, i, &q.top_k, err) ||
        !item_int(o, "max_answer_len", q.max_answer_len, 1, 4096, i, &q.max_answer_len, err) ||
        !item_int(o, "max_seq_len", q.max_seq_len, 8, 4096, i, &q.max_seq_len, err) ||
        !item_int(o, "doc_stride", q.doc_stride, 0, 4096, i, &q.doc_stride, err) ||
        !item_int(o, "max_question_len", q.max_question_len, 1, 4096, i, &q.max_question_len, err))
        return NULL;
    q.handle_impossible = cJSON_IsTrue(hi); /* a boolean: start_items checked it */
    bert_answer *a;
    int na;
    if (bert_qa(p, cJSON_GetObjectItemCaseSensitive(o, "question")->valuestring,
                cJSON_GetObjectItemCaseSensitive(o, "context")->valuestring, &q, &a, &na, err) != BERT_OK)
        return NULL;
    cJSON *res = q.top_k == 1 && na == 1 ? NULL : cJSON_CreateArray();
    for (int k = 0; k < na; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "score", a[k].score);
        cJSON_AddNumberToObject(x, "start", a[k].start);
        cJSON_AddNumberToObject(x, "end", a[k].end);
        cJSON_AddStringToObject(x, "answer", a[k].answer);
        if (!res) res = x;
        else cJSON_AddItemToArray(res, x);
    }
    bert_answers_free(a, na);
    return res;
}

/* A dialogue turn, {"text", "history"?: [strings or {"speaker", "text"}],
 * "top_k"?}: bert dialogue's line (the last DIALOGUE_HISTORY earlier turns read). */
static cJSON *dialogue_one(bert_pipeline *p, const cJSON *o, int i, bert_error *err) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "history");
    int top_k, total = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0, k = 0;
    if (!item_int(o, "top_k", 1, 1, 1000, i, &top_k, err)) return NULL;
    const char *turns[DIALOGUE_HISTORY];
    char *owned[DIALOGUE_HISTORY] = {0}; /* "speaker: text", whole, as training writes it */
    bert_dialogue_input in = {cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring, turns, 0};
    int ok = !h || cJSON_IsNull(h) || cJSON_IsArray(h), oom = 0;
    for (const cJSON *e = cJSON_IsArray(h) ? h->child : NULL; ok && !oom && e; e = e->next, k++) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "speaker"), *tx = cJSON_GetObjectItemCaseSensitive(e, "text");
        if (k < total - DIALOGUE_HISTORY) continue;
        if (cJSON_IsString(e)) {
            turns[in.n_history++] = e->valuestring;
        } else if ((ok = cJSON_IsString(sp) && cJSON_IsString(tx))) {
            char *s = owned[in.n_history] = malloc(strlen(sp->valuestring) + strlen(tx->valuestring) + 3);
            if (!(oom = !s)) sprintf(s, "%s: %s", sp->valuestring, tx->valuestring), turns[in.n_history++] = s;
        }
    }
    bert_dialogue_output r;
    bert_status rc = !ok ? BERT_ERR_INPUT : oom ? BERT_ERR_NOMEM : bert_dialogue(p, &in, 1, -1, top_k, &r, err);
    for (int t = 0; t < DIALOGUE_HISTORY; t++) free(owned[t]);
    if (rc != BERT_OK) {
        if (!ok) snprintf(err->message, sizeof err->message, "input %d: 'history' must be a list of strings or {\"speaker\", \"text\"}", i);
        else if (oom) snprintf(err->message, sizeof err->message, "out of memory");
        else if (strncmp(err->message, "input 0: ", 9) == 0) { /* this item's index, not the call's */
            char m[sizeof err->message];
            snprintf(m, sizeof m, "input %d: %s", i, err->message + 9);
            memcpy(err->message, m, sizeof m);
        }
        err->code = rc;
        return NULL;
    }
    char *json = bert_dialogue_output_json(&r);
    bert_dialogue_output_free(&r, 1);
    cJSON *res = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!res) err->code = BERT_ERR_NOMEM, snprintf(err->message, sizeof err->message, "out of memory");
    return res;
}

/* A SPLADE vector: [{"index", "value"}, ...] as TEI answers it. */
static cJSON *sparse_one(bert_pipeline *p, const cJSON *o, int i, bert_error *err) {
    (void)i;
    const char *text = cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring;
    bert_sparse_vector v;
    if (bert_embed_sparse(p, &text, 1, &v, err) != BERT_OK) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < v.n; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "index", v.index[k]);
        cJSON_AddNumberToObject(x, "value", v.value[k]);
        cJSON_AddItemToArray(a, x);
    }
    bert_sparse_vectors_free(&v, 1);
    return a;
}

/* The batcher's part: every item in order; the first failure fails the job. */
static int run_task(srv_job *j, bert_pipeline *p) {
    task_state *s = j->task_state;
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < s->n; i++) {
        bert_pipeline_set_truncation(p, s->t[i].truncate, s->t[i].left);
        cJSON *a = s->kind == TASK_FILL ? fill_one(p, s->items[i], i, &j->err)
                   : s->kind == TASK_NER ? ner_one(p, s->items[i], i, &j->err)
                   : s->kind == TASK_QA  ? qa_one(p, s->items[i], i, &j->err)
                   : s->kind == TASK_SPARSE ? sparse_one(p, s->items[i], i, &j->err)
                                         : dialogue_one(p, s->items[i], i, &j->err);
        if (!a) {
            if (s->n > 1 && strncmp(j->err.message, "input ", 6) != 0) {
                char m[sizeof j->err.message];
                memcpy(m, j->err.message, sizeof m);
                int k = snprintf(j->err.message, sizeof j->err.message, "input %d: ", i);
                snprintf(j->err.message + k, sizeof j->err.message - (size_t)k, "%.*s", (int)(sizeof m) - 20, m);
            }
            cJSON_Delete(list);
            return 0;
        }
        cJSON_AddItemToArray(list, a);
    }
    if (!list) return snprintf(j->err.message, sizeof j->err.message, "out of memory"), 0;
    if (s->list) s->answer = list;
    else s->answer = cJSON_DetachItemFromArray(list, 0), cJSON_Delete(list);
    return 1;
}

/* Fill-mask object o (input i, `masks` [MASK] tokens in its text of
 * text_bytes): its top_k and targets checked, and what its predictions'
 * JSON will take, about (a sequence of at most twice the text, and its
 * numbers and token), added to *bytes; past 16 x --max-body-bytes for the
 * request, a 422: a small body must not make an answer of gigabytes. 0
 * with the reply. */
static int fill_answer_bytes(srv_req *r, const cJSON *o, int i, int masks, size_t text_bytes, double *bytes,
                             srv_reply *out) {
    bert_error err = {0};
    int top_k, nt = 0;
    if (!item_int(o, "top_k", 5, 1, 1000, i, &top_k, &err))
        return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "top_k", "%s", err.message);
    const cJSON *tg = cJSON_GetObjectItemCaseSensitive(o, "targets");
    if (tg && !cJSON_IsNull(tg) && !cJSON_IsArray(tg))
        return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "targets", "input %d: 'targets' must be a list of strings", i);
    for (const cJSON *e = cJSON_IsArray(tg) ? tg->child : NULL; e; e = e->next)
        if (!cJSON_IsString(e) || ++nt > FILL_TARGETS)
            return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "targets", "input %d: 'targets' must be at most %d strings",
                              i, FILL_TARGETS);
    if (nt && nt < top_k) top_k = nt;
    double limit = 16.0 * (double)r->s->prm.max_body_bytes;
    *bytes += (double)masks * top_k * (2.0 * (double)text_bytes + 128.0);
    if (*bytes > limit)
        return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "top_k",
                          "input %d: the answer would take about %.0f MB (%d masks x top_k %d): over the limit of %.0f MB "
                          "(16 x --max-body-bytes); ask for a smaller top_k or fewer masks", i, *bytes / 1e6, masks, top_k,
                          limit / 1e6);
    return 1;
}

/* Queue the task on b, one object or a list of them. */
static int start_items(srv_req *r, cJSON *b, task_kind kind, unsigned head, const char *what, srv_reply *out) {
    static const char *need[] = {"\"text\"", "\"text\"", "\"question\" and \"context\"", "\"text\"", "\"inputs\""};
    srv_server *sv = r->s;
    if (!(sv->heads & head) || (kind == TASK_NER && !sv->is_token_classifier))
        return srv_error(SRV_SHAPE_TEI, out, 424, "backend", NULL, "%s needs a model with %s", r->route->path, what);
    int list = cJSON_IsArray(b), n = list ? cJSON_GetArraySize(b) : 1;
    if (!list && !cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be an object or a list of objects");
    if (n == 0) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", NULL, "the list is empty");
    if (n > sv->prm.max_client_batch)
        return srv_error(SRV_SHAPE_TEI, out, 413, "validation", NULL, "batch size %d > maximum allowed batch size %d", n,
                         sv->prm.max_client_batch);
    task_state *s = calloc(1, sizeof *s);
    srv_job *j = calloc(1, sizeof *j);
    r->state = s, r->state_free = task_free, r->job = j;
    if (!s || !j || !(s->items = calloc((size_t)n, sizeof *s->items)) || !(s->t = calloc((size_t)n, sizeof *s->t)) ||
        !(s->own = cJSON_CreateArray()))
        return srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    s->kind = kind, s->n = n, s->list = list;
    j->task = run_task, j->task_state = s;
    double answer_bytes = 0; /* fill-mask: what the predictions' JSON will take, about */
    cJSON *o = list ? b->child : b;
    for (int i = 0; i < n; i++, o = o->next) {
        const char *text = cJSON_IsObject(o) ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, kind == TASK_QA ? "question" : "text")) : NULL;
        const char *ctx = kind == TASK_QA ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "context")) : "";
        if (!text || !ctx) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "input %d: needs %s strings", i, need[kind]);
        if (!*text || (kind == TASK_QA && !*ctx)) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", NULL, "input %d: empty text", i);
        if (!srv_read_trunc(r, o, &s->t[i], out)) return 1;
        int impossible;
        if (kind == TASK_QA && !srv_read_bool(r, o, "handle_impossible", 0, &impossible, out)) return 1;
        bert_sequence seq = {0};
        if (kind == TASK_QA) { /* long contexts are windowed: count, never refuse */
            srv_trunc cut = {1, 0, NULL, 0};
            if (!srv_count_tokens(r, text, ctx, &cut, i, &j->tokens, NULL, out)) return 1;
        } else if (!srv_count_tokens(r, text, NULL, &s->t[i], i, &j->tokens, kind == TASK_FILL ? &seq : NULL, out)) {
            return 1;
        }
        if (kind == TASK_FILL) {
            int masks = 0, mask_id = bert_tokenizer_special_id(sv->tok, BERT_SPECIAL_MASK);
            for (int k = 0; k < seq.n_tokens; k++) masks += seq.input_ids[k] == mask_id;
            free((void *)seq.input_ids);
            if (!fill_answer_bytes(r, o, i, masks, strlen(text), &answer_bytes, out)) return 1;
        }
        cJSON *c = item_copy(o, kind);
        if (!c || !cJSON_AddItemToArray(s->own, c))
            return cJSON_Delete(c), srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
        s->items[i] = c;
    }
    return srv_submit(r, out);
}

/* Parse one object or a list and queue the task. */
static int start(srv_req *r, task_kind kind, unsigned head, const char *what, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    return b ? start_items(r, b, kind, head, what, out) : 1;
}

/* POST /embed_sparse: {"inputs": string or [strings], "truncate"?,
 * "truncation_direction"?} as one {"text", ...} object per input. */
int route_embed_sparse(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    const cJSON *in = cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "inputs") : NULL;
    cJSON *items = cJSON_CreateArray(); /* owned by the body */
    if (!items || !cJSON_AddItemToObject(b, "bertc_sparse_items", items))
        return cJSON_Delete(items), srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    int ok = cJSON_IsString(in) || cJSON_IsArray(in);
    for (const cJSON *e = cJSON_IsArray(in) ? in->child : in; ok && e; e = cJSON_IsArray(in) ? e->next : NULL) {
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_IsString(e) && cJSON_AddStringToObject(o, "text", e->valuestring);
        static const char *const keys[] = {"truncate", "truncation_direction"};
        for (int k = 0; ok && k < 2; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, keys[k]);
            if (v) cJSON_AddItemToObject(o, keys[k], cJSON_Duplicate(v, 1));
        }
        if (o) cJSON_AddItemToArray(items, o);
    }
    if (!ok) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs", "'inputs' must be a string or a list of strings");
    return start_items(r, items, TASK_SPARSE, BERT_HEAD_MLM, "a masked-LM head (SPLADE)", out);
}

/* POST /fill-mask. */
int route_fill_mask(srv_req *r, srv_reply *out) { return start(r, TASK_FILL, BERT_HEAD_MLM, "a masked-LM head", out); }
/* POST /ner. */
int route_ner(srv_req *r, srv_reply *out) { return start(r, TASK_NER, BERT_HEAD_CLASSIFIER, "a token classification head", out); }
/* POST /qa. */
int route_qa(srv_req *r, srv_reply *out) { return start(r, TASK_QA, BERT_HEAD_QA, "a question-answering head", out); }
/* POST /dialogue. */
int route_dialogue(srv_req *r, srv_reply *out) {
    return start(r, TASK_DIALOGUE, BERT_HEAD_INTENT, "a joint intent + slot head (intent_classifier)", out);
}

/* The answer built by the batcher, or the job's error. */
void route_task_finish(srv_req *r, srv_reply *out) {
    if (r->job->failed) return srv_job_error(r, out);
    task_state *s = r->state;
    char *txt = cJSON_PrintUnformatted(s->answer);
    cJSON_Delete(s->answer); /* the text alone from here on */
    s->answer = NULL;
    if (!txt) return (void)srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    out->status = 200;
    sb_free(&out->body);
    size_t n = strlen(txt);
    out->body = (sbuf){txt, n, n + 1, 0}; /* the reply takes the text as it is */
}
