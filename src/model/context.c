/* context.c — creating contexts, sizing their arena, reading outputs. */
#include "model/context.h"

#include "cuda/encoder.h"
#include "kernels/attention.h"
#include "kernels/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/mem.h"

#ifdef _OPENMP
#include <omp.h>
#endif

bert_context_params bert_context_default_params(void) {
    bert_context_params p = {.n_threads = 0, .max_batch_tokens = 0, .max_seq_len = 0};
    return p;
}

static int default_threads(void) {
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

bert_status bert_context_create(const bert_model *model, const bert_context_params *params, bert_context **out,
                                 bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    if (!model) return bert_fail(err, BERT_ERR_INPUT, "bert_context_create: model is NULL");
    bert_context_params p = params ? *params : bert_context_default_params();
    if (p.n_threads < 0 || p.max_batch_tokens < 0 || p.max_seq_len < 0)
        return bert_fail(err, BERT_ERR_INPUT, "bert_context_create: negative parameter");
    if (p.n_threads > bert_max_threads())
        return bert_fail(err, BERT_ERR_INPUT, "n_threads %d: at most %ld (BERT_MAX_THREADS_PER_CORE per core)", p.n_threads,
                         bert_max_threads());
    bert_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    ctx->model = model;
    ctx->n_threads = p.n_threads ? p.n_threads : default_threads();
    if (p.profile) {
        int L = model->cfg.pub.num_hidden_layers;
        ctx->prof_layer = calloc((size_t)(L > 0 ? L : 1) * BERT_OP_COUNT, sizeof *ctx->prof_layer);
        if (model->cuda) ctx->prof_dev = calloc((size_t)(L + 1) * BERT_OP_COUNT, sizeof *ctx->prof_dev);
        if (!ctx->prof_layer || (model->cuda && !ctx->prof_dev)) {
            free(ctx->prof_layer), free(ctx->prof_dev);
            free(ctx);
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        }
        ctx->prof.n_layers = L;
    }
    if (p.max_batch_tokens > 0) {
        int len = p.max_seq_len > 0 ? p.max_seq_len : model->cfg.pub.max_position_embeddings;
        if (len > p.max_batch_tokens) len = p.max_batch_tokens;
        bert_status rc = bert_context_reserve(ctx, p.max_batch_tokens, len, p.max_batch_tokens, err);
        if (rc != BERT_OK) {
            bert_context_free(ctx);
            return rc;
        }
    }
    *out = ctx;
    return BERT_OK;
}

void bert_context_free(bert_context *ctx) {
    if (!ctx) return;
    free(ctx->arena);
    free(ctx->logits);
    free(ctx->x16);
    free(ctx->xq);
    free(ctx->xq_scale);
    free(ctx->acc);
    free(ctx->pscratch);
    free(ctx->offset);
    free(ctx->prof_layer);
    free(ctx->prof_dev);
    free(ctx->pool);
    free(ctx->plan);
    free(ctx->sentence);
    bert_cuda_work_free(ctx->cuda);
    free(ctx);
}

/* Round a float count up to 16 floats (64 bytes) so every view is aligned. */
static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }

bert_status bert_context_reserve(bert_context *ctx, int n_tokens, int max_len, int n_seqs, bert_error *err) {
    /* The model's label count can change under a context (a multi-task
     * trainer selecting another head): the logits views are sized by it. */
    int labels = bert_model_num_labels(ctx->model);
    if (n_tokens <= ctx->cap_tokens && max_len <= ctx->cap_seq_len && n_seqs <= ctx->cap_seqs && labels <= ctx->cap_labels)
        return BERT_OK;
    /* Grow every dimension to at least what is asked, keeping what we had. */
    int N = n_tokens > ctx->cap_tokens ? n_tokens : ctx->cap_tokens;
    int T = max_len > ctx->cap_seq_len ? max_len : ctx->cap_seq_len;
    int S = n_seqs > ctx->cap_seqs ? n_seqs : ctx->cap_seqs;
    const bert_config *c = &ctx->model->cfg.pub;
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    size_t L = (size_t)(labels > ctx->cap_labels ? labels : ctx->cap_labels);
    size_t NI = (size_t)(ctx->model->cfg.pub.num_intents > 0 ? ctx->model->cfg.pub.num_intents : 1);
    /* per thread: the T x T scores, or a fused attention kernel's packed K (and V) and row buffers */
    size_t fused = 0;
    int HS = c->hidden_size / c->num_attention_heads;
    if (ctx->model->attention_bf16) fused = (bert_attention_bf16_scratch_bytes(T, HS) + sizeof(float) - 1) / sizeof(float);
    else if (bert_attention_f32_available(HS)) fused = bert_attention_f32_scratch_bytes(T, HS) / sizeof(float);
    size_t stride = pad16((size_t)T * T > fused ? (size_t)T * T : fused);
    /* a GPU model's layers and heads run there: of the layers' buffers
     * (q, k, v, attn, tmp, ff, the scores, the first tokens') it needs none */
    size_t cpu = ctx->model->cuda ? 0 : 1;
    size_t sizes[] = {
        pad16((size_t)N * C), cpu * pad16((size_t)N * C), cpu * pad16((size_t)N * C), cpu * pad16((size_t)N * C),
        cpu * pad16((size_t)N * C), cpu * pad16((size_t)N * C), cpu * pad16((size_t)N * I), pad16((size_t)N),
        cpu * (size_t)ctx->n_threads * stride, cpu * pad16((size_t)S * C), pad16((size_t)S * C), pad16((size_t)S * 2),
        pad16((size_t)S * L), pad16((size_t)N * L), pad16((size_t)N * 2), pad16((size_t)S * NI),
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    float *arena = NULL;
    int *offset = malloc(((size_t)S + 1) * sizeof *offset);
    if (!offset || !(arena = bert_alloc64(total * sizeof(float)))) {
        free(offset);
        return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB of working memory for %d tokens",
                         (double)total * 4 / 1e6, N);
    }
    free(ctx->arena);
    free(ctx->offset);
    ctx->arena = arena;
    ctx->offset = offset;
    float **views[] = {&ctx->hidden, &ctx->q,       &ctx->k,      &ctx->v,   &ctx->attn,   &ctx->tmp,
                       &ctx->ff,     &ctx->keymask, &ctx->scores, &ctx->cls, &ctx->pooled, &ctx->nsp,
                       &ctx->cls_logits, &ctx->tok_logits, &ctx->qa_logits, &ctx->intent_logits};
    float *p = arena;
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        *views[i] = sizes[i] ? p : NULL; /* none: never read (a GPU model's layer buffers) */
        p += sizes[i];
    }
    ctx->cap_tokens = N;
    ctx->cap_seq_len = T;
    ctx->score_stride = stride;
    ctx->cap_seqs = S;
    ctx->cap_labels = (int)L;
    ctx->outputs = 0;
    ctx->states = 0;
    ctx->n_seqs = 0;
    return BERT_OK;
}

static int has_output(const bert_context *ctx, int seq, unsigned what) {
    return ctx && (ctx->outputs & what) && seq >= 0 && seq < ctx->n_seqs;
}

const float *bert_output_hidden(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_HIDDEN)) return NULL;
    return ctx->hidden + (size_t)ctx->offset[seq] * ctx->model->cfg.pub.hidden_size;
}

const float *bert_output_pooled(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_POOLED)) return NULL;
    return ctx->pooled + (size_t)seq * ctx->model->cfg.pub.hidden_size;
}

const float *bert_output_mlm_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_MLM)) return NULL;
    return ctx->logits + (size_t)ctx->offset[seq] * ctx->model->cfg.pub.vocab_size;
}

const float *bert_output_nsp_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_NSP)) return NULL;
    return ctx->nsp + (size_t)seq * 2;
}

const float *bert_output_classifier_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_CLASSIFIER)) return NULL;
    return ctx->cls_logits + (size_t)seq * bert_model_num_labels(ctx->model);
}

const float *bert_output_intent_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_INTENT)) return NULL;
    return ctx->intent_logits + (size_t)seq * ctx->model->cfg.pub.num_intents;
}

const float *bert_output_token_classifier_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_TOKEN_CLASSIFIER)) return NULL;
    return ctx->tok_logits + (size_t)ctx->offset[seq] * bert_model_num_labels(ctx->model);
}

const float *bert_output_qa_logits(const bert_context *ctx, int seq) {
    if (!has_output(ctx, seq, BERT_OUTPUT_QA)) return NULL;
    return ctx->qa_logits + (size_t)ctx->offset[seq] * 2;
}

bert_status bert_pool(const bert_context *ctx, int seq, bert_pooling pooling, int normalize, float *out,
                      bert_error *err) {
    const float *h = bert_output_hidden(ctx, seq);
    if (!h) return bert_fail(err, BERT_ERR_STATE, "bert_pool: sequence %d has no hidden states (forward not run "
                                                  "with BERT_OUTPUT_HIDDEN?)", seq);
    int C = ctx->model->cfg.pub.hidden_size, T = ctx->offset[seq + 1] - ctx->offset[seq];
    const float *mask = ctx->keymask + ctx->offset[seq];
    if (pooling == BERT_POOL_CLS) {
        memcpy(out, h, (size_t)C * sizeof(float));
    } else if (pooling == BERT_POOL_MEAN) {
        /* sentence-transformers: sum(h * mask) / clamp(sum(mask), 1e-9). */
        double count = 0;
        for (int t = 0; t < T; t++) count += mask[t];
        for (int j = 0; j < C; j++) {
            double s = 0;
            for (int t = 0; t < T; t++) s += (double)mask[t] * h[(size_t)t * C + j];
            out[j] = (float)(s / (count > 1e-9 ? count : 1e-9));
        }
    } else {
        return bert_fail(err, BERT_ERR_INPUT, "bert_pool: unknown pooling %d", (int)pooling);
    }
    if (normalize) {
        /* torch.nn.functional.normalize: x / max(||x||, 1e-12). */
        double ss = 0;
        for (int j = 0; j < C; j++) ss += (double)out[j] * out[j];
        double nrm = sqrt(ss);
        if (nrm < 1e-12) nrm = 1e-12;
        for (int j = 0; j < C; j++) out[j] = (float)(out[j] / nrm);
    }
    return BERT_OK;
}
