/* result.h — the start of a run's bert_loop_result, shared by the runs
 * (finetune.c, multitask.c, pretrain.c, loop.c). */
#ifndef BERT_TRAIN_RESULT_H
#define BERT_TRAIN_RESULT_H

#include <math.h>
#include <string.h>

#include "bert.h"

/* result (or, when the caller passed none, local) emptied: no best yet. */
static inline bert_loop_result *train_result_start(bert_loop_result *result, bert_loop_result *local) {
    bert_loop_result *r = result ? result : local;
    memset(r, 0, sizeof *r);
    r->best = NAN, r->best_step = -1;
    return r;
}

#endif
