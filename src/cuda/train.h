/* train.h — the encoder in training on an NVIDIA GPU
 * (bert_train_params.device = BERT_DEVICE_CUDA).
 *
 * The seam: bert_cuda_train_forward takes the batch's token ids (with the
 * embeddings on the GPU, shape.vocab > 0) or the layers' input x0 [N x C]
 * made on the CPU (the embeddings, their LayerNorm and dropout: train/
 * backprop.c), runs the embeddings and every layer on the GPU keeping what
 * the backward reads there, and writes the last hidden states back; the
 * task heads and their losses run on the CPU, except the pre-training
 * heads where the shape has them (bert_cuda_train_heads: on the GPU, from
 * the token labels, the losses alone coming back) and the fine-tuning
 * heads (sequence and token classification, question answering, joint
 * intent + slots: bert_cuda_train_logits and _logits_grad, on the GPU, their
 * logits and the logits' gradient alone crossing, the loss the host's);
 * bert_cuda_train_backward
 * takes d loss / d hidden, runs the backward on the GPU, adds the weight
 * gradients to the sums the GPU keeps (or, asked to, to the trainer's
 * host block) and, with the embeddings on the CPU, gives back d loss / d
 * x0 for their backward there.
 *
 * The tensors the GPU trains (the layers', the embeddings' with
 * shape.vocab, the heads' with shape.head: "the held tensors"), their summed gradients and AdamW's two
 * moments live on the GPU: the trainer uploads them once (bert_cuda_train_upload, also
 * after a resume), takes the gradients' sum of squares for the global norm
 * (bert_cuda_train_grad_sumsq), steps AdamW there (bert_cuda_train_adamw)
 * and copies the new weights back for the CPU's evaluation and checkpoints
 * (bert_cuda_train_download; the moments only for a checkpoint).
 *
 * Every operation is the CPU pass's (train/backprop.c), in f32 with cuBLAS's
 * default math (no TF32) or, shape.bf16, with the CPU's bf16 dense products
 * (train_dense_fwd / train_dense_bwd; the bf16 weights rounded on the GPU
 * after each upload and AdamW step), on a layout of its own: Q, K and V as one [N x 3C]
 * product of one [3C x C] weight. The dropout masks are drawn on the GPU
 * from the trainer's RNG stream (PCG32, jumped ahead to each mask) in the
 * CPU pass's order, so a GPU run takes the CPU run's masks and follows it
 * to within the products' rounding. Attention keeps every
 * (head, sequence) probability block, laid out as the CPU keeps them
 * (nn_attention_keep), and runs on cuBLAS batched products, one call per
 * run of equal-length sequences (bert_cuda_plan). AdamW's element
 * operations are the CPU's (train/optimizer.c) each rounded once, so the
 * same gradients give the same weights and moments bit for bit. The
 * embeddings' gradient adds each table row's tokens in the batch's order,
 * as nn_embeddings_backward does, one block a row. */
#ifndef BERT_CUDA_TRAIN_H
#define BERT_CUDA_TRAIN_H

#include <stdint.h>

#include "cuda/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where one layer's tensors are on the host, in one of the trainer's
 * blocks (weights, gradients, moments): the fields of bert_cuda_layer_src. */
typedef struct bert_cuda_layer_host {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
    float *o_w, *o_b, *ln1_w, *ln1_b;
    float *i_w, *i_b, *o2_w, *o2_b, *ln2_w, *ln2_b;
} bert_cuda_layer_host;

/* Where the embeddings' tensors are on the host: the word [vocab x C],
 * position [positions x C] and token-type [types x C] tables and their
 * LayerNorm's weight and bias [C]. */
typedef struct bert_cuda_emb_host {
    float *word, *pos, *type, *ln_w, *ln_b;
} bert_cuda_emb_host;

/* Where the heads' tensors are on the host (shape.head): with the MLM
 * head (1 and 2) BertLMPredictionHead's transform dense [C x C] and [C],
 * its LayerNorm's weight and bias [C], the decoder's bias [vocab] (its
 * weight is the word table: tied); with NSP (2) also BertPooler's dense
 * [C x C] and [C] and seq_relationship's [2 x C] and [2] (nsp_w, nsp_b);
 * for sequence classification (3) the pooler's and the classifier's
 * [classes x C] and [classes] (nsp_w, nsp_b) alone; for a token head (4)
 * the dense on every token's [tags x C] and [tags] (token_w, token_b:
 * BertForTokenClassification's classifier, BertForQuestionAnswering's
 * qa_outputs) alone; for joint intent + slots (5) the pooler's, the intent
 * classifier's (nsp_w, nsp_b) and the slot classifier's (token_w, token_b).
 * What a head lacks is unread. */
typedef struct bert_cuda_head_host {
    float *transform_w, *transform_b, *ln_w, *ln_b, *bias;
    float *pooler_w, *pooler_b, *nsp_w, *nsp_b;
    float *token_w, *token_b;
} bert_cuda_head_host;

/* Every held tensor of one block on the host: layers[shape.layers], emb
 * where the shape has the embeddings (shape.vocab > 0; else unread) and
 * head where it has the heads (shape.head > 0; else unread). */
typedef struct bert_cuda_host {
    const bert_cuda_layer_host *layers;
    bert_cuda_emb_host emb;
    bert_cuda_head_host head;
} bert_cuda_host;

typedef struct {
    int hidden, heads, intermediate, layers;
    int act; /* a bert_activation */
    float eps;
    int device; /* the GPU to train on: this ordinal modulo the GPUs CUDA lists (a data-parallel
                 * rank passes its rank among the job's processes on its machine) */
    int bf16;   /* 1: mixed precision, as the CPU trainer's BERT_COMPUTE_BF16: each dense
                 * product (forward and both backward products) takes bf16 operands (the
                 * weights, the input, d loss / d output rounded to nearest even) with f32
                 * sums; the bias gradients, attention, LayerNorm, the activations, AdamW and
                 * the weights it updates stay f32. 0: every product in f32 */
    /* vocab > 0: the embeddings train on the GPU too, tables of vocab, positions and types
     * rows (BertEmbeddings: x0 = dropout(LayerNorm((word[id] + type[tt]) + position[t])),
     * position t the token's index in its sequence; the word row of pad_id gets no
     * gradient, as nn.Embedding(padding_idx)). 0: they stay on the host, which hands
     * over x0 and takes d loss / d x0 back */
    int vocab, positions, types, pad_id;
    /* With the embeddings on the GPU, the task's head there too: 1
     * BertForMaskedLM's (cls.predictions, its decoder the word table), 2
     * BertForPreTraining's (that, then the pooler and NSP's
     * seq_relationship), both with bert_cuda_train_heads; with
     * bert_cuda_train_logits, then bert_cuda_train_logits_grad: 3
     * BertForSequenceClassification's (the pooler, its dropout, then the
     * classifier of `classes` outputs), 4 a dense of `tags` outputs on every
     * token through its dropout (BertForTokenClassification's classifier;
     * BertForQuestionAnswering's qa_outputs: tags 2, no dropout), 5 a joint
     * intent + slot model's (JointBERT: 4's slot tagger, then 3's head as
     * the intent classifier); 0 none: d loss / d x_out comes from the host */
    int head;
    int classes; /* heads 3 and 5: the pooled output's classifier's outputs (1 to 2^20); else unread */
    int tags;    /* heads 4 and 5: the token classifier's outputs (1 to 2^20); else unread */
} bert_cuda_train_shape;

/* One training micro-batch as the layers see it. */
typedef struct {
    int S;                  /* sequences */
    const bert_sequence *seqs; /* [S] with the embeddings on the GPU: their input_ids and
                                * token_type_ids (NULL: 0), which must be in range; else unread */
    const int *offset;      /* [S + 1] first row of each sequence */
    const size_t *poff;     /* [S + 1] where each sequence's T x T block starts (sum of the T^2 before) */
    const float *keymask;   /* [N] 1 = attend to this key, 0 = masked */
    /* Dropout: the kept values' scale 1 / (1 - p) (0: that dropout is off)
     * and the rate p of the attention probabilities' and of the hidden
     * states'. The masks are drawn on the GPU from the caller's PCG32
     * stream (train/rng.h; state rng_state, increment rng_inc) as the CPU
     * pass draws them: with the embeddings on the GPU, first their output's
     * [N x C]; then layer by layer, the attention probabilities' [heads x
     * sum T^2] (head-major, as nn_attention_keep), then the attention output
     * dense's [N x C], then the FFN output dense's; a value is dropped when
     * its draw's uniform is < p; a dropout that is off draws nothing. The
     * caller moves its stream past them (bert_rng_advance). */
    float keep_att, keep_hidden;
    float p_att, p_hidden;
    uint64_t rng_state, rng_inc;
    /* A data-parallel rank's part of a larger micro-batch (0 for a whole
     * one): within each head's block of probabilities, the elements of the
     * whole batch's sequences before and after this part's (att_before,
     * att_after); within each hidden-state mask, the tokens before and
     * after (tok_before, tok_after). The masks are this part's piece of
     * the whole batch's, drawn past the others' (train_pass_mask's order). */
    uint64_t att_before, att_after, tok_before, tok_after;
} bert_cuda_train_batch;

typedef struct bert_cuda_train bert_cuda_train;

/* A GPU training context for an encoder of this shape (a stream, a cuBLAS
 * handle, the weights' and gradients' GPU memory) on shape->device; every
 * call on it makes that GPU the calling thread's current one.
 * BERT_ERR_UNSUPPORTED where the GPU path cannot run (with CUDA's reason),
 * BERT_ERR_SHAPE for a shape it cannot take, BERT_ERR_NOMEM when memory is
 * short, BERT_ERR_IO when CUDA or cuBLAS fails otherwise. */
bert_status bert_cuda_train_create(const bert_cuda_train_shape *shape, bert_cuda_train **out, bert_error *err);
void bert_cuda_train_free(bert_cuda_train *t);

/* The blocks of the held tensors the GPU holds. */
typedef enum {
    BERT_CUDA_WEIGHTS,    /* the weights the passes use and AdamW updates */
    BERT_CUDA_GRADS,      /* the gradients summed since the last AdamW step */
    BERT_CUDA_EXP_AVG,    /* AdamW's first moment */
    BERT_CUDA_EXP_AVG_SQ  /* AdamW's second moment */
} bert_cuda_block;

/* Copies block `which` of the held tensors from src (host) to the GPU,
 * replacing it. A new context's gradients and moments are zero, its
 * weights unset: upload them before the first pass. */
bert_status bert_cuda_train_upload(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *src, bert_error *err);

/* Copies block `which` back into dst (host): added (+=) when add,
 * else copied. The GPU's block is left as it is. A copy (not add) into
 * tensors that all lie in memory bert_cuda_train_pin locked goes straight
 * into them, and a failure may leave them part-copied; otherwise it goes
 * through a stage, and a failure leaves dst as it was. */
bert_status bert_cuda_train_download(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *dst, int add,
                                     bert_error *err);

/* Page-locks the host memory [p, p + bytes) (cudaHostRegister) for the
 * life of the context, so downloads into tensors inside it go straight
 * there (bert_cuda_train_download); bert_cuda_train_free unlocks it, so
 * the memory must outlive the context. BERT_ERR_UNSUPPORTED when CUDA
 * cannot lock it (the downloads then go through the stage, as without it),
 * BERT_ERR_STATE when t has locked memory already, BERT_ERR_INPUT for no
 * memory. */
bert_status bert_cuda_train_pin(bert_cuda_train *t, void *p, size_t bytes, bert_error *err);

/* 1 when the context's shape.device was past the GPUs CUDA lists (so it
 * took device modulo their count, a GPU another rank may be using). */
int bert_cuda_train_gpu_shared(const bert_cuda_train *t);

/* Joins the communicator of nranks ranks (this one `rank`) that rank 0's
 * id names (bert_cuda_nccl_id, collective.h), for bert_cuda_train_allreduce;
 * every rank calls it, each with its own context. timeout_s > 0: neither
 * joining nor an all-reduce waits longer for the other ranks (where NCCL
 * has non-blocking communicators, 2.14 on: collective.h's cuda_nccl_join);
 * 0: no bound. BERT_ERR_UNSUPPORTED without NCCL
 * (bert_cuda_nccl_unavailable), BERT_ERR_STATE when t has joined one
 * already, BERT_ERR_IO when NCCL fails or the time runs out. */
bert_status bert_cuda_train_join(bert_cuda_train *t, const unsigned char id[128 /* BERT_CUDA_NCCL_ID_BYTES */],
                                 int nranks, int rank, double timeout_s, bert_error *err);

/* The summed gradients (BERT_CUDA_GRADS) summed over the ranks, in place,
 * on the GPUs (NCCL's all-reduce: every rank ends with the same bits); every
 * rank calls it at the same point. BERT_ERR_STATE without a communicator
 * or after one ran out of time (then aborted); BERT_ERR_IO when NCCL fails
 * or, with join's timeout, no answer came from the other ranks in time;
 * after a failure the sums are undefined. */
bert_status bert_cuda_train_allreduce(bert_cuda_train *t, bert_error *err);

/* *ss = the sum of the squares of the summed gradients (BERT_CUDA_GRADS),
 * in double, in an order fixed by the shape alone. */
bert_status bert_cuda_train_grad_sumsq(bert_cuda_train *t, double *ss, bert_error *err);

/* One AdamW update's coefficients (train/optimizer.h's train_adamw_coef:
 * the gradient is scaled by clip, then torch.optim.AdamW's operations). */
typedef struct {
    float clip, decay_mul, decay_add, one_minus_b1, b2, one_minus_b2, bc2_sqrt, eps, step_size;
} bert_cuda_adamw;

/* One AdamW step of every held tensor on the GPU from the summed
 * gradients: the weight matrices and embedding tables with `decay`'s
 * coefficients, the biases and LayerNorm parameters with `no_decay`'s
 * (weight decay off); the summed gradients are zeroed. */
bert_status bert_cuda_train_adamw(bert_cuda_train *t, const bert_cuda_adamw *decay, const bert_cuda_adamw *no_decay,
                                  bert_error *err);

/* The embeddings of b->seqs (shape.vocab > 0; x0 unread, may be NULL) or
 * x0 [N x C] (host), then every layer, with dropout, keeping what the
 * backward reads on the GPU; the last layer's output into x_out [N x C]
 * (host; NULL, with shape.head only: kept on the GPU alone, for
 * bert_cuda_train_heads or bert_cuda_train_logits). Buffers
 * grow to the batch. On failure nothing is kept for a backward. */
bert_status bert_cuda_train_forward(bert_cuda_train *t, const bert_cuda_train_batch *b, const float *x0, float *x_out,
                                    bert_error *err);

/* The labels of the pre-training heads for the last forward's batch. */
typedef struct {
    int M;              /* tokens with an MLM label (0: no MLM term) */
    const int *rows;    /* [M] their rows in the batch, ascending */
    const int *targets; /* [M] their labels: vocabulary ids in [0, shape.vocab) */
    float g_mlm;        /* d loss / d logits of a labelled row = (softmax - one-hot) x g_mlm */
    const int *nsp;     /* shape.head 2: [S] each sequence's NSP label, 0 or 1 (< 0: none); else unread */
    float g_nsp;        /* likewise for the NSP logits */
} bert_cuda_train_labels;

/* The pre-training heads on the last forward's output, on the GPU, as the
 * CPU's (train/heads.c's head_mlm, then head_nsp with shape.head 2): their
 * forward, each labelled row's cross-entropy, their backward; *mlm and
 * *nsp (NULL: not wanted) = the sums of the rows' losses (double, in row
 * order; 0 without rows). Their weight gradients (the decoder's into the
 * word table's) are added to this micro-batch's, and d loss / d x_out is
 * left on the GPU for bert_cuda_train_backward (dx NULL). BERT_ERR_STATE
 * without a forward awaiting its backward or without shape.head 1 or 2;
 * BERT_ERR_INPUT for rows out of the batch or not ascending, labels out of
 * range. On failure the backward is not possible until the next forward. */
bert_status bert_cuda_train_heads(bert_cuda_train *t, const bert_cuda_train_labels *lb, double *mlm, double *nsp,
                                  bert_error *err);

/* The fine-tuning heads' dropout (nn.Dropout(classifier_dropout)), its
 * masks drawn on the GPU from the caller's PCG32 stream (train/rng.h) as
 * the CPU's heads draw them (train/heads.c): with a token head (shape.head
 * 4 and 5) first the tokens' [N x C] (head_token's), then with the pooler
 * (3 and 5) the pooled output's [S x C] (pooler_fwd's); a value is dropped
 * when its draw's uniform is < p, the rest scaled by 1 / (1 - p); p 0
 * draws nothing. A data-parallel part's masks are its piece of the whole
 * micro-batch's: tok_before and tok_after tokens' draws (seq_before,
 * seq_after sequences') of C values each around its own. The caller moves
 * its stream past them (bert_rng_advance). */
typedef struct {
    double p;
    uint64_t rng_state, rng_inc;
    uint64_t tok_before, tok_after, seq_before, seq_after;
} bert_cuda_train_drop;

/* The fine-tuning head's forward (shape.head 3 to 5) on the last forward's
 * output, as train/heads.c's head_sequence, head_token, head_qa or
 * head_dialogue: with the pooler, pooled = dropout(tanh(pooler(each
 * sequence's first row))) and its logits [S x classes] = classifier(pooled)
 * into logits; with a token head, its logits [N x tags] = dense(dropout(h))
 * into logits + S x classes (after the pooled ones, where there are). drop
 * NULL: no dropout. The loss is the caller's (it takes the logits, gives
 * their gradient back: bert_cuda_train_logits_grad). BERT_ERR_STATE
 * without a forward awaiting its head, or without shape.head 3 to 5;
 * BERT_ERR_INPUT without logits or for a rate outside [0, 1); on failure
 * the backward is not possible until the next forward. */
bert_status bert_cuda_train_logits(bert_cuda_train *t, const bert_cuda_train_drop *drop, float *logits, bert_error *err);

/* The head's backward from dlogits (host; bert_cuda_train_logits' layout)
 * = d loss / d logits: the head's weight gradients added to this
 * micro-batch's, d loss / d x_out left on the GPU for
 * bert_cuda_train_backward (dx NULL; until this ran, that backward is
 * BERT_ERR_STATE). BERT_ERR_STATE unless bert_cuda_train_logits ran since
 * the forward and this did not; BERT_ERR_INPUT without dlogits; on failure
 * the backward is not possible until the next forward. */
bert_status bert_cuda_train_logits_grad(bert_cuda_train *t, const float *dlogits, bert_error *err);

/* The last forward's dropout masks, one byte a value (1 kept, 0 dropped)
 * in the order they were drawn, into out[n]; n must be their count
 * (BERT_ERR_INPUT otherwise; 0 with every dropout off). BERT_ERR_STATE
 * unless a forward succeeded and awaits its backward. For checks. */
bert_status bert_cuda_train_masks(bert_cuda_train *t, uint8_t *out, size_t n, bert_error *err);

/* The backward of the last forward: dx [N x C] (host) holds d loss / d
 * x_out on entry and, with the embeddings on the host, d loss / d x0 on
 * return (else it is left as it was); dx NULL: d loss / d x_out is the
 * heads' (dx must be NULL exactly when bert_cuda_train_heads or
 * bert_cuda_train_logits_grad ran since the forward, else BERT_ERR_STATE, the forward still awaiting its
 * backward); the weight gradients are added (+=)
 * to the GPU's summed gradients (grads NULL) or to grads' tensors (host),
 * layer by layer from the last to the first, layer_done(user, l) called
 * after each when not NULL, then the embeddings' and the heads'. On a CUDA failure
 * nothing has been added. BERT_ERR_STATE without a forward since the last
 * backward. */
bert_status bert_cuda_train_backward(bert_cuda_train *t, float *dx, const bert_cuda_host *grads,
                                     void (*layer_done)(void *user, int l), void *user, bert_error *err);

#ifdef __cplusplus
}
#endif

#endif
