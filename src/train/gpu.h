/* gpu.h — a trainer's encoder layers on an NVIDIA GPU
 * (bert_train_params.device = BERT_DEVICE_CUDA): the seam between the
 * training pass (train/backprop.c) and src/cuda/train.h. The embeddings,
 * the heads, the losses and AdamW stay on the CPU; the dropout masks are
 * drawn from the trainer's RNG in the CPU pass's order. */
#ifndef BERT_TRAIN_GPU_H
#define BERT_TRAIN_GPU_H

#include "cuda/train.h"
#include "train/acts.h"

/* A GPU training context for model m's layers (f32). BERT_ERR_UNSUPPORTED
 * where the GPU path cannot run, with CUDA's reason. */
bert_status train_gpu_create(const bert_model *m, bert_cuda_train **out, bert_error *err);

/* Copies m's layers' weights to the GPU: before a pass whenever they have
 * changed since the last copy. */
bert_status train_gpu_upload(bert_cuda_train *g, const bert_model *m, bert_error *err);

/* The layers' forward on x0 [N x C] (the embeddings' output after dropout),
 * with dropout, into tp->acts->x_out. */
bert_status train_gpu_forward(const train_pass *tp, const float *x0, bert_error *err);

/* The layers' backward: tp->acts->dx from d loss / d x_out to d loss / d
 * x0, each layer's weight gradients added to the block's, tp->layer_done
 * called as each layer's are final. */
bert_status train_gpu_backward(const train_pass *tp, bert_error *err);

#endif
