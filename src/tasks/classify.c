/* classify.c — sequence classification, NSP and cross-encoder reranking:
 * one logit vector per input, then the pipeline's score function
 * (transformers pipelines/text_classification.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/finite.h"
#include "tasks/pipeline.h"
#include "util/error.h"

bert_score_function bert_pipeline_score_function(const bert_pipeline *p) {
    const bert_config *c = bert_model_config(p->model);
    if (strcmp(c->problem_type, "multi_label_classification") == 0 || bert_model_num_labels(p->model) == 1)
        return BERT_SCORE_SIGMOID;
    if (strcmp(c->problem_type, "regression") == 0) return BERT_SCORE_NONE;
    return BERT_SCORE_SOFTMAX;
}

static void apply(bert_score_function fn, const float *logits, int L, float *out) {
    double x[L > 0 ? L : 1];
    for (int j = 0; j < L; j++) x[j] = logits[j];
    if (fn == BERT_SCORE_SOFTMAX) task_softmax(x, L);
    for (int j = 0; j < L; j++) out[j] = (float)(fn == BERT_SCORE_SIGMOID ? 1.0 / (1.0 + exp(-x[j])) : x[j]);
}

/* The scores of sequence seq of the pipeline's last run; see bert.h. */
bert_status bert_pipeline_classify_output(bert_pipeline *p, int seq, bert_score_function fn, float *out,
                                          bert_error *err) {
    bert_error_clear(err);
    if (!(bert_model_heads(p->model) & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no classifier head");
    if (fn < BERT_SCORE_AUTO || fn > BERT_SCORE_NONE) return bert_fail(err, BERT_ERR_INPUT, "score function %d out of range", (int)fn);
    const float *logits = bert_output_classifier_logits(p->ctx, seq);
    if (!logits) return bert_fail(err, BERT_ERR_STATE, "sequence %d: no classifier logits from the last run", seq);
    int L = bert_model_num_labels(p->model);
    if (!task_all_finite(logits, (size_t)L)) return task_fail_not_finite(seq, err);
    apply(fn == BERT_SCORE_AUTO ? bert_pipeline_score_function(p) : fn, logits, L, out);
    return BERT_OK;
}

bert_status bert_classify(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n,
                          bert_score_function fn, float *scores, bert_error *err) {
    bert_error_clear(err);
    if (!(bert_model_heads(p->model) & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no classifier head");
    if (fn < BERT_SCORE_AUTO || fn > BERT_SCORE_NONE) return bert_fail(err, BERT_ERR_INPUT, "score function %d out of range", (int)fn);
    task_batch b;
    bert_status rc = task_run(p, texts, pairs, n, 0, BERT_OUTPUT_CLASSIFIER, &b, err);
    int L = bert_model_num_labels(p->model);
    for (int i = 0; rc == BERT_OK && i < n; i++) rc = bert_pipeline_classify_output(p, i, fn, scores + (size_t)i * L, err);
    task_batch_free(&b);
    return rc;
}

bert_status bert_nsp(bert_pipeline *p, const char *const *texts, const char *const *pairs, int n, float *is_next,
                     bert_error *err) {
    bert_error_clear(err);
    if (!(bert_model_heads(p->model) & BERT_HEAD_NSP))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no NSP head (cls.seq_relationship)");
    for (int i = 0; i < n; i++)
        if (!pairs || !pairs[i]) {
            bert_fail(err, BERT_ERR_INPUT, "input %d: NSP needs a second text", i);
            if (err) err->item = i; /* after bert_fail, which resets it */
            return BERT_ERR_INPUT;
        }
    task_batch b;
    bert_status rc = task_run(p, texts, pairs, n, 0, BERT_OUTPUT_NSP, &b, err);
    for (int i = 0; rc == BERT_OK && i < n; i++) {
        float prob[2];
        apply(BERT_SCORE_SOFTMAX, bert_output_nsp_logits(p->ctx, i), 2, prob);
        is_next[i] = prob[0]; /* label 0 = IsNext */
    }
    task_batch_free(&b);
    return rc;
}

/* Documents per bert_classify pass of bert_rerank. */
#define RERANK_GROUP 64

/* An error about "input K" of a group that starts at document `offset`:
 * the item and the message name the document in the whole list. */
static void renumber(bert_error *err, int offset) {
    int k, used = 0;
    char rest[sizeof err->message];
    if (sscanf(err->message, "input %d: %n", &k, &used) == 1 && used > 0) {
        snprintf(rest, sizeof rest, "%s", err->message + used);
        snprintf(err->message, sizeof err->message, "input %d: %.480s", k + offset, rest);
    }
    err->item += offset;
}

bert_status bert_rerank(bert_pipeline *p, const char *query, const char *const *documents, int n, float *scores,
                        bert_error *err) {
    bert_error_clear(err);
    if (n <= 0) return bert_fail(err, BERT_ERR_INPUT, "no documents to rerank");
    if (!(bert_model_heads(p->model) & BERT_HEAD_CLASSIFIER))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "this model has no classifier head (a cross-encoder has one)");
    if (n > BERT_RERANK_MAX_DOCUMENTS)
        return bert_fail(err, BERT_ERR_INPUT, "%d documents: at most %d (BERT_RERANK_MAX_DOCUMENTS)", n,
                         BERT_RERANK_MAX_DOCUMENTS);
    int g = n < RERANK_GROUP ? n : RERANK_GROUP, L = bert_model_num_labels(p->model);
    const char **queries = malloc(sizeof *queries * (size_t)g);
    float *all = malloc(sizeof *all * (size_t)g * (size_t)(L > 0 ? L : 1));
    bert_status rc = queries && all ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < g; i++) queries[i] = query;
    /* RERANK_GROUP documents a pass, so memory does not grow with n. A
     * single-logit cross-encoder scores sigmoid(logit); a two-class one the
     * probability of its last (relevant) class. */
    for (int i0 = 0; rc == BERT_OK && i0 < n; i0 += g) {
        int m = n - i0 < g ? n - i0 : g;
        rc = bert_classify(p, queries, documents + i0, m, L == 1 ? BERT_SCORE_SIGMOID : BERT_SCORE_AUTO, all, err);
        if (rc != BERT_OK && err && err->item >= 0) renumber(err, i0);
        for (int i = 0; rc == BERT_OK && i < m; i++) scores[i0 + i] = all[(size_t)i * L + (L - 1)];
    }
    free(all);
    free(queries);
    return rc;
}
