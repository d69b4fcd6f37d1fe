/* ner.h — the entities of one encoded text from its token-classification
 * logits (ner.c), shared with the dialogue pipeline's slots. */
#ifndef BERT_TASKS_NER_H
#define BERT_TASKS_NER_H

#include "bert.h"

/* Entities of text (encoded as e, logits [e->n_tokens x num_labels]) with
 * aggregation agg appended to *out; first_only: only the tokens of the
 * first segment (token type 0). */
bert_status task_entities(bert_pipeline *p, const char *text, const bert_encoding *e, const float *logits,
                          bert_aggregation agg, int first_only, bert_entities *out, bert_error *err);

#endif
