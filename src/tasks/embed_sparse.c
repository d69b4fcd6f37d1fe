/* embed_sparse.c — SPLADE sparse embeddings (bert_embed_sparse): the MLM
 * head's logits at every token, log1p(relu(.)) and the maximum over the
 * tokens, the non-zero entries kept. The logits of 64 tokens at a time
 * (64 x V floats), whatever the texts' lengths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/finite.h"
#include "tasks/pipeline.h"
#include "util/error.h"

void bert_sparse_vectors_free(bert_sparse_vector *v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i].index), free(v[i].value), memset(&v[i], 0, sizeof v[i]);
}

#define BLOCK 64 /* tokens whose logits are held at once */

/* Sequence s of the last forward into *out; z holds BLOCK x V logits. */
static bert_status sparse_one(bert_pipeline *p, int s, int T, float *z, float *best, bert_sparse_vector *out, bert_error *err) {
    int V = bert_model_config(p->model)->vocab_size;
    int32_t pos[BLOCK];
    for (int v = 0; v < V; v++) best[v] = 0.0f;
    for (int t0 = 0; t0 < T; t0 += BLOCK) {
        int nb = T - t0 < BLOCK ? T - t0 : BLOCK;
        for (int t = 0; t < nb; t++) pos[t] = t0 + t;
        bert_status rc = bert_mlm_logits_at(p->ctx, s, pos, nb, z, err);
        if (rc != BERT_OK) return rc;
        for (int t = 0; t < nb; t++)
            for (int v = 0; v < V; v++) {
                float x = z[(size_t)t * V + v];
                if (!isfinite(x)) return task_fail_not_finite(s, err);
                float y = x > 0 ? log1pf(x) : 0.0f;
                if (y > best[v]) best[v] = y;
            }
    }
    int n = 0;
    for (int v = 0; v < V; v++) n += best[v] > 0;
    out->index = malloc(sizeof *out->index * (size_t)(n ? n : 1)), out->value = malloc(sizeof *out->value * (size_t)(n ? n : 1));
    if (!out->index || !out->value) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int v = 0; v < V; v++)
        if (best[v] > 0) out->index[out->n] = v, out->value[out->n++] = best[v];
    return BERT_OK;
}

bert_status bert_embed_sparse(bert_pipeline *p, const char *const *texts, int n, bert_sparse_vector *out, bert_error *err) {
    bert_error_clear(err);
    if (!p || !texts || !out || n <= 0) return bert_fail(err, BERT_ERR_INPUT, "bert_embed_sparse: no texts");
    memset(out, 0, sizeof *out * (size_t)n);
    if (!(bert_model_heads(p->model) & BERT_HEAD_MLM))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "sparse embeddings need the masked-LM head (cls.predictions)");
    task_batch b;
    /* the states stay in the context (a GPU model's there, where the MLM head runs) */
    bert_status rc = task_run(p, texts, NULL, n, 0, 0, &b, err);
    int V = bert_model_config(p->model)->vocab_size;
    float *z = rc == BERT_OK ? malloc(sizeof *z * BLOCK * (size_t)V) : NULL, *best = rc == BERT_OK ? malloc(sizeof *best * (size_t)V) : NULL;
    if (rc == BERT_OK && (!z || !best)) rc = bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for the MLM logits", (double)BLOCK * V * 4e-6);
    for (int i = 0; rc == BERT_OK && i < n; i++) rc = sparse_one(p, i, b.seqs[i].n_tokens, z, best, &out[i], err);
    free(z), free(best);
    task_batch_free(&b);
    if (rc != BERT_OK) bert_sparse_vectors_free(out, n);
    return rc;
}
