/* none.c — the GPU path's functions in a build without CUDA (nvcc not
 * found, CUDA=none, or a sanitizer build): each says so. */
#include "cuda/collective.h"
#include "cuda/encoder.h"
#include "cuda/train.h"
#include "util/error.h"

const char *bert_cuda_unavailable(void) {
    return "this build of bert.c has no CUDA support (nvcc was not found when it was built, or CUDA=none, or a "
           "sanitizer build)";
}

bert_status bert_cuda_model_create(const bert_cuda_model_src *src, bert_cuda_model **out, bert_error *err) {
    (void)src;
    *out = NULL;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

void bert_cuda_model_free(bert_cuda_model *m) { (void)m; }

bert_status bert_cuda_run(const bert_cuda_model *m, bert_cuda_work **work, const bert_cuda_outputs *out,
                          const bert_sequence *seqs, const int *offset, int n_seqs, const float *keymask, double *prof,
                          bert_error *err) {
    (void)m, (void)work, (void)out, (void)seqs, (void)offset, (void)n_seqs, (void)keymask, (void)prof;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

void bert_cuda_work_free(bert_cuda_work *w) { (void)w; }

bert_status bert_cuda_mlm(const bert_cuda_model *m, bert_cuda_work *w, int first, const int32_t *pos, int n,
                          float *out, bert_error *err) {
    (void)m, (void)w, (void)first, (void)pos, (void)n, (void)out;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

int bert_cuda_fused_attention(int head_size) {
    (void)head_size;
    return 0;
}

bert_status bert_cuda_train_create(const bert_cuda_train_shape *shape, bert_cuda_train **out, bert_error *err) {
    (void)shape;
    *out = NULL;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

void bert_cuda_train_free(bert_cuda_train *t) { (void)t; }

/* Unreachable: no context can be made. */
bert_status bert_cuda_train_upload(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *src, bert_error *err) {
    (void)t, (void)which, (void)src;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_download(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *dst, int add,
                                     bert_error *err) {
    (void)t, (void)which, (void)dst, (void)add;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_pin(bert_cuda_train *t, void *p, size_t bytes, bert_error *err) {
    (void)t, (void)p, (void)bytes;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_masks(bert_cuda_train *t, uint8_t *out, size_t n, bert_error *err) {
    (void)t, (void)out, (void)n;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_grad_sumsq(bert_cuda_train *t, double *ss, bert_error *err) {
    (void)t;
    *ss = 0.0;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_adamw(bert_cuda_train *t, const bert_cuda_adamw *decay, const bert_cuda_adamw *no_decay,
                                  bert_error *err) {
    (void)t, (void)decay, (void)no_decay;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_forward(bert_cuda_train *t, const bert_cuda_train_batch *b, const float *x0, float *x_out,
                                    bert_error *err) {
    (void)t, (void)b, (void)x0, (void)x_out;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_heads(bert_cuda_train *t, const bert_cuda_train_labels *lb, double *mlm, double *nsp,
                                  bert_error *err) {
    (void)t, (void)lb, (void)mlm, (void)nsp;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_logits(bert_cuda_train *t, const bert_cuda_train_drop *drop, float *logits, bert_error *err) {
    (void)t, (void)drop, (void)logits;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_logits_grad(bert_cuda_train *t, const float *dlogits, bert_error *err) {
    (void)t, (void)dlogits;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_backward(bert_cuda_train *t, float *dx, const bert_cuda_host *grads,
                                     void (*layer_done)(void *user, int l), void *user, bert_error *err) {
    (void)t, (void)dx, (void)grads, (void)layer_done, (void)user;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

const char *bert_cuda_nccl_unavailable(void) { return bert_cuda_unavailable(); }

bert_status bert_cuda_nccl_id(unsigned char id[BERT_CUDA_NCCL_ID_BYTES], bert_error *err) {
    (void)id;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_join(bert_cuda_train *t, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES], int nranks,
                                 int rank, double timeout_s, bert_error *err) {
    (void)t, (void)id, (void)nranks, (void)rank, (void)timeout_s;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

bert_status bert_cuda_train_allreduce(bert_cuda_train *t, bert_error *err) {
    (void)t;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", bert_cuda_unavailable());
}

int bert_cuda_train_gpu_shared(const bert_cuda_train *t) {
    (void)t;
    return 0;
}
