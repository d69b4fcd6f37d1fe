/* profile.c — a context's timings per layer and kind of operation
 * (bert_context_params.profile): what the forward pass records
 * (profile.h) and how it is read and printed (bert.h). */
#include "model/profile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

void prof_begin(bert_context *ctx) {
    if (ctx->prof_layer) ctx->prof_mark = bert_now_s();
}

void prof_mark(bert_context *ctx, int layer, bert_op_kind kind) {
    if (!ctx->prof_layer) return;
    double now = bert_now_s(), dt = now - ctx->prof_mark;
    ctx->prof_mark = now;
    ctx->prof.op_s[kind] += dt;
    if (layer >= 0 && layer < ctx->prof.n_layers) ctx->prof_layer[(size_t)layer * BERT_OP_COUNT + kind] += dt;
}

void prof_end(bert_context *ctx, double t0, int n_tokens) {
    if (!ctx->prof_layer) return;
    double total = bert_now_s() - t0, known = 0;
    for (int k = 0; k < BERT_OP_OTHER; k++) known += ctx->prof.op_s[k];
    ctx->prof.total_s += total;
    ctx->prof.op_s[BERT_OP_OTHER] = ctx->prof.total_s - known;
    ctx->prof.calls++, ctx->prof.tokens += n_tokens;
}

double prof_now(const bert_context *ctx) { return ctx->prof_layer ? bert_now_s() : 0.0; }

double *prof_device_rows(bert_context *ctx) {
    if (!ctx->prof_dev) return NULL;
    memset(ctx->prof_dev, 0, sizeof *ctx->prof_dev * (size_t)(ctx->prof.n_layers + 1) * BERT_OP_COUNT);
    return ctx->prof_dev;
}

void prof_device_done(bert_context *ctx, const double *rows) {
    if (!ctx->prof_layer || !rows) return;
    int L = ctx->prof.n_layers;
    for (int l = 0; l <= L; l++)
        for (int k = 0; k < BERT_OP_COUNT; k++) {
            double t = rows[(size_t)l * BERT_OP_COUNT + k];
            ctx->prof.op_s[k] += t;
            if (l < L) ctx->prof_layer[(size_t)l * BERT_OP_COUNT + k] += t;
        }
    ctx->prof_mark = bert_now_s();
}

bert_status bert_context_profile(const bert_context *ctx, bert_profile *out, bert_error *err) {
    bert_error_clear(err);
    if (!ctx || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_context_profile: context or output is NULL");
    if (!ctx->prof_layer) return bert_fail(err, BERT_ERR_STATE, "the context was created without profile = 1");
    *out = ctx->prof;
    out->layer_op_s = ctx->prof_layer;
    return BERT_OK;
}

void bert_context_profile_reset(bert_context *ctx) {
    if (!ctx || !ctx->prof_layer) return;
    int L = ctx->prof.n_layers;
    memset(ctx->prof_layer, 0, sizeof *ctx->prof_layer * (size_t)(L > 0 ? L : 1) * BERT_OP_COUNT);
    memset(&ctx->prof, 0, sizeof ctx->prof);
    ctx->prof.n_layers = L;
}

const char *bert_op_kind_name(bert_op_kind k) {
    static const char *const names[BERT_OP_COUNT] = {"embeddings", "convert", "products", "attention",
                                                     "layernorm", "heads", "other"};
    return (unsigned)k < BERT_OP_COUNT ? names[k] : NULL;
}

/* Appends to a bounded buffer, counting what did not fit (as snprintf). */
typedef struct {
    char *buf;
    size_t cap, len;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->len < t->cap ? t->buf + t->len : NULL, t->len < t->cap ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
}

int bert_profile_format(const bert_profile *p, int json, char *buf, size_t cap) {
    text t = {buf, buf ? cap : 0, 0};
    if (t.cap) buf[0] = 0;
    double per = p && p->calls > 0 ? 1e3 / (double)p->calls : 0; /* seconds in all -> ms per call */
    if (!p) return 0;
    if (json) {
        put(&t, "{\"calls\":%ld,\"tokens\":%ld,\"total_ms_per_call\":%.4f,\"ops\":{", p->calls, p->tokens, p->total_s * per);
        for (int k = 0; k < BERT_OP_COUNT; k++) put(&t, "%s\"%s\":%.4f", k ? "," : "", bert_op_kind_name(k), p->op_s[k] * per);
        put(&t, "},\"layers\":[");
        for (int l = 0; l < p->n_layers && p->layer_op_s; l++) {
            put(&t, "%s{", l ? "," : "");
            for (int k = BERT_OP_CONVERT; k <= BERT_OP_LAYERNORM; k++)
                put(&t, "%s\"%s\":%.4f", k > BERT_OP_CONVERT ? "," : "", bert_op_kind_name(k),
                    p->layer_op_s[(size_t)l * BERT_OP_COUNT + k] * per);
            put(&t, "}");
        }
        put(&t, "]}\n");
    } else {
        put(&t, "profile: %ld pass(es), %ld tokens; ms per pass\n%-8s", p->calls, p->tokens, "layer");
        for (int k = BERT_OP_CONVERT; k <= BERT_OP_LAYERNORM; k++) put(&t, " %10s", bert_op_kind_name(k));
        put(&t, "\n");
        for (int l = 0; l < p->n_layers && p->layer_op_s; l++) {
            put(&t, "%-8d", l);
            for (int k = BERT_OP_CONVERT; k <= BERT_OP_LAYERNORM; k++) put(&t, " %10.3f", p->layer_op_s[(size_t)l * BERT_OP_COUNT + k] * per);
            put(&t, "\n");
        }
        put(&t, "%-12s %10s %7s\n", "kind", "ms/pass", "share");
        for (int k = 0; k < BERT_OP_COUNT; k++)
            put(&t, "%-12s %10.3f %6.1f%%\n", bert_op_kind_name(k), p->op_s[k] * per,
                p->total_s > 0 ? 100.0 * p->op_s[k] / p->total_s : 0.0);
        put(&t, "%-12s %10.3f\n", "total", p->total_s * per);
    }
    return (int)t.len;
}
