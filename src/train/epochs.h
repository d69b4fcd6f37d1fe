/* epochs.h — shuffled epochs over a task's training items, as a
 * bert_train_source for bert_train_loop.
 *
 * Each epoch draws one seed from the trainer's RNG and orders the items by a
 * Fisher-Yates shuffle driven by that seed; micro-batches are consecutive
 * runs of batch_size items of that order (the last one shorter). The data
 * position (epoch, position, shuffle seed) goes into checkpoints, so a
 * resumed run sees the same batches as one that never stopped. */
#ifndef BERT_TRAIN_EPOCHS_H
#define BERT_TRAIN_EPOCHS_H

#include "bert.h"
#include "train/task.h"

typedef struct {
    const train_task_ops *ops;
    void *state;
    int n_items, batch, epochs;
    int epoch, pos;    /* the next batch starts here                      */
    uint32_t seed;     /* the current epoch's shuffle seed                 */
    int seeded;        /* seed holds this epoch's seed (drawn or restored) */
    int ordered;       /* order holds this epoch's permutation             */
    int *order;
    bert_sequence *seqs;
    float *labels;
} train_epochs;

/* Batches of `batch` items of the task's training data for `epochs`
 * epochs. Allocates the batch buffers. */
bert_status train_epochs_init(train_epochs *e, const train_task_ops *ops, void *state, int batch, int epochs,
                              bert_error *err);
void train_epochs_free(train_epochs *e);

/* The source view of e (e must outlive the loop). */
bert_train_source train_epochs_source(train_epochs *e);

/* 0..n-1 in the order of the shuffle seeded by `seed`. */
void train_shuffle(int *order, int n, uint32_t seed);

#endif
