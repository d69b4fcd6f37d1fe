/* finite.h — the tasks refuse non-finite model outputs (NaN or infinite
 * weights, or values that overflow): an error naming the input, never a
 * bare nan in a result. */
#ifndef BERT_TASKS_FINITE_H
#define BERT_TASKS_FINITE_H

#include "bert.h"

/* 1 when x[0..n) are all finite. */
int task_all_finite(const float *x, size_t n);

/* After bert_forward(ctx, seqs, n, outputs): BERT_ERR_NUMERIC naming the
 * first sequence (err->item = its index) one of whose requested outputs
 * holds a NaN or an infinity; BERT_OK otherwise. */
bert_status task_check_finite(const bert_context *ctx, const bert_model *model, const bert_sequence *seqs, int n,
                              unsigned outputs, bert_error *err);

/* The message of that error for input i, for callers that check values of
 * their own (bert_mlm_logits_at, pooled vectors). */
bert_status task_fail_not_finite(int i, bert_error *err);

#endif
