/* backprop.h — BertModel's encoder in training: the forward that keeps
 * what the backward needs, and the backward. */
#ifndef BERT_TRAIN_BACKPROP_H
#define BERT_TRAIN_BACKPROP_H

#include "train/acts.h"

/* Embeddings and every layer on seqs[0..S), with BERT's dropout (after the
 * embeddings, on the attention probabilities, after the attention output
 * dense and after the FFN output dense), masks drawn from tp->rng in that
 * order, layer by layer. The last hidden states end in tp->acts->x_out.
 * tp->acts must be reserved for this batch (train_acts_reserve). With
 * tp->gpu the layers run there (train/gpu.h), the masks drawn alike; only
 * that path can fail (CUDA's errors), and nothing is kept on failure. */
bert_status train_encoder_forward(const train_pass *tp, const bert_sequence *seqs, int S, bert_error *err);

/* A data-parallel part with no sequences (tp->masks holds the whole
 * batch as before or after it): the RNG advanced over every dropout mask
 * train_encoder_forward draws for the batch, nothing computed. Kept in
 * step with the draws of train_encoder_forward. */
void train_encoder_skip_masks(const train_pass *tp);

/* From d loss / d x_out in tp->acts->dx (the heads' output), every encoder
 * weight's gradient added to the block's. Overwrites the backward scratch
 * of tp->acts, dx included. With tp->gpu, the layers' backward runs there
 * (it can fail with CUDA's errors; the layers' gradients are then not added). */
bert_status train_encoder_backward(const train_pass *tp, const bert_sequence *seqs, int S, bert_error *err);

#endif
