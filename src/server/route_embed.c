/* route_embed.c — the embedding routes: OpenAI's POST /v1/embeddings and
 * TEI's POST /embed, /embed_all and /similarity. Inputs are tokenized here, on the
 * connection's thread, and run by the batcher with other clients'. */
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* Fill r->job from inputs and queue it. Returns as a route's start does. */
static int submit(srv_req *r, const cJSON *inputs, const char *field, const srv_trunc *t, int token_level,
                  int normalize, srv_reply *out) {
    srv_job *j;
    if (!srv_embed_job(r, inputs, field, t, &j, out)) return 1;
    j->ep = bert_embed_default_params(); /* the directory's modules, else mean pooling */
    j->ep.normalize = normalize;
    r->job = j;
    if (token_level && j->tokens > r->s->prm.max_batch_tokens) /* bounds the answer's memory */
        return srv_error(r->route->shape, out, 413, "validation", field,
                         "%ld tokens in all; token embeddings are answered for at most %d (--max-batch-tokens)",
                         j->tokens, r->s->prm.max_batch_tokens);
    if (!srv_job_alloc(r->s, j, token_level)) return srv_error(r->route->shape, out, 500, "backend", NULL, "out of memory");
    return srv_submit(r, out);
}

/* POST /v1/embeddings. */
int route_openai_embed(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_OPENAI, out, 400, "validation", NULL, "the body must be a JSON object");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (model && !cJSON_IsNull(model) && !cJSON_IsString(model))
        return srv_error(SRV_SHAPE_OPENAI, out, 400, "validation", "model", "'model' must be a string");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(b, "encoding_format");
    int base64 = 0;
    if (fmt && !cJSON_IsNull(fmt)) {
        if (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") != 0 && strcmp(fmt->valuestring, "base64") != 0))
            return srv_error(SRV_SHAPE_OPENAI, out, 400, "validation", "encoding_format",
                             "'encoding_format' must be \"float\" or \"base64\"");
        base64 = strcmp(fmt->valuestring, "base64") == 0;
    }
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(b, "dimensions");
    if (dim && !cJSON_IsNull(dim) && (!cJSON_IsNumber(dim) || dim->valuedouble != r->s->embed_dim))
        return srv_error(SRV_SHAPE_OPENAI, out, 400, "validation", "dimensions",
                         "'dimensions' must be %d, the model's embedding size", r->s->embed_dim);
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(b, "user");
    if (user && !cJSON_IsNull(user) && !cJSON_IsString(user))
        return srv_error(SRV_SHAPE_OPENAI, out, 400, "validation", "user", "'user' must be a string");
    r->flags = base64;
    srv_trunc t = {r->s->prm.truncate, 0, r->s->prompt, r->s->prompt_len};
    return submit(r, cJSON_GetObjectItemCaseSensitive(b, "input"), "input", &t, 0, -1, out);
}

/* The answer of /v1/embeddings. */
void route_openai_embed_finish(srv_req *r, srv_reply *out) {
    srv_job *j = r->job;
    if (j->failed) return srv_job_error(r, out);
    int C = j->dim;
    sbuf *o = &out->body;
    out->status = 200;
    sb_puts(o, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < j->n_seqs; i++) {
        sb_printf(o, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
        const float *v = j->out + j->out_row[i] * (size_t)C;
        if (r->flags) sb_base64_f32(o, v, C);
        else sb_floats(o, v, C);
        sb_puts(o, "}");
    }
    sb_puts(o, "],\"model\":");
    sb_json_str(o, r->s->model_id);
    sb_printf(o, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", j->tokens, j->tokens);
}

/* POST /embed and /embed_all (r->route->path tells which). */
int route_tei_embed(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    if (!cJSON_IsObject(b)) return srv_error(SRV_SHAPE_TEI, out, 422, "validation", NULL, "the body must be a JSON object");
    srv_trunc t;
    int all = strcmp(r->route->path, "/embed_all") == 0, normalize = -1;
    if (!srv_read_trunc(r, b, &t, out)) return 1;
    if (!all && !srv_read_bool(r, b, "normalize", 1, &normalize, out)) return 1;
    if (all) normalize = 0;
    const cJSON *pn = cJSON_GetObjectItemCaseSensitive(b, "prompt_name");
    if (all) t.prompt = NULL; /* token states of the text itself */
    if (pn && !cJSON_IsNull(pn)) {
        bert_embed_params ep = bert_embed_default_params();
        bert_error err;
        ep.prompt_name = cJSON_IsString(pn) ? pn->valuestring : "";
        if (all || !cJSON_IsString(pn) ||
            bert_pipeline_embed_prompt(r->s->pipe, &ep, &t.prompt, &t.prompt_len, &err) != BERT_OK)
            return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "prompt_name",
                             "'prompt_name' must name a prompt of config_sentence_transformers.json%s",
                             all ? " (and /embed_all takes none)" : "");
    }
    return submit(r, cJSON_GetObjectItemCaseSensitive(b, "inputs"), "inputs", &t, all, all ? 0 : normalize, out);
}

/* The answer of /embed ([[...], ...]) and /embed_all ([[[...], ...], ...]). */
void route_tei_embed_finish(srv_req *r, srv_reply *out) {
    srv_job *j = r->job;
    if (j->failed) return srv_job_error(r, out);
    int C = j->dim;
    sbuf *o = &out->body;
    out->status = 200;
    sb_puts(o, "[");
    for (int i = 0; i < j->n_seqs; i++) {
        if (i) sb_puts(o, ",");
        const float *v = j->out + j->out_row[i] * (size_t)C;
        if (!j->token_level) {
            sb_floats(o, v, C);
            continue;
        }
        sb_puts(o, "[");
        for (int k = 0; k < j->seqs[i].n_tokens; k++) {
            if (k) sb_puts(o, ",");
            sb_floats(o, v + (size_t)k * C, C);
        }
        sb_puts(o, "]");
    }
    sb_puts(o, "]");
}

/* POST /similarity: {"inputs": {"source_sentence", "sentences": [...]}}:
 * the source and the sentences embedded in one job (normalized). */
int route_similarity(srv_req *r, srv_reply *out) {
    cJSON *b = srv_body_json(r, out);
    if (!b) return 1;
    const cJSON *in = cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "inputs") : NULL;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(in, "source_sentence"), *sents = cJSON_GetObjectItemCaseSensitive(in, "sentences");
    if (!cJSON_IsObject(in) || !cJSON_IsString(src) || !cJSON_IsArray(sents))
        return srv_error(SRV_SHAPE_TEI, out, 422, "validation", "inputs",
                         "'inputs' must be {\"source_sentence\": string, \"sentences\": [strings]}");
    if (cJSON_GetArraySize(sents) == 0) return srv_error(SRV_SHAPE_TEI, out, 400, "empty", "inputs", "'sentences' is empty");
    cJSON *all = cJSON_CreateArray(); /* [source, sentences...], owned by the body */
    if (!all || !cJSON_AddItemToObject(b, "bertc_similarity_inputs", all))
        return cJSON_Delete(all), srv_error(SRV_SHAPE_TEI, out, 500, "backend", NULL, "out of memory");
    cJSON_AddItemToArray(all, cJSON_Duplicate(src, 1));
    for (const cJSON *e = sents->child; e; e = e->next) cJSON_AddItemToArray(all, cJSON_Duplicate(e, 1));
    srv_trunc t;
    if (!srv_read_trunc(r, b, &t, out)) return 1;
    return submit(r, all, "inputs", &t, 0, 1, out);
}

/* The answer of /similarity: the cosine of each sentence with the source. */
void route_similarity_finish(srv_req *r, srv_reply *out) {
    srv_job *j = r->job;
    if (j->failed) return srv_job_error(r, out);
    int C = j->dim;
    const float *s0 = j->out + j->out_row[0] * (size_t)C;
    out->status = 200;
    sb_puts(&out->body, "[");
    for (int i = 1; i < j->n_seqs; i++) {
        const float *v = j->out + j->out_row[i] * (size_t)C;
        double dot = 0;
        for (int k = 0; k < C; k++) dot += (double)s0[k] * v[k];
        sb_printf(&out->body, "%s%.9g", i > 1 ? "," : "", dot);
    }
    sb_puts(&out->body, "]");
}
