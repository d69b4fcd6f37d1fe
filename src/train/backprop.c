/* backprop.c — BertModel's encoder in training (backprop.h): the layer
 * operations of model/layers.h, as inference runs them, plus dropout,
 * keeping what the backward reads, then the backward in reverse order.
 *
 * Shapes: S sequences, N tokens in all, C hidden, NH heads, I
 * intermediate, NL layers. */
#include "train/backprop.h"

#include <string.h>

#include "model/layers.h"
#include "train/dropout.h"
#include "train/gpu.h"

/* The batch as attention sees it. */
static nn_attention_batch attention_batch(const train_pass *tp) {
    const bert_config *c = bert_model_config(tp->model);
    nn_attention_batch b = {tp->acts->S, tp->acts->offset, c->hidden_size, c->num_attention_heads, tp->acts->keymask, 0};
    return b;
}

/* One BertLayer, from la->x_in to y. */
static void layer_forward(const train_pass *tp, int l, float *y) {
    const bert_model *m = tp->model;
    const bert_config *c = bert_model_config(m);
    const bert_layer_weights *lw = &m->w.layers[l];
    const train_block *blk = &tp->block;
    train_acts *a = tp->acts;
    layer_acts *la = &a->layers[l];
    int N = a->N, C = c->hidden_size, I = c->intermediate_size, nt = blk->n_threads;
    size_t NC = (size_t)N * C, tt = a->poff[a->S];
    float eps = (float)c->layer_norm_eps;
    double p_hidden = tp->p->hidden_dropout;
    /* BertSelfAttention: the projections, then attention with dropout on its probabilities */
    train_dense_fwd(blk, la->q, la->x_in, la->x16, 1, lw->q.w, lw->q.b, N, C, C);
    train_dense_fwd(blk, la->k, la->x_in, la->x16, 0, lw->k.w, lw->k.b, N, C, C);
    train_dense_fwd(blk, la->v, la->x_in, la->x16, 0, lw->v.w, lw->v.b, N, C, C);
    /* head-major: each head's block of every sequence's T x T, a part's piece within each */
    train_draw_mask_part(tp->rng, la->probs_d, (size_t)c->num_attention_heads, tt, tp->p->attention_dropout,
                         tp->masks ? tp->masks->att_before : 0, tp->masks ? tp->masks->att_after : 0);
    nn_attention_keep keep = {la->probs, la->probs_d, a->poff};
    nn_attention_batch b = attention_batch(tp);
    nn_attention_forward(la->ctx, &keep, la->q, la->k, la->v, &b, NULL, 0, 0, nt);
    /* BertSelfOutput: h1 = LayerNorm(dropout(dense(ctx)) + x_in) */
    train_dense_fwd(blk, a->dtmp, la->ctx, la->ctx16, 1, lw->attn_out.w, lw->attn_out.b, N, C, C);
    train_pass_mask(tp, la->ao_mask, 1, (size_t)N, (size_t)C, p_hidden);
    train_dropout(a->dtmp, la->ao_mask, NC);
    nn_layernorm_keep k1 = {la->r1, la->mean1, la->rstd1};
    nn_layernorm_forward(la->h1, &k1, a->dtmp, la->x_in, &lw->attn_ln, N, C, eps, nt);
    /* BertIntermediate + BertOutput: y = LayerNorm(dropout(dense(act(dense(h1)))) + h1) */
    train_dense_fwd(blk, la->f_pre, la->h1, la->h1_16, 1, lw->inter.w, lw->inter.b, N, I, C);
    nn_activation_forward(la->f_act, la->f_pre, (size_t)N * I, m->cfg.act, nt);
    train_dense_fwd(blk, a->dtmp, la->f_act, la->fact16, 1, lw->out.w, lw->out.b, N, C, I);
    train_pass_mask(tp, la->fo_mask, 1, (size_t)N, (size_t)C, p_hidden);
    train_dropout(a->dtmp, la->fo_mask, NC);
    nn_layernorm_keep k2 = {la->r2, la->mean2, la->rstd2};
    nn_layernorm_forward(y, &k2, a->dtmp, la->h1, &lw->out_ln, N, C, eps, nt);
}

bert_status train_encoder_forward(const train_pass *tp, const bert_sequence *seqs, int S, bert_error *err) {
    const bert_model *m = tp->model;
    const bert_config *c = bert_model_config(m);
    train_acts *a = tp->acts;
    int N = a->N, C = c->hidden_size, NL = c->num_hidden_layers;
    size_t NC = (size_t)N * C;
    if (tp->gpu_emb) { /* the embeddings on the GPU too; the key mask here, for the heads */
        nn_key_mask(a->keymask, seqs, S, a->offset);
        return train_gpu_forward(tp, seqs, NULL, err);
    }
    /* BertEmbeddings: x0 = dropout(LayerNorm(word + type + position)) */
    nn_embeddings_forward(a->e_sum, a->keymask, &m->w, C, seqs, S, a->offset, tp->block.n_threads);
    nn_layernorm_keep ke = {a->e_sum, a->e_mean, a->e_rstd};
    nn_layernorm_forward(a->e_ln, &ke, a->e_sum, NULL, &m->w.emb_ln, N, C, (float)c->layer_norm_eps,
                         tp->block.n_threads);
    train_pass_mask(tp, a->e_mask, 1, (size_t)N, (size_t)C, tp->p->hidden_dropout);
    /* on the GPU, the layers' input goes over from dtmp (scratch until the backward) */
    float *x = tp->gpu ? a->dtmp : NL > 0 ? a->layers[0].x_in : a->x_out;
    for (size_t i = 0; i < NC; i++) x[i] = a->e_ln[i] * a->e_mask[i];
    if (tp->gpu) return train_gpu_forward(tp, seqs, x, err);
    for (int l = 0; l < NL; l++) layer_forward(tp, l, l + 1 < NL ? a->layers[l + 1].x_in : a->x_out);
    return BERT_OK;
}

void train_encoder_skip_masks(const train_pass *tp) {
    const bert_config *c = bert_model_config(tp->model);
    float none[1];
    size_t C = (size_t)c->hidden_size;
    /* the draws of train_encoder_forward and layer_forward, in their order */
    train_pass_mask(tp, none, 1, 0, C, tp->p->hidden_dropout);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        train_draw_mask_part(tp->rng, none, (size_t)c->num_attention_heads, 0, tp->p->attention_dropout,
                             tp->masks->att_before, tp->masks->att_after);
        train_pass_mask(tp, none, 1, 0, C, tp->p->hidden_dropout);
        train_pass_mask(tp, none, 1, 0, C, tp->p->hidden_dropout);
    }
}

/* One BertLayer backward: from d y in a->dx to d x_in in a->dx. */
static void layer_backward(const train_pass *tp, int l) {
    const bert_model *m = tp->model;
    const bert_config *c = bert_model_config(m);
    const bert_layer_weights *lw = &m->w.layers[l];
    const train_block *blk = &tp->block;
    train_acts *a = tp->acts;
    layer_acts *la = &a->layers[l];
    int N = a->N, C = c->hidden_size, I = c->intermediate_size, nt = blk->n_threads;
    size_t NC = (size_t)N * C;
    float *dx = a->dx;
    /* LayerNorm 2: y = LN(r2), r2 = dropout(out) + h1 */
    nn_layernorm_keep k2 = {la->r2, la->mean2, la->rstd2};
    float *dr2 = a->dtmp, *dh1 = a->dC1;
    nn_layernorm_backward(dr2, train_grad(blk, lw->out_ln.w), train_grad(blk, lw->out_ln.b), dx, &k2, &lw->out_ln, N, C, nt);
    memcpy(dh1, dr2, NC * sizeof(float));
    train_dropout(dr2, la->fo_mask, NC);
    train_dense_bwd(blk, a->dI, lw->out.w, lw->out.b, dr2, a->dy16, la->f_act, la->fact16, N, C, I, 0);
    nn_activation_backward(a->dI, a->dI, la->f_pre, (size_t)N * I, m->cfg.act, nt);
    train_dense_bwd(blk, dh1, lw->inter.w, lw->inter.b, a->dI, a->dy16, la->h1, la->h1_16, N, I, C, 1);
    /* LayerNorm 1: h1 = LN(r1), r1 = dropout(attn_out) + x_in */
    nn_layernorm_keep k1 = {la->r1, la->mean1, la->rstd1};
    float *dr1 = a->dtmp, *dctx = a->dC1;
    nn_layernorm_backward(dr1, train_grad(blk, lw->attn_ln.w), train_grad(blk, lw->attn_ln.b), dh1, &k1, &lw->attn_ln,
                          N, C, nt);
    memcpy(dx, dr1, NC * sizeof(float)); /* the residual into the layer input */
    train_dropout(dr1, la->ao_mask, NC);
    train_dense_bwd(blk, dctx, lw->attn_out.w, lw->attn_out.b, dr1, a->dy16, la->ctx, la->ctx16, N, C, C, 0);
    /* attention, then the projections (their input gradients add up in dx) */
    nn_attention_keep keep = {la->probs, la->probs_d, a->poff};
    nn_attention_batch b = attention_batch(tp);
    nn_attention_backward(a->dq, a->dk, a->dv, a->dP, a->dS, dctx, la->q, la->k, la->v, &keep, &b, nt);
    train_dense_bwd(blk, dx, lw->q.w, lw->q.b, a->dq, a->dy16, la->x_in, la->x16, N, C, C, 1);
    train_dense_bwd(blk, dx, lw->k.w, lw->k.b, a->dk, a->dy16, la->x_in, la->x16, N, C, C, 1);
    train_dense_bwd(blk, dx, lw->v.w, lw->v.b, a->dv, a->dy16, la->x_in, la->x16, N, C, C, 1);
}

bert_status train_encoder_backward(const train_pass *tp, const bert_sequence *seqs, int S, bert_error *err) {
    const bert_model *m = tp->model;
    const bert_config *c = bert_model_config(m);
    const bert_weights *w = &m->w;
    const train_block *blk = &tp->block;
    train_acts *a = tp->acts;
    int N = a->N, C = c->hidden_size;
    size_t NC = (size_t)N * C;
    if (tp->gpu) {
        bert_status rc = train_gpu_backward(tp, err);
        if (rc != BERT_OK || tp->gpu_emb) return rc; /* with gpu_emb, the embeddings' backward ran there */
    } else {
        for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
            layer_backward(tp, l);
            if (tp->layer_done) tp->layer_done(tp->layer_done_user, l); /* its gradients are final */
        }
    }
    /* embeddings: x0 = dropout(LN(e_sum)) */
    train_dropout(a->dx, a->e_mask, NC);
    nn_layernorm_keep ke = {a->e_sum, a->e_mean, a->e_rstd};
    nn_layernorm_backward(a->dtmp, train_grad(blk, w->emb_ln.w), train_grad(blk, w->emb_ln.b), a->dx, &ke, &w->emb_ln, N,
                          C, tp->block.n_threads);
    nn_embeddings_backward(train_grad(blk, w->word), train_grad(blk, w->pos), train_grad(blk, w->type), a->dtmp, C, seqs,
                           S, a->offset, c->pad_token_id);
    return BERT_OK;
}
