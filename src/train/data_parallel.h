/* data_parallel.h — the trainer's data-parallel path (bert_train_params.dist
 * of a job of several ranks; bert.h says what it does). The trainer asks
 * for this rank's part of each micro-batch, runs its pass on it, and hands
 * the gradient block over for the sums before each optimizer step. */
#ifndef BERT_TRAIN_DATA_PARALLEL_H
#define BERT_TRAIN_DATA_PARALLEL_H

#include "bert.h"
#include "train/acts.h"
#include "train/block.h"
#include "train/rng.h"

typedef struct train_dp train_dp;

/* The state for a trainer whose gradients (n_params floats, laid out by
 * tensors[0..n_tensors)) are summed over the ranks of d: each of the
 * n_layers encoder layers' gradient range. */
bert_status train_dp_create(bert_dist *d, const train_tensor *tensors, int n_tensors, float *grads, size_t n_params,
                            int n_layers, train_dp **out, bert_error *err);
void train_dp_free(train_dp *dp);

/* This rank's part of one micro-batch. */
typedef struct {
    int lo, hi;            /* its sequences, [lo, hi) of the micro-batch (may be empty) */
    const float *labels;   /* theirs, in the layout the task's heads read (valid until the next call) */
    train_share share;     /* its fraction of each loss term's count */
    train_masks masks;     /* where it lies in the whole batch's dropout masks */
    int send;              /* the step's last micro-batch: each layer's gradients go out as backward ends it */
} train_dp_part;

/* Cut micro-batch seqs[0..n) with labels (as bert_trainer_backward takes
 * them; checked here over the whole batch) for this rank. p: the trainer's
 * task and grad_accum; m: its model (label, intent and vocabulary sizes);
 * micro: micro-batches accumulated since the last step. The part's pass
 * draws its piece of the whole batch's dropout masks from the trainer's
 * RNG (train_pass.masks), which then ends where one process's does. */
bert_status train_dp_part_of(train_dp *dp, const bert_train_params *p, const bert_model *m, int micro,
                             const bert_sequence *seqs, int n, const float *labels, train_dp_part *part,
                             bert_error *err);
/* train_pass.layer_done of a part that sends: layer l's gradients go out. */
void train_dp_layer_done(void *dp, int l);
/* After the part's pass (or none, for an empty share): what it had to send
 * is sent. */
void train_dp_part_done(train_dp *dp, const train_dp_part *part);
/* While lo < hi, the gradients of [lo, hi) (floats: a run of whole
 * tensors that holds every layer's) are summed elsewhere (on the GPUs, by
 * NCCL): nothing of theirs is sent, the step's sums leave the run out.
 * Turned off (lo == hi) part-way through a step whose layers were left
 * out, it sends the layers now (the rest of the run goes at the step).
 * Off at creation. */
void train_dp_held_elsewhere(train_dp *dp, size_t lo, size_t hi);
/* 1 once this step's sums are done (train_dp_reduce), until the step. */
int train_dp_reduced(const train_dp *dp);
/* Before the optimizer step: send what was not sent, wait for every sum.
 * Once per step: a second call before the step does nothing. */
bert_status train_dp_reduce(train_dp *dp, bert_error *err);
/* After step `step`: every checksum_steps steps, the ranks' digests of
 * params[0..n_params) compared. */
bert_status train_dp_check(train_dp *dp, const float *params, long step, bert_error *err);
/* At a run's start: BERT_ERR_STATE unless every rank holds the same
 * weights and step (the same model, or the same checkpoint resumed). */
bert_status train_dp_same_start(train_dp *dp, const float *params, long step, bert_error *err);

/* A run's batch_size is per rank: *batch becomes the global batch, ranks x
 * batch (BERT_ERR_INPUT past INT_MAX). A job of one leaves it. */
bert_status train_dp_global_batch(const bert_dist *d, int *batch, bert_error *err);

#endif
