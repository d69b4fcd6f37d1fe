/* embed.c — sentence embeddings as SentenceTransformer.encode computes
 * them: the prompt before each text, texts cut to max_seq_length, then the
 * directory's modules (sentence.c) or one pooling mode. */
#include <stdlib.h>
#include <string.h>

#include "model/context.h"
#include "tasks/pipeline.h"
#include "tasks/sentence.h"
#include "util/error.h"

bert_embed_params bert_embed_default_params(void) {
    bert_embed_params e = {.pooling = -1, .normalize = -1, .prompt = NULL, .prompt_name = NULL};
    return e;
}

/* Check params; *prompt gets the prompt to use (NULL: none). */
static bert_status resolve(const bert_pipeline *p, const bert_embed_params *e, const char **prompt, bert_error *err) {
    if (e->pooling < -1 || e->pooling >= BERT_POOL_N_MODES)
        return bert_fail(err, BERT_ERR_INPUT, "pooling %d: -1 (the directory's) or a bert_pooling", e->pooling);
    if (e->normalize < -1 || e->normalize > 1)
        return bert_fail(err, BERT_ERR_INPUT, "normalize %d: -1 (the directory's), 0 or 1", e->normalize);
    *prompt = e->prompt;
    if (!*prompt && e->prompt_name && !(*prompt = sentence_head_prompt(p->head, e->prompt_name)))
        return bert_fail(err, BERT_ERR_INPUT, "prompt_name '%s' is not among the prompts of "
                                              "config_sentence_transformers.json", e->prompt_name);
    if (!*prompt && !e->prompt_name) *prompt = sentence_head_default_prompt(p->head);
    if (*prompt && !**prompt) *prompt = NULL;
    return BERT_OK;
}

int bert_embed_dim(const bert_pipeline *p, const bert_embed_params *params) {
    bert_embed_params e = params ? *params : bert_embed_default_params();
    if (e.pooling < -1 || e.pooling >= BERT_POOL_N_MODES) return 0;
    if (e.pooling < 0 && p->head) return p->st.dim;
    return bert_model_config(p->model)->hidden_size;
}

/* sentence-transformers' prompt_length: the prompt's tokens with [CLS],
 * cut as texts are, less a closing special token. */
static bert_status prompt_tokens(bert_pipeline *p, const char *prompt, int max_len, int *out, bert_error *err) {
    bert_encode_params ep = bert_encode_default_params();
    if (max_len > 0) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = max_len;
    }
    bert_encodings es;
    bert_status rc = bert_tokenize(p->tok, prompt, -1, NULL, 0, &ep, &es, err);
    if (rc != BERT_OK) return rc;
    const bert_encoding *e = &es.encodings[0];
    *out = e->n_tokens - (e->n_tokens > 0 && e->special_tokens_mask[e->n_tokens - 1]);
    bert_encodings_free(&es);
    return BERT_OK;
}

/* prompt + each text (malloc'd array of malloc'd strings). */
static char **with_prompt(const char *prompt, const char *const *texts, int n) {
    char **v = calloc((size_t)n, sizeof *v);
    size_t pl = strlen(prompt);
    for (int i = 0; v && i < n; i++) {
        size_t tl = texts[i] ? strlen(texts[i]) : 0;
        if (!(v[i] = malloc(pl + tl + 1))) {
            for (int k = 0; k < i; k++) free(v[k]);
            free(v);
            return NULL;
        }
        memcpy(v[i], prompt, pl);
        if (tl) memcpy(v[i] + pl, texts[i], tl);
        v[i][pl + tl] = '\0';
    }
    return v;
}

bert_pooling_spec bert_pipeline_embed_pooling(const bert_pipeline *p, const bert_embed_params *params,
                                              int prompt_length) {
    bert_embed_params e = params ? *params : bert_embed_default_params();
    if (prompt_length < 0) prompt_length = 0;
    if (e.pooling < 0 && p->head) return bert_sentence_head_pooling(p->head, prompt_length);
    int mode = e.pooling >= 0 && e.pooling < BERT_POOL_N_MODES ? e.pooling : BERT_POOL_MEAN;
    return (bert_pooling_spec){1u << mode, p->head && !p->st.include_prompt ? prompt_length : 0};
}

bert_status bert_pipeline_set_pooling(bert_pipeline *p, const bert_pooling_spec *spec, int n, bert_error *err) {
    bert_error_clear(err);
    if (!p) return bert_fail(err, BERT_ERR_INPUT, "bert_pipeline_set_pooling: pipeline is NULL");
    return bert_context_set_pooling(p->ctx, spec, n, err);
}

bert_status embed_output(bert_pipeline *p, const bert_embed_params *e, int seq, int prompt_len, float *out,
                         bert_error *err) {
    int C = bert_model_config(p->model)->hidden_size, head = e->pooling < 0 && p->head;
    if (head && C != p->st.modules[0].in_features)
        return bert_fail(err, BERT_ERR_CONFIG, "the Pooling module's word_embedding_dimension is %d, the model's "
                                               "hidden size %d", p->st.modules[0].in_features, C);
    bert_pooling_spec want = bert_pipeline_embed_pooling(p, e, prompt_len), got;
    const float *v = bert_output_sentence(p->ctx, seq, &got);
    float *pooled = NULL;
    bert_status rc = BERT_OK;
    if (!v || got.modes != want.modes || got.prompt_length != want.prompt_length) { /* pooled here, from the tokens */
        const float *h = bert_output_hidden(p->ctx, seq);
        if (!h) return bert_fail(err, BERT_ERR_STATE, "sequence %d: the last run has neither its hidden states nor its "
                                                      "sentence embedding pooled as asked", seq);
        int k = __builtin_popcount(want.modes), T = p->ctx->offset[seq + 1] - p->ctx->offset[seq];
        int32_t *mask = malloc(sizeof *mask * (size_t)T); /* the run's attention mask, as the forward's pooling reads it */
        if (!mask || !(pooled = malloc(sizeof *pooled * (size_t)k * (size_t)C))) {
            free(mask);
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        }
        for (int t = 0; t < T; t++) mask[t] = p->ctx->keymask[p->ctx->offset[seq] + t] != 0.0f;
        rc = bert_pool_states(h, mask, T, C, want.modes, want.prompt_length, pooled, err);
        free(mask);
        v = pooled;
    }
    if (rc == BERT_OK && head) {
        rc = sentence_head_finish(p->head, v, e->normalize, out, err);
    } else if (rc == BERT_OK) {
        memcpy(out, v, sizeof *out * (size_t)C);
        if (e->normalize == 1 || (e->normalize < 0 && p->st.normalize)) sentence_l2_normalize(out, C);
    }
    free(pooled);
    return rc;
}

bert_status bert_embed_texts(bert_pipeline *p, const char *const *texts, int n, const bert_embed_params *params,
                             float *out, size_t out_len, bert_error *err) {
    bert_error_clear(err);
    bert_embed_params e = params ? *params : bert_embed_default_params();
    const char *prompt = NULL;
    bert_status rc = resolve(p, &e, &prompt, err);
    if (rc != BERT_OK) return rc;
    if (n <= 0 || !texts) return bert_fail(err, BERT_ERR_INPUT, "no inputs");
    int dim = bert_embed_dim(p, &e);
    if (!out || out_len / (size_t)dim < (size_t)n)
        return bert_fail(err, BERT_ERR_INPUT, "out holds %zu floats; %d texts x %d values need more", out_len, n, dim);
    for (int i = 0; i < n; i++)
        if (!texts[i]) {
            if (err) err->item = i;
            return bert_fail(err, BERT_ERR_INPUT, "text %d is NULL", i);
        }
    /* sentence-transformers truncates to max_seq_length silently. */
    int max_len = p->st.max_seq_length, prompt_len = 0;
    char **joined = NULL;
    if (prompt) {
        if ((rc = prompt_tokens(p, prompt, max_len, &prompt_len, err)) != BERT_OK) return rc;
        if (!(joined = with_prompt(prompt, texts, n))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    bert_pipeline_params saved = p->params;
    if (max_len > 0) p->params.truncate = 1;
    task_batch b = {0};
    bert_pooling_spec spec = bert_pipeline_embed_pooling(p, &e, prompt_len); /* pooled where the model runs */
    rc = bert_context_set_pooling(p->ctx, &spec, 1, err);
    if (rc == BERT_OK)
        rc = task_run(p, joined ? (const char *const *)joined : texts, NULL, n, max_len, BERT_OUTPUT_SENTENCE, &b, err);
    p->params = saved;
    for (int i = 0; rc == BERT_OK && i < n; i++) rc = embed_output(p, &e, i, prompt_len, out + (size_t)i * dim, err);
    task_batch_free(&b);
    for (int i = 0; joined && i < n; i++) free(joined[i]);
    free(joined);
    return rc;
}

bert_status bert_embed(bert_pipeline *p, const char *const *texts, int n, int pooling, int normalize, float *out,
                       bert_error *err) {
    bert_error_clear(err);
    bert_embed_params e = bert_embed_default_params();
    e.pooling = pooling < 0 ? -1 : pooling;
    e.normalize = normalize < 0 ? -1 : normalize != 0;
    int C = bert_model_config(p->model)->hidden_size, dim = bert_embed_dim(p, &e);
    if (dim != C)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model's embeddings have %d values, not hidden_size %d "
                                                    "(several pooling modes or a Dense module): use bert_embed_texts "
                                                    "with bert_embed_dim", dim, C);
    if (n <= 0) return bert_fail(err, BERT_ERR_INPUT, "no inputs");
    return bert_embed_texts(p, texts, n, &e, out, (size_t)n * (size_t)C, err);
}
