/* gpu.c — a trainer's encoder layers on an NVIDIA GPU (gpu.h). */
#include "train/gpu.h"

#include <stdlib.h>

#include "train/dropout.h"
#include "util/error.h"

bert_status train_gpu_create(const bert_model *m, bert_cuda_train **out, bert_error *err) {
    const bert_config *c = bert_model_config(m);
    bert_cuda_train_shape sh = {c->hidden_size,       c->num_attention_heads, c->intermediate_size,
                                c->num_hidden_layers, (int)m->cfg.act,        (float)c->layer_norm_eps};
    return bert_cuda_train_create(&sh, out, err);
}

bert_status train_gpu_upload(bert_cuda_train *g, const bert_model *m, bert_error *err) {
    bert_cuda_layer_src *ls = bert_model_cuda_layers(m);
    if (!ls) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_cuda_train_upload(g, ls, err);
    free(ls);
    return rc;
}

/* The dropout's kept scale for rate p (train_draw_mask's 1 / (1 - p)); 0: off. */
static float keep_of(double p) { return p > 0.0 ? (float)(1.0 / (1.0 - p)) : 0.0f; }

/* Layer l's masks, drawn as train_encoder_forward draws them on the CPU:
 * the attention probabilities' (head-major), then the attention output's,
 * then the FFN output's. A NULL buffer's dropout is off: nothing drawn. */
static void draw_layer(void *user, int l, float *att, float *ao, float *fo) {
    (void)l;
    const train_pass *tp = user;
    const train_acts *a = tp->acts;
    const bert_config *c = bert_model_config(tp->model);
    float none[1];
    size_t tt = a->poff[a->S], C = (size_t)c->hidden_size;
    train_draw_mask_part(tp->rng, att ? att : none, (size_t)c->num_attention_heads, att ? tt : 0,
                         att ? tp->p->attention_dropout : 0.0, tp->masks ? tp->masks->att_before : 0,
                         tp->masks ? tp->masks->att_after : 0);
    train_pass_mask(tp, ao ? ao : none, 1, ao ? (size_t)a->N : 0, C, ao ? tp->p->hidden_dropout : 0.0);
    train_pass_mask(tp, fo ? fo : none, 1, fo ? (size_t)a->N : 0, C, fo ? tp->p->hidden_dropout : 0.0);
}

bert_status train_gpu_forward(const train_pass *tp, const float *x0, bert_error *err) {
    const train_acts *a = tp->acts;
    bert_cuda_train_batch b = {a->S, a->offset, a->poff, a->keymask, keep_of(tp->p->attention_dropout),
                               keep_of(tp->p->hidden_dropout), draw_layer, (void *)tp};
    return bert_cuda_train_forward(tp->gpu, &b, x0, a->x_out, err);
}

bert_status train_gpu_backward(const train_pass *tp, bert_error *err) {
    const bert_model *m = tp->model;
    const train_block *blk = &tp->block;
    int L = bert_model_config(m)->num_hidden_layers;
    bert_cuda_layer_grads *g = calloc((size_t)L, sizeof *g);
    if (!g) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int l = 0; l < L; l++) {
        const bert_layer_weights *w = &m->w.layers[l];
#define G(x) train_grad(blk, w->x)
        g[l] = (bert_cuda_layer_grads){G(q.w),       G(q.b),       G(k.w),       G(k.b),       G(v.w),     G(v.b),
                                       G(attn_out.w), G(attn_out.b), G(attn_ln.w), G(attn_ln.b), G(inter.w), G(inter.b),
                                       G(out.w),     G(out.b),     G(out_ln.w),  G(out_ln.b)};
#undef G
    }
    bert_status rc = bert_cuda_train_backward(tp->gpu, tp->acts->dx, g, tp->layer_done, tp->layer_done_user, err);
    free(g);
    return rc;
}
