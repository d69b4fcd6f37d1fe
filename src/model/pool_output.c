/* pool_output.c — BERT_OUTPUT_SENTENCE: sentence-transformers' pooling as
 * an output of the forward (bert_context_set_pooling, bert_output_sentence).
 * The CPU pools here, after the layers; a GPU model pools on the GPU
 * (src/cuda/encoder.cu, pool_tokens) from the same plan. */
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "model/context.h"
#include "util/error.h"

bert_status bert_context_set_pooling(bert_context *ctx, const bert_pooling_spec *spec, int n, bert_error *err) {
    bert_error_clear(err);
    if (!ctx) return bert_fail(err, BERT_ERR_INPUT, "bert_context_set_pooling: context is NULL");
    if (n < 0 || (n > 0 && !spec)) return bert_fail(err, BERT_ERR_INPUT, "bert_context_set_pooling: %d specs at %p", n, (const void *)spec);
    if (!spec) n = 0;
    for (int i = 0; i < n; i++) {
        if (spec[i].modes == 0 || spec[i].modes >> BERT_POOL_N_MODES)
            return bert_fail(err, BERT_ERR_INPUT, "pooling spec %d: modes 0x%x: set bits 1u << bert_pooling (0..%d)", i,
                             spec[i].modes, BERT_POOL_N_MODES - 1);
        if (spec[i].prompt_length < 0)
            return bert_fail(err, BERT_ERR_INPUT, "pooling spec %d: prompt_length %d < 0", i, spec[i].prompt_length);
    }
    bert_pooling_spec *copy = NULL;
    if (n > 0 && !(copy = malloc(sizeof *copy * (size_t)n))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (n > 0) memcpy(copy, spec, sizeof *copy * (size_t)n);
    free(ctx->pool);
    ctx->pool = copy;
    ctx->n_pool = n;
    return BERT_OK;
}

bert_status bert_context_plan_sentences(bert_context *ctx, int n_seqs, bert_error *err) {
    if (ctx->n_pool > 1 && n_seqs > ctx->n_pool)
        return bert_fail(err, BERT_ERR_INPUT, "BERT_OUTPUT_SENTENCE: the pooling set names %d sequences, the batch has %d",
                         ctx->n_pool, n_seqs);
    if (n_seqs > ctx->plan_cap) {
        int *p = realloc(ctx->plan, sizeof *p * 3 * (size_t)n_seqs);
        if (!p) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        ctx->plan = p, ctx->plan_cap = n_seqs;
    }
    size_t rows = 0;
    for (int s = 0; s < n_seqs; s++) {
        bert_pooling_spec sp = ctx->n_pool == 0   ? (bert_pooling_spec){1u << BERT_POOL_MEAN, 0}
                               : ctx->n_pool == 1 ? ctx->pool[0]
                                                  : ctx->pool[s];
        ctx->plan[3 * s] = (int)sp.modes, ctx->plan[3 * s + 1] = sp.prompt_length, ctx->plan[3 * s + 2] = (int)rows;
        rows += (size_t)__builtin_popcount(sp.modes);
    }
    size_t need = rows * (size_t)ctx->model->cfg.pub.hidden_size;
    if (need > ctx->sentence_cap) {
        float *p = realloc(ctx->sentence, sizeof *p * need);
        if (!p) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for the sentence embeddings", need * 4.0 / 1e6);
        ctx->sentence = p, ctx->sentence_cap = need;
    }
    return BERT_OK;
}

void bert_context_pool_sentences(bert_context *ctx, const bert_sequence *seqs, int n_seqs) {
    int C = ctx->model->cfg.pub.hidden_size;
    for (int s = 0; s < n_seqs; s++) /* the plan's specs are valid and the masks checked: it cannot fail */
        bert_pool_states(ctx->hidden + (size_t)ctx->offset[s] * C, seqs[s].attention_mask, seqs[s].n_tokens, C,
                         (unsigned)ctx->plan[3 * s], ctx->plan[3 * s + 1],
                         ctx->sentence + (size_t)ctx->plan[3 * s + 2] * C, NULL);
}

const float *bert_output_sentence(const bert_context *ctx, int seq, bert_pooling_spec *spec) {
    if (!ctx || !(ctx->outputs & BERT_OUTPUT_SENTENCE) || seq < 0 || seq >= ctx->n_seqs) return NULL;
    if (spec) spec->modes = (unsigned)ctx->plan[3 * seq], spec->prompt_length = ctx->plan[3 * seq + 1];
    return ctx->sentence + (size_t)ctx->plan[3 * seq + 2] * ctx->model->cfg.pub.hidden_size;
}
