/* optimizer.c — AdamW, learning-rate schedules and gradient clipping.
 *
 * AdamW is torch.optim.AdamW (what Hugging Face's Trainer uses): weight
 * decay applied as p *= 1 - lr * wd before the moment update, bias
 * correction, eps added to sqrt(v_hat). bert_adam = 1 gives the original
 * BERT optimizer (no bias correction; decay added to the update). */
#include <math.h>
#include <string.h>

#include "train/optimizer.h"

#include "kernels/vecmath.h"

#include <omp.h>

/* No multiply-add fused into an FMA here: the GPU's AdamW (src/cuda/train.cu)
 * rounds each operation once and gives these bits. GCC's C11 mode never
 * contracts; clang's default would. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

double train_lr_at(const bert_train_params *p, long step) {
    long total = p->total_steps > 0 ? p->total_steps : 1;
    long warm = p->warmup_steps > 0 ? p->warmup_steps : (long)ceil(p->warmup_ratio * (double)total);
    if (step < warm) return p->lr * (double)step / (double)(warm > 0 ? warm : 1);
    switch (p->schedule) {
    case BERT_SCHEDULE_CONSTANT: return p->lr;
    case BERT_SCHEDULE_COSINE: {
        /* get_cosine_schedule_with_warmup, num_cycles 0.5 */
        double progress = (double)(step - warm) / (double)(total - warm > 0 ? total - warm : 1);
        double f = 0.5 * (1.0 + cos(3.141592653589793 * progress));
        return p->lr * (f > 0.0 ? f : 0.0);
    }
    default: { /* get_linear_schedule_with_warmup */
        double f = (double)(total - step) / (double)(total - warm > 0 ? total - warm : 1);
        return p->lr * (f > 0.0 ? f : 0.0);
    }
    }
}

/* GCC would split the zeroing out of the loop as a memset: a second pass. */
#if defined(__GNUC__) && !defined(__clang__)
#define ADAMW_ONE_PASS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define ADAMW_ONE_PASS
#endif

train_adamw_coef train_adamw_coef_of(const bert_train_params *p, int decay, long step, double lr, float clip) {
    float flr = (float)lr, wd = decay ? (float)p->weight_decay : 0.0f;
    double st = (double)step;
    float bc1 = (float)(1.0 - pow(p->beta1, st)), bc2 = (float)(1.0 - pow(p->beta2, st));
    train_adamw_coef c = {.clip = clip, .one_minus_b1 = 1.0f - (float)p->beta1, .b2 = (float)p->beta2,
                          .one_minus_b2 = 1.0f - (float)p->beta2, .bc2_sqrt = p->bert_adam ? 1.0f : sqrtf(bc2),
                          .eps = (float)p->eps, .step_size = p->bert_adam ? flr : flr / bc1};
    c.decay_mul = p->bert_adam ? 1.0f : 1.0f - flr * wd;
    c.decay_add = p->bert_adam ? wd : 0.0f;
    return c;
}

float train_clip_of(const bert_train_params *p, double norm) {
    return p->max_grad_norm > 0 && norm > p->max_grad_norm ? (float)(p->max_grad_norm / (norm + 1e-6)) : 1.0f;
}

/* One AdamW update over n elements; g NULL: every gradient is zero (the
 * same operations on +0, so the same bits as zeros read from memory), else
 * each gradient is zeroed once read (the optimizer's zero_grad, in the same
 * pass: the update is memory-bound). decay_mul = 1 - lr wd (AdamW's
 * decoupled decay) or 1; decay_add = wd for BertAdam (decay added to the
 * update) or 0. The element order of operations is torch's; restrict and
 * the clones let the loop vectorise. */
static inline void adamw_body(float *restrict w, float *restrict g, float *restrict m, float *restrict v, long long n,
                              const train_adamw_coef *k) {
    train_adamw_coef c = *k;
#pragma omp simd
    for (long long i = 0; i < n; i++) {
        float gi = g ? g[i] * c.clip : 0.0f;
        if (g) g[i] = 0.0f;
        float wi = w[i] * c.decay_mul;
        float mi = m[i] + (gi - m[i]) * c.one_minus_b1; /* lerp, as torch */
        float vi = v[i] * c.b2 + c.one_minus_b2 * gi * gi;
        float update = mi / (sqrtf(vi) / c.bc2_sqrt + c.eps) + c.decay_add * wi;
        m[i] = mi, v[i] = vi;
        w[i] = wi - c.step_size * update;
    }
}

BERT_VECTOR_CLONES ADAMW_ONE_PASS
static void adamw_range(float *restrict w, float *restrict g, float *restrict m, float *restrict v, long long n,
                        const train_adamw_coef *k) {
    adamw_body(w, g, m, v, n, k);
}

BERT_VECTOR_CLONES
static void adamw_range_nograd(float *restrict w, float *restrict m, float *restrict v, long long n,
                               const train_adamw_coef *k) {
    adamw_body(w, NULL, m, v, n, k);
}

/* Adds g[i]^2, in double, to part[(base + i) % 32] for i < n, in order of i
 * within each part: 32-aligned blocks of 32 run as four vector chains rather
 * than one, at the memory's speed rather than the adder's latency. Zeros
 * skipped leave every part's bits as they were (each term is >= 0). */
BERT_VECTOR_CLONES
static void sum_squares_into(double part[32], const float *g, long long n, long long base) {
    long long i = 0;
    for (; i < n && (base + i) % 32; i++) part[(base + i) % 32] += (double)g[i] * g[i];
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j++) part[j] += (double)g[i + j] * g[i + j];
    for (; i < n; i++) part[(base + i) % 32] += (double)g[i] * g[i];
}

/* The squares of grads [lo, hi) into part, rows of the sparse table with
 * no gradient skipped. */
static void run_squares(double part[32], const train_adamw_blocks *b, long long lo, long long hi) {
    long long so = hi, se = hi, cols = 1;
    if (b->sparse >= 0 && b->sparse_rows) {
        const train_tensor *tt = &b->tensors[b->sparse];
        cols = tt->cols ? tt->cols : 1;
        so = (long long)tt->offset, se = so + (long long)tt->rows * cols;
    }
    long long in0 = lo > so ? lo : so, in1 = hi < se ? hi : se, after = lo > se ? lo : se;
    if (in0 > hi) in0 = hi;
    if (in0 > lo) sum_squares_into(part, b->grads + lo, in0 - lo, lo); /* before the table */
    for (long long i = in0; i < in1;) {                                 /* in it, row by row */
        long long r = (i - so) / cols, end = so + (r + 1) * cols;
        if (end > in1) end = in1;
        if (b->sparse_rows[r]) sum_squares_into(part, b->grads + i, end - i, i);
        i = end;
    }
    if (after < hi) sum_squares_into(part, b->grads + after, hi - after, after); /* after it */
}

/* The same for a piece [lo, hi), the held range left out. */
static void piece_squares(double part[32], const train_adamw_blocks *b, long long lo, long long hi) {
    long long h0 = (long long)b->held_lo, h1 = (long long)b->held_hi;
    if (h1 <= h0 || h1 <= lo || h0 >= hi) {
        run_squares(part, b, lo, hi);
        return;
    }
    if (lo < h0) run_squares(part, b, lo, h0);
    if (h1 < hi) run_squares(part, b, h1, hi);
}

static int held(const train_adamw_blocks *b, const train_tensor *tt) {
    return tt->offset >= b->held_lo && tt->offset < b->held_hi;
}

double train_adamw_norm(const bert_train_params *p, const train_adamw_blocks *b) {
    int nt = p->n_threads > 0 ? p->n_threads : 1;
    for (int k = 0; k < b->n_tensors; k++) /* a frozen tensor is as if requires_grad were False */
        if (b->tensors[k].frozen)
            memset(b->grads + b->tensors[k].offset, 0, sizeof(float) * train_tensor_numel(&b->tensors[k]));
    /* the sum in up to 1,024 pieces of n's own split, added in order: the
     * same norm on any thread count */
    enum { PIECES = 1024 };
    double piece[PIECES];
    long long len = ((long long)b->n + PIECES - 1) / PIECES;
    len = (len + 31) / 32 * 32;
    int n_pieces = len > 0 ? (int)(((long long)b->n + len - 1) / len) : 0;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int k = 0; k < n_pieces; k++) {
        long long lo = (long long)k * len, hi = lo + len < (long long)b->n ? lo + len : (long long)b->n;
        double part[32] = {0};
        piece_squares(part, b, lo, hi);
        piece[k] = 0.0;
        for (int j = 0; j < 32; j++) piece[k] += part[j];
    }
    double ss = 0.0;
    for (int k = 0; k < n_pieces; k++) ss += piece[k];
    return sqrt(ss + b->held_ss);
}

void train_adamw_apply(const bert_train_params *p, const train_adamw_blocks *b, long step, double lr, float clip) {
    int nt = p->n_threads > 0 ? p->n_threads : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    for (int k = 0; k < b->n_tensors; k++) {
        const train_tensor *tt = &b->tensors[k];
        if (tt->frozen || (b->group_on && !b->group_on[tt->group]) || held(b, tt)) continue;
        long long n = (long long)train_tensor_numel(tt), lo, hi;
        train_adamw_coef c = train_adamw_coef_of(p, tt->decay, b->group_step ? b->group_step[tt->group] : step, lr, clip);
        bert_thread_slice(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (k == b->sparse && b->sparse_rows) { /* row by row, a run of rows without gradient at once */
            long long cols = tt->cols ? tt->cols : 1;
            for (long long i = lo; i < hi;) {
                long long r = i / cols, end = (r + 1) * cols;
                int touched = b->sparse_rows[r];
                while (end < hi && b->sparse_rows[end / cols] == touched) end += cols;
                if (end > hi) end = hi;
                size_t o = tt->offset + (size_t)i;
                if (touched) adamw_range(b->params + o, b->grads + o, b->m + o, b->v + o, end - i, &c);
                else adamw_range_nograd(b->params + o, b->m + o, b->v + o, end - i, &c);
                i = end;
            }
            continue;
        }
        size_t o = tt->offset + (size_t)lo;
        if (lo < hi) adamw_range(b->params + o, b->grads + o, b->m + o, b->v + o, hi - lo, &c);
    }
    /* adamw_range zeroed the gradients it read; a tensor left alone (frozen,
     * zeroed above; a group no micro-batch reached) is zeroed here, and
     * nothing writes between tensors */
    for (int k = 0; k < b->n_tensors; k++) {
        const train_tensor *tt = &b->tensors[k];
        if (b->group_on && !b->group_on[tt->group] && !held(b, tt))
            memset(b->grads + tt->offset, 0, sizeof(float) * train_tensor_numel(tt));
    }
}

