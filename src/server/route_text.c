/* route_text.c — TEI's POST /tokenize and /decode, answered on the
 * connection's thread (the tokenizer is shared and read-only). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* A place in a text: code point cp starts at byte `byte`. */
typedef struct {
    size_t byte;
    int cp;
} text_pos;

/* The byte offset of code point cp in text (its end when past it), walked
 * from *at, which moves there: forward from the last answer, as the
 * tokens' offsets go, so a text costs one pass; from the start when cp is
 * behind. */
static size_t cp_byte(const char *text, int cp, text_pos *at) {
    if (cp < at->cp) *at = (text_pos){0, 0};
    size_t i = at->byte;
    int k = at->cp;
    while (text[i] && k < cp) {
        i++;
        while (((unsigned char)text[i] & 0xC0) == 0x80) i++;
        k++;
    }
    at->byte = i, at->cp = k;
    return i;
}

/* One input's tokens as TEI's SimpleToken list; 0 with a reply. */
static int tokens_json(srv_req *r, const char *text, int index, int special, sbuf *o, srv_reply *out) {
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = special;
    bert_encodings es;
    bert_error err;
    if (bert_tokenize(r->s->tok, text, -1, NULL, -1, &ep, &es, &err) != BERT_OK)
        return !srv_error(SRV_SHAPE_TEI, out, 422, "tokenizer", NULL, "input %d: %s", index, err.message);
    const bert_encoding *e = &es.encodings[0];
    text_pos at = {0, 0};
    sb_puts(o, "[");
    for (int k = 0; k < e->n_tokens; k++) {
        int is_special = e->special_tokens_mask[k] != 0;
        sb_printf(o, "%s{\"id\":%d,\"text\":", k ? "," : "", e->input_ids[k]);
        if (is_special) {
            sb_json_str(o, e->tokens[k]);
            sb_puts(o, ",\"special\":true,\"start\":null,\"stop\":null}");
            continue;
        }
        size_t b0 = cp_byte(text, e->offsets[2 * k], &at), b1 = cp_byte(text, e->offsets[2 * k + 1], &at);
        char *piece = malloc(b1 - b0 + 1);
        if (piece) {
            memcpy(piece, text + b0, b1 - b0);
            piece[b1 - b0] = '\0';
            sb_json_str(o, piece);
            free(piece);
        } else {
            o->oom = 1;
        }
        sb_printf(o, ",\"special\":false,\"start\":%zu,\"stop\":%zu}", b0, b1);
    }
    sb_puts(o, "]");
    r->tokens += e->n_tokens;
    bert_encodings_free(&es);
    return 1;
}

/* POST /tokenize: {"inputs": string | [string], "add_special_tokens": true}. */
int route_tokenize(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be a JSON object");
    int special;
    if (!srv_read_bool(r, b, "add_special_tokens", 1, &special, out)) return 1;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inputs");
    int n = cJSON_IsString(in) ? 1 : cJSON_IsArray(in) ? cJSON_GetArraySize(in) : -1;
    if (n < 0) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs", "'inputs' must be a string or a list of strings");
    if (n == 0) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", "inputs", "'inputs' is an empty list");
    if (n > r->s->prm.max_client_batch)
        return srv_error(SRV_SHAPE_TEI, out, 413, "validation", "inputs", "batch size %d > maximum allowed batch size %d",
                         n, r->s->prm.max_client_batch);
    sbuf o = {0};
    sb_puts(&o, "[");
    const cJSON *e = cJSON_IsString(in) ? in : in->child;
    for (int i = 0; i < n; i++, e = e->next) {
        if (i) sb_puts(&o, ",");
        if (!cJSON_IsString(e)) {
            sb_free(&o);
            return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs", "input %d is not a string", i);
        }
        if (!tokens_json(r, e->valuestring, i, special, &o, out)) {
            sb_free(&o);
            return 1;
        }
    }
    sb_puts(&o, "]");
    out->status = 200;
    out->body = o;
    return 1;
}

/* Ids of a JSON array; 0 with a reply. */
static int read_ids(srv_req *r, const cJSON *a, int index, int32_t **ids, int *n, srv_reply *out) {
    int len = cJSON_GetArraySize(a), i = 0;
    if (len > 1000000) return !srv_error(SRV_SHAPE_TEI, out, 413, "validation", "ids", "input %d: too many ids", index);
    *ids = malloc((size_t)(len ? len : 1) * sizeof **ids);
    if (!*ids) return !srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!cJSON_IsNumber(e) || floor(v) != v || v < 0 || v >= r->s->vocab) {
            free(*ids);
            return !srv_error(SRV_SHAPE_TEI, out, 422, "validation", "ids", "input %d: id %d is not in [0, %d)", index,
                              i, r->s->vocab);
        }
        (*ids)[i] = (int32_t)v;
    }
    *n = len;
    return 1;
}

/* POST /decode: {"ids": [int] | [[int]], "skip_special_tokens": true} -> [string]. */
int route_decode(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be a JSON object");
    int skip;
    if (!srv_read_bool(r, b, "skip_special_tokens", 1, &skip, out)) return 1;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(b, "ids");
    if (!cJSON_IsArray(ids)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "ids", "'ids' must be a list of ids or of lists");
    int nested = ids->child && cJSON_IsArray(ids->child), n = nested ? cJSON_GetArraySize(ids) : 1;
    if (n > r->s->prm.max_client_batch)
        return srv_error(SRV_SHAPE_TEI, out, 413, "validation", "ids", "batch size %d > maximum allowed batch size %d", n,
                         r->s->prm.max_client_batch);
    sbuf o = {0};
    sb_puts(&o, "[");
    const cJSON *e = nested ? ids->child : ids;
    for (int i = 0; i < n; i++, e = e->next) {
        int32_t *v = NULL;
        int len = 0;
        char *text = NULL;
        bert_error err;
        if (!cJSON_IsArray(e)) {
            sb_free(&o);
            return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "ids", "input %d is not a list of ids", i);
        }
        if (!read_ids(r, e, i, &v, &len, out)) {
            sb_free(&o);
            return 1;
        }
        bert_status rc = bert_detokenize(r->s->tok, v, len, skip, &text, &err);
        free(v);
        if (rc != BERT_OK) {
            sb_free(&o);
            return srv_error(SRV_SHAPE_TEI, out, 422, "tokenizer", "ids", "input %d: %s", i, err.message);
        }
        if (i) sb_puts(&o, ",");
        sb_json_str(&o, text);
        free(text);
        r->tokens += len;
    }
    sb_puts(&o, "]");
    out->status = 200;
    out->body = o;
    return 1;
}
