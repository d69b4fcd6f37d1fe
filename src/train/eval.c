/* eval.c — bert_trainer_eval: the trainer's model scored by the inference
 * forward (model/forward.c on the trainer's weights: no dropout, nothing
 * kept, no gradients), with the losses training uses (train/heads.h). */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "model/context.h"
#include "train/gpu.h"
#include "train/heads.h"
#include "train/trainer.h"
#include "util/error.h"

/* Masked-LM loss over the tokens with labels[i] >= 0 (token i of the batch
 * in order): their logits from the MLM head, mean cross-entropy. */
static bert_status mlm_loss(bert_context *ctx, const float *labels, double *loss, bert_error *err) {
    int N = ctx->n_tokens, V = bert_model_config(ctx->model)->vocab_size, M = 0;
    for (int i = 0; i < N; i++) {
        if (labels[i] >= V)
            return bert_fail(err, BERT_ERR_INPUT, "token %d: MLM label %g is outside the vocabulary", i, labels[i]);
        M += labels[i] >= 0;
    }
    *loss = 0.0;
    if (M == 0) return BERT_OK;
    float *z = malloc(sizeof *z * (size_t)M * V), *target = malloc(sizeof *target * (size_t)M);
    int32_t *pos = malloc(sizeof *pos * (size_t)N);
    bert_status rc = z && target && pos ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int s = 0; rc == BERT_OK && s < ctx->n_seqs; s++) {
        int n = 0, k0 = k;
        for (int i = ctx->offset[s]; i < ctx->offset[s + 1]; i++)
            if (labels[i] >= 0) pos[n++] = i - ctx->offset[s], target[k++] = labels[i];
        if (n > 0) rc = bert_mlm_logits_at(ctx, s, pos, n, z + (size_t)k0 * V, err);
    }
    if (rc == BERT_OK) *loss = train_ce_rows(z, target, M, V, NULL, 1.0, ctx->n_threads);
    free(z), free(target), free(pos);
    return rc;
}

/* The outputs bert_forward computes for each task type. */
static unsigned task_outputs(bert_task task) {
    switch (task) {
    case BERT_TASK_SEQUENCE: return BERT_OUTPUT_CLASSIFIER;
    case BERT_TASK_TOKEN: return BERT_OUTPUT_TOKEN_CLASSIFIER;
    case BERT_TASK_QA: return BERT_OUTPUT_QA;
    case BERT_TASK_PRETRAINING: return BERT_OUTPUT_HIDDEN | BERT_OUTPUT_NSP;
    case BERT_TASK_DIALOGUE: return BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_INTENT;
    default: return BERT_OUTPUT_HIDDEN;
    }
}

/* A sequence task under data parallelism: each rank runs the forward on
 * its share of the batch, every rank gets all the logits, and the loss is
 * the whole batch's. Every rank calls it with the same batch; a rank whose
 * forward fails makes them all fail (they agree first). */
static bert_status eval_sequence_shared(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                        double *loss, float *logits, bert_error *err) {
    bert_dist *d = t->p.dist;
    int L = bert_model_num_labels(t->model), lo, hi;
    for (int i = 0; labels && t->p.problem == BERT_PROBLEM_SINGLE_LABEL && i < n; i++)
        if (labels[i] < 0 || labels[i] >= L)
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: label %g is not a class id in [0, %d)", i, labels[i], L);
    dist_share(d, n, &lo, &hi);
    bert_status rc = hi > lo ? bert_forward(t->eval_ctx, seqs + lo, hi - lo, BERT_OUTPUT_CLASSIFIER, err) : BERT_OK;
    double failed = rc != BERT_OK;
    bert_error agree;
    bert_status arc = bert_dist_sum(d, &failed, 1, &agree);
    if (rc != BERT_OK) return rc;
    if (arc != BERT_OK) return *err = agree, arc;
    if (failed > 0) return bert_fail(err, BERT_ERR_STATE, "the evaluation forward failed on another rank");
    float *all = logits ? logits : malloc(sizeof *all * (size_t)n * (size_t)L);
    if (!all) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    rc = dist_allgather_rows(d, t->eval_ctx->cls_logits, n, L, all, err);
    if (rc == BERT_OK && loss) *loss = labels ? train_loss(t->p.problem, all, labels, n, L, NULL, 1.0) : 0.0;
    if (all != logits) free(all);
    return rc;
}

bert_status bert_trainer_eval(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels, double *loss,
                              float *logits, bert_error *err) {
    bert_error_clear(err);
    if (!t) return bert_fail(err, BERT_ERR_INPUT, "bert_trainer_eval: trainer is NULL");
    if (t->gpu_torn && t->gpu_broken) return train_gpu_check(t, err); /* its layers' weights are part new */
    if (t->dp && t->p.task == BERT_TASK_SEQUENCE && n > 0) return eval_sequence_shared(t, seqs, n, labels, loss, logits, err);
    bert_context *ctx = t->eval_ctx;
    bert_status rc = bert_forward(ctx, seqs, n, task_outputs(t->p.task), err);
    if (rc != BERT_OK) return rc;
    int N = ctx->n_tokens, L = bert_model_num_labels(t->model), nt = ctx->n_threads;
    double l = 0.0;
    switch (t->p.task) {
    case BERT_TASK_SEQUENCE:
        for (int i = 0; labels && t->p.problem == BERT_PROBLEM_SINGLE_LABEL && i < n; i++)
            if (labels[i] < 0 || labels[i] >= L)
                return bert_fail(err, BERT_ERR_INPUT, "sequence %d: label %g is not a class id in [0, %d)", i, labels[i], L);
        if (labels) l = train_loss(t->p.problem, ctx->cls_logits, labels, n, L, NULL, 1.0);
        if (logits) memcpy(logits, ctx->cls_logits, sizeof *logits * (size_t)n * L);
        break;
    case BERT_TASK_TOKEN:
        for (int i = 0; labels && i < N; i++)
            if (labels[i] >= L)
                return bert_fail(err, BERT_ERR_INPUT, "token %d: label %g is not a class id in [0, %d)", i, labels[i], L);
        if (labels) l = train_ce_rows(ctx->tok_logits, labels, N, L, NULL, 1.0, nt);
        if (logits) memcpy(logits, ctx->tok_logits, sizeof *logits * (size_t)N * L);
        break;
    case BERT_TASK_QA:
        if (labels && (rc = train_qa_loss(ctx->qa_logits, labels, ctx->offset, n, NULL, 1.0, &l, err)) != BERT_OK)
            return rc;
        if (logits) memcpy(logits, ctx->qa_logits, sizeof *logits * (size_t)N * 2);
        break;
    case BERT_TASK_DIALOGUE: {
        int I = ctx->model->cfg.pub.num_intents, multi = t->p.intent_multi_label;
        size_t ni = multi ? (size_t)n * I : (size_t)n;
        for (int i = 0; labels && !multi && i < n; i++)
            if (labels[i] < 0 || labels[i] >= I)
                return bert_fail(err, BERT_ERR_INPUT, "sequence %d: intent %g is not an intent id in [0, %d)", i, labels[i], I);
        for (int i = 0; labels && i < N; i++)
            if (labels[ni + i] >= L)
                return bert_fail(err, BERT_ERR_INPUT, "token %d: slot tag %g is not a tag id in [0, %d)", i, labels[ni + i], L);
        if (labels)
            l = train_loss(multi ? BERT_PROBLEM_MULTI_LABEL : BERT_PROBLEM_SINGLE_LABEL, ctx->intent_logits, labels, n, I,
                           NULL, 1.0) +
                train_ce_rows(ctx->tok_logits, labels + ni, N, L, NULL, 1.0, nt);
        if (logits) {
            memcpy(logits, ctx->tok_logits, sizeof *logits * (size_t)N * L);
            memcpy(logits + (size_t)N * L, ctx->intent_logits, sizeof *logits * (size_t)n * I);
        }
        break;
    }
    case BERT_TASK_PRETRAINING:
    case BERT_TASK_MLM:
        if (labels && (rc = mlm_loss(ctx, labels, &l, err)) != BERT_OK) return rc;
        if (labels && t->p.task == BERT_TASK_PRETRAINING) l += train_ce_rows(ctx->nsp, labels + N, n, 2, NULL, 1.0, 1);
        break;
    }
    if (loss) *loss = l;
    return BERT_OK;
}
