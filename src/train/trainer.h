/* trainer.h — the state of a training run (internal view).
 *
 * Parameters live in one block (params), with gradients, and AdamW's
 * first and second moments in blocks of the same layout (train/block.h),
 * so the optimizer is one loop over flat arrays. `model` is a bert_model
 * whose weight pointers point into params: inference (evaluation, `bert
 * classify` on a saved checkpoint) and training share the same numbers.
 *
 * A training step: train/acts.c sizes the activations, train/backprop.c
 * runs the encoder forward, train/heads.c the task head and its loss, then
 * backprop.c the encoder backward; train/optimizer.c applies AdamW. */
#ifndef BERT_TRAIN_TRAINER_H
#define BERT_TRAIN_TRAINER_H

#include "bert.h"
#include "model/model.h"
#include "train/block.h"
#include "train/optimizer.h"
#include "train/rng.h"

typedef struct train_acts train_acts;

/* One head of a multi-task trainer (train/multihead.c). */
typedef struct {
    char *name;
    bert_task task;
    bert_problem problem;
    int num_labels;
    char **labels;          /* [num_labels] or NULL */
    double loss_weight;
    const float *w, *b;     /* its classifier in params */
    long steps;             /* optimizer steps that updated it */
    int touched;            /* a micro-batch since the last step used it */
} train_head;

struct bert_trainer {
    bert_train_params p;
    bert_model *model;      /* weights point into params */
    float *params, *grads, *m, *v;
    size_t n_params;
    train_tensor *tensors;
    int n_tensors;
    char *src_dir;          /* where tokenizer files are copied from */
    bert_rng rng;
    long step;              /* optimizer steps taken */
    int micro;              /* micro-batches accumulated since the last step */
    double last_grad_norm;
    train_acts *acts;       /* the training pass's activations and scratch, kept between steps */
    bert_context *eval_ctx; /* inference on the trainer's weights (bert_trainer_eval) */
    uint16_t *params16;     /* BERT_COMPUTE_BF16: bf16 copy of params, refreshed after each step */
    /* multi-task trainers (n_heads > 0): the heads, the selected one, and
     * the shared pooler's update count and use since the last step */
    train_head *heads;
    int n_heads, cur;
    long pooler_steps;
    int pooler_touched;
    struct train_dp *dp;    /* data-parallel state (p.dist of several ranks), else NULL */
    /* The word embeddings' gradient rows that can be nonzero: word_rows[id]
     * = 1 for each id the micro-batches since the last step fed in (their
     * gradient is a scatter into those rows), so AdamW need not read the
     * others' zeros. word_rows_ok = 0 once that record may not be the whole
     * story: the caller was handed the gradients (for good: it may keep the
     * pointer and write through it at any later step). Not
     * used with an MLM head (the tied decoder writes every row) or
     * data-parallel sums. word_tensor: its index in tensors, or -1. */
    unsigned char *word_rows;
    int word_rows_ok, word_tensor;
    /* BERT_DEVICE_CUDA: the layers' forward, backward and AdamW on the GPU,
     * the embeddings' with gpu_emb, the heads' with gpu_heads
     * (train/gpu.h, which says who holds
     * what: "the held tensors"), else NULL. gpu_stale: the host's held
     * weights and moments are newer than the GPU's (set at opening; they go
     * over before the next pass). gpu_host_grads: the held gradients are
     * summed in grads, not on the GPU (for good, once
     * bert_trainer_gradients handed the block out, or from opening in a
     * data-parallel job without gpu_nccl). [held_lo, held_hi): the run of
     * the blocks the held tensors fill, which the host's AdamW leaves
     * alone. */
    struct bert_cuda_train *gpu;
    struct bert_cuda_host *gpu_tables;        /* [4]: the held tensors in params, grads, m and v
                                                 (by bert_cuda_block), for the copies */
    struct bert_cuda_layer_host *gpu_layers;  /* [4 x layers]: their layers' tables */
    int gpu_emb;    /* the embeddings train on the GPU (train/gpu.c's embeddings_on_gpu) */
    int gpu_heads;  /* the heads too (train_gpu_heads_of: 1 MLM, 2 with NSP, 3 sequence classification, 4 token
                     * classification or QA, 5 joint intent + slots), else 0 */
    int gpu_stale, gpu_host_grads;
    int gpu_nccl;   /* data-parallel: the held tensors' sums are summed over the ranks on the GPUs (NCCL) */
    int gpu_broken; /* a GPU failure inside an AdamW step (train_gpu_adamw) or from the ranks'
                       NCCL sums on (train_gpu_allreduce, train_gpu_step_begin): the trainer
                       refuses further passes, steps and checkpoints with state (BERT_ERR_STATE) */
    int gpu_pinned; /* the host's layer weights are page-locked: the new ones come straight into params */
    int gpu_torn;   /* with gpu_broken: a failed copy left the host's layer weights part new, so
                       the weights are not saved either */
    size_t held_lo, held_hi;
};

/* Give the training model p's task: labels (rebuilt from p when force, else
 * kept when the count matches and p names none), problem type, architecture. */
bert_status train_configure(bert_model *tm, const bert_train_params *p, int force, bert_error *err);

/* ---- multi-task heads (train/multihead.c) ---- */

/* 1 when s is a head name: 1..64 of [A-Za-z0-9_.-], not starting with '.'. */
int train_head_name_ok(const char *s);
/* Copy and check params->heads into t (names, labels) and make head 0 the
 * trainer's task in t->p. Nothing to do for a single-task trainer. */
bert_status train_heads_init(bert_trainer *t, const bert_train_params *params, bert_error *err);
/* The weight requests of heads 1.. (head 0 uses the model's classifier),
 * appended to list; their slots are the heads' w and b. */
bert_status train_heads_requests(bert_trainer *t, bert_weight_list *list, int hidden, bert_error *err);
/* After the block is filled: each tensor's group, head tensors renamed
 * HEAD/classifier.weight, head 0's classifier pointers kept. */
void train_heads_bind(bert_trainer *t);
/* Head k's task in t->p (what heads.c, eval.c and train_configure read). */
void train_heads_use(bert_trainer *t, int k);
/* The heads' and the pooler's touched flags after a micro-batch. */
void train_heads_touch(bert_trainer *t);
/* AdamW's per-group view for this step (on[], step[] of 2 + n_heads
 * entries), and the counters after it. */
void train_heads_groups(const bert_trainer *t, unsigned char *on, long *step);
void train_heads_stepped(bert_trainer *t);
/* Write dir/heads.json; check a checkpoint's heads.json against t's heads. */
bert_status train_heads_write_specs(const bert_trainer *t, const char *dir, bert_error *err);
bert_status train_heads_check_specs(const bert_trainer *t, const char *dir, bert_error *err);
void train_heads_free(bert_trainer *t);

/* ---- shared by trainer.c and multihead.c ---- */

/* Which tensors a written block holds (train_write_block). */
enum { TRAIN_SEL_ALL = -1, TRAIN_SEL_SHARED = -2, TRAIN_SEL_HEADS = -3 }; /* k >= 0: head k's HF model */
/* config.json in dir: the source one with the selected task's fields, or
 * (shared) a BertModel's. */
bert_status train_write_config(bert_trainer *t, const char *dir, int shared, bert_error *err);
/* file in dir: the tensors `sel` picks of block (params, m or v), names +
 * suffix; head k's model names its classifier classifier.weight. */
bert_status train_write_block(bert_trainer *t, const char *dir, const char *file, const float *block,
                              const char *suffix, int sel, bert_error *err);
/* The tensors `sel` picks, from file in dir, into block. */
bert_status train_load_block(bert_trainer *t, const char *dir, const char *file, const char *suffix, float *block,
                             int sel, bert_error *err);
/* The tokenizer files of t's source directory into dir. */
bert_status train_copy_tokenizer(bert_trainer *t, const char *dir, bert_error *err);
/* Create dir atomically: write(t, dir.tmp, user), then install it as dir. */
bert_status train_save_dir(bert_trainer *t, const char *dir,
                           bert_status (*write)(bert_trainer *t, const char *tmp, void *user, bert_error *err),
                           void *user, bert_error *err);

/* Forward keeping activations, the task head's loss, backward: gradients
 * (times 1 / grad_accum) added to t->grads (the held tensors' on the GPU: see
 * train/gpu.h). labels as bert_trainer_backward
 * takes them; *loss = the micro-batch's mean loss. Unlike
 * bert_trainer_backward, checks no input and counts no micro-batch. */
bert_status train_forward_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                   double *loss, bert_error *err);

/* One AdamW step at learning rate lr (train_adamw_norm, train_clip_of,
 * train_adamw_apply; the held tensors' on the GPU with BERT_DEVICE_CUDA): t->step
 * += 1, t->last_grad_norm set, t->grads zeroed. Only a GPU failure fails
 * it, the step then not taken on the host. */
bert_status train_adamw_step(bert_trainer *t, double lr, bert_error *err);

#endif
