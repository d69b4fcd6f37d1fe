/* fill_mask.c — transformers pipelines/fill_mask.py: softmax over the
 * vocabulary at every [MASK], top-k, and the sequence with each prediction
 * put in place. */
#include <stdlib.h>
#include <string.h>

#include "tasks/finite.h"
#include "tasks/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

/* Indices of the k largest values of x[0..n) (ties: lower index first). */
static void top_k(const double *x, int n, int k, int *idx) {
    for (int j = 0; j < k; j++) idx[j] = -1;
    for (int i = 0; i < n; i++) {
        int pos = k;
        while (pos > 0 && (idx[pos - 1] < 0 || x[i] > x[idx[pos - 1]])) pos--;
        if (pos >= k) continue;
        memmove(idx + pos + 1, idx + pos, sizeof *idx * (size_t)(k - pos - 1));
        idx[pos] = i;
    }
}

/* Target strings to ids: in the vocabulary as is, else the first piece of
 * their tokenization; duplicates dropped. A target whose id the model's
 * vocabulary does not reach (a tokenizer larger than the embedding
 * matrix) is an error. */
static bert_status target_ids(bert_pipeline *p, const char *const *targets, int n, int **ids, int *n_ids,
                              bert_error *err) {
    *ids = malloc(sizeof **ids * (size_t)(n > 0 ? n : 1));
    *n_ids = 0;
    if (!*ids) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int id = bert_tokenizer_token_to_id(p->tok, targets[i]);
        if (id < 0) {
            bert_encode_params ep = bert_encode_default_params();
            ep.add_special_tokens = 0;
            bert_encodings es;
            bert_status rc = bert_tokenize(p->tok, targets[i], -1, NULL, 0, &ep, &es, err);
            if (rc != BERT_OK) return rc;
            if (es.encodings[0].n_tokens > 0) id = es.encodings[0].input_ids[0];
            bert_encodings_free(&es);
        }
        if (id < 0) continue;
        int V = bert_model_config(p->model)->vocab_size;
        if (id >= V)
            return bert_fail(err, BERT_ERR_INPUT, "target '%s' is token %d, outside the model's vocabulary (vocab_size %d)",
                             targets[i], id, V);
        int dup = 0;
        for (int j = 0; j < *n_ids; j++) dup |= (*ids)[j] == id;
        if (!dup) (*ids)[(*n_ids)++] = id;
    }
    if (*n_ids == 0) return bert_fail(err, BERT_ERR_INPUT, "none of the targets can be a token of this vocabulary");
    return BERT_OK;
}

void bert_fill_mask_result_free(bert_fill_mask_result *r, int n) {
    for (int i = 0; r && i < n; i++) {
        for (int j = 0; j < r[i].n_masks * r[i].top_k; j++) {
            free(r[i].predictions[j].token_str);
            free(r[i].predictions[j].sequence);
        }
        free(r[i].predictions);
        memset(&r[i], 0, sizeof r[i]);
    }
}

/* One mask position of one input: fill r->predictions[m * k ..]. */
static bert_status predict(bert_pipeline *p, const bert_encoding *e, int pos, int single, const int *targets,
                           int n_targets, int k, const float *logits, bert_fill_prediction *out, bert_error *err) {
    int V = bert_model_config(p->model)->vocab_size;
    double *prob = malloc(sizeof *prob * (size_t)V);
    int *idx = malloc(sizeof *idx * (size_t)k);
    int32_t *ids = malloc(sizeof *ids * (size_t)e->n_tokens);
    if (!prob || !idx || !ids) {
        free(prob), free(idx), free(ids);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < V; v++) prob[v] = logits[v];
    task_softmax(prob, V);
    if (targets) {
        double *tp = malloc(sizeof *tp * (size_t)n_targets);
        for (int j = 0; tp && j < n_targets; j++) tp[j] = prob[targets[j]];
        top_k(tp, n_targets, k, idx);
        for (int j = 0; j < k; j++) idx[j] = targets[idx[j]];
        free(tp);
    } else {
        top_k(prob, V, k, idx);
    }
    bert_status rc = BERT_OK;
    for (int j = 0; j < k && rc == BERT_OK; j++) {
        memcpy(ids, e->input_ids, sizeof *ids * (size_t)e->n_tokens);
        ids[pos] = idx[j];
        out[j].score = prob[idx[j]];
        out[j].token = idx[j];
        rc = bert_detokenize(p->tok, &idx[j], 1, 0, &out[j].token_str, err);
        if (rc == BERT_OK) rc = bert_detokenize(p->tok, ids, e->n_tokens, single, &out[j].sequence, err);
        if (rc == BERT_OK && p->tok->clean_up_spaces) { /* tokenizer.decode() in the pipeline */
            bert_clean_up_tokenization(out[j].token_str);
            bert_clean_up_tokenization(out[j].sequence);
        }
    }
    free(prob), free(idx), free(ids);
    return rc;
}

#define MASK_BLOCK 64 /* masks whose logits are held at once (64 x V floats) */

bert_status bert_fill_mask(bert_pipeline *p, const char *const *texts, int n, int k, const char *const *targets,
                           int n_targets, bert_fill_mask_result *out, bert_error *err) {
    bert_error_clear(err);
    memset(out, 0, sizeof *out * (size_t)(n > 0 ? n : 0));
    if (!(bert_model_heads(p->model) & BERT_HEAD_MLM))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no MLM head (cls.predictions)");
    int mask_id = bert_tokenizer_special_id(p->tok, BERT_SPECIAL_MASK);
    if (mask_id < 0) return bert_fail(err, BERT_ERR_UNSUPPORTED, "the tokenizer has no mask token");
    if (k < 1) return bert_fail(err, BERT_ERR_INPUT, "top_k must be at least 1");
    int *tids = NULL, n_tids = 0;
    bert_status rc = BERT_OK;
    if (targets && n_targets > 0) rc = target_ids(p, targets, n_targets, &tids, &n_tids, err);
    if (tids && k > n_tids) k = n_tids;
    int V = bert_model_config(p->model)->vocab_size;
    if (k > V) k = V;
    task_batch b = {0};
    /* the encoder for every token, the vocabulary-wide decoder only at the
     * masks (bert_mlm_logits_at, on the states the pass leaves: on a GPU
     * model nothing else comes back) */
    if (rc == BERT_OK) rc = task_run(p, texts, NULL, n, 0, 0, &b, err);
    /* the masks' logits MASK_BLOCK at a time (one call each: on a GPU model, one round trip) */
    float *logits = rc == BERT_OK ? malloc(sizeof *logits * MASK_BLOCK * (size_t)V) : NULL;
    if (rc == BERT_OK && !logits) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < n; i++) {
        const bert_encoding *e = &b.enc[i].encodings[0];
        int masks = 0;
        for (int t = 0; t < e->n_tokens; t++) masks += e->input_ids[t] == mask_id;
        if (masks == 0) {
            rc = bert_fail(err, BERT_ERR_INPUT, "input %d: no mask token (%s) in the text", i,
                           bert_tokenizer_id_to_token(p->tok, mask_id));
            if (err) err->item = i; /* after bert_fail, which resets it */
            break;
        }
        out[i].n_masks = masks;
        out[i].top_k = k;
        out[i].predictions = calloc((size_t)masks * (size_t)k, sizeof *out[i].predictions);
        if (!out[i].predictions) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        int32_t at[MASK_BLOCK];
        for (int32_t t = 0, m = 0, got = 0; rc == BERT_OK && t < e->n_tokens; t++) {
            if (e->input_ids[t] == mask_id) at[got++] = t;
            if (got == 0 || (got < MASK_BLOCK && t + 1 < e->n_tokens)) continue;
            rc = bert_mlm_logits_at(p->ctx, i, at, got, logits, err);
            if (rc == BERT_OK && !task_all_finite(logits, (size_t)got * V)) rc = task_fail_not_finite(i, err);
            for (int j = 0; rc == BERT_OK && j < got; j++, m++)
                rc = predict(p, e, at[j], masks == 1, tids, n_tids, k, logits + (size_t)j * V,
                             out[i].predictions + (size_t)m * k, err);
            got = 0;
        }
    }
    free(logits);
    task_batch_free(&b);
    free(tids);
    if (rc != BERT_OK) bert_fill_mask_result_free(out, n);
    return rc;
}
