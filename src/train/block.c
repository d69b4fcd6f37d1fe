/* block.c — dense layers on the trainer's parameter block (block.h). */
#include "train/block.h"

#include "kernels/half.h"
#include "model/layers.h"

static const uint16_t *w16_of(const train_block *blk, const float *W) {
    return blk->params16 ? blk->params16 + (W - blk->params) : NULL;
}

void train_dense_fwd(const train_block *blk, float *y, const float *x, uint16_t *x16, int round_x, const float *W,
                     const float *b, int M, int N, int K) {
    const uint16_t *W16 = w16_of(blk, W);
    if (W16 && round_x) bert_f32_to_bf16_threaded(x16, x, (size_t)M * K, blk->n_threads);
    nn_dense_forward(y, N, x, x16, W, W16, b, M, N, K, NULL, blk->n_threads);
}

void train_dense_bwd(const train_block *blk, float *dx, const float *W, const float *b, const float *dy,
                     uint16_t *dy16, const float *x, const uint16_t *x16, int M, int N, int K, int accumulate) {
    nn_dense_backward(dx, train_grad(blk, W), b ? train_grad(blk, b) : NULL, dy, dy16, x, x16, W, w16_of(blk, W), M, N,
                      K, accumulate, blk->n_threads);
}
