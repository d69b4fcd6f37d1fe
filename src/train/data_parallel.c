/* data_parallel.c — data-parallel training on a bert_dist (dist/dist.h).
 *
 * Every rank gets the same global micro-batch; rank r trains on its share
 * [lo, hi) of the sequences. Each loss term of the task head divides by
 * the count of the whole micro-batch (train_share: sequences for sequence,
 * QA, intent and NSP terms; labelled or masked tokens for token, slot and
 * MLM terms), so the ranks' gradients add up to the global batch's, as
 * DistributedDataParallel's averaged gradients do for equal shares. The
 * sums are dist_push buckets: on a step's last micro-batch, layer l's
 * gradient range as soon as its backward is done (from the top layer
 * down, the order backward finishes them), then at the step the ranges
 * between them (embeddings, pooler, heads) in ascending order; on other
 * steps the whole block at the step. Every rank issues the same buckets
 * in the same order, a rank with an empty share included. What is summed
 * on the GPUs (NCCL: the layers, and the embeddings and the heads
 * where they train there) is left out (train_dp_held_elsewhere). */
#include "train/data_parallel.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/error.h"

struct train_dp {
    bert_dist *dist;
    float *grads;
    size_t n_params;
    int n_layers;
    size_t (*layer)[2];      /* [n_layers] {offset, count} of layer l's tensors; count 0: not one range */
    int sent;                /* this step's layers were sent during backward */
    int elsewhere;           /* [held_lo, held_hi) is summed elsewhere (train_dp_held_elsewhere) */
    size_t held_lo, held_hi;
    int reduced;             /* this step's gradients are summed (until the step is taken) */
    float *labels;           /* the share's labels, where they are not one slice */
    size_t labels_cap;
};

/* "...encoder.layer.L." in a tensor name: L, else -1. */
static int layer_of(const char *name) {
    const char *p = strstr(name, "encoder.layer.");
    if (!p) return -1;
    char *end;
    long l = strtol(p + 14, &end, 10);
    return end != p + 14 && *end == '.' && l >= 0 && l < 100000 ? (int)l : -1;
}

bert_status train_dp_create(bert_dist *d, const train_tensor *tensors, int n_tensors, float *grads, size_t n_params,
                            int n_layers, train_dp **out, bert_error *err) {
    int L = n_layers;
    train_dp *dp = calloc(1, sizeof *dp);
    if (dp) dp->layer = calloc((size_t)(L > 0 ? L : 1), sizeof *dp->layer);
    if (!dp || !dp->layer) {
        free(dp);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    dp->dist = d, dp->grads = grads, dp->n_params = n_params, dp->n_layers = L;
    /* A layer's range: from its first to its last tensor, sent during
     * backward only when no other tensor lies inside it. */
    size_t *lo = malloc(sizeof *lo * 2 * (size_t)(L > 0 ? L : 1)), *hi = lo ? lo + (L > 0 ? L : 1) : NULL;
    if (!lo) {
        train_dp_free(dp);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    for (int l = 0; l < L; l++) lo[l] = (size_t)-1, hi[l] = 0;
    for (int i = 0; i < n_tensors; i++) {
        int l = layer_of(tensors[i].name);
        size_t a = tensors[i].offset, b = a + train_tensor_numel(&tensors[i]);
        if (l < 0 || l >= L) continue;
        lo[l] = a < lo[l] ? a : lo[l], hi[l] = b > hi[l] ? b : hi[l];
    }
    for (int l = 0; l < L; l++) {
        int alone = lo[l] < hi[l];
        for (int i = 0; alone && i < n_tensors; i++) {
            size_t a = tensors[i].offset;
            alone = layer_of(tensors[i].name) == l || a < lo[l] || a >= hi[l];
        }
        if (alone) dp->layer[l][0] = lo[l], dp->layer[l][1] = hi[l] - lo[l];
    }
    free(lo);
    *out = dp;
    return BERT_OK;
}

void train_dp_free(train_dp *dp) {
    if (!dp) return;
    free(dp->layer), free(dp->labels);
    free(dp);
}

void train_dp_layer_done(void *user, int l) {
    train_dp *dp = user;
    if (!dp->elsewhere && l >= 0 && l < dp->n_layers && dp->layer[l][1])
        dist_push(dp->dist, dp->grads + dp->layer[l][0], dp->layer[l][1]);
}

/* The labels of x[0..n) that count (>= 0; -100 and other negatives are ignored). */
static size_t count_labelled(const float *x, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += x[i] >= 0;
    return k;
}

/* The share's labels: one slice of `labels` or, where the layout has a
 * sequence part and a token part, both copied into dp->labels. */
static bert_status share_labels(train_dp *dp, const bert_train_params *p, const bert_model *m, const float *labels, int n,
                                int lo, int hi, size_t tlo, size_t thi, size_t N, const float **out, train_share *sh,
                                bert_error *err) {
    double fs = (double)(hi - lo) / n, ft = 1.0;
    size_t seq_w = 0, tok_at = 0; /* floats per sequence before the token part; where the token part starts */
    int tokens = 0;
    switch (p->task) {
    case BERT_TASK_SEQUENCE: seq_w = p->problem == BERT_PROBLEM_MULTI_LABEL ? (size_t)bert_model_num_labels(m) : 1; break;
    case BERT_TASK_QA: seq_w = 2; break;
    case BERT_TASK_TOKEN:
    case BERT_TASK_MLM: tokens = 1; break;
    case BERT_TASK_PRETRAINING: tokens = 1, seq_w = 1, tok_at = 0; break;
    case BERT_TASK_DIALOGUE:
        seq_w = p->intent_multi_label ? (size_t)bert_model_config(m)->num_intents : 1, tokens = 1;
        tok_at = seq_w * (size_t)n;
        break;
    }
    if (tokens) {
        size_t all = count_labelled(labels + tok_at, N), mine = count_labelled(labels + tok_at + tlo, thi - tlo);
        ft = all ? (double)mine / (double)all : 0.0;
    }
    double fn = fs;
    if (p->task == BERT_TASK_PRETRAINING) {
        size_t all = count_labelled(labels + N, (size_t)n), mine = count_labelled(labels + N + lo, (size_t)(hi - lo));
        fn = all ? (double)mine / (double)all : 0.0;
    }
    *sh = (train_share){fs, ft, fn};
    if (!tokens) { /* sequence labels only */
        *out = labels + (size_t)lo * seq_w;
        return BERT_OK;
    }
    if (!seq_w) { /* token labels only */
        *out = labels + tlo;
        return BERT_OK;
    }
    size_t ns = (size_t)(hi - lo) * seq_w, nt = thi - tlo, need = ns + nt;
    if (need > dp->labels_cap) {
        float *q = realloc(dp->labels, need * sizeof *q);
        if (!q) return bert_fail(err, BERT_ERR_NOMEM, "out of memory for %zu labels", need);
        dp->labels = q, dp->labels_cap = need;
    }
    if (p->task == BERT_TASK_DIALOGUE) { /* intents [S], then tags [N] */
        memcpy(dp->labels, labels + (size_t)lo * seq_w, ns * sizeof *labels);
        memcpy(dp->labels + ns, labels + tok_at + tlo, nt * sizeof *labels);
    } else { /* pre-training: MLM labels [N], then NSP labels [S] */
        memcpy(dp->labels, labels + tlo, nt * sizeof *labels);
        memcpy(dp->labels + nt, labels + N + (size_t)lo, ns * sizeof *labels);
    }
    *out = dp->labels;
    return BERT_OK;
}

/* 1 for a label that is neither ignored (negative) nor below bound: NaN too. */
static int beyond(float x, int bound) { return !(x < 0) && !(x < bound); }

/* The labels the heads check, checked over the whole micro-batch (N
 * tokens), so that every rank fails alike and names the batch's index. */
static bert_status check_labels(const bert_train_params *p, const bert_model *m, const bert_sequence *seqs, int n,
                                const float *labels, size_t N, bert_error *err) {
    int L = bert_model_num_labels(m), V = bert_model_config(m)->vocab_size;
    const float *tags = labels;
    if (p->task == BERT_TASK_DIALOGUE) tags += (size_t)n * (p->intent_multi_label ? (size_t)bert_model_config(m)->num_intents : 1);
    for (size_t i = 0; (p->task == BERT_TASK_TOKEN || p->task == BERT_TASK_DIALOGUE) && i < N; i++)
        if (beyond(tags[i], L)) return bert_fail(err, BERT_ERR_INPUT, "token %zu: label %g is not a class id in [0, %d)", i, tags[i], L);
    for (size_t i = 0; (p->task == BERT_TASK_MLM || p->task == BERT_TASK_PRETRAINING) && i < N; i++)
        if (beyond(labels[i], V))
            return bert_fail(err, BERT_ERR_INPUT, "token %zu: MLM label %g is outside the vocabulary", i, labels[i]);
    for (int s = 0; p->task == BERT_TASK_PRETRAINING && s < n; s++)
        if (beyond(labels[N + (size_t)s], 2))
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: NSP label %g is not 0 or 1", s, labels[N + (size_t)s]);
    for (int s = 0; p->task == BERT_TASK_QA && s < n; s++)
        for (int k = 0; k < 2; k++)
            if (!(labels[2 * s + k] >= 0 && labels[2 * s + k] < seqs[s].n_tokens))
                return bert_fail(err, BERT_ERR_INPUT, "sequence %d: answer %s %g is outside its %d tokens", s,
                                 k ? "end" : "start", labels[2 * s + k], seqs[s].n_tokens);
    return BERT_OK;
}

bert_status train_dp_part_of(train_dp *dp, const bert_train_params *p, const bert_model *m, int micro,
                             const bert_sequence *seqs, int n, const float *labels, train_dp_part *part,
                             bert_error *err) {
    int lo, hi;
    dist_share(dp->dist, n, &lo, &hi);
    size_t N = 0, tlo = 0, thi = 0, att = 0, alo = 0, ahi = 0;
    for (int s = 0; s < n; s++) {
        if (s == lo) tlo = N, alo = att;
        N += (size_t)seqs[s].n_tokens, att += (size_t)seqs[s].n_tokens * (size_t)seqs[s].n_tokens;
        if (s + 1 == hi) thi = N, ahi = att;
    }
    if (hi == lo) tlo = thi = 0, alo = ahi = 0;
    memset(part, 0, sizeof *part);
    part->lo = lo, part->hi = hi;
    bert_status rc = check_labels(p, m, seqs, n, labels, N, err);
    if (rc == BERT_OK) rc = share_labels(dp, p, m, labels, n, lo, hi, tlo, thi, N, &part->labels, &part->share, err);
    if (rc != BERT_OK) return rc;
    part->masks = (train_masks){tlo, N - thi, (size_t)lo, (size_t)(n - hi), alo, att - ahi};
    part->send = micro + 1 >= p->grad_accum && dp->dist->p.overlap;
    return BERT_OK;
}

void train_dp_part_done(train_dp *dp, const train_dp_part *part) {
    if (!part->send) return;
    if (part->hi == part->lo) /* no pass ran: send as the others do, top layer first */
        for (int l = dp->n_layers - 1; l >= 0; l--) train_dp_layer_done(dp, l);
    dp->sent = 1;
}

int train_dp_reduced(const train_dp *dp) { return dp && dp->reduced; }

void train_dp_held_elsewhere(train_dp *dp, size_t lo, size_t hi) {
    int was = dp->elsewhere, on = lo < hi && hi <= dp->n_params;
    dp->elsewhere = on, dp->held_lo = on ? lo : 0, dp->held_hi = on ? hi : 0;
    if (was && !on && dp->sent && !dp->reduced)
        for (int l = dp->n_layers - 1; l >= 0; l--) train_dp_layer_done(dp, l);
}

bert_status train_dp_reduce(train_dp *dp, bert_error *err) {
    if (dp->reduced) return BERT_OK;
    if (dp->elsewhere) { /* around the run summed elsewhere */
        dist_push(dp->dist, dp->grads, dp->held_lo);
        dist_push(dp->dist, dp->grads + dp->held_hi, dp->n_params - dp->held_hi);
    } else if (!dp->sent) {
        dist_push(dp->dist, dp->grads, dp->n_params);
    } else { /* the ranges between the layers already sent, in ascending order */
        size_t at = 0;
        for (;;) {
            size_t next = dp->n_params, end = dp->n_params;
            for (int l = 0; l < dp->n_layers; l++)
                if (dp->layer[l][1] && dp->layer[l][0] >= at && dp->layer[l][0] < next)
                    next = dp->layer[l][0], end = next + dp->layer[l][1];
            dist_push(dp->dist, dp->grads + at, next - at);
            if (next == dp->n_params) break;
            at = end;
        }
    }
    dp->sent = 0;
    bert_status rc = dist_drain(dp->dist, err);
    dp->reduced = rc == BERT_OK;
    return rc;
}

bert_status train_dp_check(train_dp *dp, const float *params, long step, bert_error *err) {
    dp->reduced = 0;
    int k = dp->dist->p.checksum_steps;
    if (k <= 0 || step % k != 0) return BERT_OK;
    bert_status rc = dist_same_u64(dp->dist, dist_digest(params, dp->n_params), "the weights", err);
    return rc == BERT_OK ? rc : bert_error_prefix(err, "step %ld", step);
}

bert_status train_dp_same_start(train_dp *dp, const float *params, long step, bert_error *err) {
    bert_status rc = dist_same_u64(dp->dist, dist_digest(params, dp->n_params) ^ (uint64_t)step,
                                   "the weights or the step at the start", err);
    return rc == BERT_OK ? rc
                         : bert_error_prefix(err, "the ranks did not start from the same model or checkpoint "
                                                  "(a --resume that names another checkpoint on some rank?)");
}

bert_status train_dp_global_batch(const bert_dist *d, int *batch, bert_error *err) {
    int n = bert_dist_size(d);
    if (*batch > INT_MAX / n)
        return bert_fail(err, BERT_ERR_INPUT, "batch size %d x %d ranks is too large", *batch, n);
    *batch *= n;
    return BERT_OK;
}
