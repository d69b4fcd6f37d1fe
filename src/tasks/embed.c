/* embed.c — sentence embeddings as SentenceTransformer.encode computes
 * them: the prompt before each text, texts cut to max_seq_length, then the
 * directory's modules (sentence.c) or one pooling mode. */
#include <stdlib.h>
#include <string.h>

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

/* The embedding of sequence i of the last forward into out. */
static bert_status embed_one(bert_pipeline *p, const bert_embed_params *e, const task_batch *b, int i, int prompt_len,
                             float *out, bert_error *err) {
    const float *h = bert_output_hidden(p->ctx, i);
    int C = bert_model_config(p->model)->hidden_size, T = b->seqs[i].n_tokens;
    if (e->pooling < 0 && p->head) return sentence_head_run(p->head, h, NULL, T, C, prompt_len, e->normalize, out, err);
    int mode = e->pooling < 0 ? BERT_POOL_MEAN : e->pooling;
    int skip = p->head && !p->st.include_prompt ? prompt_len : 0;
    bert_status rc = bert_pool_states(h, NULL, T, C, 1u << mode, skip, out, err);
    if (rc == BERT_OK && (e->normalize == 1 || (e->normalize < 0 && p->st.normalize))) sentence_l2_normalize(out, C);
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
    task_batch b;
    rc = task_run(p, joined ? (const char *const *)joined : texts, NULL, n, max_len, BERT_OUTPUT_HIDDEN, &b, err);
    p->params = saved;
    for (int i = 0; rc == BERT_OK && i < n; i++) rc = embed_one(p, &e, &b, i, prompt_len, out + (size_t)i * dim, err);
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
