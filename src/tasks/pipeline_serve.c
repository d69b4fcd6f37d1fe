/* pipeline_serve.c — what a server needs of a pipeline: running sequences
 * it tokenized itself, reading the outputs and sentence embeddings of the
 * last run, choosing truncation per call. */
#include "model/context.h"
#include "tasks/pipeline.h"
#include "tasks/sentence.h"
#include "util/error.h"

/* Run seqs on the pipeline's context; see bert.h. */
bert_status bert_pipeline_forward(bert_pipeline *p, const bert_sequence *seqs, int n, unsigned outputs,
                                  bert_error *err) {
    bert_error_clear(err);
    if (!p || !seqs || n <= 0) return bert_fail(err, BERT_ERR_INPUT, "bert_pipeline_forward: no sequences");
    return bert_forward(p->ctx, seqs, n, outputs, err);
}

/* The pipeline's context, for bert_output_* and bert_pool. */
const bert_context *bert_pipeline_context(const bert_pipeline *p) { return p->ctx; }

/* The sentence-transformers settings read at open. */
bert_sentence_config bert_pipeline_sentence_config(const bert_pipeline *p) { return p->st; }

/* The prompt of bert_embed_texts for params and its token count. */
bert_status bert_pipeline_embed_prompt(const bert_pipeline *p, const bert_embed_params *params, const char **prompt,
                                       int *prompt_length, bert_error *err) {
    bert_error_clear(err);
    bert_embed_params e = params ? *params : bert_embed_default_params();
    *prompt = NULL;
    *prompt_length = 0;
    if (e.pooling < -1 || e.pooling >= BERT_POOL_N_MODES || e.normalize < -1 || e.normalize > 1)
        return bert_fail(err, BERT_ERR_INPUT, "pooling %d / normalize %d out of range", e.pooling, e.normalize);
    const char *pr = e.prompt;
    if (!pr && e.prompt_name && !(pr = sentence_head_prompt(p->head, e.prompt_name)))
        return bert_fail(err, BERT_ERR_INPUT, "prompt_name '%s' is not among the prompts of "
                                              "config_sentence_transformers.json", e.prompt_name);
    if (!pr && !e.prompt_name) pr = sentence_head_default_prompt(p->head);
    if (!pr || !*pr) return BERT_OK;
    /* sentence-transformers' prompt_length: its tokens with [CLS], cut as
     * texts are, less a closing special token. */
    bert_encode_params ep = bert_encode_default_params();
    if (p->st.max_seq_length > 0) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = p->st.max_seq_length;
    }
    bert_encodings es;
    bert_status rc = bert_tokenize(p->tok, pr, -1, NULL, 0, &ep, &es, err);
    if (rc != BERT_OK) return rc;
    const bert_encoding *en = &es.encodings[0];
    *prompt_length = en->n_tokens - (en->n_tokens > 0 && en->special_tokens_mask[en->n_tokens - 1]);
    bert_encodings_free(&es);
    *prompt = pr;
    return BERT_OK;
}

/* The embedding of sequence seq of the last run, as bert_embed_texts makes it. */
bert_status bert_pipeline_embed_output(bert_pipeline *p, int seq, const bert_embed_params *params, int prompt_length,
                                       float *out, bert_error *err) {
    bert_error_clear(err);
    bert_embed_params e = params ? *params : bert_embed_default_params();
    if (e.pooling < -1 || e.pooling >= BERT_POOL_N_MODES || e.normalize < -1 || e.normalize > 1)
        return bert_fail(err, BERT_ERR_INPUT, "pooling %d / normalize %d out of range", e.pooling, e.normalize);
    if (prompt_length < 0) return bert_fail(err, BERT_ERR_INPUT, "prompt_length %d < 0", prompt_length);
    if (!p->ctx || seq < 0 || seq >= p->ctx->n_seqs)
        return bert_fail(err, BERT_ERR_STATE, "sequence %d: not in the last run", seq);
    return embed_output(p, &e, seq, prompt_length, out, err);
}

/* Set the truncation policy the task calls use from now on. */
void bert_pipeline_set_truncation(bert_pipeline *p, int truncate, int truncate_left) {
    p->params.truncate = truncate != 0;
    p->params.truncate_left = truncate_left != 0;
}
