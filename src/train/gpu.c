/* gpu.c — a trainer's encoder on an NVIDIA GPU (gpu.h). */
#include "train/gpu.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/collective.h"
#include "dist/dist.h"
#include "train/data_parallel.h"
#include "util/error.h"

/* The held tensors in block base (params, grads, m or v: one layout) as
 * host tables of model m, trained for task, whose weights lie in params:
 * the layers' into lay[layers] (h->layers), the embeddings' into h->emb
 * with emb, the heads' into h->head with head (train_gpu_heads_of's; else
 * NULLs). 0 when out of memory. */
static int tables_in(const bert_model *m, bert_task task, int emb, int head, const float *params, float *base,
                     bert_cuda_layer_host *lay, bert_cuda_host *h) {
    int L = bert_model_config(m)->num_hidden_layers;
    bert_cuda_layer_src *s = bert_model_cuda_layers(m);
    if (!s) return 0;
#define AT(p) (base + ((p) - params))
    for (int l = 0; l < L; l++) {
#define LAYER(f) lay[l].f = AT(s[l].f)
        LAYER(q_w), LAYER(q_b), LAYER(k_w), LAYER(k_b), LAYER(v_w), LAYER(v_b), LAYER(o_w), LAYER(o_b);
        LAYER(ln1_w), LAYER(ln1_b), LAYER(i_w), LAYER(i_b), LAYER(o2_w), LAYER(o2_b), LAYER(ln2_w), LAYER(ln2_b);
#undef LAYER
    }
    free(s);
    const bert_weights *w = &m->w;
    bert_cuda_emb_host none = {0}, e = {AT(w->word), AT(w->pos), AT(w->type), AT(w->emb_ln.w), AT(w->emb_ln.b)};
    bert_cuda_head_host hd = {0}; /* the heads' tensors exist only where they are held */
    if (head == 1 || head == 2)
        hd.transform_w = AT(w->mlm_transform.w), hd.transform_b = AT(w->mlm_transform.b), hd.ln_w = AT(w->mlm_ln.w),
        hd.ln_b = AT(w->mlm_ln.b), hd.bias = AT(w->mlm_bias);
    if (head == 2 || head == 3 || head == 5) hd.pooler_w = AT(w->pooler.w), hd.pooler_b = AT(w->pooler.b);
    /* the pooled output's classifier in seq_relationship's place */
    const bert_dense *pooled = head == 2 ? &w->nsp : head == 3 ? &w->classifier : head == 5 ? &w->intent : NULL;
    if (pooled) hd.nsp_w = AT(pooled->w), hd.nsp_b = AT(pooled->b);
    if (head == 4 || head == 5) { /* the dense on every token */
        const bert_dense *d = task == BERT_TASK_QA ? &w->qa : &w->classifier;
        hd.token_w = AT(d->w), hd.token_b = AT(d->b);
    }
#undef AT
    h->layers = lay, h->emb = emb ? e : none, h->head = hd;
    return 1;
}

const bert_cuda_host *train_gpu_table(const bert_trainer *t, bert_cuda_block which) { return &t->gpu_tables[which]; }

/* Block `which` between the GPU and its host block in t: down (added when
 * add) or up. */
static bert_status move(bert_trainer *t, bert_cuda_block which, int down, int add, bert_error *err) {
    const bert_cuda_host *h = train_gpu_table(t, which);
    return down ? bert_cuda_train_download(t->gpu, which, h, add, err) : bert_cuda_train_upload(t->gpu, which, h, err);
}

/* 1 when w is one of the layers' tensors in h (L layers). */
static int is_layer_tensor(const bert_cuda_host *h, int L, const float *w) {
    for (int l = 0; l < L; l++) {
        const bert_cuda_layer_host *y = &h->layers[l];
        const float *p[] = {y->q_w, y->q_b, y->k_w, y->k_b, y->v_w,   y->v_b,   y->o_w,   y->o_b,
                            y->ln1_w, y->ln1_b, y->i_w, y->i_b, y->o2_w, y->o2_b, y->ln2_w, y->ln2_b};
        for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
            if (p[k] == w) return 1;
    }
    return 0;
}

/* 1 when w is one of model m's embedding tensors (its tables and their LayerNorm). */
static int is_embedding_tensor(const bert_model *m, const float *w) {
    return w == m->w.word || w == m->w.pos || w == m->w.type || w == m->w.emb_ln.w || w == m->w.emb_ln.b;
}

/* 1 when w is one of the heads' tensors in h (those the GPU holds). */
static int is_head_tensor(const bert_cuda_host *h, const float *w) {
    const bert_cuda_head_host *x = &h->head;
    const float *p[] = {x->transform_w, x->transform_b, x->ln_w, x->ln_b, x->bias, x->pooler_w,
                        x->pooler_b,    x->nsp_w,       x->nsp_b, x->token_w, x->token_b};
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
        if (p[k] && p[k] == w) return 1;
    return 0;
}

int train_gpu_heads_of(const bert_trainer *t) {
    const bert_weights *w = &t->model->w;
    if (t->p.device != BERT_DEVICE_CUDA || t->n_heads) return 0;
    for (int k = 0; k < t->n_tensors; k++) /* the heads come with the embeddings: none of theirs frozen */
        if (t->tensors[k].frozen && is_embedding_tensor(t->model, t->params + t->tensors[k].offset)) return 0;
    /* a fine-tuning head: the task's tensors alone (train_gpu_create checks they are one run of the block) */
    int pretrained = w->mlm_decoder || w->nsp.w;
    switch (t->p.task) {
    case BERT_TASK_SEQUENCE: return w->pooler.w && w->classifier.w && !pretrained ? 3 : 0;
    case BERT_TASK_TOKEN: return w->classifier.w && !w->pooler.w && !pretrained ? 4 : 0;
    case BERT_TASK_QA: return w->qa.w && !w->pooler.w && !pretrained ? 4 : 0;
    case BERT_TASK_DIALOGUE: return w->pooler.w && w->classifier.w && w->intent.w && !pretrained ? 5 : 0;
    case BERT_TASK_MLM:
    case BERT_TASK_PRETRAINING: break;
    }
    if (!w->mlm_decoder || w->mlm_decoder != w->word) return 0;
    return t->p.task == BERT_TASK_PRETRAINING ? 2 : t->p.task == BERT_TASK_MLM ? 1 : 0;
}

void train_gpu_logit_widths(const bert_model *m, bert_task task, int head, int *classes, int *tags) {
    *classes = head == 3 ? bert_model_num_labels(m) : head == 5 ? bert_model_config(m)->num_intents : 0;
    *tags = head == 4 || head == 5 ? (task == BERT_TASK_QA ? 2 : bert_model_num_labels(m)) : 0;
}

/* 1 when the embeddings can train on the GPU: no MLM head (its decoder,
 * tied to the word table, reads and adds to it on the CPU) unless the
 * heads train there too, and none of their tensors frozen (sinusoidal
 * positions); all five in t's block. */
static int embeddings_on_gpu(const bert_trainer *t) {
    int found = 0;
    if (t->model->w.mlm_decoder && !train_gpu_heads_of(t)) return 0;
    for (int k = 0; k < t->n_tensors; k++) {
        if (!is_embedding_tensor(t->model, t->params + t->tensors[k].offset)) continue;
        if (t->tensors[k].frozen) return 0;
        found++;
    }
    return found == 5;
}

/* Data-parallel: where every rank has NCCL, t joins the ranks'
 * communicator (rank 0's id shared over MPI) and the held tensors' sums
 * are taken on the GPUs (t->gpu_nccl); else they are taken on the host. */
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
    /* the job's --dist-timeout bounds NCCL's waits as it bounds MPI's */
    double joined = bert_cuda_train_join(t->gpu, id + 1, bert_dist_size(d), bert_dist_rank(d), d->p.timeout_s, &mine) == BERT_OK;
    if ((rc = bert_dist_sum(d, &joined, 1, err)) != BERT_OK) return rc;
    int n = bert_dist_size(d);
    if (joined < n)
        return bert_fail(err, BERT_ERR_IO,
                         "%d of %d ranks could not join NCCL's communicator%s%s (BERT_CUDA_ALLREDUCE=host sums on the host)",
                         n - (int)joined, n, mine.message[0] ? "; here: " : "", mine.message);
    t->gpu_nccl = 1;
    train_dp_held_elsewhere(t->dp, t->held_lo, t->held_hi);
    return BERT_OK;
}

bert_status train_gpu_create(bert_trainer *t, bert_error *err) {
    const bert_model *m = t->model;
    const bert_config *c = bert_model_config(m);
    int L = c->num_hidden_layers, found = 0, frozen = 0, emb = embeddings_on_gpu(t), head = emb ? train_gpu_heads_of(t) : 0;
    bert_cuda_train_shape sh = {.hidden = c->hidden_size,
                                .heads = c->num_attention_heads,
                                .intermediate = c->intermediate_size,
                                .layers = L,
                                .act = (int)m->cfg.act,
                                .eps = (float)c->layer_norm_eps,
                                .device = dist_local_rank(t->p.dist),
                                .bf16 = t->p.compute == BERT_COMPUTE_BF16,
                                .vocab = emb ? c->vocab_size : 0,
                                .positions = emb ? c->max_position_embeddings : 0,
                                .types = emb ? c->type_vocab_size : 0,
                                .pad_id = c->pad_token_id,
                                .head = head};
    train_gpu_logit_widths(m, t->p.task, head, &sh.classes, &sh.tags);
    bert_status rc = bert_cuda_train_create(&sh, &t->gpu, err);
    if (rc != BERT_OK) return rc;
    t->gpu_emb = emb, t->gpu_heads = head;
    /* the tables the copies use, made once: the blocks' layouts never change */
    float *const base[4] = {t->params, t->grads, t->m, t->v}; /* by bert_cuda_block */
    if (!(t->gpu_tables = calloc(4, sizeof *t->gpu_tables)) ||
        !(t->gpu_layers = calloc(4 * (size_t)(L > 0 ? L : 1), sizeof *t->gpu_layers)))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int b = 0; b < 4; b++)
        if (!tables_in(m, t->p.task, emb, head, t->params, base[b], t->gpu_layers + (size_t)b * (size_t)L,
                       &t->gpu_tables[b]))
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    /* the held tensors must fill one run of the blocks, which the host's
     * AdamW then leaves to the GPU (none frozen: the GPU steps them all) */
    const bert_cuda_host *h = train_gpu_table(t, BERT_CUDA_WEIGHTS);
    size_t lo = (size_t)-1, hi = 0, in = 0, spanned = 0;
    for (int k = 0; k < t->n_tensors; k++) {
        const train_tensor *tt = &t->tensors[k];
        size_t n = train_tensor_numel(tt);
        const float *w = t->params + tt->offset;
        if (!is_layer_tensor(h, L, w) && !(emb && is_embedding_tensor(m, w)) && !is_head_tensor(h, w)) continue;
        found++, in += n, frozen += tt->frozen != 0;
        lo = tt->offset < lo ? tt->offset : lo, hi = tt->offset + n > hi ? tt->offset + n : hi;
    }
    for (int k = 0; k < t->n_tensors; k++) {
        const train_tensor *tt = &t->tensors[k];
        if (tt->offset >= lo && tt->offset < hi) spanned += train_tensor_numel(tt);
    }
    const int head_tensors[6] = {0, 5, 9, 4, 2, 6};
    if (L < 1 || found != 16 * L + 5 * emb + head_tensors[head] || in != hi - lo || spanned != in || frozen)
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA training: the tensors the GPU trains are not one run of the "
                                              "parameter block, or one is frozen");
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

bert_status train_gpu_forward(const train_pass *tp, const bert_sequence *seqs, const float *x0, bert_error *err) {
    const train_acts *a = tp->acts;
    const bert_config *c = bert_model_config(tp->model);
    const train_masks none = {0}, *w = tp->masks ? tp->masks : &none; /* a data-parallel part's place in the batch */
    double pa = tp->p->attention_dropout, ph = tp->p->hidden_dropout;
    bert_cuda_train_batch b = {a->S,          seqs,          a->offset,     a->poff,       a->keymask,    keep_of(pa),
                               keep_of(ph),   (float)pa,     (float)ph,     tp->rng->state, tp->rng->inc,
                               w->att_before, w->att_after,  w->tok_before, w->tok_after};
    /* the masks are drawn there from this stream, as train_encoder_forward draws them: the
     * embeddings' (where they are on the GPU), then every layer's */
    uint64_t hidden = ph > 0.0 ? (w->tok_before + (uint64_t)a->N + w->tok_after) * (uint64_t)c->hidden_size : 0;
    uint64_t per_layer = (pa > 0.0 ? (uint64_t)c->num_attention_heads * (w->att_before + a->poff[a->S] + w->att_after) : 0) +
                         2 * hidden;
    bert_rng_advance(tp->rng, per_layer * (uint64_t)c->num_hidden_layers + (tp->gpu_emb ? hidden : 0));
    return bert_cuda_train_forward(tp->gpu, &b, x0, tp->gpu_heads ? NULL : a->x_out, err); /* heads there: x_out too */
}

bert_status train_gpu_heads(const train_pass *tp, const float *labels, double *loss, bert_error *err) {
    const train_acts *a = tp->acts;
    int N = a->N, S = a->S, M = 0, n_nsp = 0;
    double scale = tp->loss_weight / (double)tp->p->grad_accum; /* train_heads' h.scale, f_tok, f_nsp */
    double f_tok = tp->share ? tp->share->f_tok : 1.0, f_nsp = tp->share ? tp->share->f_nsp : 1.0;
    int *x = malloc(sizeof(int) * (2 * (size_t)N + (size_t)S));
    if (!x) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int *rows = x, *targets = x + N, *nsp = x + 2 * (size_t)N;
    for (int i = 0; i < N; i++) /* train_heads checked them */
        if (labels[i] >= 0) rows[M] = i, targets[M++] = (int)labels[i];
    for (int s = 0; s < S && tp->gpu_heads == 2; s++)
        nsp[s] = labels[N + s] < 0 ? -1 : (int)labels[N + s], n_nsp += nsp[s] >= 0;
    /* train_ce_rows' gradient scales: the pass's scale over its labelled rows */
    bert_cuda_train_labels lb = {M, rows, targets, (float)(scale * f_tok / (M ? M : 1)), nsp,
                                 (float)(scale * f_nsp / (n_nsp ? n_nsp : 1))};
    double mlm = 0.0, next = 0.0;
    bert_status rc = bert_cuda_train_heads(tp->gpu, &lb, &mlm, &next, err);
    free(x);
    *loss = (M ? mlm / M : 0.0) * f_tok + (n_nsp ? next / n_nsp : 0.0) * f_nsp;
    return rc;
}

bert_status train_gpu_backward(const train_pass *tp, bert_error *err) {
    float *dx = tp->gpu_heads ? NULL : tp->acts->dx; /* with the heads there, d loss / d x_out is there */
    return bert_cuda_train_backward(tp->gpu, dx, tp->gpu_grads, tp->layer_done, tp->layer_done_user, err);
}

bert_status train_gpu_add_grads(const bert_trainer *t, float *dst, bert_error *err) {
    if (t->gpu_stale) return BERT_OK; /* not uploaded yet, so no pass has run: the GPU's sums are zero */
    int L = t->model->cfg.pub.num_hidden_layers;
    bert_cuda_layer_host *lay = calloc(L > 0 ? (size_t)L : 1, sizeof *lay);
    bert_cuda_host h;
    if (!lay || !tables_in(t->model, t->p.task, t->gpu_emb, t->gpu_heads, t->params, dst, lay, &h)) {
        free(lay);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    bert_status rc = bert_cuda_train_download(t->gpu, BERT_CUDA_GRADS, &h, 1, err);
    free(lay);
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
