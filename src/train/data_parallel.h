/* data_parallel.h — the trainer's data-parallel path (bert_train_params.dist
 * of a job of several ranks; bert.h says what it does). */
#ifndef BERT_TRAIN_DATA_PARALLEL_H
#define BERT_TRAIN_DATA_PARALLEL_H

#include "bert.h"

struct train_dp;
typedef struct train_dp train_dp;

/* The trainer's state for it: each encoder layer's gradient range. */
bert_status train_dp_create(bert_trainer *t, train_dp **out, bert_error *err);
void train_dp_free(train_dp *dp);

/* bert_trainer_backward on rank r: its share of the micro-batch with the
 * whole batch's denominators; on the step's last micro-batch each layer's
 * gradients are sent as backward finishes it. Inputs are checked. */
bert_status train_dp_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels, double *loss,
                              bert_error *err);
/* Called by the encoder backward after layer l (see train_pass.dp). */
void train_dp_layer_done(train_dp *dp, int l);
/* Before the optimizer step: send what was not sent, wait for every sum. */
bert_status train_dp_reduce(bert_trainer *t, bert_error *err);
/* After it: every checksum_steps steps, the weights' digests compared. */
bert_status train_dp_check(bert_trainer *t, bert_error *err);

/* A run's batch_size is per rank: *batch becomes the global batch, ranks x
 * batch (BERT_ERR_INPUT past INT_MAX). A job of one leaves it. */
bert_status train_dp_global_batch(const bert_dist *d, int *batch, bert_error *err);

#endif
