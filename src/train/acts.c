/* acts.c — sizing the activation block of a training pass (acts.h). */
#include "train/acts.h"

#include "train/dropout.h"

#include <stdlib.h>

#include "util/error.h"
#include "util/mem.h"

void train_acts_free(train_acts *a) {
    if (!a) return;
    free(a->block);
    free(a->block16);
    free(a->layers);
    free(a->offset);
    free(a->poff);
    free(a->head);
    free(a);
}

/* The sequences' row offsets and T x T block offsets. */
static bert_status set_offsets(train_acts *a, const bert_sequence *seqs, int S, bert_error *err) {
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
    a->S = S;
    a->N = a->offset[S];
    return BERT_OK;
}

/* The bf16 copies of the dense layers' inputs, and dy16. */
static bert_status reserve16(train_acts *a, int NL, size_t N, size_t C, size_t I, bert_error *err) {
    size_t NC = N * C, wide = I > C ? I : C;
    size_t need16 = (size_t)NL * (3 * NC + N * I) + N * wide + 32 * (4 * (size_t)NL + 1) + 64;
    if (need16 > a->cap16) {
        free(a->block16);
        a->block16 = bert_alloc64(need16 * sizeof *a->block16);
        a->cap16 = a->block16 ? need16 : 0;
        if (!a->block16) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB of bf16 activations", need16 * 2e-6);
    }
    uint16_t *q = a->block16;
#define TAKE16(ptr, n) (ptr = q, q += bert_lines(n, sizeof *q))
    for (int l = 0; l < NL; l++) {
        layer_acts *la = &a->layers[l];
        TAKE16(la->x16, NC), TAKE16(la->ctx16, NC), TAKE16(la->h1_16, NC), TAKE16(la->fact16, N * I);
    }
    TAKE16(a->dy16, N * wide);
#undef TAKE16
    return BERT_OK;
}

bert_status train_acts_reserve(train_acts **pa, const bert_model *m, const bert_sequence *seqs, int S, int bf16,
                               int gpu, bert_error *err) {
    const bert_config *c = bert_model_config(m);
    int C = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, NL = c->num_hidden_layers;
    train_acts *a = *pa;
    if (!a) {
        if (!(a = calloc(1, sizeof *a)) || !(a->layers = calloc((size_t)NL + 1, sizeof *a->layers))) {
            free(a);
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        }
        *pa = a;
    }
    bert_status rc = set_offsets(a, seqs, S, err);
    if (rc != BERT_OK) return rc;
    size_t N = (size_t)a->N, tt = a->poff[S], NC = N * C;
    size_t per_layer = 10 * NC + 4 * N + 2 * N * I + 2 * (size_t)NH * tt;
    /* the embeddings' (e_*: gpu < 2), x_out and dx (gpu < 3), dtmp (gpu < 2), the key mask */
    size_t need = (gpu < 2 ? 4 * NC + 2 * N : 0) + (gpu < 3 ? 2 * NC : 0) + N +
                  /* TAKE's rounding */ 16 * (18 * (size_t)NL + 16) + 64 +
                  (gpu ? 0 : (size_t)NL * per_layer + 4 * NC + N * I + 2 * (size_t)NH * tt);
    if (need > a->cap_floats) {
        free(a->block);
        a->block = bert_alloc64(need * sizeof(float));
        a->cap_floats = a->block ? need : 0;
        if (!a->block) return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB of training activations", need * 4e-6);
    }
    float *p = a->block;
#define TAKE(ptr, n) (ptr = p, p += bert_lines(n, sizeof *p))
    a->e_sum = a->e_ln = a->e_mask = a->e_mean = a->e_rstd = a->x_out = a->dx = a->dtmp = NULL;
    if (gpu < 2) TAKE(a->e_sum, NC), TAKE(a->e_ln, NC), TAKE(a->e_mask, NC), TAKE(a->e_mean, N), TAKE(a->e_rstd, N);
    if (gpu < 2) TAKE(a->dtmp, NC); /* x0 goes over from it with the layers alone on the GPU */
    if (gpu < 3) TAKE(a->x_out, NC), TAKE(a->dx, NC);
    TAKE(a->keymask, N);
    if (gpu) return BERT_OK; /* the layers keep theirs on the GPU */
    for (int l = 0; l < NL; l++) {
        layer_acts *la = &a->layers[l];
        TAKE(la->x_in, NC), TAKE(la->q, NC), TAKE(la->k, NC), TAKE(la->v, NC), TAKE(la->ctx, NC);
        TAKE(la->ao_mask, NC), TAKE(la->r1, NC), TAKE(la->h1, NC), TAKE(la->fo_mask, NC), TAKE(la->r2, NC);
        TAKE(la->mean1, N), TAKE(la->rstd1, N), TAKE(la->mean2, N), TAKE(la->rstd2, N);
        TAKE(la->f_pre, N * I), TAKE(la->f_act, N * I);
        TAKE(la->probs, (size_t)NH * tt), TAKE(la->probs_d, (size_t)NH * tt);
    }
    TAKE(a->dC1, NC), TAKE(a->dq, NC), TAKE(a->dk, NC), TAKE(a->dv, NC);
    TAKE(a->dI, N * I), TAKE(a->dP, (size_t)NH * tt), TAKE(a->dS, (size_t)NH * tt);
#undef TAKE
    return bf16 ? reserve16(a, NL, N, (size_t)C, (size_t)I, err) : BERT_OK;
}

void train_pass_mask(const train_pass *tp, float *mask, int per_token, size_t count, size_t width, double p) {
    const train_masks *m = tp->masks;
    size_t before = !m ? 0 : per_token ? m->tok_before : m->seq_before, after = !m ? 0 : per_token ? m->tok_after : m->seq_after;
    train_draw_mask_part(tp->rng, mask, 1, count * width, p, before * width, after * width);
}
