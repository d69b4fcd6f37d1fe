/* inputs.c — reading and checking what a request asks the model to run:
 * truncation fields, booleans, embedding inputs (texts or token ids) and
 * their token counts against the server's limits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

/* The status of a wrongly typed field: OpenAI says 400, TEI 422. */
static int bad_status(const srv_req *r) { return r->route->shape == SRV_SHAPE_OPENAI ? 400 : 422; }

/* An optional boolean field; 0 with a 400/422 reply when not a boolean. */
int srv_read_bool(srv_req *r, const cJSON *o, const char *key, int def, int *v, srv_reply *out) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = def;
    if (!b || cJSON_IsNull(b)) return 1;
    if (!cJSON_IsBool(b)) return !srv_error(r->route->shape, out, bad_status(r), "validation", key, "'%s' must be true or false", key);
    *v = cJSON_IsTrue(b);
    return 1;
}

/* truncate / truncation_direction of o (and the server's default prompt). */
int srv_read_trunc(srv_req *r, const cJSON *o, srv_trunc *t, srv_reply *out) {
    if (!srv_read_bool(r, o, "truncate", r->s->prm.truncate, &t->truncate, out)) return 0;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "truncation_direction");
    t->left = 0;
    t->prompt = r->s->prompt;
    t->prompt_len = r->s->prompt_len;
    if (!d || cJSON_IsNull(d)) return 1;
    if (!cJSON_IsString(d) || (strcasecmp(d->valuestring, "left") != 0 && strcasecmp(d->valuestring, "right") != 0))
        return !srv_error(r->route->shape, out, bad_status(r), "validation", "truncation_direction",
                          "'truncation_direction' must be \"Left\" or \"Right\"");
    t->left = strcasecmp(d->valuestring, "left") == 0;
    return 1;
}

/* The encode options of an embedding text: as `bert embed` (the
 * sentence-transformers max_seq_length cuts silently), plus the request's
 * truncation to the server's limit. */
static bert_encode_params embed_encode(const srv_server *s, const srv_trunc *t) {
    bert_encode_params ep = bert_encode_default_params();
    if (s->st.max_seq_length > 0) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = s->st.max_seq_length;
    }
    if (t->truncate) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = s->max_input;
        ep.truncate_left = t->left;
    }
    return ep;
}

/* The 413 for input `index` of n tokens past the server's limit; returns 1. */
static int too_long(srv_req *r, int index, int n, srv_reply *out) {
    return srv_error(r->route->shape, out, 413, "validation", NULL,
                     "input %d: %d tokens; the model takes at most %d (set truncate to cut it)", index, n, r->s->max_input);
}

/* Count the tokens of text (+ pair) into *n; 413 / 422 replies. */
int srv_count_tokens(srv_req *r, const char *text, const char *pair, const srv_trunc *t, int index, long *n,
                     bert_sequence *keep, srv_reply *out) {
    srv_server *s = r->s;
    bert_encode_params ep = bert_encode_default_params();
    if (t->truncate) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = s->max_input;
        ep.truncate_left = t->left;
    }
    bert_encodings es;
    bert_error err;
    if (bert_tokenize(s->tok, text, -1, pair, -1, &ep, &es, &err) != BERT_OK)
        return !srv_error(r->route->shape, out, 422, "tokenizer", NULL, "input %d: %s", index, err.message);
    const bert_encoding *e = &es.encodings[0];
    int k = e->n_tokens;
    if (k > s->max_input) {
        bert_encodings_free(&es);
        return !too_long(r, index, k, out);
    }
    if (keep) { /* ids and token types in one block: freeing input_ids frees both */
        int32_t *ids = malloc((size_t)(k > 0 ? 2 * k : 1) * sizeof *ids);
        if (!ids) {
            bert_encodings_free(&es);
            return !srv_error(r->route->shape, out, 500, "backend", NULL, "out of memory");
        }
        memcpy(ids, e->input_ids, (size_t)k * sizeof *ids);
        memcpy(ids + k, e->token_type_ids, (size_t)k * sizeof *ids);
        *keep = (bert_sequence){.input_ids = ids, .token_type_ids = ids + k, .n_tokens = k};
    }
    bert_encodings_free(&es);
    *n += k;
    return 1;
}

/* Token ids of a JSON array into a new array; 0 with a reply. */
static int read_ids(srv_req *r, const cJSON *a, int index, const srv_trunc *t, int32_t **ids, int *n, srv_reply *out) {
    srv_server *s = r->s;
    int len = cJSON_GetArraySize(a), k = 0;
    if (len == 0) return !srv_error(r->route->shape, out, 400, "empty", NULL, "input %d: no token ids", index);
    if (len > s->max_input && !t->truncate)
        return !too_long(r, index, len, out);
    int keep = len > s->max_input ? s->max_input : len, skip = t->left ? len - keep : 0;
    *ids = malloc((size_t)keep * sizeof **ids);
    if (!*ids) return !srv_error(r->route->shape, out, 500, "backend", NULL, "out of memory");
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!cJSON_IsNumber(e) || floor(v) != v || v < 0 || v >= s->vocab) {
            free(*ids);
            *ids = NULL;
            return !srv_error(r->route->shape, out, bad_status(r), "validation", NULL,
                              "input %d: token %d is not an id in [0, %d)", index, i, s->vocab);
        }
        if (i >= skip && k < keep) (*ids)[k++] = (int32_t)v;
    }
    *n = keep;
    return 1;
}

/* Tokenize text i into ids; 0 with a reply. */
static int read_text(srv_req *r, const char *text, int index, const srv_trunc *t, int32_t **ids, int *n, srv_reply *out) {
    srv_server *s = r->s;
    if (!*text) return !srv_error(r->route->shape, out, 400, "empty", NULL, "input %d is an empty string", index);
    bert_encode_params ep = embed_encode(s, t);
    bert_encodings es;
    bert_error err;
    char *joined = NULL;
    if (t->prompt) { /* the prompt before the text, as bert_embed_texts does */
        size_t pl = strlen(t->prompt), tl = strlen(text);
        if (!(joined = malloc(pl + tl + 1))) return !srv_error(r->route->shape, out, 500, "backend", NULL, "out of memory");
        memcpy(joined, t->prompt, pl);
        memcpy(joined + pl, text, tl + 1);
    }
    bert_status rc = bert_tokenize(s->tok, joined ? joined : text, -1, NULL, -1, &ep, &es, &err);
    free(joined);
    if (rc != BERT_OK)
        return !srv_error(r->route->shape, out, 422, "tokenizer", NULL, "input %d: %s", index, err.message);
    const bert_encoding *e = &es.encodings[0];
    if (e->n_tokens > s->max_input) {
        int k = e->n_tokens;
        bert_encodings_free(&es);
        return !too_long(r, index, k, out);
    }
    *n = e->n_tokens;
    *ids = malloc((size_t)(*n ? *n : 1) * sizeof **ids);
    if (*ids) memcpy(*ids, e->input_ids, (size_t)*n * sizeof **ids);
    bert_encodings_free(&es);
    if (!*ids) return !srv_error(r->route->shape, out, 500, "backend", NULL, "out of memory");
    return 1;
}

/* An embedding job from `inputs`; see server.h. */
int srv_embed_job(srv_req *r, const cJSON *inputs, const char *field, const srv_trunc *t, srv_job **job,
                  srv_reply *out) {
    srv_server *s = r->s;
    srv_shape sh = r->route->shape;
    *job = NULL;
    if (!inputs) return !srv_error(sh, out, bad_status(r), "validation", field, "'%s' is missing", field);
    int n;
    int single = cJSON_IsString(inputs) || (cJSON_IsArray(inputs) && inputs->child && cJSON_IsNumber(inputs->child));
    if (single) n = 1;
    else if (cJSON_IsArray(inputs)) n = cJSON_GetArraySize(inputs);
    else
        return !srv_error(sh, out, bad_status(r), "validation", field,
                          "'%s' must be a string, a list of strings, a list of token ids or a list of such lists", field);
    if (n == 0) return !srv_error(sh, out, 400, "empty", field, "'%s' is an empty list", field);
    if (n > s->prm.max_client_batch)
        return !srv_error(sh, out, 413, "validation", field, "batch size %d > maximum allowed batch size %d", n,
                          s->prm.max_client_batch);
    srv_job *j = calloc(1, sizeof *j);
    if (!j || !(j->seqs = calloc((size_t)n, sizeof *j->seqs)) || !(j->out_row = calloc((size_t)n, sizeof *j->out_row)) ||
        !(j->prompt_len = calloc((size_t)n, sizeof *j->prompt_len))) {
        srv_job_free(j);
        return !srv_error(sh, out, 500, "backend", NULL, "out of memory");
    }
    j->n_seqs = n;
    const cJSON *e = single ? inputs : inputs->child;
    for (int i = 0; i < n; i++, e = e->next) {
        int32_t *ids = NULL;
        int len = 0, ok;
        if (cJSON_IsString(e)) ok = read_text(r, e->valuestring, i, t, &ids, &len, out), j->prompt_len[i] = t->prompt ? t->prompt_len : 0;
        else if (cJSON_IsArray(e) && !(e->child && cJSON_IsArray(e->child)))
            ok = read_ids(r, e, i, t, &ids, &len, out);
        else
            ok = !srv_error(sh, out, bad_status(r), "validation", field,
                            "input %d: must be a string or a list of token ids", i);
        if (!ok) {
            srv_job_free(j);
            return 0;
        }
        j->seqs[i] = (bert_sequence){.input_ids = ids, .n_tokens = len};
        j->tokens += len;
        if (single) break;
    }
    *job = j;
    return 1;
}

/* Size j->out for pooled vectors or for every token. 0 when out of memory. */
int srv_job_alloc(srv_server *s, srv_job *j, int token_level) {
    size_t rows = 0;
    j->token_level = token_level;
    for (int i = 0; i < j->n_seqs; i++) {
        j->out_row[i] = rows;
        rows += token_level ? (size_t)j->seqs[i].n_tokens : 1;
    }
    j->dim = token_level ? s->hidden : s->embed_dim;
    j->out = malloc(rows * (size_t)j->dim * sizeof *j->out);
    return j->out != NULL;
}

/* The reply for a failed job: 413 (too long), 422 (input), else 424/500. */
void srv_job_error(srv_req *r, srv_reply *out) {
    const bert_error *e = &r->job->err;
    srv_shape sh = r->route->shape;
    if (r->job->cancelled) srv_error(sh, out, 503, "unhealthy", NULL, "%s", e->message);
    else if (e->code == BERT_ERR_INPUT && strstr(e->message, "tokens; the model takes at most"))
        srv_error(sh, out, 413, "validation", NULL, "%s", e->message);
    else if (e->code == BERT_ERR_INPUT)
        srv_error(sh, out, 422, "validation", NULL, "%s", e->message);
    else
        srv_error(sh, out, sh == SRV_SHAPE_TEI ? 424 : 500, "backend", NULL, "%s", e->message);
}
