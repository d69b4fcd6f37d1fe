/* route_info.c — routes answered without the model: GET /info, /health,
 * /metrics and /v1/models. */
#include <string.h>

#include "server/routes.h"

/* GET /v1/models: the one model served. */
int route_openai_models(srv_req *r, srv_reply *out) {
    out->status = 200;
    sb_puts(&out->body, "{\"object\":\"list\",\"data\":[{\"id\":");
    sb_json_str(&out->body, r->s->model_id);
    sb_puts(&out->body, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"bert.c\"}]}");
    return 1;
}

/* GET /health: 200 with an empty body while the server runs. */
int route_health(srv_req *r, srv_reply *out) {
    (void)r;
    out->status = 200;
    out->ctype = "text/plain";
    return 1;
}

/* GET /metrics: Prometheus text format. */
int route_metrics(srv_req *r, srv_reply *out) {
    out->status = 200;
    out->ctype = "text/plain; version=0.0.4";
    srv_metrics_render(r->s->metrics, srv_queue_depth(r->s->queue), &out->body);
    return 1;
}

/* The labels of a classifier as TEI's {"id2label": {...}, "label2id": {...}}. */
static void labels(const srv_server *s, sbuf *o) {
    int L = bert_model_num_labels(s->model);
    sb_puts(o, "{\"id2label\":{");
    for (int i = 0; i < L; i++) {
        const char *l = bert_model_label(s->model, i);
        sb_printf(o, "%s\"%d\":", i ? "," : "", i);
        if (l) sb_json_str(o, l);
        else sb_printf(o, "\"LABEL_%d\"", i);
    }
    sb_puts(o, "},\"label2id\":{");
    for (int i = 0; i < L; i++) {
        const char *l = bert_model_label(s->model, i);
        if (i) sb_puts(o, ",");
        if (l) sb_json_str(o, l);
        else sb_printf(o, "\"LABEL_%d\"", i);
        sb_printf(o, ":%d", i);
    }
    sb_puts(o, "}}");
}

/* GET /info: TEI's Info object. */
int route_info(srv_req *r, srv_reply *out) {
    const srv_server *s = r->s;
    sbuf *o = &out->body;
    /* by bert_compute_dtype; tf32 keeps f32 weights and outputs (its products are TF32) */
    static const char *dtypes[] = {"float32", "bfloat16", "int8", "float32", "float16"};
    unsigned dt = (unsigned)s->prm.dtype;
    out->status = 200;
    sb_puts(o, "{\"model_id\":");
    sb_json_str(o, s->model_id);
    sb_printf(o, ",\"model_sha\":null,\"model_dtype\":\"%s\",\"model_type\":", dt < sizeof dtypes / sizeof *dtypes ? dtypes[dt] : "float32");
    if ((s->heads & BERT_HEAD_CLASSIFIER) && !s->is_token_classifier) {
        sb_puts(o, bert_model_num_labels(s->model) == 1 ? "{\"reranker\":" : "{\"classifier\":");
        labels(s, o);
        sb_puts(o, "}");
    } else {
        static const char *modes[] = {"cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken"};
        /* every mode the Pooling module has on, in its order ("cls+mean") */
        unsigned on = s->st.present && s->st.pooling_modes ? s->st.pooling_modes : 1u << BERT_POOL_MEAN;
        static const int order[] = {BERT_POOL_CLS, BERT_POOL_MAX, BERT_POOL_MEAN, BERT_POOL_MEAN_SQRT_LEN,
                                    BERT_POOL_WEIGHTED_MEAN, BERT_POOL_LAST_TOKEN};
        sb_puts(o, "{\"embedding\":{\"pooling\":\"");
        for (int k = 0, first = 1; k < 6; k++)
            if (on & (1u << order[k])) sb_printf(o, "%s%s", first ? "" : "+", modes[order[k]]), first = 0;
        sb_puts(o, "\"}}");
    }
    sb_printf(o,
              ",\"max_concurrent_requests\":%d,\"max_input_length\":%d,\"max_batch_tokens\":%d,"
              "\"max_batch_requests\":null,\"max_client_batch_size\":%d,\"auto_truncate\":%s,"
              "\"tokenization_workers\":%d,\"version\":\"%s\",\"sha\":null,\"docker_label\":null}",
              s->prm.max_concurrent, s->max_input, s->prm.max_batch_tokens, s->prm.max_client_batch,
              s->prm.truncate ? "true" : "false", s->prm.http_threads, bert_version());
    return 1;
}
