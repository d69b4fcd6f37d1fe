/* train.cu — the encoder (its layers, its embeddings where shape.vocab
 * says, the task's head where shape.head says) in training on an
 * NVIDIA GPU (see train.h for the seam and the data flow). Each kernel
 * mirrors the CPU operation of train/backprop.c or train/heads.c it
 * stands for, cited at each; every product is a cuBLAS f32 sgemm
 * (row-major operands read as cuBLAS's column-major transposes), except
 * under bf16 the layers' dense products and the MLM decoder's, which are
 * cublasGemmEx's with bf16 operands and f32 sums. Sums run in f32 in the
 * GPU's orders, so a pass follows the CPU's within the rounding of f32
 * sums, not bit for bit. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "cuda/train.h"
}

#include "cuda/collective.h"
#include "cuda/common.cuh"
#include "util/pcg32.h"

/* ---- kernels ------------------------------------------------------------ */

/* pre[M x N] += b, out = act(pre): the intermediate dense's bias, then its
 * activation, both kept (train_dense_fwd + nn_activation_forward). */
__global__ static void bias_act_keep(float *pre, float *out, const float *b, size_t M, int N, int act) {
    size_t n = M * (size_t)N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = pre[i] + b[i % N];
        pre[i] = v;
        out[i] = activation(v, act);
    }
}

/* Dropout's scale for element i: mask[i] ? keep : 0, or 1 without a mask
 * (train_draw_mask's values). */
__device__ static inline float dropped(const uint8_t *mask, size_t i, float keep) {
    return mask ? (mask[i] ? keep : 0.0f) : 1.0f;
}

/* The rest of a row's LayerNorm in training, once the block's threads
 * wrote row r [C] (each its columns j = threadIdx.x + k blockDim.x) and
 * hold their part s of its sum: the mean and 1 / sqrt(var + eps) kept in
 * mean[row], rstd[row] (nn.LayerNorm: biased variance); out = (LN(r) * g +
 * beta), times the dropout's scale for element `off + j` of mask (NULL:
 * none). */
__device__ static void layernorm_keep_row(float *out, const float *r, float *mean, float *rstd, float s, const float *g,
                                          const float *beta, const uint8_t *mask, float keep, size_t off, int C,
                                          float eps) {
    float m = block_reduce(s, 0) / C, q = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float d = r[j] - m;
        q += d * d;
    }
    float rs = rsqrtf(block_reduce(q, 0) / C + eps);
    if (threadIdx.x == 0) *mean = m, *rstd = rs;
    for (int j = threadIdx.x; j < C; j += blockDim.x) out[j] = ((r[j] - m) * rs * g[j] + beta[j]) * dropped(mask, off + j, keep);
}

/* One row per block: r = dropout(a + bias) + res, then out = LayerNorm(r)
 * * g + beta, with r, the mean and 1 / sqrt(var + eps) kept: BertSelfOutput
 * / BertOutput in training (train_dropout, then bert_add_layernorm_train). */
__global__ static void add_layernorm_keep(float *out, float *r, float *mean, float *rstd, const float *a,
                                          const float *bias, const uint8_t *mask, float keep, const float *res,
                                          const float *g, const float *beta, int C, float eps) {
    size_t off = (size_t)blockIdx.x * C;
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float v = (a[off + j] + bias[j]) * dropped(mask, off + j, keep) + res[off + j];
        r[off + j] = v;
        s += v;
    }
    layernorm_keep_row(out + off, r + off, mean + blockIdx.x, rstd + blockIdx.x, s, g, beta, NULL, 0.0f, off, C, eps);
}

/* One row per block: r = (word[id] + type[tt]) + position[t] (tok: the
 * row's id, token type and position), then out = dropout(LayerNorm(r) * g
 * + beta), r, the mean and 1 / sqrt(var + eps) kept: BertEmbeddings in
 * training (nn_embeddings_forward, nn_layernorm_forward, train_dropout). */
__global__ static void embed_keep(float *out, float *r, float *mean, float *rstd, const int *tok, const float *word,
                                  const float *type, const float *pos, const float *g, const float *beta,
                                  const uint8_t *mask, float keep, int C, float eps) {
    size_t off = (size_t)blockIdx.x * C;
    const int *k = tok + 3 * (size_t)blockIdx.x;
    const float *we = word + (size_t)k[0] * C, *te = type + (size_t)k[1] * C, *pe = pos + (size_t)k[2] * C;
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float v = (we[j] + te[j]) + pe[j];
        r[off + j] = v;
        s += v;
    }
    layernorm_keep_row(out + off, r + off, mean + blockIdx.x, rstd + blockIdx.x, s, g, beta, mask, keep, off, C, eps);
}

/* d[i] *= the dropout's scale (train_dropout on a gradient). */
__global__ static void dropout_grad(float *d, const uint8_t *mask, float keep, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] *= dropped(mask, i, keep);
}

/* The embedding tables' backward (nn_embeddings_backward): block b adds
 * the rows of d listed in tok[start[b] .. start[b + 1]) (ascending: the
 * batch's order) to row[b] of the tables' gradient g [rows x C], one
 * column a thread. */
__global__ static void embed_scatter(float *g, const float *d, const int *row, const int *start, const int *tok, int C) {
    int b = blockIdx.x;
    float *gr = g + (size_t)row[b] * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float acc = gr[j];
        for (int k = start[b]; k < start[b + 1]; k++) acc += d[(size_t)tok[k] * C + j];
        gr[j] = acc;
    }
}

/* Row rows[i] of dst += row i of src, one block a row (rows distinct):
 * a head's input gradient into d x_out (head_mlm's and pooler_bwd's adds). */
__global__ static void scatter_add_rows(float *dst, const float *src, const int *rows, int C) {
    float *r = dst + (size_t)rows[blockIdx.x] * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) r[j] += src[(size_t)blockIdx.x * C + j];
}

/* One row per block: out = LayerNorm(x) * g + beta, the mean and 1 /
 * sqrt(var + eps) kept (x is the kept input): the MLM head's transform
 * LayerNorm (nn_layernorm_forward with keep). */
__global__ static void layernorm_keep(float *out, const float *x, float *mean, float *rstd, const float *g,
                                      const float *beta, int C, float eps) {
    size_t off = (size_t)blockIdx.x * C;
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) s += x[off + j];
    layernorm_keep_row(out + off, x + off, mean + blockIdx.x, rstd + blockIdx.x, s, g, beta, NULL, 0.0f, off, C, eps);
}

/* d[i] *= 1 - y[i]^2: through tanh from its output (pooler_bwd). */
__global__ static void tanh_backward(float *d, const float *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] *= 1.0f - y[i] * y[i];
}

/* out[i] = x[i] times the dropout's scale: the pooled output or the
 * hidden states through a head's dropout mask (pooler_fwd, head_token). */
__global__ static void dropout_to(float *out, const float *x, const uint8_t *mask, float keep, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = x[i] * dropped(mask, i, keep);
}

/* d[i] *= the dropout's scale (1 - y[i]^2): back through the pooled
 * output's dropout mask (NULL: none) and tanh (pooler_bwd). */
__global__ static void mask_tanh_backward(float *d, const uint8_t *mask, float keep, const float *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] *= dropped(mask, i, keep) * (1.0f - y[i] * y[i]);
}

/* One row of logits z [L] per block, its label target[row] (< 0: none):
 * CrossEntropyLoss's term -log softmax(z)[y] into loss[row] (0 without a
 * label), and z replaced by its gradient (softmax(z) - one-hot(y)) g, 0
 * without a label (bert_softmax_xent_row through train_ce_rows). */
__global__ static void softmax_xent_rows(float *z, double *loss, const int *target, int L, float g) {
    float *r = z + (size_t)blockIdx.x * L;
    int y = target[blockIdx.x];
    if (y < 0) {
        for (int j = threadIdx.x; j < L; j += blockDim.x) r[j] = 0.0f;
        if (threadIdx.x == 0) loss[blockIdx.x] = 0.0;
        return;
    }
    float zy = r[y], mx = -FLT_MAX; /* read before any thread writes the row (block_reduce's barriers) */
    for (int j = threadIdx.x; j < L; j += blockDim.x) mx = fmaxf(mx, r[j]);
    mx = block_reduce(mx, 1);
    float s = exp_shifted_row(r, mx, L), f = g / s;
    for (int j = threadIdx.x; j < L; j += blockDim.x) r[j] = r[j] * f - (j == y ? g : 0.0f);
    if (threadIdx.x == 0) loss[blockIdx.x] = -((double)zy - (double)mx - log((double)s));
}

/* Score row blockIdx.x of pair blockIdx.y (its T x T block at P + po[i]):
 * masked keys to -FLT_MAX, softmax, kept in P; with Pd (attention
 * dropout), Pd = P * the mask's scale (head_probs, then bert_mul_inplace). */
__global__ static void softmax_keep(float *P, float *Pd, const uint8_t *mask, float keep, const float *keymask,
                                    const size_t *po, const int *keyrow, int T) {
    size_t at = po[blockIdx.y] + (size_t)blockIdx.x * T;
    masked_softmax_row(P + at, keymask + keyrow[blockIdx.y], T);
    if (Pd) /* each thread scales the elements it wrote */
        for (int j = threadIdx.x; j < T; j += blockDim.x) Pd[at + j] = P[at + j] * (mask[at + j] ? keep : 0.0f);
}

/* Through the dropout and the softmax, in place: dP holds d loss / d Pd on
 * entry, d loss / d scores on return (bert_softmax_dropout_backward:
 * dp = dPd Pd / P where P > 0, dS = P (dp - sum_j dp_j P_j)). */
__global__ static void softmax_backward(float *dP, const float *P, const float *Pd, const size_t *po, int T) {
    size_t at = po[blockIdx.y] + (size_t)blockIdx.x * T;
    float dot = 0.0f;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float p = P[at + j], dp = p > 0.0f ? dP[at + j] * (Pd[at + j] / p) : 0.0f;
        dot += dp * p;
    }
    dot = block_reduce(dot, 0); /* its barriers: every read above is done */
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float p = P[at + j], dp = p > 0.0f ? dP[at + j] * (Pd[at + j] / p) : 0.0f;
        dP[at + j] = p * (dp - dot);
    }
}

/* One row per block of LayerNorm's input gradient (layernorm_backward_row:
 * din = rstd (g - mean(g) - xhat mean(g xhat)), g = dout w), into din,
 * and din times the dropout scale into drop: the residual's and the
 * dense branch's gradients. */
__global__ static void layernorm_backward_rows(float *din, float *drop, const uint8_t *mask, float keep,
                                               const float *dout, const float *x, const float *w, const float *mean,
                                               const float *rstd, int C) {
    size_t off = (size_t)blockIdx.x * C;
    float m = mean[blockIdx.x], rs = rstd[blockIdx.x], sg = 0.0f, sgx = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float g = dout[off + j] * w[j];
        sg += g;
        sgx += g * ((x[off + j] - m) * rs);
    }
    sg = block_reduce(sg, 0) / C;
    sgx = block_reduce(sgx, 0) / C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float d = rs * (dout[off + j] * w[j] - sg - (x[off + j] - m) * rs * sgx);
        din[off + j] = d;
        drop[off + j] = d * dropped(mask, off + j, keep);
    }
}

/* Column sums in two steps, deterministic: bert_column_sums, and
 * LayerNorm's weight and bias gradients (layernorm_backward_columns).
 * First, block (x, y) sums rows [y R, (y + 1) R) (R = COL_ROWS) of its
 * columns into part[y]: dy's in part[y][0..N), and with x, dy (x - mean)
 * rstd's in part[y][N..2N); then colsum_finish adds the parts in order. */
enum { COL_ROWS = 64 };

__global__ static void colsum_part(float *part, const float *dy, const float *x, const float *mean, const float *rstd,
                                   int M, int N) {
    int j = blockIdx.x * blockDim.x + threadIdx.x, i0 = blockIdx.y * COL_ROWS;
    if (j >= N) return;
    int i1 = i0 + COL_ROWS < M ? i0 + COL_ROWS : M;
    float sb = 0.0f, sw = 0.0f;
    for (int i = i0; i < i1; i++) {
        float d = dy[(size_t)i * N + j];
        sb += d;
        if (x) sw += d * ((x[(size_t)i * N + j] - mean[i]) * rstd[i]);
    }
    float *p = part + (size_t)blockIdx.y * 2 * N;
    p[j] = sb;
    if (x) p[N + j] = sw;
}

/* The second step: db[j] += the parts' dy sums in order, dw[j] (when not
 * NULL) += their dy xhat sums. */
__global__ static void colsum_finish(float *db, float *dw, const float *part, int parts, int N) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) return;
    float sb = 0.0f, sw = 0.0f;
    for (int y = 0; y < parts; y++) {
        sb += part[(size_t)y * 2 * N + j];
        if (dw) sw += part[(size_t)y * 2 * N + N + j];
    }
    db[j] += sb;
    if (dw) dw[j] += sw;
}

/* d *= act'(x) (bert_activation_backward's derivatives). */
__global__ static void activation_backward(float *d, const float *x, size_t n, int act) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i], f;
        switch (act) {
        case BERT_ACT_GELU: f = 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.3989422804014327f * expf(-0.5f * v * v); break;
        case BERT_ACT_GELU_TANH:
        case BERT_ACT_GELU_FAST: {
            float k0 = 0.7978845608028654f, t = tanhf(k0 * (v + 0.044715f * v * v * v));
            f = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * k0 * (1.0f + 3.0f * 0.044715f * v * v);
            break;
        }
        case BERT_ACT_RELU: f = v > 0.0f ? 1.0f : 0.0f; break;
        default: { /* SiLU */
            float s = 1.0f / (1.0f + expf(-v));
            f = s * (1.0f + v * (1.0f - s));
        }
        }
        d[i] *= f;
    }
}

/* acc += g: one micro-batch's gradients into the step's sums (on the host,
 * the trainer's grads += stage: the same f32 additions). */
__global__ static void add_into(float *acc, const float *g, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc[i] += g[i];
}

/* part[b] = the sum in double of x[i]^2 over block b's chunk [b SUMSQ_CHUNK,
 * (b + 1) SUMSQ_CHUNK) of [0, n): each thread's elements in order, then the
 * threads' sums in order by thread 0; the order depends on n alone. */
enum { SUMSQ_THREADS = 256, SUMSQ_CHUNK = 1 << 16 };

__global__ static void sumsq_part(double *part, const float *x, size_t n) {
    __shared__ double s[SUMSQ_THREADS];
    size_t lo = (size_t)blockIdx.x * SUMSQ_CHUNK, hi = lo + SUMSQ_CHUNK < n ? lo + SUMSQ_CHUNK : n;
    double a = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += SUMSQ_THREADS) a += (double)x[i] * (double)x[i];
    s[threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < SUMSQ_THREADS; k++) a += s[k];
        part[blockIdx.x] = a;
    }
}

/* AdamW over n elements, the gradient zeroed once read: train/optimizer.c's
 * adamw_body operation for operation, each rounded once (the _rn
 * intrinsics: nothing contracted into an FMA, IEEE division and square
 * root), so the same inputs give the CPU's bits. */
__global__ static void adamw_update(float *w, float *g, float *m, float *v, size_t n, bert_cuda_adamw c) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = __fmul_rn(g[i], c.clip);
        g[i] = 0.0f;
        float wi = __fmul_rn(w[i], c.decay_mul);
        float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), c.one_minus_b1)); /* lerp, as torch */
        float vi = __fadd_rn(__fmul_rn(v[i], c.b2), __fmul_rn(__fmul_rn(c.one_minus_b2, gi), gi));
        float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), c.bc2_sqrt), c.eps);
        float update = __fadd_rn(__fdiv_rn(mi, den), __fmul_rn(c.decay_add, wi));
        m[i] = mi, v[i] = vi;
        w[i] = __fsub_rn(wi, __fmul_rn(c.step_size, update));
    }
}

/* rows x len dropout mask bytes from PCG32's stream (util/pcg32.h;
 * increment inc): byte (r, j) is 1 (kept) unless the uniform of the draw
 * at state s0 advanced r stride + j steps is < p, as train_draw_mask
 * decides from the trainer's RNG (stride > len: a part's rows within the
 * whole batch's). Each thread draws up to MASK_RUN values of a row in a
 * row, its first state reached by the LCG's jump. */
enum { MASK_RUN = 64 };

__global__ static void draw_mask(uint8_t *mask, size_t rows, size_t len, uint64_t stride, uint64_t s0, uint64_t inc,
                                 float p) {
    size_t per_row = (len + MASK_RUN - 1) / MASK_RUN, runs = rows * per_row;
    for (size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x; r < runs; r += (size_t)gridDim.x * blockDim.x) {
        size_t row = r / per_row, j = r % per_row * MASK_RUN, end = j + MASK_RUN < len ? j + MASK_RUN : len;
        uint64_t A, B;
        bert_pcg32_step_map(inc, row * stride + j, &A, &B);
        uint8_t *m = mask + row * len;
        for (uint64_t st = A * s0 + B; j < end; j++, st = bert_pcg32_next(st, inc))
            m[j] = !(bert_pcg32_uniform(bert_pcg32_output(st)) < p);
    }
}

/* ---- the context --------------------------------------------------------- */

/* One layer's weights (or their gradients) inside a block of `per` floats:
 * Q, K and V as one [3C x C] weight and [3C] bias. */
typedef struct {
    float *qkv_w, *qkv_b, *o_w, *o_b, *ln1_w, *ln1_b, *i_w, *i_b, *o2_w, *o2_b, *ln2_w, *ln2_b;
} layer_w;

/* One layer's activations kept for the backward (train/acts.h's
 * layer_acts, on the GPU); Pd is P without attention dropout. */
typedef struct {
    float *x_in, *qkv, *P, *Pd, *ctx, *r1, *mean1, *rstd1, *h1, *f_pre, *f_act, *r2, *mean2, *rstd2;
    uint8_t *m_att, *m_ao, *m_fo;
} layer_a;

/* The embeddings' tensors (or their gradients) inside a block, after the
 * layers': the word, position and token-type tables one after the other
 * (one table of V + PT + TV rows), then the LayerNorm's weight and bias. */
typedef struct {
    float *word, *pos, *type, *ln_w, *ln_b;
} emb_w;

/* The heads' tensors (or their gradients) inside a block, after the
 * embeddings': with the MLM head the transform dense's weight and bias,
 * its LayerNorm's, the decoder's bias [V]; with the pooler its weight and
 * bias and seq_relationship's or the pooled output's classifier's [classes
 * x C] and [classes] (n_w, n_b); with a token head its dense's [tags x C]
 * and [tags] (k_w, k_b); NULL where the head has none. */
typedef struct {
    float *t_w, *t_b, *ln_w, *ln_b, *bias, *p_w, *p_b, *n_w, *n_b, *k_w, *k_b;
} head_w;
enum { HEAD_PARTS = 11 };
static const int head_decay[HEAD_PARTS] = {1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0};

/* Elements held by each of a context's growing buffers (host and device). */
typedef struct {
    size_t buf, buf16, masks, ptrs, po, keyrow, idx, hbuf, hbuf16, hloss, hidx, hmask; /* device */
    size_t ptrs_h, po_h, keyrow_h, pairs, groups, idx_h, count_h, off_h, hidx_h, hloss_h; /* host */
} cap_t;

/* bf16 operands of the dense products (NULL where they run in f32): the
 * input's and the output gradient's rounded copies. */
typedef struct {
    __nv_bfloat16 *x, *dy;
} scratch16;

enum { LAYER_PTRS = 6, SHARED_PTRS = 5 }; /* pointer arrays: Q K V P Pd ctx a layer; dctx dP dQ dK dV shared */

struct bert_cuda_train {
    int C, NH, I, L, act;
    int device; /* the GPU's ordinal */
    int bf16;   /* shape.bf16: the dense products on bf16 operands */
    int shared; /* shape.device was past the GPUs CUDA lists: another rank may share this one */
    void *comm; /* the ranks' NCCL communicator (bert_cuda_train_join), or NULL */
    int V, PT, TV, pad; /* the embeddings on the GPU (V > 0): the tables' rows, the padding id */
    int head;   /* shape.head: 0 none, 1 the MLM head, 2 with NSP, 3 sequence classification, 4 a token
                 * head, 5 joint intent + slots */
    int classes; /* the pooler's classifier's outputs: 2 for NSP, shape.classes for 3 and 5 */
    int tags;    /* the token head's outputs (4 and 5), else 0 */
    float eps;
    size_t per; /* floats of one layer's weights */
    size_t emb; /* floats of the embeddings' tensors (0: on the host) */
    size_t hn;  /* floats of the heads' tensors (0: none) */
    size_t n;   /* floats of a block: L per + emb + hn */
    size_t n16; /* bf16: the weights with a bf16 copy, the block's first n16: the layers', and
                 * the word table (the decoder's weight) with the MLM head (head 1 or 2) */
    cudaStream_t stream;
    cublasHandle_t blas;
    /* blocks of n floats: the layers' tensors (L x per), then the embeddings' (emb), the heads' (hn) */
    float *w, *g;      /* weights; one backward's gradients */
    float *acc, *m, *v; /* the gradients summed since the last AdamW step; AdamW's moments */
    double *ss, *ss_h;  /* [ceil(n / SUMSQ_CHUNK)] the sum of squares' parts (device, host) */
    __nv_bfloat16 *w16; /* bf16: [n16] the weights rounded (the dense products read them), else NULL */
    float *stage;      /* host: one block */
    int stage_pinned;  /* stage is page-locked (cudaMallocHost), else malloc'd */
    char *pinned;       /* host memory page-locked by bert_cuda_train_pin, or NULL */
    size_t pinned_bytes;
    /* the pass */
    cap_t cap;                  /* what each buffer below holds */
    float *buf;                 /* every float buffer of a pass, carved */
    uint8_t *masks;             /* the dropout masks, drawn on the GPU */
    const float **ptrs, **ptrs_h; /* [(6 L + 5) x P] batched products' operands */
    size_t *po, *po_h;            /* [P] each pair's T x T block in P, Pd, dP */
    int *keyrow, *keyrow_h;       /* [P] first row of each pair's sequence */
    bert_cuda_pair *pairs;
    bert_cuda_group *groups;
    layer_a *la;            /* [L] */
    float *x_out, *tmp, *dx, *dh1, *dctx, *dI, *dqkv, *dP, *part, *keymask;
    float *e_sum, *e_mean, *e_rstd; /* the embeddings' sums before their LayerNorm, its statistics */
    uint8_t *m_emb;                 /* the embeddings' dropout mask */
    /* the embeddings' pass (idx on the GPU, idx_h its host copy): [N x 3] each
     * row's id, token type and position; then the backward's plan: G table
     * rows, where each one's tokens start in the list [G + 1], the list [M] */
    int *idx, *idx_h, *count_h;
    size_t n_idx;
    int G;
    __nv_bfloat16 *buf16; /* bf16: a layer's dense product's input [N x max(C, I)] and output
                           * gradient [N x max(3C, I)], rounded (s16) */
    scratch16 s16;
    /* the heads' pass: hbuf their float buffers (carve_heads); hidx (hidx_h
     * on the host) [M rows][M targets][S first rows][S NSP labels] (heads 3 and 5:
     * [S first rows] alone); hloss [M + S] the
     * rows' losses (hloss_h on the host); hbuf16 (bf16) the decoder's input
     * [M x C] and logits' gradient [M x V] rounded (h16) */
    float *hbuf;
    int *hidx, *hidx_h, *off_h; /* off_h: [S + 1] the last forward's offsets */
    double *hloss, *hloss_h;
    __nv_bfloat16 *hbuf16;
    scratch16 h16;
    uint8_t *hmask;   /* heads 3 to 5: the head's dropout masks (the tokens', then the pooled output's) */
    int S, heads_ran; /* the last forward's sequences; the heads ran since it */
    int logits_fwd;   /* heads 3 to 5: bert_cuda_train_logits ran since the forward, its backward not */
    float keep_head;  /* heads 3 to 5: that forward's dropout scale (0: no dropout) */
    size_t mask_bytes, n_ptrs;  /* the pass's masks (carve_masks), operand addresses */
    int N, n_groups, P, parts, pending; /* pending: a forward awaits its backward */
    float keep_att, keep_hidden;
};

/* One of a layer's tensors on the host: where, and its size in floats. */
typedef struct {
    float *p;
    size_t n;
} host_part;
enum { HOST_PARTS = 16 };

/* Whether t's fine-tuning head has the pooler and its classifier (heads 3
 * and 5), a token head (4 and 5); the MLM head (1 and 2). */
static int has_pooler(const bert_cuda_train *t) { return t->head == 3 || t->head == 5; }
static int has_tokens(const bert_cuda_train *t) { return t->head == 4 || t->head == 5; }
static int has_mlm(const bert_cuda_train *t) { return t->head == 1 || t->head == 2; }

/* A block's entries: the layers, then the embeddings and the heads where the GPU has them. */
static int entries(const bert_cuda_train *t) { return t->L + (t->emb != 0) + (t->head != 0); }

/* Where entry e starts in a block (floats). */
static size_t entry_at(const bert_cuda_train *t, int e) {
    return e <= t->L ? t->per * (size_t)e : t->per * (size_t)t->L + t->emb;
}

/* The heads' tensor sizes in their block's order (head_w), 0 for those
 * the shape has not. */
static void head_parts(const bert_cuda_train *t, size_t n[HEAD_PARTS]) {
    size_t C = (size_t)t->C, mlm = has_mlm(t), pool = t->head == 2 || has_pooler(t);
    size_t K = (size_t)t->classes, T = (size_t)t->tags;
    const size_t sz[HEAD_PARTS] = {mlm * C * C, mlm * C,     mlm * C,     mlm * C, mlm * (size_t)t->V, pool * C * C,
                                   pool * C,    pool * K * C, pool * K, T * C,   T};
    for (int k = 0; k < HEAD_PARTS; k++) n[k] = sz[k];
}

/* The tensors of entry e (layer e, the embeddings at e = L, the heads at
 * L + 1) as h names them on the host, in the order of the GPU's block (a
 * layer's Q, K and V weights, then their biases: the [3C x C] weight and
 * [3C] bias); returns their count. The entries follow each other in the
 * block, from 0. */
static int host_parts(const bert_cuda_train *t, const bert_cuda_host *h, int e, host_part out[HOST_PARTS]) {
    size_t C = (size_t)t->C, I = (size_t)t->I;
    if (e == t->L + 1) {
        const bert_cuda_head_host *s = &h->head;
        size_t n[HEAD_PARTS];
        head_parts(t, n);
        float *const p[HEAD_PARTS] = {s->transform_w, s->transform_b, s->ln_w,  s->ln_b,    s->bias,   s->pooler_w,
                                      s->pooler_b,    s->nsp_w,       s->nsp_b, s->token_w, s->token_b};
        int np = 0;
        for (int k = 0; k < HEAD_PARTS; k++)
            if (n[k]) out[np].p = p[k], out[np++].n = n[k];
        return np;
    }
    if (e == t->L) {
        const bert_cuda_emb_host *s = &h->emb;
        const host_part parts[] = {{s->word, (size_t)t->V * C}, {s->pos, (size_t)t->PT * C}, {s->type, (size_t)t->TV * C},
                                   {s->ln_w, C},                 {s->ln_b, C}};
        memcpy(out, parts, sizeof parts);
        return (int)(sizeof parts / sizeof parts[0]);
    }
    const bert_cuda_layer_host *s = &h->layers[e];
    const host_part parts[HOST_PARTS] = {
        {s->q_w, C * C}, {s->k_w, C * C}, {s->v_w, C * C},  {s->q_b, C},  {s->k_b, C},    {s->v_b, C},
        {s->o_w, C * C}, {s->o_b, C},     {s->ln1_w, C},    {s->ln1_b, C}, {s->i_w, I * C}, {s->i_b, I},
        {s->o2_w, C * I}, {s->o2_b, C},   {s->ln2_w, C},    {s->ln2_b, C}};
    memcpy(out, parts, sizeof parts);
    return HOST_PARTS;
}

/* A layer's tensors in the order of its block of per floats: their sizes
 * (layer_parts) and whether AdamW's weight decay applies (part_decay: the
 * weight matrices; not biases and LayerNorm, as the trainer's no_decay
 * names them). */
enum { LAYER_PARTS = 12 };
static const int part_decay[LAYER_PARTS] = {1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0};
static void layer_parts(size_t C, size_t I, size_t n[LAYER_PARTS]) {
    const size_t sz[LAYER_PARTS] = {3 * C * C, 3 * C, C * C, C, C, C, I * C, I, C * I, C, C, C};
    for (int k = 0; k < LAYER_PARTS; k++) n[k] = sz[k];
}

/* Layer l's tensors in a block of L x per floats at base. */
static layer_w weights_at(const bert_cuda_train *t, float *base, int l) {
    size_t n[LAYER_PARTS];
    layer_parts((size_t)t->C, (size_t)t->I, n);
    layer_w w;
    float **field[LAYER_PARTS] = {&w.qkv_w, &w.qkv_b, &w.o_w,  &w.o_b,  &w.ln1_w, &w.ln1_b,
                                  &w.i_w,   &w.i_b,   &w.o2_w, &w.o2_b, &w.ln2_w, &w.ln2_b};
    float *p = base + t->per * l;
    for (int k = 0; k < LAYER_PARTS; k++) *field[k] = p, p += n[k];
    return w;
}

/* 1 when h names every tensor of the block (each of its entries' host_parts). */
static int tables_ok(const bert_cuda_train *t, const bert_cuda_host *h) {
    if (!h || !h->layers) return 0;
    for (int e = 0; e < entries(t); e++) {
        host_part parts[HOST_PARTS];
        int np = host_parts(t, h, e, parts);
        for (int k = 0; k < np; k++)
            if (!parts[k].p) return 0;
    }
    return 1;
}

/* The heads' tensors in a block at base (head_w). */
static head_w head_at(const bert_cuda_train *t, float *base) {
    size_t n[HEAD_PARTS];
    head_parts(t, n);
    head_w h;
    float **field[HEAD_PARTS] = {&h.t_w, &h.t_b, &h.ln_w, &h.ln_b, &h.bias, &h.p_w,
                                 &h.p_b, &h.n_w, &h.n_b,  &h.k_w,  &h.k_b};
    float *p = base + entry_at(t, t->L + 1);
    for (int k = 0; k < HEAD_PARTS; k++) *field[k] = n[k] ? p : NULL, p += n[k];
    return h;
}

/* The embeddings' tensors in a block at base. */
static emb_w emb_at(const bert_cuda_train *t, float *base) {
    size_t C = (size_t)t->C;
    emb_w e;
    e.word = base + t->per * (size_t)t->L, e.pos = e.word + (size_t)t->V * C, e.type = e.pos + (size_t)t->PT * C;
    e.ln_w = e.type + (size_t)t->TV * C, e.ln_b = e.ln_w + C;
    return e;
}

/* t's GPU made the calling thread's current one (every entry point's
 * first step: the caller's thread may differ from the creator's). */
static void on_gpu(const bert_cuda_train *t) { (void)cudaSetDevice(t->device); }

extern "C" void bert_cuda_train_free(bert_cuda_train *t) {
    if (!t) return;
    on_gpu(t);
    cuda_nccl_free(t->comm);
    void *dev[] = {t->w,  t->g,      t->acc, t->m,    t->v,     t->w16,  t->ss,    t->buf, t->buf16, t->masks,
                   (void *)t->ptrs, t->po, t->keyrow, t->idx, t->hbuf, t->hbuf16, t->hloss, t->hidx, t->hmask};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (t->blas) cuda_blas()->destroy(t->blas);
    if (t->stream) cudaStreamDestroy(t->stream);
    if (t->stage_pinned) cudaFreeHost(t->stage);
    else free(t->stage);
    if (t->pinned) cudaHostUnregister(t->pinned);
    free(t->ss_h), free((void *)t->ptrs_h), free(t->po_h), free(t->keyrow_h), free(t->idx_h), free(t->count_h);
    free(t->off_h), free(t->hidx_h), free(t->hloss_h);
    free(t->pairs), free(t->groups), free(t->la);
    free(t);
}

extern "C" bert_status bert_cuda_train_create(const bert_cuda_train_shape *sh, bert_cuda_train **out,
                                              bert_error *err) {
    *out = NULL;
    const char *why = bert_cuda_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", why);
    if (sh->heads < 1 || sh->hidden < 1 || sh->hidden % sh->heads || sh->layers < 1 || sh->intermediate < 1)
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA training: hidden size %d, %d heads, %d layers, intermediate %d",
                         sh->hidden, sh->heads, sh->layers, sh->intermediate);
    /* the tables' rows: an int indexes the backward's plan (V + PT + TV rows) */
    if (sh->vocab < 0 || (sh->vocab > 0 && (sh->positions < 1 || sh->types < 1 || sh->positions > (1 << 20) ||
                                           sh->types > (1 << 20) || sh->vocab > (1 << 28))))
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA training: embedding tables of %d, %d and %d rows", sh->vocab,
                         sh->positions, sh->types);
    if (sh->head < 0 || sh->head > 5 || (sh->head && sh->vocab < 1))
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA training: head %d (0 to 5, and 1 to 5 only with the embeddings)",
                         sh->head);
    int pooled = sh->head == 3 || sh->head == 5, tokens = sh->head == 4 || sh->head == 5;
    if ((pooled && (sh->classes < 1 || sh->classes > (1 << 20))) || (tokens && (sh->tags < 1 || sh->tags > (1 << 20))))
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA training: head %d with %d classes and %d tags (1 to 2^20 where it "
                         "has them)", sh->head, pooled ? sh->classes : 0, tokens ? sh->tags : 0);
    int gpus = 0;
    if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus < 1 || sh->device < 0)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: no GPU %d", sh->device);
    cudaError_t e = cudaSetDevice(sh->device % gpus);
    if (e != cudaSuccess)
        return bert_fail(err, BERT_ERR_IO, "CUDA: cannot use GPU %d: %s", sh->device % gpus, cudaGetErrorString(e));
    bert_cuda_train *t = (bert_cuda_train *)calloc(1, sizeof *t);
    if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->device = sh->device % gpus, t->shared = sh->device >= gpus, t->bf16 = sh->bf16 != 0;
    t->C = sh->hidden, t->NH = sh->heads, t->I = sh->intermediate, t->L = sh->layers, t->act = sh->act;
    t->eps = sh->eps;
    if (sh->vocab > 0) {
        t->V = sh->vocab, t->PT = sh->positions, t->TV = sh->types, t->pad = sh->pad_id;
        t->emb = ((size_t)t->V + (size_t)t->PT + (size_t)t->TV + 2) * (size_t)t->C;
        t->head = sh->head;
        t->classes = pooled ? sh->classes : sh->head == 2 ? 2 : 0;
        t->tags = tokens ? sh->tags : 0;
    }
    size_t n[LAYER_PARTS], hn[HEAD_PARTS], n_ss;
    layer_parts((size_t)t->C, (size_t)t->I, n);
    for (int k = 0; k < LAYER_PARTS; k++) t->per += n[k];
    head_parts(t, hn);
    for (int k = 0; k < HEAD_PARTS; k++) t->hn += hn[k];
    t->n = t->per * (size_t)t->L + t->emb + t->hn;
    int decoder = has_mlm(t); /* the word table, which leads the embeddings, is the MLM decoder */
    t->n16 = t->per * (size_t)t->L + (decoder ? (size_t)t->V * (size_t)t->C : 0);
    size_t bytes = sizeof(float) * t->n;
    n_ss = (t->n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    t->ss_h = (double *)malloc(sizeof(double) * n_ss);
    t->la = (layer_a *)calloc((size_t)t->L, sizeof *t->la);
    if (!t->ss_h || !t->la) {
        bert_cuda_train_free(t);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    float **blocks[] = {&t->w, &t->g, &t->acc, &t->m, &t->v};
    /* the stage page-locked where the system allows (the weights come back
     * through it every step, at the bus's full speed), else pageable */
    e = cudaMallocHost((void **)&t->stage, bytes);
    t->stage_pinned = e == cudaSuccess;
    if (!t->stage_pinned) {
        (void)cudaGetLastError();
        if (!(t->stage = (float *)malloc(bytes))) {
            bert_cuda_train_free(t);
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        }
    }
    e = cudaStreamCreateWithFlags(&t->stream, cudaStreamNonBlocking);
    for (size_t k = 0; k < sizeof blocks / sizeof blocks[0] && e == cudaSuccess; k++)
        e = cudaMalloc((void **)blocks[k], bytes);
    if (e == cudaSuccess) e = cudaMalloc((void **)&t->ss, sizeof(double) * n_ss);
    if (e == cudaSuccess && t->bf16) e = cudaMalloc((void **)&t->w16, sizeof(__nv_bfloat16) * t->n16);
    for (size_t k = 2; k < sizeof blocks / sizeof blocks[0] && e == cudaSuccess; k++) /* sums and moments start at 0 */
        e = cudaMemsetAsync(*blocks[k], 0, bytes, t->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(t->stream);
    if (e != cudaSuccess) {
        double mb = 1e-6 * (5.0 * (double)bytes + (t->bf16 ? 2.0 * (double)t->n16 : 0.0));
        bert_cuda_train_free(t);
        return bert_fail(err, e == cudaErrorMemoryAllocation ? BERT_ERR_NOMEM : BERT_ERR_IO,
                         "CUDA: cannot allocate %.1f MB of GPU memory for the weights, gradients and AdamW's "
                         "moments: %s", mb, cudaGetErrorString(e));
    }
    cublasStatus_t s = cuda_blas()->create(&t->blas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cuda_blas()->set_stream(t->blas, t->stream);
    if (s == CUBLAS_STATUS_SUCCESS) s = cuda_blas()->set_math(t->blas, CUBLAS_DEFAULT_MATH);
    if (s != CUBLAS_STATUS_SUCCESS) {
        bert_cuda_train_free(t);
        return bert_fail(err, BERT_ERR_IO, "cuBLAS: could not set up a handle (status %d)", (int)s);
    }
    *out = t;
    return BERT_OK;
}

/* Host buffers: *p holds at least n elements (contents not kept). */
template <class T> static int host_room(T **p, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    free(*p);
    *p = (T *)malloc(sizeof(T) * (n ? n : 1));
    *cap = *p ? n : 0;
    return *p != NULL;
}

/* Device buffers likewise: a quarter more than n where that fits, else n. */
template <class T> static cudaError_t dev_room(T **p, size_t *cap, size_t n) {
    if (n <= *cap) return cudaSuccess;
    if (*p) cudaFree((void *)*p);
    *p = NULL;
    *cap = 0;
    size_t roomy = n + n / 4; /* room to grow into, where the GPU has it */
    cudaError_t e = cudaMalloc((void **)p, sizeof(T) * (roomy ? roomy : 1));
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        roomy = n;
        e = cudaMalloc((void **)p, sizeof(T) * (n ? n : 1));
    }
    if (e == cudaSuccess) *cap = roomy;
    return e;
}

/* Carves the pass's float buffers from base (t->buf; NULL: only counts);
 * returns the floats used. Each piece starts 64 floats (256 bytes) apart
 * at least, the gaps never written. */
static size_t carve(bert_cuda_train *t, float *base, size_t tt) {
    size_t N = (size_t)t->N, C = (size_t)t->C, I = (size_t)t->I, NC = N * C, att = (size_t)t->NH * tt, at = 0;
    size_t wide = 3 * C > I ? 3 * C : I; /* the column sums' widest row (the heads' have their own) */
#define TAKE(ptr, n) (ptr = base ? base + at : NULL, at += ((n) + 63) / 64 * 64)
    for (int l = 0; l < t->L; l++) {
        layer_a *a = &t->la[l];
        TAKE(a->x_in, NC), TAKE(a->qkv, 3 * NC), TAKE(a->P, att), TAKE(a->ctx, NC), TAKE(a->r1, NC);
        TAKE(a->mean1, N), TAKE(a->rstd1, N), TAKE(a->h1, NC), TAKE(a->f_pre, N * I), TAKE(a->f_act, N * I);
        TAKE(a->r2, NC), TAKE(a->mean2, N), TAKE(a->rstd2, N);
        if (t->keep_att != 0.0f) TAKE(a->Pd, att);
        else a->Pd = a->P;
    }
    TAKE(t->x_out, NC), TAKE(t->tmp, NC), TAKE(t->dx, NC), TAKE(t->dh1, NC), TAKE(t->dctx, NC), TAKE(t->dI, N * I);
    TAKE(t->dqkv, 3 * NC), TAKE(t->dP, att), TAKE(t->part, (size_t)t->parts * 2 * wide), TAKE(t->keymask, N);
    t->e_sum = t->e_mean = t->e_rstd = NULL;
    if (t->emb) TAKE(t->e_sum, NC), TAKE(t->e_mean, N), TAKE(t->e_rstd, N);
#undef TAKE
    return at;
}

/* Carves the dropout masks (bytes; those of the dropouts that are on: the
 * embeddings' where the GPU has them, then every layer's) from base
 * (t->masks; NULL: only counts); returns the bytes. */
static size_t carve_masks(bert_cuda_train *t, uint8_t *base, size_t tt) {
    size_t NC = (size_t)t->N * t->C, att = (size_t)t->NH * tt, at = 0;
    t->m_emb = NULL;
    if (t->emb && t->keep_hidden != 0.0f) t->m_emb = base, at += NC;
    for (int l = 0; l < t->L; l++) {
        layer_a *a = &t->la[l];
        a->m_att = a->m_ao = a->m_fo = NULL;
        if (t->keep_att != 0.0f) a->m_att = base ? base + at : NULL, at += att;
        if (t->keep_hidden != 0.0f) {
            a->m_ao = base ? base + at : NULL, at += NC;
            a->m_fo = base ? base + at : NULL, at += NC;
        }
    }
    return at;
}

/* The bf16 copy of W (a weight in t->w), t->w16's element at W's place. */
static const __nv_bfloat16 *w16_of(const bert_cuda_train *t, const float *W) { return t->w16 + (W - t->w); }

/* n values of x rounded to bf16 into x16 (bert_f32_to_bf16). */
static void round_into(bert_cuda_train *t, __nv_bfloat16 *x16, const float *x, size_t n) {
    BERT_LAUNCH(to_bf16, blocks_for(n), 256, t->stream)(x16, x, n);
}

/* C = alpha op(A) op(B) + beta C on bf16 operands with f32 sums (cuBLAS's
 * column-major terms; C f32). */
static cublasStatus_t gemm16(bert_cuda_train *t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const __nv_bfloat16 *A, int lda, const __nv_bfloat16 *B, int ldb, float beta, float *C,
                             int ldc) {
    const float one = 1.0f;
    return cuda_blas()->gemm_ex(t->blas, ta, tb, m, n, k, &one, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, &beta, C,
                                CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

/* The layers' bf16 operands under bf16, else NULL (f32 products). */
static const scratch16 *layer16(const bert_cuda_train *t) { return t->bf16 ? &t->s16 : NULL; }

/* y[M x N] = x[M x K] W^T (W [N x K] row-major): cuBLAS's y^T = W x^T;
 * with h (bf16), x rounded into h->x and W's bf16 copy (train_dense_fwd). */
static cublasStatus_t dense_fwd(bert_cuda_train *t, const scratch16 *h, float *y, const float *x, const float *W, int M,
                                int N, int K) {
    const float one = 1.0f, zero = 0.0f;
    if (!h) return cuda_blas()->sgemm(t->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, W, K, x, K, &zero, y, N);
    round_into(t, h->x, x, (size_t)M * K);
    return gemm16(t, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, w16_of(t, W), K, h->x, K, 0.0f, y, N);
}

/* The dense layer's backward (bert_linear_backward): dW += dy^T x, db +=
 * dy's column sums, dx = (beta 0) or += (beta 1) dy W. With h (bf16:
 * bert_linear_backward_bf16) the products take dy and x rounded (into
 * h->dy, h->x) and W's bf16 copy; db sums the f32 dy. x is rounded
 * again rather than kept from the forward: the same bits, and no bf16
 * copy of every layer's inputs held between the passes. t->part holds
 * the column sums' parts: ceil(M / COL_ROWS) x 2N floats. */
static cublasStatus_t dense_bwd(bert_cuda_train *t, const scratch16 *h, float *dx, float beta, float *dW, float *db,
                                const float *dy, const float *x, const float *W, int M, int N, int K) {
    const float one = 1.0f;
    cublasStatus_t s;
    if (h) {
        round_into(t, h->dy, dy, (size_t)M * N);
        round_into(t, h->x, x, (size_t)M * K);
        s = gemm16(t, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, h->x, K, h->dy, N, 1.0f, dW, K);
    } else {
        s = cuda_blas()->sgemm(t->blas, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, &one, x, K, dy, N, &one, dW, K);
    }
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    unsigned cols = (unsigned)((N + 127) / 128), parts = (unsigned)((M + COL_ROWS - 1) / COL_ROWS);
    BERT_LAUNCH(colsum_part, dim3(cols, parts), 128, t->stream)(t->part, dy, (const float *)NULL, (const float *)NULL, (const float *)NULL, M, N);
    BERT_LAUNCH(colsum_finish, cols, 128, t->stream)(db, (float *)NULL, t->part, (int)parts, N);
    if (h) return gemm16(t, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, w16_of(t, W), K, h->dy, N, beta, dx, K);
    return cuda_blas()->sgemm(t->blas, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, &one, W, K, dy, N, &beta, dx, K);
}

/* bf16: the weights rounded into w16, after they change (an upload, an
 * AdamW step); nothing in f32. */
static void round_weights(bert_cuda_train *t) {
    if (t->bf16) round_into(t, t->w16, t->w, t->n16);
}

/* LayerNorm's backward from dout over its M rows (t->part: ceil(M /
 * COL_ROWS) x 2C floats): its weight and bias gradients (+=), din, and din
 * times the dropout mask into drop. */
static void layernorm_bwd(bert_cuda_train *t, int M, float *din, float *drop, const uint8_t *mask, float *dw, float *db,
                          const float *dout, const float *x, const float *w, const float *mean, const float *rstd) {
    int C = t->C;
    unsigned cols = (unsigned)((C + 127) / 128), parts = (unsigned)((M + COL_ROWS - 1) / COL_ROWS);
    BERT_LAUNCH(colsum_part, dim3(cols, parts), 128, t->stream)(t->part, dout, x, mean, rstd, M, C);
    BERT_LAUNCH(colsum_finish, cols, 128, t->stream)(db, dw, t->part, (int)parts, C);
    BERT_LAUNCH(layernorm_backward_rows, (unsigned)M, threads_for(C, 256), t->stream)(din, drop, mask, t->keep_hidden,
                                                                                     dout, x, w, mean, rstd, C);
}

/* Layer l's forward (train/backprop.c's layer_forward), into y. */
static cublasStatus_t layer_fwd(bert_cuda_train *t, int l, float *y) {
    layer_w w = weights_at(t, t->w, l);
    layer_a *a = &t->la[l];
    int N = t->N, C = t->C, I = t->I, hs = C / t->NH, P = t->P;
    const float one = 1.0f, zero = 0.0f, scale = 1.0f / sqrtf((float)hs);
    cublasStatus_t s = dense_fwd(t, layer16(t), a->qkv, a->x_in, w.qkv_w, N, 3 * C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act, blocks_for((size_t)N * 3 * C), 256, t->stream)(a->qkv, w.qkv_b, (size_t)N, 3 * C, -1);
    /* attention_train: per group of one length, scores into P, softmax (and dropout into Pd), Pd V */
    const float **L = t->ptrs + (size_t)l * LAYER_PTRS * P; /* Q K V P Pd ctx */
    for (int gi = 0; gi < t->n_groups && s == CUBLAS_STATUS_SUCCESS; gi++) {
        const bert_cuda_group *g = &t->groups[gi];
        int n = g->n, T = g->T, f = g->first;
        s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &scale, L + P + f, 3 * C, L + f,
                                       3 * C, &zero, (float *const *)(L + 3 * P + f), T, n);
        if (s != CUBLAS_STATUS_SUCCESS) break;
        BERT_LAUNCH(softmax_keep, dim3((unsigned)T, (unsigned)n), threads_for(T, 128), t->stream)(
            a->P, a->Pd != a->P ? a->Pd : NULL, a->m_att, t->keep_att, t->keymask, t->po + f, t->keyrow + f, T);
        s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &one, L + 2 * P + f, 3 * C,
                                       L + 4 * P + f, T, &zero, (float *const *)(L + 5 * P + f), C, n);
    }
    if (s == CUBLAS_STATUS_SUCCESS) s = dense_fwd(t, layer16(t), t->tmp, a->ctx, w.o_w, N, C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    unsigned lt = threads_for(C, 256);
    BERT_LAUNCH(add_layernorm_keep, (unsigned)N, lt, t->stream)(a->h1, a->r1, a->mean1, a->rstd1, t->tmp, w.o_b,
                                                               a->m_ao, t->keep_hidden, a->x_in, w.ln1_w, w.ln1_b, C, t->eps);
    if ((s = dense_fwd(t, layer16(t), a->f_pre, a->h1, w.i_w, N, I, C)) != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act_keep, blocks_for((size_t)N * I), 256, t->stream)(a->f_pre, a->f_act, w.i_b, (size_t)N, I, t->act);
    if ((s = dense_fwd(t, layer16(t), t->tmp, a->f_act, w.o2_w, N, C, I)) != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(add_layernorm_keep, (unsigned)N, lt, t->stream)(y, a->r2, a->mean2, a->rstd2, t->tmp, w.o2_b, a->m_fo,
                                                               t->keep_hidden, a->h1, w.ln2_w, w.ln2_b, C, t->eps);
    return CUBLAS_STATUS_SUCCESS;
}

/* Layer l's backward (train/backprop.c's layer_backward): d y in t->dx on
 * entry, d x_in there on return; the weights' gradients into t->g. */
static cublasStatus_t layer_bwd(bert_cuda_train *t, int l) {
    layer_w w = weights_at(t, t->w, l), g = weights_at(t, t->g, l);
    layer_a *a = &t->la[l];
    int N = t->N, C = t->C, I = t->I, hs = C / t->NH, P = t->P;
    const float one = 1.0f, zero = 0.0f, scale = 1.0f / sqrtf((float)hs);
    /* LayerNorm 2: y = LN(r2), r2 = dropout(out) + h1 */
    layernorm_bwd(t, t->N, t->dh1, t->tmp, a->m_fo, g.ln2_w, g.ln2_b, t->dx, a->r2, w.ln2_w, a->mean2, a->rstd2);
    cublasStatus_t s = dense_bwd(t, layer16(t), t->dI, 0.0f, g.o2_w, g.o2_b, t->tmp, a->f_act, w.o2_w, N, C, I);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(activation_backward, blocks_for((size_t)N * I), 256, t->stream)(t->dI, a->f_pre, (size_t)N * I, t->act);
    if ((s = dense_bwd(t, layer16(t), t->dh1, 1.0f, g.i_w, g.i_b, t->dI, a->h1, w.i_w, N, I, C)) != CUBLAS_STATUS_SUCCESS) return s;
    /* LayerNorm 1: h1 = LN(r1), r1 = dropout(attn_out) + x_in; the residual into dx */
    layernorm_bwd(t, t->N, t->dx, t->tmp, a->m_ao, g.ln1_w, g.ln1_b, t->dh1, a->r1, w.ln1_w, a->mean1, a->rstd1);
    if ((s = dense_bwd(t, layer16(t), t->dctx, 0.0f, g.o_w, g.o_b, t->tmp, a->ctx, w.o_w, N, C, C)) != CUBLAS_STATUS_SUCCESS)
        return s;
    /* nn_attention_backward, per group: dPd = dctx V^T, dV = Pd^T dctx, through
     * dropout and softmax, dQ = scale dS K, dK = scale dS^T Q */
    const float **L = t->ptrs + (size_t)l * LAYER_PTRS * P;                  /* Q K V P Pd ctx */
    const float **D = t->ptrs + (size_t)t->L * LAYER_PTRS * P;               /* dctx dP dQ dK dV */
    for (int gi = 0; gi < t->n_groups && s == CUBLAS_STATUS_SUCCESS; gi++) {
        const bert_cuda_group *gr = &t->groups[gi];
        int n = gr->n, T = gr->T, f = gr->first;
        s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &one, L + 2 * P + f, 3 * C, D + f, C,
                                       &zero, (float *const *)(D + P + f), T, n);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &one, D + f, C, L + 4 * P + f, T,
                                           &zero, (float *const *)(D + 4 * P + f), 3 * C, n);
        if (s != CUBLAS_STATUS_SUCCESS) break;
        BERT_LAUNCH(softmax_backward, dim3((unsigned)T, (unsigned)n), threads_for(T, 128), t->stream)(
            t->dP, a->P, a->Pd, t->po + f, T);
        s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &scale, L + P + f, 3 * C, D + P + f,
                                       T, &zero, (float *const *)(D + 2 * P + f), 3 * C, n);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cuda_blas()->sgemm_batched(t->blas, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &scale, L + f, 3 * C, D + P + f,
                                           T, &zero, (float *const *)(D + 3 * P + f), 3 * C, n);
    }
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    /* the projections: their input gradient adds to the residual's in dx */
    return dense_bwd(t, layer16(t), t->dx, 1.0f, g.qkv_w, g.qkv_b, t->dqkv, a->x_in, w.qkv_w, N, 3 * C, C);
}

/* The embeddings' part of the pass for batch b into t->idx_h: each row's
 * id, token type and position, then the backward's plan, which lists for
 * each table row with a gradient (word rows but the padding id's, then
 * positions, then token types: rows of the one table emb_at lays out) its
 * tokens in the batch's order. */
static bert_status plan_embeddings(bert_cuda_train *t, const bert_cuda_train_batch *b, bert_error *err) {
    size_t N = (size_t)t->N, R = (size_t)t->V + (size_t)t->PT + (size_t)t->TV;
    cap_t *k = &t->cap;
    if (!b->seqs) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: no sequences for the embeddings");
    if (!host_room(&t->idx_h, &k->idx_h, 12 * N + 1) || !host_room(&t->count_h, &k->count_h, R))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int *tok = t->idx_h, *count = t->count_h;
    memset(count, 0, sizeof(int) * R);
    if (b->offset[0] != 0) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: offsets start at %d", b->offset[0]);
    for (int s = 0; s < b->S; s++) {
        const bert_sequence *q = &b->seqs[s];
        if (q->n_tokens < 1 || q->n_tokens != b->offset[s + 1] - b->offset[s] || q->n_tokens > t->PT || !q->input_ids)
            return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: sequence %d: %d tokens where its offsets "
                             "give %d (at most %d)", s, q->n_tokens, b->offset[s + 1] - b->offset[s], t->PT);
        for (int i = 0; i < q->n_tokens; i++) {
            int id = q->input_ids[i], tt = q->token_type_ids ? q->token_type_ids[i] : 0;
            if (id < 0 || id >= t->V || tt < 0 || tt >= t->TV)
                return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: sequence %d: position %d: id %d or "
                                 "token type %d out of range", s, i, id, tt);
            int *r = tok + 3 * ((size_t)b->offset[s] + (size_t)i);
            r[0] = id, r[1] = tt, r[2] = i;
            count[t->V + i]++, count[t->V + t->PT + tt]++;
            if (id != t->pad) count[id]++;
        }
    }
    /* the rows with tokens, ascending; count[] becomes each one's cursor into the list */
    int *row = tok + 3 * N, G = 0, M = 0;
    for (size_t r = 0; r < R; r++)
        if (count[r]) row[G++] = (int)r;
    int *start = row + G, *list = start + G + 1;
    for (int g = 0; g < G; g++) start[g] = M, M += count[row[g]], count[row[g]] = start[g];
    start[G] = M;
    for (size_t n = 0; n < N; n++) {
        const int *r = tok + 3 * n;
        if (r[0] != t->pad) list[count[r[0]]++] = (int)n;
        list[count[t->V + r[2]]++] = (int)n;
        list[count[t->V + t->PT + r[1]]++] = (int)n;
    }
    t->G = G, t->n_idx = 3 * N + 2 * (size_t)G + 1 + (size_t)M;
    return BERT_OK;
}

/* rows x len mask bytes into m (NULL: that dropout is off, nothing drawn)
 * at rate p from the stream at state (increment inc), *at draws past its start; each row a part
 * of a whole row of before + len + after draws (a data-parallel rank's),
 * and *at moves past all of them. */
static void draw_masks(bert_cuda_train *t, uint64_t state, uint64_t inc, uint8_t *m, size_t rows, size_t len,
                       uint64_t before, uint64_t after, float p, uint64_t *at) {
    if (!m) return;
    uint64_t A, B, stride = before + len + after;
    bert_pcg32_step_map(inc, *at + before, &A, &B);
    size_t runs = rows * ((len + MASK_RUN - 1) / MASK_RUN);
    BERT_LAUNCH(draw_mask, blocks_for(runs), 256, t->stream)(m, rows, len, stride, A * state + B, inc, p);
    *at += rows * stride;
}

/* The pass's buffers, plan, operand addresses and masks for batch b. */
static bert_status prepare(bert_cuda_train *t, const bert_cuda_train_batch *b, bert_error *err) {
    int S = b->S, NH = t->NH, C = t->C, L = t->L;
    t->N = b->offset[S], t->P = S * NH, t->parts = (t->N + COL_ROWS - 1) / COL_ROWS;
    t->keep_att = b->keep_att, t->keep_hidden = b->keep_hidden;
    size_t tt = b->poff[S], P = (size_t)t->P, N = (size_t)t->N;
    size_t n_ptrs = t->n_ptrs = ((size_t)LAYER_PTRS * L + SHARED_PTRS) * P, floats = carve(t, NULL, tt);
    size_t bytes = carve_masks(t, NULL, tt);
    t->mask_bytes = bytes;
    cap_t *k = &t->cap;
    if (!host_room(&t->pairs, &k->pairs, P) || !host_room(&t->groups, &k->groups, P) || !host_room(&t->po_h, &k->po_h, P) ||
        !host_room(&t->keyrow_h, &k->keyrow_h, P) || !host_room(&t->ptrs_h, &k->ptrs_h, n_ptrs))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    size_t in16 = N * (size_t)(C > t->I ? C : t->I), out16 = N * (size_t)(3 * C > t->I ? 3 * C : t->I);
    in16 = (in16 + 127) / 128 * 128; /* s16.dy 256 bytes in */
    bert_status rc = t->emb ? plan_embeddings(t, b, err) : BERT_OK;
    if (rc != BERT_OK) return rc;
    if (t->head && !host_room(&t->off_h, &k->off_h, (size_t)S + 1)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (t->head) memcpy(t->off_h, b->offset, sizeof(int) * ((size_t)S + 1)); /* the heads' rows */
    t->S = S;
    cudaError_t e = dev_room(&t->buf, &k->buf, floats);
    if (e == cudaSuccess && t->emb) e = dev_room(&t->idx, &k->idx, t->n_idx);
    if (e == cudaSuccess && t->bf16) e = dev_room(&t->buf16, &k->buf16, in16 + out16);
    if (e == cudaSuccess) e = dev_room(&t->masks, &k->masks, bytes);
    if (e == cudaSuccess) e = dev_room(&t->ptrs, &k->ptrs, n_ptrs);
    if (e == cudaSuccess) e = dev_room(&t->po, &k->po, P);
    if (e == cudaSuccess) e = dev_room(&t->keyrow, &k->keyrow, P);
    if (e != cudaSuccess) return cuda_fail(err, e, "allocating the GPU's training memory");
    carve(t, t->buf, tt);
    carve_masks(t, t->masks, tt);
    t->s16.x = t->buf16, t->s16.dy = t->buf16 ? t->buf16 + in16 : NULL;
    t->n_groups = bert_cuda_plan(b->offset, S, NH, (size_t)-1, t->pairs, t->groups);
    if (t->n_groups == -2) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (t->n_groups < 1) return bert_fail(err, BERT_ERR_INPUT, "CUDA training: a sequence is empty");
    /* each pair's operands, in the plan's order */
    size_t hs = (size_t)(C / NH), ld = 3 * (size_t)C;
    for (size_t i = 0; i < P; i++) {
        int s = t->pairs[i].seq, h = t->pairs[i].head;
        size_t row = (size_t)b->offset[s], col = (size_t)h * hs, po = (size_t)h * tt + b->poff[s];
        t->po_h[i] = po, t->keyrow_h[i] = b->offset[s];
        for (int l = 0; l < L; l++) {
            const layer_a *a = &t->la[l];
            const float **p = t->ptrs_h + (size_t)l * LAYER_PTRS * P + i;
            const float *q = a->qkv + row * ld + col;
            p[0] = q, p[P] = q + C, p[2 * P] = q + 2 * (size_t)C, p[3 * P] = a->P + po, p[4 * P] = a->Pd + po;
            p[5 * P] = a->ctx + row * C + col;
        }
        const float **d = t->ptrs_h + (size_t)L * LAYER_PTRS * P + i;
        const float *dq = t->dqkv + row * ld + col;
        d[0] = t->dctx + row * C + col, d[P] = t->dP + po, d[2 * P] = dq, d[3 * P] = dq + C, d[4 * P] = dq + 2 * (size_t)C;
    }
    /* the masks, drawn here from the caller's stream in the CPU pass's order:
     * the embeddings' (where the GPU has them), then layer by layer, the
     * attention probabilities', the attention output's, the FFN output's
     * (carve_masks lays them out in that order) */
    uint64_t at = 0; /* draws before the next mask */
    uint64_t tb = b->tok_before * C, ta = b->tok_after * C;
    uint64_t st = b->rng_state, inc = b->rng_inc;
    draw_masks(t, st, inc, t->m_emb, 1, N * C, tb, ta, b->p_hidden, &at);
    for (int l = 0; l < L; l++) {
        const layer_a *a = &t->la[l];
        draw_masks(t, st, inc, a->m_att, (size_t)NH, tt, b->att_before, b->att_after, b->p_att, &at);
        draw_masks(t, st, inc, a->m_ao, 1, N * C, tb, ta, b->p_hidden, &at);
        draw_masks(t, st, inc, a->m_fo, 1, N * C, tb, ta, b->p_hidden, &at);
    }
    return BERT_OK;
}

extern "C" bert_status bert_cuda_train_forward(bert_cuda_train *t, const bert_cuda_train_batch *b, const float *x0,
                                               float *x_out, bert_error *err) {
    on_gpu(t);
    t->pending = t->heads_ran = t->logits_fwd = 0;
    if (!b || !b->offset || !b->poff || !b->keymask || b->S < 1 || (!x0 && !t->emb) || (!x_out && !t->head))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: missing arguments");
    if ((b->keep_att != 0.0f) != (b->p_att > 0.0f) || (b->keep_hidden != 0.0f) != (b->p_hidden > 0.0f) ||
        !(b->p_att < 1.0f) || !(b->p_hidden < 1.0f))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_forward: dropout rates %g, %g and scales %g, %g disagree",
                         (double)b->p_att, (double)b->p_hidden, (double)b->keep_att, (double)b->keep_hidden);
    (void)cudaGetLastError(); /* an earlier call's error (a failed allocation) is not this one's */
    bert_status rc = prepare(t, b, err);
    if (rc != BERT_OK) return rc;
    size_t N = (size_t)t->N, NC = N * t->C, P = (size_t)t->P;
    cudaError_t e = t->emb ? cudaMemcpyAsync(t->idx, t->idx_h, sizeof(int) * t->n_idx, cudaMemcpyHostToDevice, t->stream)
                           : cudaMemcpyAsync(t->la[0].x_in, x0, sizeof(float) * NC, cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(t->keymask, b->keymask, sizeof(float) * N, cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync((void *)t->ptrs, t->ptrs_h, sizeof(float *) * t->n_ptrs, cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(t->po, t->po_h, sizeof(size_t) * P, cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(t->keyrow, t->keyrow_h, sizeof(int) * P, cudaMemcpyHostToDevice, t->stream);
    if (e != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "copying the batch to the GPU");
    /* this micro-batch's gradients start at 0: the heads' (bert_cuda_train_heads) add to them before the backward */
    if ((e = cudaMemsetAsync(t->g, 0, sizeof(float) * t->n, t->stream)) != cudaSuccess)
        return cuda_drain(t->stream), cuda_fail(err, e, "clearing the gradients");
    if (t->emb) {
        emb_w w = emb_at(t, t->w);
        BERT_LAUNCH(embed_keep, (unsigned)N, threads_for(t->C, 256), t->stream)(
            t->la[0].x_in, t->e_sum, t->e_mean, t->e_rstd, t->idx, w.word, w.type, w.pos, w.ln_w, w.ln_b, t->m_emb,
            t->keep_hidden, t->C, t->eps);
    }
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    for (int l = 0; l < t->L && s == CUBLAS_STATUS_SUCCESS; l++)
        s = layer_fwd(t, l, l + 1 < t->L ? t->la[l + 1].x_in : t->x_out);
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(t->stream, s, err);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "launching a kernel");
    e = x_out ? cudaMemcpyAsync(x_out, t->x_out, sizeof(float) * NC, cudaMemcpyDeviceToHost, t->stream) : cudaSuccess;
    rc = cuda_settle(t->stream, e, "running the layers", err);
    t->pending = rc == BERT_OK;
    return rc;
}

/* The heads' buffers for M labelled rows of S sequences: hbuf's floats
 * carved into *f (NULL: only counts), returns the floats used. */
typedef struct {
    float *hin, *pre, *act, *ln, *mean, *rstd, *z, *dln, *cls, *pooled, *z2, *dpooled;
    float *pd;       /* heads 3 and 5: the pooled output through its dropout mask */
    float *tin, *tz; /* heads 4 and 5: the hidden states through their dropout mask [N x C], the logits [N x tags] */
    float *part; /* the heads' column sums' parts: ceil(max(M, S, N) / COL_ROWS) x 2 max(V (MLM), C, classes, tags) */
} head_bufs;

static size_t carve_heads(const bert_cuda_train *t, float *base, size_t M, size_t S, head_bufs *f) {
    size_t C = (size_t)t->C, at = 0, N = t->tags ? (size_t)t->N : 0, T = (size_t)t->tags;
#define TAKE(ptr, n) (f->ptr = base ? base + at : NULL, at += ((n) + 63) / 64 * 64)
    TAKE(hin, M * C), TAKE(pre, M * C), TAKE(act, M * C), TAKE(ln, M * C), TAKE(mean, M), TAKE(rstd, M);
    TAKE(z, M * (size_t)t->V), TAKE(dln, M * C);
    size_t SP = t->head == 2 || has_pooler(t) ? S : 0; /* the pooler's rows */
    TAKE(cls, SP * C), TAKE(pooled, SP * C), TAKE(z2, SP * (size_t)t->classes), TAKE(dpooled, SP * C);
    TAKE(pd, has_pooler(t) ? S * C : 0), TAKE(tin, N * C), TAKE(tz, N * T);
    size_t rows = M > S ? M : S, V = has_mlm(t) ? (size_t)t->V : 0, K = (size_t)t->classes;
    rows = N > rows ? N : rows;
    size_t wide = V > C ? V : C;
    wide = K > wide ? K : wide;
    wide = T > wide ? T : wide;
    TAKE(part, (rows + COL_ROWS - 1) / COL_ROWS * 2 * wide);
#undef TAKE
    return at;
}

/* BertLMPredictionHead on the M labelled rows (train/heads.c's head_mlm):
 * LayerNorm(act(transform(h))) in f32, the decoder (the word table, its
 * bias) in f32 or with bf16 operands (train_dense_fwd / _bwd), the rows'
 * cross-entropy, then back: the decoder's gradient into the word table's,
 * through the LayerNorm, the activation and the transform, into d x_out's
 * rows. rows, targets: device copies. */
static cublasStatus_t mlm_head(bert_cuda_train *t, const head_bufs *f, int M, const int *rows, const int *targets,
                               float g, double *loss) {
    head_w w = head_at(t, t->w), gw = head_at(t, t->g);
    emb_w ew = emb_at(t, t->w), eg = emb_at(t, t->g);
    int C = t->C, V = t->V;
    size_t MC = (size_t)M * C;
    const scratch16 *h16 = t->bf16 ? &t->h16 : NULL;
    unsigned lt = threads_for(C, 256);
    BERT_LAUNCH(gather_rows, (unsigned)M, lt, t->stream)(f->hin, t->x_out, rows, C);
    cublasStatus_t s = dense_fwd(t, NULL, f->pre, f->hin, w.t_w, M, C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act_keep, blocks_for(MC), 256, t->stream)(f->pre, f->act, w.t_b, (size_t)M, C, t->act);
    BERT_LAUNCH(layernorm_keep, (unsigned)M, lt, t->stream)(f->ln, f->act, f->mean, f->rstd, w.ln_w, w.ln_b, C, t->eps);
    if ((s = dense_fwd(t, h16, f->z, f->ln, ew.word, M, V, C)) != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act, blocks_for((size_t)M * V), 256, t->stream)(f->z, w.bias, (size_t)M, V, -1);
    BERT_LAUNCH(softmax_xent_rows, (unsigned)M, threads_for(V, 1024), t->stream)(f->z, loss, targets, V, g);
    if ((s = dense_bwd(t, h16, f->dln, 0.0f, eg.word, gw.bias, f->z, f->ln, ew.word, M, V, C)) != CUBLAS_STATUS_SUCCESS)
        return s;
    /* through the LayerNorm (its input gradient into act's place) and the activation */
    layernorm_bwd(t, M, f->act, f->act, NULL, gw.ln_w, gw.ln_b, f->dln, f->act, w.ln_w, f->mean, f->rstd);
    BERT_LAUNCH(activation_backward, blocks_for(MC), 256, t->stream)(f->act, f->pre, MC, t->act);
    if ((s = dense_bwd(t, NULL, f->dln, 0.0f, gw.t_w, gw.t_b, f->act, f->hin, w.t_w, M, C, C)) != CUBLAS_STATUS_SUCCESS)
        return s;
    BERT_LAUNCH(scatter_add_rows, (unsigned)M, lt, t->stream)(t->dx, f->dln, rows, C);
    return CUBLAS_STATUS_SUCCESS;
}

/* BertPooler and seq_relationship on the S first tokens (train/heads.c's
 * head_nsp: pooler_fwd without dropout, pooler_bwd), in f32, the NSP
 * cross-entropy between; d x_out's first rows get the pooler's input
 * gradient. first, labels: device copies. */
static cublasStatus_t nsp_head(bert_cuda_train *t, const head_bufs *f, int S, const int *first, const int *labels,
                               float g, double *loss) {
    head_w w = head_at(t, t->w), gw = head_at(t, t->g);
    int C = t->C;
    size_t SC = (size_t)S * C;
    unsigned lt = threads_for(C, 256);
    BERT_LAUNCH(gather_rows, (unsigned)S, lt, t->stream)(f->cls, t->x_out, first, C);
    cublasStatus_t s = dense_fwd(t, NULL, f->pooled, f->cls, w.p_w, S, C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_tanh, blocks_for(SC), 256, t->stream)(f->pooled, w.p_b, (size_t)S, C);
    if ((s = dense_fwd(t, NULL, f->z2, f->pooled, w.n_w, S, 2, C)) != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act, blocks_for((size_t)S * 2), 256, t->stream)(f->z2, w.n_b, (size_t)S, 2, -1);
    BERT_LAUNCH(softmax_xent_rows, (unsigned)S, 32, t->stream)(f->z2, loss, labels, 2, g);
    if ((s = dense_bwd(t, NULL, f->dpooled, 0.0f, gw.n_w, gw.n_b, f->z2, f->pooled, w.n_w, S, 2, C)) != CUBLAS_STATUS_SUCCESS)
        return s;
    BERT_LAUNCH(tanh_backward, blocks_for(SC), 256, t->stream)(f->dpooled, f->pooled, SC);
    /* the pooler's input gradient into cls's place (the stream's order: dW is made from cls before) */
    if ((s = dense_bwd(t, NULL, f->cls, 0.0f, gw.p_w, gw.p_b, f->dpooled, f->cls, w.p_w, S, C, C)) != CUBLAS_STATUS_SUCCESS)
        return s;
    BERT_LAUNCH(scatter_add_rows, (unsigned)S, lt, t->stream)(t->dx, f->cls, first, C);
    return CUBLAS_STATUS_SUCCESS;
}

/* The heads' labels into t->hidx_h ([M rows][M targets][S first rows][S
 * NSP labels]), checked. */
static bert_status plan_heads(bert_cuda_train *t, const bert_cuda_train_labels *lb, bert_error *err) {
    int M = lb->M, S = t->S, nsp = t->head == 2;
    if (M < 0 || M > t->N || (M && (!lb->rows || !lb->targets)) || (nsp && !lb->nsp))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_heads: %d labelled rows of %d tokens, or labels missing", M,
                         t->N);
    if (!host_room(&t->hidx_h, &t->cap.hidx_h, 2 * (size_t)M + 2 * (size_t)S) ||
        !host_room(&t->hloss_h, &t->cap.hloss_h, (size_t)M + (size_t)S))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int *x = t->hidx_h;
    for (int i = 0; i < M; i++) {
        if (lb->rows[i] < (i ? lb->rows[i - 1] + 1 : 0) || lb->rows[i] >= t->N || lb->targets[i] < 0 || lb->targets[i] >= t->V)
            return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_heads: labelled row %d: row %d (ascending, below %d) or "
                             "label %d (below %d)", i, lb->rows[i], t->N, lb->targets[i], t->V);
        x[i] = lb->rows[i], x[M + i] = lb->targets[i];
    }
    for (int s = 0; s < S; s++) {
        int y = nsp ? lb->nsp[s] : -1;
        if (y > 1) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_heads: sequence %d: NSP label %d", s, y);
        x[2 * M + s] = t->off_h[s], x[2 * M + S + s] = y < 0 ? -1 : y;
    }
    return BERT_OK;
}

extern "C" bert_status bert_cuda_train_heads(bert_cuda_train *t, const bert_cuda_train_labels *lb, double *mlm,
                                             double *nsp, bert_error *err) {
    on_gpu(t);
    if (mlm) *mlm = 0.0;
    if (nsp) *nsp = 0.0;
    int pretraining = has_mlm(t);
    if (!t->pending || !pretraining || t->heads_ran)
        return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_heads: %s", !pretraining ? "this context has no pre-training heads"
                         : "no forward awaiting its heads");
    t->pending = 0; /* until the heads are through: a failure leaves no backward */
    if (!lb) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_heads: no labels");
    bert_status rc = plan_heads(t, lb, err);
    if (rc != BERT_OK) return rc;
    size_t M = (size_t)lb->M, S = (size_t)t->S, C = (size_t)t->C, V = (size_t)t->V;
    head_bufs f;
    size_t floats = carve_heads(t, NULL, M, S, &f), mc = (M * C + 127) / 128 * 128;
    cap_t *k = &t->cap;
    (void)cudaGetLastError();
    cudaError_t e = dev_room(&t->hbuf, &k->hbuf, floats);
    if (e == cudaSuccess) e = dev_room(&t->hidx, &k->hidx, 2 * M + 2 * S);
    if (e == cudaSuccess) e = dev_room(&t->hloss, &k->hloss, M + S);
    if (e == cudaSuccess && t->bf16) e = dev_room(&t->hbuf16, &k->hbuf16, mc + M * V);
    if (e != cudaSuccess) return cuda_fail(err, e, "allocating the GPU's memory for the heads");
    carve_heads(t, t->hbuf, M, S, &f);
    t->h16.x = t->hbuf16, t->h16.dy = t->hbuf16 ? t->hbuf16 + mc : NULL;
    const int *x = t->hidx;
    e = cudaMemcpyAsync(t->hidx, t->hidx_h, sizeof(int) * (2 * M + 2 * S), cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess) e = cudaMemsetAsync(t->dx, 0, sizeof(float) * (size_t)t->N * C, t->stream);
    if (e != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "copying the labels to the GPU");
    float *layers_part = t->part; /* the column sums take the heads' parts until they are through */
    t->part = f.part;
    cublasStatus_t s = M ? mlm_head(t, &f, (int)M, x, x + M, lb->g_mlm, t->hloss) : CUBLAS_STATUS_SUCCESS;
    if (s == CUBLAS_STATUS_SUCCESS && t->head == 2) s = nsp_head(t, &f, (int)S, x + 2 * M, x + 2 * M + S, lb->g_nsp, t->hloss + M);
    t->part = layers_part;
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(t->stream, s, err);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "launching a kernel");
    size_t nl = M + (t->head == 2 ? S : 0);
    e = nl ? cudaMemcpyAsync(t->hloss_h, t->hloss, sizeof(double) * nl, cudaMemcpyDeviceToHost, t->stream) : cudaSuccess;
    if ((rc = cuda_settle(t->stream, e, "running the heads", err)) != BERT_OK) return rc;
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < M; i++) a += t->hloss_h[i];
    for (size_t i = M; i < nl; i++) b += t->hloss_h[i];
    if (mlm) *mlm = a;
    if (nsp) *nsp = b;
    t->pending = t->heads_ran = 1;
    return BERT_OK;
}

/* The fine-tuning head's dropout masks in t->hmask where `keep` (its
 * scale; 0: no dropout): the tokens' [N x C] (*tok), then the pooled
 * output's [S x C] (*pool); NULL where the head has none. */
static void head_masks(const bert_cuda_train *t, float keep, uint8_t **tok, uint8_t **pool) {
    size_t NC = (size_t)t->N * t->C;
    *tok = keep != 0.0f && has_tokens(t) ? t->hmask : NULL;
    *pool = keep != 0.0f && has_pooler(t) ? t->hmask + (has_tokens(t) ? NC : 0) : NULL;
}

/* The fine-tuning head's buffers (hbuf carved into *f), first rows (hidx:
 * [S first rows], with the pooler) and, when masked, its masks' bytes
 * (hmask), for the last forward's batch. */
static bert_status logits_room(bert_cuda_train *t, head_bufs *f, int masked, bert_error *err) {
    size_t S = (size_t)t->S, C = (size_t)t->C, pool = has_pooler(t), tok = has_tokens(t);
    if (pool && !host_room(&t->hidx_h, &t->cap.hidx_h, S)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (size_t s = 0; pool && s < S; s++) t->hidx_h[s] = t->off_h[s];
    size_t floats = carve_heads(t, NULL, 0, S, f);
    cudaError_t e = dev_room(&t->hbuf, &t->cap.hbuf, floats);
    if (e == cudaSuccess && pool) e = dev_room(&t->hidx, &t->cap.hidx, S);
    if (e == cudaSuccess && masked) e = dev_room(&t->hmask, &t->cap.hmask, (tok * (size_t)t->N + pool * S) * C);
    if (e != cudaSuccess) return cuda_fail(err, e, "allocating the GPU's memory for the head");
    carve_heads(t, t->hbuf, 0, S, f);
    return BERT_OK;
}

extern "C" bert_status bert_cuda_train_logits(bert_cuda_train *t, const bert_cuda_train_drop *drop, float *logits,
                                              bert_error *err) {
    on_gpu(t);
    if (!t->pending || t->head < 3 || t->heads_ran || t->logits_fwd)
        return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_logits: %s", t->head < 3 ? "this context has no "
                         "fine-tuning head" : "no forward awaiting its head");
    t->pending = 0; /* until the head is through: a failure leaves no backward */
    double p = drop ? drop->p : 0.0;
    if (!logits || !(p >= 0.0 && p < 1.0))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_logits: %s", logits ? "a dropout rate outside [0, 1)" : "no logits");
    head_bufs f;
    (void)cudaGetLastError();
    bert_status rc = logits_room(t, &f, p > 0.0, err);
    if (rc != BERT_OK) return rc;
    int S = t->S, N = t->N, C = t->C, K = t->classes, T = t->tags;
    size_t SC = (size_t)S * C, NC = (size_t)N * C, SK = has_pooler(t) ? (size_t)S * K : 0;
    float keep = p > 0.0 ? (float)(1.0 / (1.0 - p)) : 0.0f; /* train_draw_mask's */
    uint8_t *tmask, *pmask;
    head_masks(t, keep, &tmask, &pmask);
    cudaError_t e = has_pooler(t) ? cudaMemcpyAsync(t->hidx, t->hidx_h, sizeof(int) * (size_t)S, cudaMemcpyHostToDevice,
                                                    t->stream) : cudaSuccess;
    if (e != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "copying the first rows to the GPU");
    uint64_t at = 0; /* the tokens' mask, then the pooled output's: train/heads.c's order */
    if (tmask) draw_masks(t, drop->rng_state, drop->rng_inc, tmask, 1, NC, drop->tok_before * C, drop->tok_after * C, (float)p, &at);
    if (pmask) draw_masks(t, drop->rng_state, drop->rng_inc, pmask, 1, SC, drop->seq_before * C, drop->seq_after * C, (float)p, &at);
    head_w w = head_at(t, t->w);
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    if (has_tokens(t)) { /* head_token: classifier(dropout(h)), in f32 */
        if (tmask) BERT_LAUNCH(dropout_to, blocks_for(NC), 256, t->stream)(f.tin, t->x_out, tmask, keep, NC);
        if ((s = dense_fwd(t, NULL, f.tz, tmask ? f.tin : t->x_out, w.k_w, N, T, C)) == CUBLAS_STATUS_SUCCESS)
            BERT_LAUNCH(bias_act, blocks_for((size_t)N * T), 256, t->stream)(f.tz, w.k_b, (size_t)N, T, -1);
    }
    if (has_pooler(t) && s == CUBLAS_STATUS_SUCCESS) { /* pooler_fwd, then the classifier: in f32 */
        BERT_LAUNCH(gather_rows, (unsigned)S, threads_for(C, 256), t->stream)(f.cls, t->x_out, t->hidx, C);
        if ((s = dense_fwd(t, NULL, f.pooled, f.cls, w.p_w, S, C, C)) == CUBLAS_STATUS_SUCCESS) {
            BERT_LAUNCH(bias_tanh, blocks_for(SC), 256, t->stream)(f.pooled, w.p_b, (size_t)S, C);
            if (pmask) BERT_LAUNCH(dropout_to, blocks_for(SC), 256, t->stream)(f.pd, f.pooled, pmask, keep, SC);
            s = dense_fwd(t, NULL, f.z2, pmask ? f.pd : f.pooled, w.n_w, S, K, C);
        }
        if (s == CUBLAS_STATUS_SUCCESS) BERT_LAUNCH(bias_act, blocks_for(SK), 256, t->stream)(f.z2, w.n_b, (size_t)S, K, -1);
    }
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(t->stream, s, err);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "launching a kernel");
    if (SK) e = cudaMemcpyAsync(logits, f.z2, sizeof(float) * SK, cudaMemcpyDeviceToHost, t->stream);
    if (e == cudaSuccess && has_tokens(t))
        e = cudaMemcpyAsync(logits + SK, f.tz, sizeof(float) * (size_t)N * T, cudaMemcpyDeviceToHost, t->stream);
    if ((rc = cuda_settle(t->stream, e, "running the head", err)) != BERT_OK) return rc;
    t->keep_head = keep;
    t->pending = t->logits_fwd = 1;
    return BERT_OK;
}

extern "C" bert_status bert_cuda_train_logits_grad(bert_cuda_train *t, const float *dlogits, bert_error *err) {
    on_gpu(t);
    if (!t->pending || !t->logits_fwd)
        return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_logits_grad: no bert_cuda_train_logits awaiting its backward");
    t->pending = t->logits_fwd = 0; /* until the head is through */
    if (!dlogits) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_logits_grad: no d loss / d logits");
    head_bufs f;
    carve_heads(t, t->hbuf, 0, (size_t)t->S, &f); /* bert_cuda_train_logits made the room */
    int S = t->S, N = t->N, C = t->C, K = t->classes, T = t->tags;
    size_t SC = (size_t)S * C, NC = (size_t)N * C, SK = has_pooler(t) ? (size_t)S * K : 0;
    float keep = t->keep_head;
    uint8_t *tmask, *pmask;
    head_masks(t, keep, &tmask, &pmask);
    (void)cudaGetLastError();
    cudaError_t e = SK ? cudaMemcpyAsync(f.z2, dlogits, sizeof(float) * SK, cudaMemcpyHostToDevice, t->stream) : cudaSuccess;
    if (e == cudaSuccess && has_tokens(t))
        e = cudaMemcpyAsync(f.tz, dlogits + SK, sizeof(float) * (size_t)N * T, cudaMemcpyHostToDevice, t->stream);
    /* a token head writes every row of d x_out; the pooler alone adds to the first rows */
    if (e == cudaSuccess && !has_tokens(t)) e = cudaMemsetAsync(t->dx, 0, sizeof(float) * NC, t->stream);
    if (e != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "copying the logits' gradient to the GPU");
    head_w w = head_at(t, t->w), gw = head_at(t, t->g);
    float *layers_part = t->part; /* the column sums take the head's parts until it is through */
    t->part = f.part;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    if (has_tokens(t)) { /* head_token's backward: into d x_out, then through the mask */
        s = dense_bwd(t, NULL, t->dx, 0.0f, gw.k_w, gw.k_b, f.tz, tmask ? f.tin : t->x_out, w.k_w, N, T, C);
        if (s == CUBLAS_STATUS_SUCCESS && tmask) BERT_LAUNCH(dropout_grad, blocks_for(NC), 256, t->stream)(t->dx, tmask, keep, NC);
    }
    if (has_pooler(t) && s == CUBLAS_STATUS_SUCCESS) { /* the classifier's backward, then pooler_bwd */
        s = dense_bwd(t, NULL, f.dpooled, 0.0f, gw.n_w, gw.n_b, f.z2, pmask ? f.pd : f.pooled, w.n_w, S, K, C);
        if (s == CUBLAS_STATUS_SUCCESS) {
            BERT_LAUNCH(mask_tanh_backward, blocks_for(SC), 256, t->stream)(f.dpooled, pmask, keep, f.pooled, SC);
            /* the pooler's input gradient into cls's place (dW is made from cls before, in the stream's order) */
            s = dense_bwd(t, NULL, f.cls, 0.0f, gw.p_w, gw.p_b, f.dpooled, f.cls, w.p_w, S, C, C);
        }
        if (s == CUBLAS_STATUS_SUCCESS)
            BERT_LAUNCH(scatter_add_rows, (unsigned)S, threads_for(C, 256), t->stream)(t->dx, f.cls, t->hidx, C);
    }
    t->part = layers_part;
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(t->stream, s, err);
    bert_status rc = cuda_settle(t->stream, cudaGetLastError(), "running the head's backward", err);
    if (rc != BERT_OK) return rc;
    t->pending = t->heads_ran = 1;
    return BERT_OK;
}

/* Entry e's tensors (host_parts) between the host stage (the GPU's
 * layout) and where host says they are: into the stage (to_stage), else
 * out of it, added (+=) when add, copied otherwise. */
static void stage_entry(bert_cuda_train *t, int e, const bert_cuda_host *host, int to_stage, int add) {
    host_part parts[HOST_PARTS];
    int np = host_parts(t, host, e, parts);
    float *h = t->stage + entry_at(t, e);
    for (int k = 0; k < np; k++) {
        if (to_stage)
            memcpy(h, parts[k].p, sizeof(float) * parts[k].n);
        else if (add)
            for (size_t i = 0; i < parts[k].n; i++) parts[k].p[i] += h[i];
        else
            memcpy(parts[k].p, h, sizeof(float) * parts[k].n);
        h += parts[k].n;
    }
}

extern "C" bert_status bert_cuda_train_backward(bert_cuda_train *t, float *dx, const bert_cuda_host *grads,
                                                void (*layer_done)(void *user, int l), void *user, bert_error *err) {
    on_gpu(t);
    if (!t->pending) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_backward: no forward to go back through");
    if (t->logits_fwd) /* the head's forward ran: its gradient is d loss / d output */
        return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_backward: the head awaits bert_cuda_train_logits_grad");
    if ((dx == NULL) != (t->heads_ran != 0)) /* one d loss / d output: the heads' or the caller's */
        return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_backward: %s", dx ? "the heads ran: their gradient is the "
                         "output's (dx NULL)" : "no d loss / d output (the heads did not run)");
    t->pending = 0;
    size_t NC = (size_t)t->N * t->C;
    (void)cudaGetLastError();
    cudaError_t e = dx ? cudaMemcpyAsync(t->dx, dx, sizeof(float) * NC, cudaMemcpyHostToDevice, t->stream) : cudaSuccess;
    if (e != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "copying the gradient to the GPU");
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    for (int l = t->L - 1; l >= 0 && s == CUBLAS_STATUS_SUCCESS; l--) s = layer_bwd(t, l);
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(t->stream, s, err);
    if (t->emb) { /* train/backprop.c's embeddings' backward: dropout, LayerNorm, the tables */
        emb_w w = emb_at(t, t->w), g = emb_at(t, t->g);
        if (t->m_emb) BERT_LAUNCH(dropout_grad, blocks_for(NC), 256, t->stream)(t->dx, t->m_emb, t->keep_hidden, NC);
        layernorm_bwd(t, t->N, t->tmp, t->tmp, NULL, g.ln_w, g.ln_b, t->dx, t->e_sum, w.ln_w, t->e_mean, t->e_rstd);
        const int *row = t->idx + 3 * (size_t)t->N;
        BERT_LAUNCH(embed_scatter, (unsigned)t->G, threads_for(t->C, 256), t->stream)(g.word, t->tmp, row, row + t->G,
                                                                                     row + 2 * t->G + 1, t->C);
    }
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_drain(t->stream), cuda_fail(err, e, "launching a kernel");
    /* everything back before anything is added: a failed copy adds nothing */
    if (!t->emb && dx) e = cudaMemcpyAsync(dx, t->dx, sizeof(float) * NC, cudaMemcpyDeviceToHost, t->stream);
    if (e == cudaSuccess && grads) e = cudaMemcpyAsync(t->stage, t->g, sizeof(float) * t->n, cudaMemcpyDeviceToHost, t->stream);
    bert_status rc = cuda_settle(t->stream, e, "copying the gradients from the GPU", err);
    if (rc != BERT_OK) return rc;
    if (!grads) { /* into the GPU's sums */
        BERT_LAUNCH(add_into, blocks_for(t->n), 256, t->stream)(t->acc, (const float *)t->g, t->n);
        if ((rc = cuda_settle(t->stream, cudaGetLastError(), "adding up the gradients", err)) != BERT_OK) return rc;
    }
    /* each layer's gradients added where the trainer keeps them, the last layer first, then the embeddings' */
    for (int l = t->L - 1; l >= 0; l--) {
        if (grads) stage_entry(t, l, grads, 0, 1);
        if (layer_done) layer_done(user, l);
    }
    for (int en = t->L; grads && en < entries(t); en++) stage_entry(t, en, grads, 0, 1); /* the embeddings', the heads' */
    return BERT_OK;
}

/* The block `which` names, NULL for none. */
static float *block_of(const bert_cuda_train *t, bert_cuda_block which) {
    switch (which) {
    case BERT_CUDA_WEIGHTS: return t->w;
    case BERT_CUDA_GRADS: return t->acc;
    case BERT_CUDA_EXP_AVG: return t->m;
    case BERT_CUDA_EXP_AVG_SQ: return t->v;
    }
    return NULL;
}

extern "C" bert_status bert_cuda_train_upload(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *src,
                                              bert_error *err) {
    on_gpu(t);
    float *d = block_of(t, which);
    if (!d || !tables_ok(t, src)) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_upload: no such block, or no tables");
    for (int e = 0; e < entries(t); e++) stage_entry(t, e, src, 1, 0);
    (void)cudaGetLastError();
    cudaError_t e = cudaMemcpyAsync(d, t->stage, sizeof(float) * t->n, cudaMemcpyHostToDevice, t->stream);
    if (e == cudaSuccess && which == BERT_CUDA_WEIGHTS) {
        round_weights(t);
        e = cudaGetLastError();
    }
    return cuda_settle(t->stream, e, "copying the weights' tensors to the GPU", err);
}

extern "C" bert_status bert_cuda_train_pin(bert_cuda_train *t, void *p, size_t bytes, bert_error *err) {
    on_gpu(t);
    if (t->pinned) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_pin: memory is pinned already");
    if (!p || !bytes) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_pin: no memory");
    cudaError_t e = cudaHostRegister(p, bytes, cudaHostRegisterDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "CUDA: cannot page-lock %.1f MB of host memory: %s", 1e-6 * bytes,
                         cudaGetErrorString(e));
    }
    t->pinned = (char *)p, t->pinned_bytes = bytes;
    return BERT_OK;
}

/* 1 when every tensor of dst lies in the memory bert_cuda_train_pin locked. */
static int in_pinned(const bert_cuda_train *t, const bert_cuda_host *dst) {
    uintptr_t lo = (uintptr_t)t->pinned, hi = lo + t->pinned_bytes; /* addresses: dst may lie elsewhere */
    for (int en = 0; t->pinned && en < entries(t); en++) {
        host_part parts[HOST_PARTS];
        int np = host_parts(t, dst, en, parts);
        for (int k = 0; k < np; k++)
            if ((uintptr_t)parts[k].p < lo || (uintptr_t)(parts[k].p + parts[k].n) > hi) return 0;
    }
    return t->pinned != NULL;
}

/* Block d straight into the tensors of dst (page-locked: in_pinned), one
 * copy a tensor, in the block's order. */
static cudaError_t download_direct(bert_cuda_train *t, const float *d, const bert_cuda_host *dst) {
    cudaError_t e = cudaSuccess;
    for (int en = 0; en < entries(t) && e == cudaSuccess; en++) {
        host_part parts[HOST_PARTS];
        int np = host_parts(t, dst, en, parts);
        for (int k = 0; k < np && e == cudaSuccess; k++) {
            e = cudaMemcpyAsync(parts[k].p, d, sizeof(float) * parts[k].n, cudaMemcpyDeviceToHost, t->stream);
            d += parts[k].n;
        }
    }
    return e;
}

extern "C" bert_status bert_cuda_train_download(bert_cuda_train *t, bert_cuda_block which, const bert_cuda_host *dst,
                                                int add, bert_error *err) {
    on_gpu(t);
    const float *d = block_of(t, which);
    if (!d || !tables_ok(t, dst))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_download: no such block, or no tables");
    (void)cudaGetLastError();
    if (!add && in_pinned(t, dst))
        return cuda_settle(t->stream, download_direct(t, d, dst), "copying the weights' tensors from the GPU", err);
    cudaError_t e = cudaMemcpyAsync(t->stage, d, sizeof(float) * t->n, cudaMemcpyDeviceToHost, t->stream);
    bert_status rc = cuda_settle(t->stream, e, "copying the weights' tensors from the GPU", err);
    for (int en = 0; rc == BERT_OK && en < entries(t); en++) stage_entry(t, en, dst, 0, add);
    return rc;
}

extern "C" bert_status bert_cuda_train_masks(bert_cuda_train *t, uint8_t *out, size_t n, bert_error *err) {
    on_gpu(t);
    if (!t->pending) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_masks: no forward awaiting its backward");
    if (n != t->mask_bytes || (n && !out))
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_masks: the last forward drew %zu mask values, not %zu",
                         t->mask_bytes, n);
    (void)cudaGetLastError();
    cudaError_t e = n ? cudaMemcpyAsync(out, t->masks, n, cudaMemcpyDeviceToHost, t->stream) : cudaSuccess;
    return cuda_settle(t->stream, e, "copying the dropout masks from the GPU", err);
}

extern "C" bert_status bert_cuda_train_grad_sumsq(bert_cuda_train *t, double *ss, bert_error *err) {
    on_gpu(t);
    *ss = 0.0;
    size_t n = t->n, parts = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    (void)cudaGetLastError();
    BERT_LAUNCH(sumsq_part, (unsigned)parts, SUMSQ_THREADS, t->stream)(t->ss, (const float *)t->acc, n);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(t->ss_h, t->ss, sizeof(double) * parts, cudaMemcpyDeviceToHost, t->stream);
    bert_status rc = cuda_settle(t->stream, e, "summing the gradients' squares", err);
    for (size_t k = 0; rc == BERT_OK && k < parts; k++) *ss += t->ss_h[k];
    return rc;
}

extern "C" bert_status bert_cuda_train_adamw(bert_cuda_train *t, const bert_cuda_adamw *decay,
                                             const bert_cuda_adamw *no_decay, bert_error *err) {
    on_gpu(t);
    if (!decay || !no_decay) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_adamw: no coefficients");
    size_t n[LAYER_PARTS];
    layer_parts((size_t)t->C, (size_t)t->I, n);
    (void)cudaGetLastError();
    for (int l = 0; l < t->L; l++) {
        size_t at = t->per * l;
        for (int k = 0; k < LAYER_PARTS; k++) {
            BERT_LAUNCH(adamw_update, blocks_for(n[k]), 256, t->stream)(t->w + at, t->acc + at, t->m + at, t->v + at, n[k],
                                                                         part_decay[k] ? *decay : *no_decay);
            at += n[k];
        }
    }
    if (t->emb) { /* the tables with weight decay, the LayerNorm without */
        size_t at = t->per * (size_t)t->L, C = (size_t)t->C;
        const size_t sz[] = {((size_t)t->V + (size_t)t->PT + (size_t)t->TV) * C, C, C};
        for (int k = 0; k < 3; k++) {
            BERT_LAUNCH(adamw_update, blocks_for(sz[k]), 256, t->stream)(t->w + at, t->acc + at, t->m + at, t->v + at, sz[k],
                                                                          k == 0 ? *decay : *no_decay);
            at += sz[k];
        }
    }
    size_t hn[HEAD_PARTS], at = entry_at(t, t->L + 1);
    head_parts(t, hn); /* the heads' weight matrices with decay; biases and LayerNorm without */
    for (int k = 0; k < HEAD_PARTS && t->head; k++) {
        if (hn[k])
            BERT_LAUNCH(adamw_update, blocks_for(hn[k]), 256, t->stream)(t->w + at, t->acc + at, t->m + at, t->v + at, hn[k],
                                                                          head_decay[k] ? *decay : *no_decay);
        at += hn[k];
    }
    round_weights(t);
    return cuda_settle(t->stream, cudaGetLastError(), "the AdamW step", err);
}

extern "C" int bert_cuda_train_gpu_shared(const bert_cuda_train *t) { return t->shared; }

extern "C" bert_status bert_cuda_train_join(bert_cuda_train *t, const unsigned char id[BERT_CUDA_NCCL_ID_BYTES],
                                            int nranks, int rank, double timeout_s, bert_error *err) {
    on_gpu(t);
    if (t->comm) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_join: already in a communicator");
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_train_join: rank %d of %d", rank, nranks);
    return cuda_nccl_join(&t->comm, id, nranks, rank, timeout_s, err);
}

extern "C" bert_status bert_cuda_train_allreduce(bert_cuda_train *t, bert_error *err) {
    on_gpu(t);
    if (!t->comm) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_train_allreduce: no communicator joined");
    (void)cudaGetLastError();
    bert_status rc = cuda_nccl_sum(t->comm, t->acc, t->n, t->stream, err);
    if (rc != BERT_OK) return cuda_drain(t->stream), rc;
    return cuda_settle(t->stream, cudaSuccess, "summing the gradients over the ranks", err);
}
