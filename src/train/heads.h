/* heads.h — the task heads of training and their losses. */
#ifndef BERT_TRAIN_HEADS_H
#define BERT_TRAIN_HEADS_H

#include "bert.h"
#include "train/acts.h"

/* The task head of tp->p->task on the last hidden states tp->acts->x_out:
 * *loss = the micro-batch's mean loss; d loss / d x_out (times 1 /
 * grad_accum) is written to tp->acts->dx and the head's gradients are added
 * to the block's. labels as bert_trainer_backward takes them. Draws the
 * head's dropout mask from tp->rng. */
/* A data-parallel part with no sequences: the RNG advanced over the
 * dropout masks train_heads draws for the whole batch (tp->masks), nothing
 * computed. Kept in step with the heads' draws. */
void train_heads_skip_masks(const train_pass *tp);

bert_status train_heads(const train_pass *tp, const bert_sequence *seqs, int S, const float *labels, double *loss,
                        bert_error *err);

/* Mean loss of S sequence outputs logits [S x L] (CrossEntropyLoss,
 * BCEWithLogitsLoss over S x L, or MSELoss on column 0, by problem); with
 * dlogits, also its gradient times scale. */
double train_loss(bert_problem problem, const float *logits, const float *labels, int S, int L, float *dlogits,
                  double scale);

/* Mean cross-entropy of rows z [rows x L] over the rows with target >= 0
 * (0 when there are none); with dz, dz = (softmax - onehot) * scale / count
 * (0 on unscored rows; dz may be z: the logits become their gradient). */
double train_ce_rows(float *z, const float *target, int rows, int L, float *dz, double scale, int n_threads);

/* BertForQuestionAnswering's loss on z [N x 2] (start, end logits of every
 * token; sequence s covers rows offset[s] .. offset[s + 1]): the mean over
 * sequences of (CE(start) + CE(end)) / 2, labels [S x 2] token indices;
 * with dz [N x 2], its gradient times scale. BERT_ERR_INPUT when a label is
 * outside its sequence. */
bert_status train_qa_loss(const float *z, const float *labels, const int *offset, int S, float *dz, double scale,
                          double *loss, bert_error *err);

#endif
