/* heads.c — the task heads of training: forward from the last hidden
 * states, loss, and backward into d x_out, for every BertFor* model bert.c
 * trains (transformers/models/bert/modeling_bert.py):
 *   sequence   classifier(dropout(tanh(pooler(h[:, 0]))))       CE / MSE / BCE
 *   token      classifier(dropout(h))                             CE, ignore -100
 *   qa         qa_outputs(h) -> start, end                        (CE(start) + CE(end)) / 2
 *   mlm        LN(act(transform(h))) W_word^T + bias (tied)       CE, ignore -100
 *   pretraining  mlm + seq_relationship(pooled)                   CE(mlm) + CE(nsp)
 * The heads' scratch lives in the pass's activations (acts->head), grown as
 * needed; the MLM logits are only computed for the masked tokens. */
#include "train/heads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "model/layers.h"
#include "train/dropout.h"
#include "train/gpu.h"
#include "util/error.h"
#include "util/mem.h"

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

/* Rows are independent, so they are split across threads. */
double train_ce_rows(float *z, const float *target, int rows, int L, float *dz, double scale, int n_threads) {
    double loss = 0.0;
    int n = 0;
    for (int r = 0; r < rows; r++) n += target[r] >= 0;
    float g = (float)(scale / (n ? n : 1));
#pragma omp parallel for num_threads(n_threads) if (n_threads > 1 && (size_t)rows * L > 65536) reduction(+ : loss) schedule(static)
    for (int r = 0; r < rows; r++) {
        float *d = dz ? dz + (size_t)r * L : NULL;
        if (target[r] < 0) {
            if (d) memset(d, 0, sizeof *d * (size_t)L);
            continue;
        }
        loss += bert_softmax_xent_row(z + (size_t)r * L, d, L, (int)target[r], g);
    }
    return n ? loss / n : 0.0;
}

bert_status train_qa_loss(const float *z, const float *labels, const int *offset, int S, float *dz, double scale,
                          double *loss, bert_error *err) {
    double l = 0.0;
    if (dz) memset(dz, 0, sizeof *dz * (size_t)offset[S] * 2);
    for (int s = 0; s < S; s++) {
        int row0 = offset[s], T = offset[s + 1] - row0;
        for (int k = 0; k < 2; k++) { /* start (k = 0) and end (k = 1) */
            float yl = labels[2 * s + k];
            if (!(yl >= 0 && yl < T)) /* NaN too */
                return bert_fail(err, BERT_ERR_INPUT, "sequence %d: answer %s %g is outside its %d tokens", s,
                                 k ? "end" : "start", yl, T);
            int y = (int)yl;
            double mx = -INFINITY, sum = 0.0;
            for (int i = 0; i < T; i++) mx = fmax(mx, z[(size_t)(row0 + i) * 2 + k]);
            for (int i = 0; i < T; i++) sum += exp(z[(size_t)(row0 + i) * 2 + k] - mx);
            l += -(z[(size_t)(row0 + y) * 2 + k] - mx - log(sum)) / (2.0 * S);
            for (int i = 0; dz && i < T; i++)
                dz[(size_t)(row0 + i) * 2 + k] =
                    (float)((exp(z[(size_t)(row0 + i) * 2 + k] - mx) / sum - (i == y)) / (2.0 * S) * scale);
        }
    }
    *loss = l;
    return BERT_OK;
}

/* The pooler's buffers, [S x C] each. */
typedef struct {
    float *cls, *pooled, *mask, *pooled_d, *dpooled;
} pool_bufs;

/* One head's view of the pass: the batch, its labels, and the scratch. */
typedef struct {
    const train_pass *tp;
    const bert_weights *w;
    const bert_sequence *seqs;
    const float *labels;
    int S, N, C, nt;
    double scale; /* loss_weight / grad_accum */
    double f_seq, f_tok, f_nsp; /* the pass's share of the micro-batch (1 when whole) */
    float *next;  /* the scratch's first free float */
    pool_bufs pb;
    float *tmp;   /* [max(N, S) x C] */
} head;

static float *take(head *h, size_t n) {
    float *p = h->next;
    h->next += bert_lines(n, sizeof(float)); /* reserve_scratch allows 16 floats a take for this */
    return p;
}

/* BertPooler: pooled = tanh(dense(h[first token])), then dropout p (p = 0 for NSP). */
static void pooler_fwd(head *h, double p) {
    pool_bufs *b = &h->pb;
    const train_acts *a = h->tp->acts;
    int C = h->C, S = h->S;
    for (int s = 0; s < S; s++) memcpy(b->cls + (size_t)s * C, a->x_out + (size_t)a->offset[s] * C, sizeof(float) * C);
    nn_dense_forward(b->pooled, C, b->cls, NULL, h->w->pooler.w, NULL, h->w->pooler.b, S, C, C, NULL, 1);
    bert_tanh(b->pooled, (size_t)S * C);
    train_pass_mask(h->tp, b->mask, 0, (size_t)S, (size_t)C, p);
    for (size_t i = 0; i < (size_t)S * C; i++) b->pooled_d[i] = b->pooled[i] * b->mask[i];
}

/* From d pooled_d (in pb.dpooled): the pooler's gradients, and += into the dx rows of the first tokens. */
static void pooler_bwd(head *h) {
    pool_bufs *b = &h->pb;
    const train_block *blk = &h->tp->block;
    train_acts *a = h->tp->acts;
    int C = h->C, S = h->S;
    for (size_t i = 0; i < (size_t)S * C; i++) b->dpooled[i] *= b->mask[i] * (1.0f - b->pooled[i] * b->pooled[i]);
    nn_dense_backward(h->tmp, train_grad(blk, h->w->pooler.w), train_grad(blk, h->w->pooler.b), b->dpooled, NULL, b->cls,
                      NULL, h->w->pooler.w, NULL, S, C, C, 0, 1);
    for (int s = 0; s < S; s++) {
        float *d = a->dx + (size_t)a->offset[s] * C;
        for (int j = 0; j < C; j++) d[j] += h->tmp[(size_t)s * C + j];
    }
}

/* BertForSequenceClassification: classifier(dropout(pooled)). */
static bert_status head_sequence(head *h, double *loss) {
    const bert_train_params *p = h->tp->p;
    const bert_dense *cl = &h->w->classifier;
    const train_block *blk = &h->tp->block;
    int S = h->S, C = h->C, L = bert_model_num_labels(h->tp->model);
    float *z = take(h, (size_t)S * L), *dz = take(h, (size_t)S * L);
    pooler_fwd(h, p->classifier_dropout);
    nn_dense_forward(z, L, h->pb.pooled_d, NULL, cl->w, NULL, cl->b, S, L, C, NULL, 1);
    *loss = train_loss(p->problem, z, h->labels, S, L, dz, h->scale * h->f_seq) * h->f_seq;
    nn_dense_backward(h->pb.dpooled, train_grad(blk, cl->w), train_grad(blk, cl->b), dz, NULL, h->pb.pooled_d, NULL,
                      cl->w, NULL, S, L, C, 0, 1);
    pooler_bwd(h);
    return BERT_OK;
}

/* A joint intent + slot model's slot tags [N] in its labels: after the
 * intents ([S], or [S x intents] 0/1 with intent_multi_label). */
static const float *slot_tags(const bert_train_params *p, const bert_model *m, const float *labels, int S) {
    return labels + (p->intent_multi_label ? (size_t)S * bert_model_config(m)->num_intents : (size_t)S);
}

/* Token labels [N]: a class id in [0, L), or negative (ignored: -100). */
static bert_status check_token_labels(const float *labels, int N, int L, bert_error *err) {
    for (int i = 0; i < N; i++)
        if (!(labels[i] < 0) && !(labels[i] < L)) /* NaN too */
            return bert_fail(err, BERT_ERR_INPUT, "token %d: label %g is not a class id in [0, %d)", i, labels[i], L);
    return BERT_OK;
}

/* BertForTokenClassification: classifier(dropout(h)) on every token (its labels checked by train_heads). */
static void head_token(head *h, double *loss) {
    const bert_dense *cl = &h->w->classifier;
    const train_block *blk = &h->tp->block;
    train_acts *a = h->tp->acts;
    int N = h->N, C = h->C, L = bert_model_num_labels(h->tp->model);
    size_t NC = (size_t)N * C;
    float *mask = take(h, NC), *hd = take(h, NC), *z = take(h, (size_t)N * L), *dz = take(h, (size_t)N * L);
    train_pass_mask(h->tp, mask, 1, (size_t)N, (size_t)C, h->tp->p->classifier_dropout);
    for (size_t i = 0; i < NC; i++) hd[i] = a->x_out[i] * mask[i];
    nn_dense_forward(z, L, hd, NULL, cl->w, NULL, cl->b, N, L, C, NULL, h->nt);
    *loss = train_ce_rows(z, h->labels, N, L, dz, h->scale * h->f_tok, h->nt) * h->f_tok;
    nn_dense_backward(a->dx, train_grad(blk, cl->w), train_grad(blk, cl->b), dz, NULL, hd, NULL, cl->w, NULL, N, L, C,
                      0, h->nt);
    train_dropout(a->dx, mask, NC);
}

/* A joint intent + slot model (JointBERT): the slot tagger as
 * BertForTokenClassification (its dropout mask drawn first), then
 * intent_classifier(dropout(pooled)); the loss is the sum. labels: the
 * intents ([S], or [S x I] 0/1), then the slot tags ([N]). */
static void head_dialogue(head *h, double *loss) {
    const bert_train_params *p = h->tp->p;
    const bert_dense *in = &h->w->intent;
    const train_block *blk = &h->tp->block;
    int S = h->S, C = h->C, I = bert_model_config(h->tp->model)->num_intents;
    const float *intents = h->labels;
    double slot_loss;
    h->labels = slot_tags(p, h->tp->model, intents, S);
    head_token(h, &slot_loss); /* writes dx */
    h->labels = intents;
    float *z = take(h, (size_t)S * I), *dz = take(h, (size_t)S * I);
    pooler_fwd(h, p->classifier_dropout);
    nn_dense_forward(z, I, h->pb.pooled_d, NULL, in->w, NULL, in->b, S, I, C, NULL, 1);
    double intent_loss = train_loss(p->intent_multi_label ? BERT_PROBLEM_MULTI_LABEL : BERT_PROBLEM_SINGLE_LABEL, z, intents,
                                    S, I, dz, h->scale * h->f_seq) * h->f_seq;
    nn_dense_backward(h->pb.dpooled, train_grad(blk, in->w), train_grad(blk, in->b), dz, NULL, h->pb.pooled_d, NULL, in->w,
                      NULL, S, I, C, 0, 1);
    pooler_bwd(h); /* += into dx */
    *loss = intent_loss + slot_loss;
}

/* BertForQuestionAnswering: qa_outputs(h) -> start and end logits. */
static bert_status head_qa(head *h, double *loss, bert_error *err) {
    const bert_dense *qa = &h->w->qa;
    const train_block *blk = &h->tp->block;
    train_acts *a = h->tp->acts;
    int N = h->N, C = h->C;
    float *z = take(h, (size_t)N * 2), *dz = take(h, (size_t)N * 2);
    nn_dense_forward(z, 2, a->x_out, NULL, qa->w, NULL, qa->b, N, 2, C, NULL, h->nt);
    bert_status rc = train_qa_loss(z, h->labels, a->offset, h->S, dz, h->scale * h->f_seq, loss, err);
    if (rc != BERT_OK) return rc;
    *loss *= h->f_seq;
    nn_dense_backward(a->dx, train_grad(blk, qa->w), train_grad(blk, qa->b), dz, NULL, a->x_out, NULL, qa->w, NULL, N, 2,
                      C, 0, h->nt);
    return BERT_OK;
}

/* BertLMPredictionHead on the M masked rows (the loss ignores the rest):
 * LayerNorm(act(transform(h))), then the decoder (tied: its gradient lands
 * in the word embeddings' rows). */
static void head_mlm(head *h, size_t M, double *loss) {
    const bert_model *m = h->tp->model;
    const bert_weights *w = h->w;
    const train_block *blk = &h->tp->block;
    train_acts *a = h->tp->acts;
    int C = h->C, V = bert_model_config(m)->vocab_size, nt = h->nt;
    _Static_assert(sizeof(int) == sizeof(float), "row indices share the float scratch");
    int *rows = (int *)(void *)take(h, M);
    float *hin = take(h, M * C), *pre = take(h, M * C), *act = take(h, M * C), *ln = take(h, M * C);
    float *sum = take(h, M * C), *mean = take(h, M), *rstd = take(h, M), *z = take(h, M * V), *target = take(h, M);
    float *dln = take(h, M * C), *dact = take(h, M * C), *dh = take(h, M * C);
    size_t k = 0;
    for (int i = 0; i < h->N; i++) {
        if (h->labels[i] < 0) continue; /* the rest are in the vocabulary (check_pretraining_labels) */
        rows[k] = i;
        target[k] = h->labels[i];
        memcpy(hin + k * C, a->x_out + (size_t)i * C, sizeof(float) * C);
        k++;
    }
    int Mi = (int)M;
    *loss = 0.0;
    if (Mi == 0) return;
    nn_layernorm_keep keep = {sum, mean, rstd};
    nn_dense_forward(pre, C, hin, NULL, w->mlm_transform.w, NULL, w->mlm_transform.b, Mi, C, C, NULL, nt);
    nn_activation_forward(act, pre, M * C, m->cfg.act, nt);
    nn_layernorm_forward(ln, &keep, act, NULL, &w->mlm_ln, Mi, C, (float)bert_model_config(m)->layer_norm_eps, nt);
    uint16_t *ln16 = NULL, *dz16 = NULL;
    if (blk->params16) ln16 = (uint16_t *)take(h, (M * C + 1) / 2), dz16 = (uint16_t *)take(h, (M * (size_t)V + 1) / 2);
    train_dense_fwd(blk, z, ln, ln16, 1, w->mlm_decoder, w->mlm_bias, Mi, V, C);
    *loss = train_ce_rows(z, target, Mi, V, z, h->scale * h->f_tok, nt) * h->f_tok;
    train_dense_bwd(blk, dln, w->mlm_decoder, w->mlm_bias, z, dz16, ln, ln16, Mi, V, C, 0);
    nn_layernorm_backward(dact, train_grad(blk, w->mlm_ln.w), train_grad(blk, w->mlm_ln.b), dln, &keep, &w->mlm_ln, Mi, C, nt);
    nn_activation_backward(dact, dact, pre, M * C, m->cfg.act, nt);
    nn_dense_backward(dh, train_grad(blk, w->mlm_transform.w), train_grad(blk, w->mlm_transform.b), dact, NULL, hin, NULL,
                      w->mlm_transform.w, NULL, Mi, C, C, 0, nt);
    for (size_t r = 0; r < M; r++)
        for (int j = 0; j < C; j++) a->dx[(size_t)rows[r] * C + j] += dh[r * C + j];
}

/* BertPreTrainingHeads' seq_relationship: NSP on the pooled output (no dropout). */
static double head_nsp(head *h) {
    const bert_dense *nsp = &h->w->nsp;
    const train_block *blk = &h->tp->block;
    int S = h->S, C = h->C;
    float *z2 = take(h, (size_t)S * 2), *dz2 = take(h, (size_t)S * 2);
    pooler_fwd(h, 0.0);
    nn_dense_forward(z2, 2, h->pb.pooled, NULL, nsp->w, NULL, nsp->b, S, 2, C, NULL, 1);
    double loss = train_ce_rows(z2, h->labels + h->N, S, 2, dz2, h->scale * h->f_nsp, 1) * h->f_nsp;
    nn_dense_backward(h->pb.dpooled, train_grad(blk, nsp->w), train_grad(blk, nsp->b), dz2, NULL, h->pb.pooled, NULL,
                      nsp->w, NULL, S, 2, C, 0, 1);
    pooler_bwd(h);
    return loss;
}

/* Grow the scratch to what the task needs for this batch (M masked tokens). */
static bert_status reserve_scratch(const train_pass *tp, int N, int S, size_t M, bert_error *err) {
    const bert_config *c = bert_model_config(tp->model);
    int C = c->hidden_size, L = bert_model_num_labels(tp->model), V = c->vocab_size;
    size_t NC = (size_t)N * C;
    /* the MLM head takes 8 [M x C] (M <= N) besides the shared [N x C]: 9 NC when every token is labelled */
    size_t need = 9 * NC + 6 * (size_t)S * C + 4 * (size_t)N * (L > 2 ? L : 2) + M * (size_t)V + 4 * (size_t)N + M + 64 +
                  2 * (size_t)S * (size_t)c->num_intents + /* take's rounding, at most 32 takes a pass */ 16 * 32;
    if (tp->block.params16) need += (M * (size_t)C + M * (size_t)V) / 2 + 2; /* bf16 decoder input and logit gradients */
    train_acts *a = tp->acts;
    if (need <= a->head_cap) return BERT_OK;
    free(a->head);
    a->head_cap = 0;
    if (!(a->head = bert_alloc64(need * sizeof(float))))
        return bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for the head", need * 4e-6);
    a->head_cap = need;
    return BERT_OK;
}

void train_heads_skip_masks(const train_pass *tp) {
    float none[1];
    size_t C = (size_t)bert_model_config(tp->model)->hidden_size;
    bert_task task = tp->p->task;
    double p = tp->p->classifier_dropout;
    /* head_token's mask (dialogue: first), then pooler_fwd's (NSP's p is 0) */
    if (task == BERT_TASK_TOKEN || task == BERT_TASK_DIALOGUE) train_pass_mask(tp, none, 1, 0, C, p);
    if (task == BERT_TASK_SEQUENCE || task == BERT_TASK_DIALOGUE) train_pass_mask(tp, none, 0, 0, C, p);
}

/* The heads on the CPU (train_heads without the loss's check). */
static bert_status cpu_heads(const train_pass *tp, const bert_sequence *seqs, int S, const float *labels, double *loss_out,
                             bert_error *err) {
    train_acts *a = tp->acts;
    bert_task task = tp->p->task;
    int N = a->N, C = bert_model_config(tp->model)->hidden_size;
    memset(a->dx, 0, (size_t)N * C * sizeof(float));
    size_t M = 0;
    if (task == BERT_TASK_MLM || task == BERT_TASK_PRETRAINING)
        for (int i = 0; i < N; i++) M += labels[i] >= 0;
    bert_status rc = reserve_scratch(tp, N, S, M, err);
    if (rc != BERT_OK) return rc;
    head h = {.tp = tp, .w = &tp->model->w, .seqs = seqs, .labels = labels, .S = S, .N = N, .C = C,
              .nt = tp->p->n_threads, .scale = tp->loss_weight / (double)tp->p->grad_accum, .next = a->head,
              .f_seq = tp->share ? tp->share->f_seq : 1.0, .f_tok = tp->share ? tp->share->f_tok : 1.0,
              .f_nsp = tp->share ? tp->share->f_nsp : 1.0};
    size_t SC = (size_t)S * C;
    h.pb.cls = take(&h, SC), h.pb.pooled = take(&h, SC), h.pb.mask = take(&h, SC);
    h.pb.pooled_d = take(&h, SC), h.pb.dpooled = take(&h, SC);
    h.tmp = take(&h, (size_t)N * C > SC ? (size_t)N * C : SC);
    double loss = 0.0;
    switch (task) {
    case BERT_TASK_SEQUENCE: rc = head_sequence(&h, &loss); break;
    case BERT_TASK_TOKEN: head_token(&h, &loss); break;
    case BERT_TASK_QA: rc = head_qa(&h, &loss, err); break;
    case BERT_TASK_DIALOGUE: head_dialogue(&h, &loss); break;
    case BERT_TASK_MLM:
    case BERT_TASK_PRETRAINING:
        head_mlm(&h, M, &loss);
        if (task == BERT_TASK_PRETRAINING) loss += head_nsp(&h);
        break;
    }
    *loss_out = loss;
    return rc;
}

/* A fine-tuning head on the GPU (gpu_heads 3 to 5: head_sequence,
 * head_token or head_qa, head_dialogue there): its dropout masks drawn
 * there from this pass's stream where train_pass_mask would draw them
 * (the stream moved past them here), the logits back, the loss and its
 * gradient made here as the CPU's heads make them, that gradient over. */
static bert_status gpu_logits(const train_pass *tp, const float *labels, double *loss, bert_error *err) {
    const bert_train_params *p = tp->p;
    const bert_config *c = bert_model_config(tp->model);
    const train_masks *w = tp->masks;
    int S = tp->acts->S, N = tp->acts->N, C = c->hidden_size, kind = tp->gpu_heads, qa = p->task == BERT_TASK_QA, K, T;
    train_gpu_logit_widths(tp->model, p->task, kind, &K, &T); /* the pooled output's, the tokens' */
    double scale = tp->loss_weight / (double)p->grad_accum, f_seq = tp->share ? tp->share->f_seq : 1.0;
    double f_tok = tp->share ? tp->share->f_tok : 1.0, rate = qa ? 0.0 : p->classifier_dropout;
    bert_cuda_train_drop drop = {rate, tp->rng->state, tp->rng->inc, w ? w->tok_before : 0, w ? w->tok_after : 0,
                                 w ? w->seq_before : 0, w ? w->seq_after : 0};
    if (rate > 0.0) /* train_draw_mask_part's draws: the tokens' mask, then the pooled output's */
        bert_rng_advance(tp->rng, (T ? drop.tok_before + (uint64_t)N + drop.tok_after : 0) * (uint64_t)C +
                                      (K ? drop.seq_before + (uint64_t)S + drop.seq_after : 0) * (uint64_t)C);
    size_t SK = (size_t)S * K, NT = (size_t)N * T;
    float *z = malloc(sizeof(float) * 2 * (SK + NT)), *dz = z + SK + NT;
    *loss = 0.0;
    if (!z) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = bert_cuda_train_logits(tp->gpu, rate > 0.0 ? &drop : NULL, z, err);
    if (rc == BERT_OK && p->task == BERT_TASK_SEQUENCE) {
        *loss = train_loss(p->problem, z, labels, S, K, dz, scale * f_seq) * f_seq;
    } else if (rc == BERT_OK && qa) {
        if ((rc = train_qa_loss(z, labels, tp->acts->offset, S, dz, scale * f_seq, loss, err)) == BERT_OK) *loss *= f_seq;
    } else if (rc == BERT_OK) { /* the slots (token classification's tags), then the intents' (head_dialogue) */
        const float *tags = kind == 5 ? slot_tags(p, tp->model, labels, S) : labels; /* train_heads checked them */
        *loss = train_ce_rows(z + SK, tags, N, T, dz + SK, scale * f_tok, p->n_threads) * f_tok;
        if (rc == BERT_OK && kind == 5)
            *loss += train_loss(p->intent_multi_label ? BERT_PROBLEM_MULTI_LABEL : BERT_PROBLEM_SINGLE_LABEL, z, labels, S,
                                K, dz, scale * f_seq) * f_seq;
    }
    if (rc == BERT_OK) rc = bert_cuda_train_logits_grad(tp->gpu, dz, err);
    free(z);
    return rc;
}

/* The pre-training labels, wherever their heads run: the MLM labels [N]
 * in the vocabulary and, for pre-training, the NSP labels [S] 0 or 1
 * (negative: none; NaN refused too). */
static bert_status check_pretraining_labels(const train_pass *tp, const float *labels, int S, bert_error *err) {
    int N = tp->acts->N, V = bert_model_config(tp->model)->vocab_size;
    for (int i = 0; i < N; i++)
        if (!(labels[i] < 0) && !(labels[i] < V))
            return bert_fail(err, BERT_ERR_INPUT, "token %d: MLM label %g is outside the vocabulary", i, labels[i]);
    for (int s = 0; tp->p->task == BERT_TASK_PRETRAINING && s < S; s++)
        if (!(labels[N + s] < 0) && !(labels[N + s] < 2))
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: NSP label %g is not 0 or 1", s, labels[N + s]);
    return BERT_OK;
}

bert_status train_heads(const train_pass *tp, const bert_sequence *seqs, int S, const float *labels, double *loss_out,
                        bert_error *err) {
    bert_task task = tp->p->task;
    /* the labels the heads index by, before any head draws its masks (the CPU and the GPU alike) */
    bert_status rc = BERT_OK;
    if (task == BERT_TASK_MLM || task == BERT_TASK_PRETRAINING) rc = check_pretraining_labels(tp, labels, S, err);
    if (task == BERT_TASK_TOKEN) rc = check_token_labels(labels, tp->acts->N, bert_model_num_labels(tp->model), err);
    if (task == BERT_TASK_DIALOGUE)
        rc = check_token_labels(slot_tags(tp->p, tp->model, labels, S), tp->acts->N, bert_model_num_labels(tp->model), err);
    if (rc != BERT_OK) return rc;
    /* with gpu_heads, the heads on the GPU, where x_out and d x_out stay */
    if (tp->gpu_heads >= 3) rc = gpu_logits(tp, labels, loss_out, err);
    else rc = tp->gpu_heads ? train_gpu_heads(tp, labels, loss_out, err) : cpu_heads(tp, seqs, S, labels, loss_out, err);
    if (rc == BERT_OK && !isfinite(*loss_out))
        rc = bert_fail(err, BERT_ERR_STATE, "the loss is %s: training diverged", isnan(*loss_out) ? "NaN" : "infinite");
    return rc;
}
