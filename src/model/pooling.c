/* pooling.c — sentence-transformers' Pooling modes over token states
 * (models/Pooling.py forward()): each mode reduces hidden[T x C] to C
 * values, the modes on are concatenated in Pooling.py's order. */
#include <math.h>
#include <stdlib.h>

#include "bert.h"
#include "util/error.h"

/* Pooling.py's order of the concatenated outputs. */
static const bert_pooling order[BERT_POOL_N_MODES] = {BERT_POOL_CLS, BERT_POOL_MAX, BERT_POOL_MEAN,
                                                      BERT_POOL_MEAN_SQRT_LEN, BERT_POOL_WEIGHTED_MEAN,
                                                      BERT_POOL_LAST_TOKEN};

/* Whether token t takes part: its mask is 1 and it is not in the prompt. */
static int counts(const int32_t *mask, int prompt_length, int t) {
    return t >= prompt_length && (!mask || mask[t]);
}

/* One mode into out[0..C). */
static void pool_one(const float *h, const int32_t *mask, int T, int C, int prompt, bert_pooling mode, int max_on,
                     float *out) {
    switch (mode) {
    case BERT_POOL_CLS:
        /* token_embeddings[:, 0] is a view: the max mode's in-place
         * masking (-1e9) reaches it when token 0 is masked. */
        for (int j = 0; j < C; j++) out[j] = max_on && T > 0 && !counts(mask, prompt, 0) ? -1e9f : T > 0 ? h[j] : 0.0f;
        return;
    case BERT_POOL_MAX:
        /* Masked tokens are set to -1e9 first, so they still take part. */
        for (int j = 0; j < C; j++) {
            float m = -INFINITY;
            for (int t = 0; t < T; t++) {
                float v = counts(mask, prompt, t) ? h[(size_t)t * C + j] : -1e9f;
                if (v > m) m = v;
            }
            out[j] = m;
        }
        return;
    case BERT_POOL_MEAN:
    case BERT_POOL_MEAN_SQRT_LEN:
    case BERT_POOL_WEIGHTED_MEAN: {
        /* sum(h * w) / clamp(sum(w), 1e-9): w = mask (times the 1-based
         * position for the weighted mean); sqrt of the count for
         * mean_sqrt_len. */
        double wsum = 0;
        for (int t = 0; t < T; t++)
            if (counts(mask, prompt, t)) wsum += mode == BERT_POOL_WEIGHTED_MEAN ? t + 1 : 1;
        double den = wsum > 1e-9 ? wsum : 1e-9;
        if (mode == BERT_POOL_MEAN_SQRT_LEN) den = sqrt(den);
        for (int j = 0; j < C; j++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                if (counts(mask, prompt, t)) s += (mode == BERT_POOL_WEIGHTED_MEAN ? t + 1 : 1) * (double)h[(size_t)t * C + j];
            out[j] = (float)(s / den);
        }
        return;
    }
    case BERT_POOL_LAST_TOKEN: {
        int last = -1;
        for (int t = T - 1; t >= 0 && last < 0; t--)
            if (counts(mask, prompt, t)) last = t;
        for (int j = 0; j < C; j++) out[j] = last >= 0 ? h[(size_t)last * C + j] : 0.0f;
        return;
    }
    }
}

bert_status bert_pool_states(const float *hidden, const int32_t *mask, int n_tokens, int dim, unsigned modes,
                             int prompt_length, float *out, bert_error *err) {
    if (!hidden || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_pool_states: hidden or out is NULL");
    if (n_tokens < 1 || dim < 1) return bert_fail(err, BERT_ERR_INPUT, "bert_pool_states: %d tokens of %d values", n_tokens, dim);
    if (modes == 0 || modes >> BERT_POOL_N_MODES)
        return bert_fail(err, BERT_ERR_INPUT, "bert_pool_states: modes 0x%x: set bits 1u << bert_pooling (0..%d)", modes,
                         BERT_POOL_N_MODES - 1);
    if (prompt_length < 0) return bert_fail(err, BERT_ERR_INPUT, "bert_pool_states: prompt_length %d < 0", prompt_length);
    for (int t = 0; mask && t < n_tokens; t++)
        if (mask[t] != 0 && mask[t] != 1)
            return bert_fail(err, BERT_ERR_INPUT, "bert_pool_states: mask[%d] = %d (0 or 1)", t, (int)mask[t]);
    int k = 0, max_on = (modes >> BERT_POOL_MAX) & 1;
    for (int i = 0; i < BERT_POOL_N_MODES; i++)
        if ((modes >> order[i]) & 1) pool_one(hidden, mask, n_tokens, dim, prompt_length, order[i], max_on, out + (size_t)(k++) * dim);
    return BERT_OK;
}
