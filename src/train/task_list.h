/* task_list.h — the tasks file of multi-task runs (bert_task_list_read),
 * parsed from text for callers that have it in memory (the fuzz target). */
#ifndef BERT_TRAIN_TASK_LIST_H
#define BERT_TRAIN_TASK_LIST_H

#include "bert.h"

/* Parse `text` (what = the name errors give); relative train/dev paths are
 * taken relative to base_dir ("." for none). */
bert_status train_task_list_parse(const char *text, const char *what, const char *base_dir,
                                  const bert_finetune_params *defaults, bert_task_list **out, bert_error *err);

#endif
