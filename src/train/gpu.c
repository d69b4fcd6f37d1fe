/* gpu.c — a trainer's encoder layers on an NVIDIA GPU (gpu.h). */
#include "train/gpu.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/collective.h"
#include "dist/dist.h"
#include "train/data_parallel.h"
#include "util/error.h"

/* The layers' tensors in block base (params, grads, m or v: one layout),
 * as host tables of model m whose weights lie in params; NULL when out of
 * memory. */
static bert_cuda_layer_host *tables_in(const bert_model *m, const float *params, float *base) {
    int L = bert_model_config(m)->num_hidden_layers;
    bert_cuda_layer_src *s = bert_model_cuda_layers(m);
    bert_cuda_layer_host *h = s ? calloc(L > 0 ? (size_t)L : 1, sizeof *h) : NULL;
    for (int l = 0; h && l < L; l++) {
#define AT(f) h[l].f = base + (s[l].f - params)
        AT(q_w), AT(q_b), AT(k_w), AT(k_b), AT(v_w), AT(v_b), AT(o_w), AT(o_b);
        AT(ln1_w), AT(ln1_b), AT(i_w), AT(i_b), AT(o2_w), AT(o2_b), AT(ln2_w), AT(ln2_b);
#undef AT
    }
    free(s);
    return h;
}

const bert_cuda_layer_host *train_gpu_table(const bert_trainer *t, bert_cuda_block which) {
    return t->gpu_tables + (size_t)which * (size_t)t->model->cfg.pub.num_hidden_layers;
}

/* Block `which` between the GPU and its host block in t: down (added when
 * add) or up. */
static bert_status move(bert_trainer *t, bert_cuda_block which, int down, int add, bert_error *err) {
    const bert_cuda_layer_host *h = train_gpu_table(t, which);
    return down ? bert_cuda_train_download(t->gpu, which, h, add, err) : bert_cuda_train_upload(t->gpu, which, h, err);
}

/* 1 when w is one of the layers' tensors in h[L]. */
static int is_layer_tensor(const bert_cuda_layer_host *h, int L, const float *w) {
    for (int l = 0; l < L; l++) {
        const float *p[] = {h[l].q_w, h[l].q_b, h[l].k_w, h[l].k_b, h[l].v_w,   h[l].v_b,   h[l].o_w,   h[l].o_b,
                            h[l].ln1_w, h[l].ln1_b, h[l].i_w, h[l].i_b, h[l].o2_w, h[l].o2_b, h[l].ln2_w, h[l].ln2_b};
        for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
            if (p[k] == w) return 1;
    }
    return 0;
}

/* Data-parallel: where every rank has NCCL, t joins the ranks'
 * communicator (rank 0's id shared over MPI) and the layers' sums are
 * taken on the GPUs (t->gpu_nccl); else they are taken on the host. */
static bert_status join_ranks(bert_trainer *t, bert_error *err) {
    bert_dist *d = t->p.dist;
    /* NCCL takes one rank per GPU: where a machine has more ranks than GPUs, the host's sums */
    double have = bert_cuda_nccl_unavailable() || bert_cuda_train_gpu_shared(t->gpu) ? 0.0 : 1.0;
    bert_status rc = bert_dist_sum(d, &have, 1, err);
    if (rc != BERT_OK || have < bert_dist_size(d)) return rc;
    unsigned char id[1 + BERT_CUDA_NCCL_ID_BYTES] = {0}; /* [0]: rank 0 made the id */
    bert_error ignored;
    if (bert_dist_rank(d) == 0) id[0] = bert_cuda_nccl_id(id + 1, &ignored) == BERT_OK;
    if ((rc = dist_bcast(d, id, sizeof id, err)) != BERT_OK || !id[0]) return rc; /* no id: the host's sums */
    bert_error mine = {0};
    double joined = bert_cuda_train_join(t->gpu, id + 1, bert_dist_size(d), bert_dist_rank(d), &mine) == BERT_OK;
    if ((rc = bert_dist_sum(d, &joined, 1, err)) != BERT_OK) return rc;
    int n = bert_dist_size(d);
    if (joined < n)
        return bert_fail(err, BERT_ERR_IO,
                         "%d of %d ranks could not join NCCL's communicator%s%s (BERT_CUDA_ALLREDUCE=host sums on the host)",
                         n - (int)joined, n, mine.message[0] ? "; here: " : "", mine.message);
    t->gpu_nccl = 1;
    train_dp_layers_elsewhere(t->dp, 1);
    return BERT_OK;
}

bert_status train_gpu_create(bert_trainer *t, bert_error *err) {
    const bert_model *m = t->model;
    const bert_config *c = bert_model_config(m);
    int L = c->num_hidden_layers, found = 0, frozen = 0;
    bert_cuda_train_shape sh = {c->hidden_size,          c->num_attention_heads,
                                c->intermediate_size,    L,
                                (int)m->cfg.act,         (float)c->layer_norm_eps,
                                dist_local_rank(t->p.dist), t->p.compute == BERT_COMPUTE_BF16};
    bert_status rc = bert_cuda_train_create(&sh, &t->gpu, err);
    if (rc != BERT_OK) return rc;
    /* the tables the copies use, made once: the blocks' layouts never change */
    float *const base[4] = {t->params, t->grads, t->m, t->v}; /* by bert_cuda_block */
    if (!(t->gpu_tables = calloc(4 * (size_t)(L > 0 ? L : 1), sizeof *t->gpu_tables)))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int b = 0; b < 4; b++) {
        bert_cuda_layer_host *h = tables_in(m, t->params, base[b]);
        if (!h) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        memcpy(t->gpu_tables + (size_t)b * (size_t)L, h, sizeof *h * (size_t)L);
        free(h);
    }
    /* the layers' tensors must fill one run of the blocks, which the host's
     * AdamW then leaves to the GPU (none frozen: the GPU steps them all) */
    const bert_cuda_layer_host *h = train_gpu_table(t, BERT_CUDA_WEIGHTS);
    size_t lo = (size_t)-1, hi = 0, in = 0, spanned = 0;
    for (int k = 0; k < t->n_tensors; k++) {
        const train_tensor *tt = &t->tensors[k];
        size_t n = train_tensor_numel(tt);
        if (!is_layer_tensor(h, L, t->params + tt->offset)) continue;
        found++, in += n, frozen += tt->frozen != 0;
        lo = tt->offset < lo ? tt->offset : lo, hi = tt->offset + n > hi ? tt->offset + n : hi;
    }
    for (int k = 0; k < t->n_tensors; k++) {
        const train_tensor *tt = &t->tensors[k];
        if (tt->offset >= lo && tt->offset < hi) spanned += train_tensor_numel(tt);
    }
    if (L < 1 || found != 16 * L || in != hi - lo || spanned != in || frozen)
        return bert_fail(err, BERT_ERR_SHAPE,
                         "CUDA training: the layers' tensors are not one run of the parameter block, or one is frozen");
    t->held_lo = lo, t->held_hi = hi;
    /* each step's new weights come straight into params where the system lets it lock them, else
     * through the context's stage */
    bert_error ignored;
    t->gpu_pinned = bert_cuda_train_pin(t->gpu, t->params + lo, sizeof(float) * (hi - lo), &ignored) == BERT_OK;
    if (!t->dp) return BERT_OK;
    rc = join_ranks(t, err);
    t->gpu_host_grads = !t->gpu_nccl; /* without NCCL the ranks' sums are the host's: each micro-batch's come back */
    return rc;
}

bert_status train_gpu_sync(bert_trainer *t, bert_error *err) {
    if (!t->gpu_stale) return BERT_OK;
    bert_status rc = move(t, BERT_CUDA_WEIGHTS, 0, 0, err);
    if (rc == BERT_OK) rc = move(t, BERT_CUDA_EXP_AVG, 0, 0, err);
    if (rc == BERT_OK) rc = move(t, BERT_CUDA_EXP_AVG_SQ, 0, 0, err);
    if (rc == BERT_OK) t->gpu_stale = 0;
    return rc;
}

/* The dropout's kept scale for rate p (train_draw_mask's 1 / (1 - p)); 0: off. */
static float keep_of(double p) { return p > 0.0 ? (float)(1.0 / (1.0 - p)) : 0.0f; }

bert_status train_gpu_forward(const train_pass *tp, const float *x0, bert_error *err) {
    const train_acts *a = tp->acts;
    const bert_config *c = bert_model_config(tp->model);
    const train_masks none = {0}, *w = tp->masks ? tp->masks : &none; /* a data-parallel part's place in the batch */
    double pa = tp->p->attention_dropout, ph = tp->p->hidden_dropout;
    bert_cuda_train_batch b = {a->S,          a->offset,     a->poff,       a->keymask,    keep_of(pa),
                               keep_of(ph),   (float)pa,     (float)ph,     tp->rng->state, tp->rng->inc,
                               w->att_before, w->att_after,  w->tok_before, w->tok_after};
    /* the layers' masks are drawn there from this stream, as train_encoder_forward draws them */
    uint64_t per_layer = (pa > 0.0 ? (uint64_t)c->num_attention_heads * (w->att_before + a->poff[a->S] + w->att_after) : 0) +
                         (ph > 0.0 ? 2 * (w->tok_before + (uint64_t)a->N + w->tok_after) * (uint64_t)c->hidden_size : 0);
    bert_rng_advance(tp->rng, per_layer * (uint64_t)c->num_hidden_layers);
    return bert_cuda_train_forward(tp->gpu, &b, x0, a->x_out, err);
}

bert_status train_gpu_backward(const train_pass *tp, bert_error *err) {
    return bert_cuda_train_backward(tp->gpu, tp->acts->dx, tp->gpu_grads, tp->layer_done, tp->layer_done_user, err);
}

bert_status train_gpu_add_grads(const bert_trainer *t, float *dst, bert_error *err) {
    if (t->gpu_stale) return BERT_OK; /* not uploaded yet, so no pass has run: the GPU's sums are zero */
    bert_cuda_layer_host *h = tables_in(t->model, t->params, dst);
    if (!h) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_cuda_train_download(t->gpu, BERT_CUDA_GRADS, h, 1, err);
    free(h);
    return rc;
}

bert_status train_gpu_step_begin(bert_trainer *t, double *ss, bert_error *err) {
    *ss = 0.0;
    bert_status rc = train_gpu_sync(t, err);
    if (rc == BERT_OK && t->gpu_host_grads) rc = move(t, BERT_CUDA_GRADS, 0, 0, err);
    if (rc != BERT_OK) return rc;
    if (!t->gpu_nccl || t->gpu_host_grads) return bert_cuda_train_grad_sumsq(t->gpu, ss, err);
    /* the ranks' sums: once taken, the step cannot be taken again */
    if ((rc = train_gpu_allreduce(t, err)) == BERT_OK && (rc = bert_cuda_train_grad_sumsq(t->gpu, ss, err)) != BERT_OK)
        t->gpu_broken = 1;
    return rc;
}

bert_status train_gpu_allreduce(bert_trainer *t, bert_error *err) {
    bert_status rc = bert_cuda_train_allreduce(t->gpu, err);
    if (rc != BERT_OK) t->gpu_broken = 1;
    return rc;
}

/* train_adamw_coef as the GPU takes it. */
static bert_cuda_adamw coef_of(const bert_trainer *t, int decay, double lr, float clip) {
    train_adamw_coef c = train_adamw_coef_of(&t->p, decay, t->step + 1, lr, clip);
    return (bert_cuda_adamw){c.clip, c.decay_mul, c.decay_add, c.one_minus_b1, c.b2, c.one_minus_b2, c.bc2_sqrt, c.eps,
                             c.step_size};
}

bert_status train_gpu_adamw(bert_trainer *t, double lr, float clip, bert_error *err) {
    bert_cuda_adamw decay = coef_of(t, 1, lr, clip), no_decay = coef_of(t, 0, lr, clip);
    bert_status rc = bert_cuda_train_adamw(t->gpu, &decay, &no_decay, err);
    if (rc == BERT_OK && (rc = move(t, BERT_CUDA_WEIGHTS, 1, 0, err)) != BERT_OK)
        t->gpu_torn = t->gpu_pinned; /* some of the new weights may have come */
    if (rc != BERT_OK) { /* the GPU's weights, moments and sums may be part-way through the step */
        t->gpu_broken = 1;
        return rc;
    }
    if (t->gpu_host_grads) /* they went over in train_gpu_step_begin */
        memset(t->grads + t->held_lo, 0, sizeof(float) * (t->held_hi - t->held_lo));
    return BERT_OK;
}

bert_status train_gpu_check(const bert_trainer *t, bert_error *err) {
    if (!t->gpu_broken) return BERT_OK;
    return bert_fail(err, BERT_ERR_STATE,
                     "a GPU failure left an optimizer step half done on the GPU: resume from the last checkpoint");
}

bert_status train_gpu_pull_moments(bert_trainer *t, bert_error *err) {
    if (t->gpu_stale) return BERT_OK; /* t->m and t->v are the current ones */
    bert_status rc = move(t, BERT_CUDA_EXP_AVG, 1, 0, err);
    return rc == BERT_OK ? move(t, BERT_CUDA_EXP_AVG_SQ, 1, 0, err) : rc;
}
