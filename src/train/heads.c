/* heads.c — the task heads of training: forward from the last hidden
 * states, loss, and backward into d x_out, for every BertFor* model bert.c
 * trains (transformers/models/bert/modeling_bert.py):
 *   sequence   classifier(dropout(tanh(pooler(h[:, 0]))))       CE / MSE / BCE
 *   token      classifier(dropout(h))                             CE, ignore -100
 *   qa         qa_outputs(h) -> start, end                        (CE(start) + CE(end)) / 2
 *   mlm        LN(act(transform(h))) W_word^T + bias (tied)       CE, ignore -100
 *   pretraining  mlm + seq_relationship(pooled)                   CE(mlm) + CE(nsp)
 * The heads' scratch lives in the trainer (t->head_buf), grown as needed;
 * the MLM logits are only computed for the masked tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "train/acts.h"
#include "train/trainer.h"
#include "util/error.h"

/* Mean cross-entropy over rows with target >= 0; dz = (softmax - onehot) *
 * scale / count (dz may be z itself: the logits become their gradient).
 * Rows are independent, so they are split across threads. */
static double ce_rows(float *z, const float *target, int rows, int L, float *dz, double scale, int n_threads) {
    double loss = 0.0;
    int n = 0;
    for (int r = 0; r < rows; r++) n += target[r] >= 0;
    float g = (float)(scale / (n ? n : 1));
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && (size_t)rows * L > 65536) reduction(+ : loss) schedule(static)
    for (int r = 0; r < rows; r++) {
        float *d = dz ? dz + (size_t)r * L : NULL;
        if (target[r] < 0) {
            if (d) memset(d, 0, sizeof *d * (size_t)L);
            continue;
        }
        loss += bert_softmax_xent_row(z + (size_t)r * L, d, L, (int)target[r], g);
    }
    return n ? loss / n : 0.0;
}

typedef struct {
    float *cls, *pooled, *mask, *pooled_d, *dpooled;
} pool_bufs;

/* pooled = tanh(pooler(h[first token])), dropout p (p = 0 for NSP). */
static void pooler_fwd(bert_trainer *t, const train_acts *a, int S, double p, pool_bufs *b) {
    const bert_weights *w = &t->model->w;
    int C = bert_model_config(t->model)->hidden_size;
    for (int s = 0; s < S; s++) memcpy(b->cls + (size_t)s * C, a->x_out + (size_t)a->offset[s] * C, sizeof(float) * C);
    bert_linear(b->pooled, C, b->cls, w->pooler.w, w->pooler.b, S, C, C, 1);
    bert_tanh(b->pooled, (size_t)S * C);
    train_draw_mask(&t->rng, b->mask, (size_t)S * C, p);
    for (size_t i = 0; i < (size_t)S * C; i++) b->pooled_d[i] = b->pooled[i] * b->mask[i];
}

/* d pooled_d (in b->dpooled) -> pooler gradients, += into dx rows of first tokens. */
static void pooler_bwd(bert_trainer *t, train_acts *a, int S, pool_bufs *b, float *tmp) {
    const bert_weights *w = &t->model->w;
    int C = bert_model_config(t->model)->hidden_size;
    const float *base = t->params;
    for (size_t i = 0; i < (size_t)S * C; i++) b->dpooled[i] *= b->mask[i] * (1.0f - b->pooled[i] * b->pooled[i]);
    bert_linear_backward(tmp, t->grads + (w->pooler.w - base), t->grads + (w->pooler.b - base), b->dpooled, b->cls,
                         w->pooler.w, S, C, C, 0, 1);
    for (int s = 0; s < S; s++) {
        float *d = a->dx + (size_t)a->offset[s] * C;
        for (int j = 0; j < C; j++) d[j] += tmp[(size_t)s * C + j];
    }
}

bert_status train_heads(bert_trainer *t, const bert_sequence *seqs, int S, const float *labels, double *loss_out,
                        bert_error *err) {
    const bert_model *m = t->model;
    const bert_weights *w = &m->w;
    const bert_config *c = bert_model_config(m);
    train_acts *a = t->acts;
    int C = c->hidden_size, N = a->N, L = bert_model_num_labels(m), V = c->vocab_size, nt = t->p.n_threads;
    double scale = 1.0 / (double)t->p.grad_accum, loss = 0.0;
    const float *base = t->params;
#define G(ptr) (t->grads + ((ptr) - base))
    size_t NC = (size_t)N * C;
    memset(a->dx, 0, NC * sizeof(float));
    /* one scratch block for all heads */
    size_t M = 0;
    if (t->p.task == BERT_TASK_MLM || t->p.task == BERT_TASK_PRETRAINING)
        for (int i = 0; i < N; i++) M += labels[i] >= 0;
    size_t need = 8 * NC + 6 * (size_t)S * C + 4 * (size_t)N * (L > 2 ? L : 2) + M * (size_t)V + 4 * (size_t)N + M + 64;
    if (t->params16) need += (M * (size_t)C + M * (size_t)V) / 2 + 2; /* bf16 decoder input and logit gradients */
    if (need > t->head_cap) {
        free(t->head_buf);
        t->head_cap = 0;
        t->head_buf = malloc(need * sizeof(float));
        if (!t->head_buf) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for the head", need * 4e-6);
        t->head_cap = need;
    }
    float *p = t->head_buf;
#define TAKE(n) (p += (n), p - (n))
    pool_bufs pb = {TAKE((size_t)S * C), TAKE((size_t)S * C), TAKE((size_t)S * C), TAKE((size_t)S * C), TAKE((size_t)S * C)};
    float *tmp = TAKE(NC > (size_t)S * C ? NC : (size_t)S * C);
    bert_status rc = BERT_OK;
    switch (t->p.task) {
    case BERT_TASK_SEQUENCE: {
        float *z = TAKE((size_t)S * L), *dz = TAKE((size_t)S * L);
        pooler_fwd(t, a, S, t->p.classifier_dropout, &pb);
        bert_linear(z, L, pb.pooled_d, w->classifier.w, w->classifier.b, S, L, C, 1);
        loss = train_loss(t->p.problem, z, labels, S, L, dz, scale);
        bert_linear_backward(pb.dpooled, G(w->classifier.w), G(w->classifier.b), dz, pb.pooled_d, w->classifier.w, S, L,
                             C, 0, 1);
        pooler_bwd(t, a, S, &pb, tmp);
        break;
    }
    case BERT_TASK_TOKEN: {
        float *mask = TAKE(NC), *hd = TAKE(NC), *z = TAKE((size_t)N * L), *dz = TAKE((size_t)N * L);
        train_draw_mask(&t->rng, mask, NC, t->p.classifier_dropout);
        for (size_t i = 0; i < NC; i++) hd[i] = a->x_out[i] * mask[i];
        bert_linear(z, L, hd, w->classifier.w, w->classifier.b, N, L, C, nt);
        for (int i = 0; i < N; i++)
            if (labels[i] >= L) rc = bert_fail(err, BERT_ERR_INPUT, "token %d: label %g is not a class id in [0, %d)", i, labels[i], L);
        if (rc != BERT_OK) break;
        loss = ce_rows(z, labels, N, L, dz, scale, nt);
        bert_linear_backward(a->dx, G(w->classifier.w), G(w->classifier.b), dz, hd, w->classifier.w, N, L, C, 0, nt);
        for (size_t i = 0; i < NC; i++) a->dx[i] *= mask[i];
        break;
    }
    case BERT_TASK_QA: {
        float *z = TAKE((size_t)N * 2), *dz = TAKE((size_t)N * 2);
        bert_linear(z, 2, a->x_out, w->qa.w, w->qa.b, N, 2, C, nt);
        memset(dz, 0, sizeof *dz * (size_t)N * 2);
        for (int s = 0; s < S && rc == BERT_OK; s++) {
            int T = seqs[s].n_tokens, row0 = a->offset[s];
            for (int k = 0; k < 2; k++) { /* start (k = 0) and end (k = 1) */
                int y = (int)labels[2 * s + k];
                if (y < 0 || y >= T) {
                    rc = bert_fail(err, BERT_ERR_INPUT, "sequence %d: answer %s %d is outside its %d tokens", s,
                                   k ? "end" : "start", y, T);
                    break;
                }
                double mx = -INFINITY, sum = 0.0;
                for (int i = 0; i < T; i++) mx = fmax(mx, z[(size_t)(row0 + i) * 2 + k]);
                for (int i = 0; i < T; i++) sum += exp(z[(size_t)(row0 + i) * 2 + k] - mx);
                loss += -(z[(size_t)(row0 + y) * 2 + k] - mx - log(sum)) / (2.0 * S);
                for (int i = 0; i < T; i++)
                    dz[(size_t)(row0 + i) * 2 + k] =
                        (float)((exp(z[(size_t)(row0 + i) * 2 + k] - mx) / sum - (i == y)) / (2.0 * S) * scale);
            }
        }
        if (rc != BERT_OK) break;
        bert_linear_backward(a->dx, G(w->qa.w), G(w->qa.b), dz, a->x_out, w->qa.w, N, 2, C, 0, nt);
        break;
    }
    case BERT_TASK_MLM:
    case BERT_TASK_PRETRAINING: {
        /* The transform runs on the masked rows only (the loss ignores the rest). */
        _Static_assert(sizeof(int) == sizeof(float), "row indices share the float scratch");
        int *rows = (int *)(void *)TAKE(M);
        float *hin = TAKE(M * C), *pre = TAKE(M * C), *act = TAKE(M * C), *ln = TAKE(M * C), *sum = TAKE(M * C);
        float *mean = TAKE(M), *rstd = TAKE(M), *z = TAKE(M * V), *target = TAKE(M);
        float *dln = TAKE(M * C), *dact = TAKE(M * C), *dh = TAKE(M * C);
        size_t k = 0;
        for (int i = 0; i < N; i++) {
            if (labels[i] < 0) continue;
            if (labels[i] >= V) {
                rc = bert_fail(err, BERT_ERR_INPUT, "token %d: MLM label %g is outside the vocabulary", i, labels[i]);
                break;
            }
            rows[k] = i;
            target[k] = labels[i];
            memcpy(hin + k * C, a->x_out + (size_t)i * C, sizeof(float) * C);
            k++;
        }
        if (rc != BERT_OK) break;
        int Mi = (int)M;
        if (Mi > 0) {
            bert_linear(pre, C, hin, w->mlm_transform.w, w->mlm_transform.b, Mi, C, C, nt);
            memcpy(act, pre, sizeof(float) * M * C);
            bert_activation_forward(act, M * C, m->cfg.act, nt);
            bert_add_layernorm_train(ln, sum, mean, rstd, act, NULL, w->mlm_ln.w, w->mlm_ln.b, Mi, C,
                                     (float)c->layer_norm_eps, nt);
            uint16_t *ln16 = NULL, *dz16 = NULL;
            if (t->params16) ln16 = (uint16_t *)TAKE((M * C + 1) / 2), dz16 = (uint16_t *)TAKE((M * (size_t)V + 1) / 2);
            train_dense_fwd(t, z, ln, ln16, 1, w->mlm_decoder, w->mlm_bias, Mi, V, C);
            loss = ce_rows(z, target, Mi, V, z, scale, nt);
            /* decoder (tied: its gradient lands in the word embeddings' rows) */
            train_dense_bwd(t, dln, w->mlm_decoder, w->mlm_bias, z, dz16, ln, ln16, Mi, V, C, 0);
            bert_layernorm_backward(dact, G(w->mlm_ln.w), G(w->mlm_ln.b), dln, sum, w->mlm_ln.w, mean, rstd, Mi, C);
            bert_activation_backward(dact, dact, pre, M * C, m->cfg.act, nt);
            bert_linear_backward(dh, G(w->mlm_transform.w), G(w->mlm_transform.b), dact, hin, w->mlm_transform.w, Mi, C, C,
                                 0, nt);
            for (size_t r = 0; r < M; r++)
                for (int j = 0; j < C; j++) a->dx[(size_t)rows[r] * C + j] += dh[r * C + j];
        }
        if (t->p.task == BERT_TASK_PRETRAINING) {
            float *z2 = TAKE((size_t)S * 2), *dz2 = TAKE((size_t)S * 2);
            pooler_fwd(t, a, S, 0.0, &pb);
            bert_linear(z2, 2, pb.pooled, w->nsp.w, w->nsp.b, S, 2, C, 1);
            loss += ce_rows(z2, labels + N, S, 2, dz2, scale, 1);
            bert_linear_backward(pb.dpooled, G(w->nsp.w), G(w->nsp.b), dz2, pb.pooled, w->nsp.w, S, 2, C, 0, 1);
            pooler_bwd(t, a, S, &pb, tmp);
        }
        break;
    }
    }
#undef TAKE
#undef G
    *loss_out = loss;
    if (rc == BERT_OK && !isfinite(loss))
        rc = bert_fail(err, BERT_ERR_STATE, "the loss is %s: training diverged", isnan(loss) ? "NaN" : "infinite");
    return rc;
}
