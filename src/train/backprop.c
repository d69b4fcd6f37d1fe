/* backprop.c — the training forward pass (saving what backward needs),
 * the losses, and the backward pass, for sequence classification /
 * regression on BertForSequenceClassification.
 *
 * Same computation as model/forward.c plus dropout (BERT's four places:
 * embeddings, attention probabilities, after the attention output dense,
 * after the FFN output dense; and before the classifier). Masks are drawn
 * from the trainer's RNG in a fixed order on one thread, so a run is
 * reproducible whatever the thread count.
 *
 * Shapes: S sequences, N tokens in all, T one sequence, C hidden, NH heads,
 * HS head size, I intermediate, L labels, NL layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "train/acts.h"
#include "train/trainer.h"
#include "util/error.h"

void train_acts_free(train_acts *a) {
    if (!a) return;
    free(a->block);
    free(a->block16);
    free(a->layers);
    free(a->offset);
    free(a->poff);
    free(a);
}

/* (Re)size the activation block for a batch. */
static bert_status acts_reserve(bert_trainer *t, const bert_sequence *seqs, int S, bert_error *err) {
    const bert_config *c = bert_model_config(t->model);
    int C = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, NL = c->num_hidden_layers;
    int N = 0;
    size_t tt = 0;
    for (int s = 0; s < S; s++) N += seqs[s].n_tokens, tt += (size_t)seqs[s].n_tokens * seqs[s].n_tokens;
    size_t NC = (size_t)N * C, per_layer = 10 * NC + 4 * (size_t)N + 2 * (size_t)N * I + 2 * (size_t)NH * tt;
    size_t need = 5 * NC + 2 * (size_t)N + (size_t)NL * per_layer + NC +
                  /* scratch */ 6 * NC + (size_t)N * I + 2 * (size_t)NH * tt + 64;
    train_acts *a = t->acts;
    if (!a) {
        if (!(a = t->acts = calloc(1, sizeof *a))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if (!(a->layers = calloc((size_t)NL + 1, sizeof *a->layers))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    if (need > a->cap_floats) {
        free(a->block);
        a->block = malloc(need * sizeof(float));
        a->cap_floats = a->block ? need : 0;
        if (!a->block) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB of training activations", need * 4e-6);
    }
    free(a->offset);
    free(a->poff);
    a->offset = malloc(sizeof *a->offset * (size_t)(S + 1));
    a->poff = malloc(sizeof *a->poff * (size_t)(S + 1));
    if (!a->offset || !a->poff) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    a->offset[0] = 0;
    a->poff[0] = 0;
    for (int s = 0; s < S; s++) {
        a->offset[s + 1] = a->offset[s] + seqs[s].n_tokens;
        a->poff[s + 1] = a->poff[s] + (size_t)seqs[s].n_tokens * seqs[s].n_tokens;
    }
    a->N = N;
    a->S = S;
    float *p = a->block;
#define TAKE(ptr, n) (ptr = p, p += (n))
    TAKE(a->e_sum, NC), TAKE(a->e_ln, NC), TAKE(a->e_mask, NC), TAKE(a->e_mean, (size_t)N), TAKE(a->e_rstd, (size_t)N);
    for (int l = 0; l < NL; l++) {
        layer_acts *la = &a->layers[l];
        TAKE(la->x_in, NC), TAKE(la->q, NC), TAKE(la->k, NC), TAKE(la->v, NC), TAKE(la->ctx, NC);
        TAKE(la->ao_mask, NC), TAKE(la->r1, NC), TAKE(la->h1, NC), TAKE(la->fo_mask, NC), TAKE(la->r2, NC);
        TAKE(la->mean1, (size_t)N), TAKE(la->rstd1, (size_t)N), TAKE(la->mean2, (size_t)N), TAKE(la->rstd2, (size_t)N);
        TAKE(la->f_pre, (size_t)N * I), TAKE(la->f_act, (size_t)N * I);
        TAKE(la->probs, (size_t)NH * tt), TAKE(la->probs_d, (size_t)NH * tt);
    }
    TAKE(a->x_out, NC);
    TAKE(a->dx, NC), TAKE(a->dtmp, NC), TAKE(a->dC1, NC), TAKE(a->dq, NC), TAKE(a->dk, NC), TAKE(a->dv, NC);
    TAKE(a->dI, (size_t)N * I), TAKE(a->dP, (size_t)NH * tt), TAKE(a->dS, (size_t)NH * tt);
#undef TAKE
    if (t->params16) {
        size_t need16 = (size_t)NL * (3 * NC + (size_t)N * I) + (size_t)N * (I > C ? I : C) + 64;
        if (need16 > a->cap16) {
            free(a->block16);
            a->block16 = malloc(need16 * sizeof *a->block16);
            a->cap16 = a->block16 ? need16 : 0;
            if (!a->block16) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB of bf16 activations", need16 * 2e-6);
        }
        uint16_t *q = a->block16;
#define TAKE16(ptr, n) (ptr = q, q += (n))
        for (int l = 0; l < NL; l++) {
            layer_acts *la = &a->layers[l];
            TAKE16(la->x16, NC), TAKE16(la->ctx16, NC), TAKE16(la->h1_16, NC), TAKE16(la->fact16, (size_t)N * I);
        }
        TAKE16(a->dy16, (size_t)N * (I > C ? I : C));
#undef TAKE16
    }
    return BERT_OK;
}

/* Dropout scale per element: 0 with probability p, else 1 / (1 - p). */
void train_draw_mask(bert_rng *r, float *mask, size_t n, double p) {
    float keep = (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) mask[i] = p > 0.0 && bert_rng_uniform(r) < (float)p ? 0.0f : keep;
}

static void mul(float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}

/* Attention for sequence s, head h: probs (pre-dropout), probs_d, ctx. */
static void attention_fwd(const bert_config *c, train_acts *a, layer_acts *la, int s, int h, const float *keymask) {
    int C = c->hidden_size, NH = c->num_attention_heads, HS = C / NH;
    int row0 = a->offset[s], T = a->offset[s + 1] - row0;
    size_t tt = a->poff[a->S];
    float *P = la->probs + (size_t)h * tt + a->poff[s], *Pd = la->probs_d + (size_t)h * tt + a->poff[s];
    bert_sgemm(0, 1, T, T, HS, 1.0f / sqrtf((float)HS), la->q + (size_t)row0 * C + h * HS, C,
               la->k + (size_t)row0 * C + h * HS, C, 0.0f, P, T);
    bert_mask_key_columns(P, T, keymask + row0);
    bert_softmax_rows(P, T, T);
    (void)Pd;
}

double train_loss(bert_problem problem, const float *logits, const float *labels, int S, int L, float *dlogits,
                  double scale) {
    double loss = 0.0;
    for (int s = 0; s < S; s++) {
        const float *z = logits + (size_t)s * L;
        float *dz = dlogits ? dlogits + (size_t)s * L : NULL;
        if (problem == BERT_PROBLEM_REGRESSION) { /* MSELoss on the single output */
            double d = (double)z[0] - labels[s];
            loss += d * d;
            if (dz) {
                dz[0] = (float)(2.0 * d / S * scale);
                for (int j = 1; j < L; j++) dz[j] = 0.0f;
            }
        } else if (problem == BERT_PROBLEM_MULTI_LABEL) { /* BCEWithLogits, mean over S x L */
            for (int j = 0; j < L; j++) {
                double zz = z[j], y = labels[(size_t)s * L + j];
                loss += (zz > 0 ? zz : 0) - zz * y + log1p(exp(-fabs(zz)));
                if (dz) dz[j] = (float)((1.0 / (1.0 + exp(-zz)) - y) / ((double)S * L) * scale);
            }
        } else { /* CrossEntropyLoss */
            int y = (int)labels[s];
            double mx = z[0], sum = 0.0;
            for (int j = 1; j < L; j++) mx = z[j] > mx ? z[j] : mx;
            for (int j = 0; j < L; j++) sum += exp(z[j] - mx);
            loss += -(z[y] - mx - log(sum));
            if (dz)
                for (int j = 0; j < L; j++) dz[j] = (float)((exp(z[j] - mx) / sum - (j == y)) / S * scale);
        }
    }
    return problem == BERT_PROBLEM_MULTI_LABEL ? loss / ((double)S * L) : loss / S;
}

static bert_status forward_backward(bert_trainer *t, const bert_sequence *seqs, int S, const float *labels,
                                    double *loss_out, bert_error *err);

bert_status train_forward_backward(bert_trainer *t, const bert_sequence *seqs, int S, const float *labels,
                                   double *loss_out, bert_error *err) {
    int saved = bert_blas_threads_enter(t->p.n_threads);
    bert_status rc = forward_backward(t, seqs, S, labels, loss_out, err);
    bert_blas_threads_leave(saved);
    return rc;
}

static bert_status forward_backward(bert_trainer *t, const bert_sequence *seqs, int S, const float *labels,
                                    double *loss_out, bert_error *err) {
    const bert_model *m = t->model;
    const bert_config *c = bert_model_config(m);
    const bert_weights *w = &m->w;
    int C = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, HS = C / NH;
    int NL = c->num_hidden_layers, nt = t->p.n_threads > 0 ? t->p.n_threads : 1;
    float eps = (float)c->layer_norm_eps;
    double p_hidden = t->p.hidden_dropout, p_att = t->p.attention_dropout;
    bert_status rc = acts_reserve(t, seqs, S, err);
    if (rc != BERT_OK) return rc;
    train_acts *a = t->acts;
    int N = a->N;
    size_t NC = (size_t)N * C, tt = a->poff[S];
    /* keymask in dtmp's first N floats is overwritten later; keep our own copy in e_mask's tail? use dC1 */
    float *keymask = a->dC1; /* free until backward; N floats */
    /* ---- forward ------------------------------------------------------------------------- */
    for (int s = 0; s < S; s++) {
        for (int tk = 0; tk < seqs[s].n_tokens; tk++) {
            int row = a->offset[s] + tk;
            float *x = a->e_sum + (size_t)row * C;
            const float *we = w->word + (size_t)seqs[s].input_ids[tk] * C;
            const float *te = w->type + (size_t)(seqs[s].token_type_ids ? seqs[s].token_type_ids[tk] : 0) * C;
            const float *pe = w->pos + (size_t)tk * C;
            for (int j = 0; j < C; j++) x[j] = (we[j] + te[j]) + pe[j];
            keymask[row] = seqs[s].attention_mask ? (float)seqs[s].attention_mask[tk] : 1.0f;
        }
    }
    bert_add_layernorm_train(a->e_ln, a->e_sum, a->e_mean, a->e_rstd, a->e_sum, NULL, w->emb_ln.w, w->emb_ln.b, N, C,
                             eps, nt);
    train_draw_mask(&t->rng, a->e_mask, NC, p_hidden);
    float *x = a->layers[0].x_in;
    if (NL == 0) x = a->x_out;
    for (size_t i = 0; i < NC; i++) x[i] = a->e_ln[i] * a->e_mask[i];
    for (int l = 0; l < NL; l++) {
        layer_acts *la = &a->layers[l];
        const bert_layer_weights *lw = &w->layers[l];
        train_dense_fwd(t, la->q, la->x_in, la->x16, 1, lw->q.w, lw->q.b, N, C, C);
        train_dense_fwd(t, la->k, la->x_in, la->x16, 0, lw->k.w, lw->k.b, N, C, C);
        train_dense_fwd(t, la->v, la->x_in, la->x16, 0, lw->v.w, lw->v.b, N, C, C);
        for (int s = 0; s < S; s++)
            for (int h = 0; h < NH; h++) attention_fwd(c, a, la, s, h, keymask);
        /* attention dropout, drawn in (head, sequence) order */
        for (int h = 0; h < NH; h++) {
            float *P = la->probs + (size_t)h * tt, *Pd = la->probs_d + (size_t)h * tt;
            train_draw_mask(&t->rng, Pd, tt, p_att);
            for (size_t i = 0; i < tt; i++) Pd[i] *= P[i];
        }
        for (int s = 0; s < S; s++) {
            int row0 = a->offset[s], T = a->offset[s + 1] - row0;
            for (int h = 0; h < NH; h++)
                bert_sgemm(0, 0, T, HS, T, 1.0f, la->probs_d + (size_t)h * tt + a->poff[s], T,
                           la->v + (size_t)row0 * C + h * HS, C, 0.0f, la->ctx + (size_t)row0 * C + h * HS, C);
        }
        train_dense_fwd(t, a->dtmp, la->ctx, la->ctx16, 1, lw->attn_out.w, lw->attn_out.b, N, C, C);
        train_draw_mask(&t->rng, la->ao_mask, NC, p_hidden);
        mul(a->dtmp, la->ao_mask, NC);
        bert_add_layernorm_train(la->h1, la->r1, la->mean1, la->rstd1, a->dtmp, la->x_in, lw->attn_ln.w, lw->attn_ln.b,
                                 N, C, eps, nt);
        train_dense_fwd(t, la->f_pre, la->h1, la->h1_16, 1, lw->inter.w, lw->inter.b, N, I, C);
        memcpy(la->f_act, la->f_pre, (size_t)N * I * sizeof(float));
        bert_activation_forward(la->f_act, (size_t)N * I, m->cfg.act, nt);
        train_dense_fwd(t, a->dtmp, la->f_act, la->fact16, 1, lw->out.w, lw->out.b, N, C, I);
        train_draw_mask(&t->rng, la->fo_mask, NC, p_hidden);
        mul(a->dtmp, la->fo_mask, NC);
        float *y = l + 1 < NL ? a->layers[l + 1].x_in : a->x_out;
        bert_add_layernorm_train(y, la->r2, la->mean2, la->rstd2, a->dtmp, la->h1, lw->out_ln.w, lw->out_ln.b, N, C,
                                 eps, nt);
    }
    /* ---- heads: loss, and the gradient w.r.t. the last hidden states into a->dx ---------- */
    rc = train_heads(t, seqs, S, labels, loss_out, err);
    if (rc != BERT_OK) return rc;
    const float *base = t->params;
    /* gradient pointer of a weight = same offset in the gradient block */
#define G(ptr) (t->grads + ((ptr) - base))
    float *dx = a->dx; /* gradient w.r.t. the current layer output, from train_heads */
    for (int l = NL - 1; l >= 0; l--) {
        layer_acts *la = &a->layers[l];
        const bert_layer_weights *lw = &w->layers[l];
        /* LayerNorm 2: y = LN(r2), r2 = drop(fo) + h1 */
        float *dr2 = a->dtmp;
        bert_layernorm_backward(dr2, G(lw->out_ln.w), G(lw->out_ln.b), dx, la->r2, lw->out_ln.w, la->mean2, la->rstd2, N, C);
        float *dh1 = a->dC1;
        memcpy(dh1, dr2, NC * sizeof(float));
        mul(dr2, la->fo_mask, NC);
        train_dense_bwd(t, a->dI, lw->out.w, lw->out.b, dr2, a->dy16, la->f_act, la->fact16, N, C, I, 0);
        bert_activation_backward(a->dI, a->dI, la->f_pre, (size_t)N * I, m->cfg.act, nt);
        train_dense_bwd(t, dh1, lw->inter.w, lw->inter.b, a->dI, a->dy16, la->h1, la->h1_16, N, I, C, 1);
        /* LayerNorm 1: h1 = LN(r1), r1 = drop(ao) + x_in */
        float *dr1 = a->dtmp;
        bert_layernorm_backward(dr1, G(lw->attn_ln.w), G(lw->attn_ln.b), dh1, la->r1, lw->attn_ln.w, la->mean1, la->rstd1,
                                N, C);
        memcpy(dx, dr1, NC * sizeof(float)); /* residual into the layer input */
        mul(dr1, la->ao_mask, NC);
        float *dctx = a->dC1;
        train_dense_bwd(t, dctx, lw->attn_out.w, lw->attn_out.b, dr1, a->dy16, la->ctx, la->ctx16, N, C, C, 0);
        /* attention */
        for (int s = 0; s < S; s++) {
            int row0 = a->offset[s], T = a->offset[s + 1] - row0;
            for (int h = 0; h < NH; h++) {
                size_t po = (size_t)h * tt + a->poff[s];
                const float *P = la->probs + po, *Pd = la->probs_d + po;
                float *dP = a->dP + po, *dS = a->dS + po;
                const float *dc = dctx + (size_t)row0 * C + h * HS;
                /* ctx = Pd V: dPd = dctx V^T, dV = Pd^T dctx */
                bert_sgemm(0, 1, T, T, HS, 1.0f, dc, C, la->v + (size_t)row0 * C + h * HS, C, 0.0f, dP, T);
                bert_sgemm(1, 0, T, HS, T, 1.0f, Pd, T, dc, C, 0.0f, a->dv + (size_t)row0 * C + h * HS, C);
                /* dropout: Pd = P * mask, so dP = dPd * mask = dPd * Pd / P where P > 0 */
                for (size_t i = 0; i < (size_t)T * T; i++) dP[i] = P[i] > 0.0f ? dP[i] * (Pd[i] / P[i]) : 0.0f;
                /* softmax: dS = P (dP - sum_j dP P) */
                for (int i = 0; i < T; i++) {
                    double dot = 0.0;
                    for (int j = 0; j < T; j++) dot += (double)dP[(size_t)i * T + j] * P[(size_t)i * T + j];
                    for (int j = 0; j < T; j++)
                        dS[(size_t)i * T + j] = (float)(P[(size_t)i * T + j] * (dP[(size_t)i * T + j] - dot));
                }
                float sc = 1.0f / sqrtf((float)HS);
                bert_sgemm(0, 0, T, HS, T, sc, dS, T, la->k + (size_t)row0 * C + h * HS, C, 0.0f,
                           a->dq + (size_t)row0 * C + h * HS, C);
                bert_sgemm(1, 0, T, HS, T, sc, dS, T, la->q + (size_t)row0 * C + h * HS, C, 0.0f,
                           a->dk + (size_t)row0 * C + h * HS, C);
            }
        }
        train_dense_bwd(t, dx, lw->q.w, lw->q.b, a->dq, a->dy16, la->x_in, la->x16, N, C, C, 1);
        train_dense_bwd(t, dx, lw->k.w, lw->k.b, a->dk, a->dy16, la->x_in, la->x16, N, C, C, 1);
        train_dense_bwd(t, dx, lw->v.w, lw->v.b, a->dv, a->dy16, la->x_in, la->x16, N, C, C, 1);
    }
    /* embeddings: x0 = drop(LN(e_sum)) */
    mul(dx, a->e_mask, NC);
    float *de = a->dtmp;
    bert_layernorm_backward(de, G(w->emb_ln.w), G(w->emb_ln.b), dx, a->e_sum, w->emb_ln.w, a->e_mean, a->e_rstd, N, C);
    float *gword = G(w->word), *gpos = G(w->pos), *gtype = G(w->type);
    int pad = c->pad_token_id;
    for (int s = 0; s < S; s++) {
        for (int tk = 0; tk < seqs[s].n_tokens; tk++) {
            const float *d = de + (size_t)(a->offset[s] + tk) * C;
            float *gt = gtype + (size_t)(seqs[s].token_type_ids ? seqs[s].token_type_ids[tk] : 0) * C;
            float *gp = gpos + (size_t)tk * C;
            for (int j = 0; j < C; j++) gt[j] += d[j], gp[j] += d[j];
            /* nn.Embedding(padding_idx=pad_token_id): the padding row gets no gradient. */
            if (seqs[s].input_ids[tk] == pad) continue;
            float *gw_ = gword + (size_t)seqs[s].input_ids[tk] * C;
            for (int j = 0; j < C; j++) gw_[j] += d[j];
        }
    }
#undef G
    return BERT_OK;
}
