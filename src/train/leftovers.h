/* leftovers.h — a training run's output directory after a crash: what an
 * interrupted earlier run left there under temporary names. */
#ifndef BERT_TRAIN_LEFTOVERS_H
#define BERT_TRAIN_LEFTOVERS_H

#include "bert.h"

/* Clean OUT (p->output_dir) of what an interrupted run left of the names a
 * run writes there (the directories checkpoint-STEP, best and p->model_dir;
 * files ending in .json, .jsonl or .conll) and of nothing else:
 * bert_trainer_save's NAME.tmp trees are removed, and a NAME.old tree is
 * moved back to NAME when NAME is missing (the run died between its two
 * renames: NAME.old is then the only whole copy), else removed; the hidden
 * and temporary names of io/fs.h and bert_atomic_open as
 * bert_dir_clean_leftovers cleans them (not those of a running process).
 * The count of entries cleaned goes to *n_cleaned. */
bert_status train_clean_leftovers(const bert_loop_params *p, int *n_cleaned, bert_error *err);

#endif
