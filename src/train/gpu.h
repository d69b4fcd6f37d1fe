/* gpu.h — a trainer's encoder on an NVIDIA GPU
 * (bert_train_params.device = BERT_DEVICE_CUDA): the seam between the
 * trainer (train/trainer.c, train/backprop.c) and src/cuda/train.h.
 *
 * The held tensors — the layers', the embeddings' (t->gpu_emb) unless the
 * position table is frozen or an MLM head that stays on the CPU ties its
 * decoder to the word table, and the heads' (t->gpu_heads:
 * train_gpu_heads_of: pre-training's, or a fine-tuning task's) — train
 * there: their forward and backward run there (the pre-training heads'
 * losses too; a fine-tuning task's loss is train/heads.c's, from the
 * logits), their gradients are summed there,
 * and their AdamW step runs there, on weights and moments the GPU keeps;
 * the other heads, their losses, the other tensors' AdamW (and the
 * embeddings, where not held) stay on the CPU. The encoder's dropout masks
 * are drawn on the GPU from the trainer's RNG stream in the CPU pass's
 * order (the stream jumped past them here).
 *
 * Who holds what (t->gpu_stale, t->gpu_host_grads):
 * - weights: the GPU's after each step are copied into t->params, so the
 *   host's always hold the current ones (evaluation, checkpoints); straight
 *   from the GPU where the held run of params could be page-locked
 *   (t->gpu_pinned), else through the context's stage;
 * - AdamW's moments: the GPU's are the current ones once uploaded (not
 *   gpu_stale); t->m and t->v get them back for a checkpoint;
 * - gradients: summed on the GPU, and the host's held gradients stay zero;
 *   once the caller was handed the gradient block (bert_trainer_gradients,
 *   gpu_host_grads), and from the start in a data-parallel job without
 *   NCCL (the ranks' sums are taken on the host), they come back to t->grads each
 *   micro-batch and go over again for the step.
 *
 * A data-parallel rank trains on the GPU of its rank on its machine
 * (dist_local_rank) and passes its part's place in the whole batch
 * (train_pass.masks) for its piece of the masks. Where every rank has NCCL
 * (t->gpu_nccl), the held tensors' sums stay on the GPUs and are summed over the
 * ranks there at the step (train_gpu_step_begin), the host's buckets
 * leaving them out; else they come to the host (gpu_host_grads). */
#ifndef BERT_TRAIN_GPU_H
#define BERT_TRAIN_GPU_H

#include "cuda/train.h"
#include "train/acts.h"
#include "train/trainer.h"

/* A GPU training context for t's held tensors (f32, or bf16 products for
 * BERT_COMPUTE_BF16), with t->gpu_emb decided, t->gpu_tables made and
 * t->held_lo / held_hi set to the run of t's blocks the held tensors fill;
 * data-parallel, NCCL's communicator joined where every rank has it
 * (t->gpu_nccl; a collective: every rank calls it), else gpu_host_grads set.
 * BERT_ERR_UNSUPPORTED where the GPU path cannot run, with CUDA's reason. */
bert_status train_gpu_create(bert_trainer *t, bert_error *err);

/* While gpu_stale (since opening, or a resume that loaded them), copies
 * t's held weights and AdamW moments to the GPU and clears it; before a
 * pass or a step. */
bert_status train_gpu_sync(bert_trainer *t, bert_error *err);

/* The held tensors in t's block `which` (params, grads, m or v). */
const bert_cuda_host *train_gpu_table(const bert_trainer *t, bert_cuda_block which);

/* The forward, with dropout, into tp->acts->x_out (with tp->gpu_heads,
 * kept on the GPU for the heads there instead): with tp->gpu_emb, of the
 * embeddings of seqs[acts->S] and the layers (x0 unread); else the
 * layers' on x0 [N x C] (the embeddings' output after dropout). */
bert_status train_gpu_forward(const train_pass *tp, const bert_sequence *seqs, const float *x0, bert_error *err);

/* With tp->gpu_heads 1 or 2, the pre-training heads on the GPU on the last
 * forward's output (train/heads.c's head_mlm and head_nsp there): labels as
 * train_heads takes them and has checked (the MLM labels [N], < 0 none;
 * then with NSP the [S] NSP labels, < 0 none); *loss = the pass's loss, as
 * train_heads computes it. d loss / d x_out stays on the GPU for
 * train_gpu_backward. */
bert_status train_gpu_heads(const train_pass *tp, const float *labels, double *loss, bert_error *err);

/* The heads t trains on the GPU (t->p.device CUDA, set before a context
 * exists; src/cuda/train.h's shape.head), where none of the embeddings'
 * tensors is frozen and t trains one task: 2 BertForPreTraining's (MLM +
 * NSP) for the pre-training task, 1 the MLM head for the MLM task, where
 * the decoder is tied to the word table; where the model has no MLM or NSP
 * head, 3 the pooler and the classifier for sequence classification, 4
 * the classifier for token classification or qa_outputs for question
 * answering (without a pooler), 5 the pooler, the intent classifier and
 * the slot classifier for joint intent + slots (each head's tensors then
 * follow each other in the block); else 0 (the heads on the CPU, and with
 * an MLM head the embeddings too). */
int train_gpu_heads_of(const bert_trainer *t);

/* The widths of GPU head `head`'s logits for model m trained for task
 * (src/cuda/train.h's shape.classes and shape.tags): *classes the pooled
 * output's classifier's (3: the labels, 5: the intents; else 0), *tags the
 * token head's (4 and 5: the labels, QA's 2; else 0). */
void train_gpu_logit_widths(const bert_model *m, bert_task task, int head, int *classes, int *tags);

/* The backward from d loss / d x_out in tp->acts->dx (with tp->gpu_heads,
 * the heads' on the GPU): the layers', which
 * leaves d loss / d x0 there, and with tp->gpu_emb the embeddings' (dx then
 * left as it was); the weight gradients added to the GPU's sums (or, with
 * tp->gpu_grads, to the block's), tp->layer_done called as each layer's
 * are final. */
bert_status train_gpu_backward(const train_pass *tp, bert_error *err);

/* Adds the gradients summed on the GPU into dst (a block of the params'
 * layout), at the held tensors' offsets; the GPU's sums are left as they are. */
bert_status train_gpu_add_grads(const bert_trainer *t, float *dst, bert_error *err);

/* The GPU's part of an optimizer step, before the CPU's: with
 * gpu_host_grads, the host's held gradients go over first; with gpu_nccl
 * (and not gpu_host_grads) they are summed over the ranks (a collective; a
 * failure from there on sets gpu_broken); *ss = the sum of the held
 * gradients' squares (for the global norm). */
bert_status train_gpu_step_begin(bert_trainer *t, double *ss, bert_error *err);

/* The held tensors' AdamW step on the GPU at learning rate lr with the clipping
 * factor clip (t->step + 1 for the bias correction), the summed gradients
 * zeroed there (and, with gpu_host_grads, on the host), the new weights
 * copied into t->params. A failure leaves the step undone on the host
 * while the GPU's copy may be part-way through it: t->gpu_broken is set
 * (and t->gpu_torn where the new weights were coming straight into
 * params: some may have come). */
bert_status train_gpu_adamw(bert_trainer *t, double lr, float clip, bert_error *err);

/* The held tensors' summed gradients summed over the ranks on the GPUs (with
 * gpu_nccl; a collective: every rank calls it at the same point); a
 * failure sets gpu_broken. */
bert_status train_gpu_allreduce(bert_trainer *t, bert_error *err);

/* BERT_ERR_STATE once t->gpu_broken: what a pass, a step or a checkpoint
 * with state is refused with. */
bert_status train_gpu_check(const bert_trainer *t, bert_error *err);

/* Copies the GPU's AdamW moments into t->m and t->v (for a checkpoint);
 * nothing to do while gpu_stale. */
bert_status train_gpu_pull_moments(bert_trainer *t, bert_error *err);

#endif
