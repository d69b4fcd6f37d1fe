/* sentence.h — the sentence-transformers modules of a model directory
 * (sentence.c), as the embedding task uses them. */
#ifndef BERT_TASKS_SENTENCE_H
#define BERT_TASKS_SENTENCE_H

#include "bert.h"

/* bert_sentence_head_apply() with the Normalize choice of
 * bert_embed_params: -1 as the modules say, 0 leaves the Normalize modules
 * out, 1 runs them all and L2-normalises the result. */
bert_status sentence_head_run(const bert_sentence_head *h, const float *hidden, const int32_t *mask, int n_tokens,
                              int hidden_size, int prompt_length, int normalize, float *out, bert_error *err);

/* The modules after Pooling (Dense, Normalize as sentence_head_run) on
 * pooled[Pooling's out_features] into out. */
bert_status sentence_head_finish(const bert_sentence_head *h, const float *pooled, int normalize, float *out,
                                 bert_error *err);

/* The prompt called `name` in config_sentence_transformers.json, or NULL
 * when there is none by that name. */
const char *sentence_head_prompt(const bert_sentence_head *h, const char *name);

/* The default prompt (default_prompt_name's text), or NULL. */
const char *sentence_head_default_prompt(const bert_sentence_head *h);

/* L2-normalise x[0..n) as torch.nn.functional.normalize: x / max(||x||, 1e-12). */
void sentence_l2_normalize(float *x, int n);

#endif
