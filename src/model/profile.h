/* profile.h — what the forward pass records when its context profiles
 * (bert_context_params.profile); every function does nothing (reads no
 * clock) when the context does not. */
#ifndef BERT_MODEL_PROFILE_H
#define BERT_MODEL_PROFILE_H

#include "model/context.h"

/* The start of the first timed operation. */
void prof_begin(bert_context *ctx);
/* The operation since the last mark ends: its time goes to kind (and to
 * layer's row when layer >= 0). */
void prof_mark(bert_context *ctx, int layer, bert_op_kind kind);
/* The call that began at t0 (prof_now) ends with n_tokens tokens: its total,
 * and OTHER = the totals minus the timed kinds. */
void prof_end(bert_context *ctx, double t0, int n_tokens);
/* The clock when profiling, else 0. */
double prof_now(const bert_context *ctx);
/* A GPU pass's timings: prof_device_rows gives [(layers + 1) x
 * BERT_OP_COUNT] zeros (NULL when not profiling a GPU model) for bert_cuda_run to fill
 * (row `layers`: the pass's own steps), prof_device_done adds them to the
 * layers and kinds and starts the next mark there. */
double *prof_device_rows(bert_context *ctx);
void prof_device_done(bert_context *ctx, const double *rows);

#endif
