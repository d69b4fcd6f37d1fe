/* encoder.cu — the encoder's layers on an NVIDIA GPU (see encoder.h for
 * the data flow), on the cuBLAS that device.cu opens; the CUDA runtime is
 * linked statically. Every kernel here is f32 and mirrors the CPU
 * operation it replaces (kernels/ops.c), cited at each; under bf16 (f16)
 * the dense layers' products take bf16 (float16) operands with f32 sums
 * (cublasGemmEx). */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "cuda/encoder.h"
}

#include "cuda/common.cuh"

/* ---- kernels ------------------------------------------------------------ */

/* out[row] = LayerNorm(a[row] + bias + res[row]) * g + beta, one block per
 * row: BertSelfOutput / BertOutput (dense + dropout(identity) + residual,
 * then nn.LayerNorm). out may be res. */
__global__ static void add_layernorm(float *out, const float *a, const float *bias, const float *res, const float *g,
                                     const float *beta, int C, float eps) {
    size_t row = (size_t)blockIdx.x * C;
    const float *ar = a + row, *rr = res + row;
    layernorm_row(out + row, [=](int j) { return ar[j] + bias[j] + rr[j]; }, g, beta, C, eps);
}

/* out[row] = LayerNorm(act(a[row] + bias)) * g + beta, one block per row:
 * BertPredictionHeadTransform after its dense product (its bias, the
 * activation, nn.LayerNorm; the CPU's mlm_head). out may be a. */
__global__ static void bias_act_layernorm(float *out, const float *a, const float *bias, int act, const float *g,
                                          const float *beta, int C, float eps) {
    size_t row = (size_t)blockIdx.x * C;
    const float *ar = a + row;
    layernorm_row(out + row, [=](int j) { return activation(ar[j] + bias[j], act); }, g, beta, C, eps);
}

/* BertEmbeddings, one block per row: LayerNorm((word[id] + token_type[tt])
 * + position[t]) * g + beta, the order PyTorch adds them in
 * (nn_embeddings_rows + its LayerNorm on the CPU); tok[3 row ..] holds
 * the row's id, token type and position. */
__global__ static void embeddings(float *out, const float *word, const float *position, const float *token_type,
                                  const int *tok, const float *g, const float *beta, int C, float eps) {
    size_t row = blockIdx.x;
    const float *we = word + (size_t)tok[3 * row] * C, *te = token_type + (size_t)tok[3 * row + 1] * C,
                *pe = position + (size_t)tok[3 * row + 2] * C;
    layernorm_row(out + row * C, [=](int j) { return (we[j] + te[j]) + pe[j]; }, g, beta, C, eps);
}

/* One score row of pair blockIdx.y (rows of T x T matrices one after
 * another): masked_softmax_row. */
__global__ static void mask_softmax(float *S, const float *keymask, const int *keyrow, int T) {
    masked_softmax_row(S + ((size_t)blockIdx.y * T + blockIdx.x) * T, keymask + keyrow[blockIdx.y], T);
}

/* The fused attention: softmax(scale Q_h K_h^T + key mask) V_h for FA_Q
 * query rows of one sequence and head h = blockIdx.y (the tile's sequence
 * and first row in tiles[2 blockIdx.x ..]), the keys taken FA_K at a time
 * with the online softmax (FlashAttention): a running maximum m and sum l
 * per row, the partial output rescaled by exp(m_old - m_new) when the
 * maximum grows. Masked keys score -FLT_MAX, as bert_mask_key_columns sets
 * them (a row whose keys are all masked averages them all, as the CPU's
 * softmax does); keys past the sequence weigh 0. Thread t serves row t / 4
 * with three others: keys and output columns t % 4, t % 4 + 4, ... Head size
 * at most FA_DMAX; rows past the sequence are computed on zeros and not
 * written. */
enum { FA_Q = 32, FA_K = 32, FA_THREADS = 128, FA_DMAX = BERT_CUDA_FUSED_HEAD_MAX };

__global__ static void __launch_bounds__(FA_THREADS)
    fused_attention(float *attn, const float *qkv, const float *keymask, const int *offset, const int *tiles, int C,
                    int hs, float scale) {
    __shared__ float Qs[FA_Q][FA_DMAX + 1]; /* +1: a warp's 8 rows fall in 8 banks */
    __shared__ float Ks[FA_K][FA_DMAX + 1];
    __shared__ float Vs[FA_K][FA_DMAX];
    __shared__ float Ps[FA_Q][FA_K + 4]; /* +4: row r's key part + 4i falls in bank r*4 + part + 4i, apart */
    __shared__ float km[FA_K];
    int seq = tiles[2 * blockIdx.x], q0 = tiles[2 * blockIdx.x + 1], row0 = offset[seq];
    int T = offset[seq + 1] - row0, t = threadIdx.x, r = t >> 2, part = t & 3;
    size_t ld = 3 * (size_t)C;
    const float *Q = qkv + (size_t)row0 * ld + (size_t)blockIdx.y * hs, *K = Q + C, *V = Q + 2 * (size_t)C;
    for (int i = t; i < FA_Q * hs; i += FA_THREADS) {
        int rr = i / hs, c = i % hs;
        Qs[rr][c] = q0 + rr < T ? Q[(size_t)(q0 + rr) * ld + c] : 0.0f;
    }
    float o[FA_DMAX / 4], m = -INFINITY, l = 0.0f;
    for (int i = 0; i < FA_DMAX / 4; i++) o[i] = 0.0f;
    for (int k0 = 0; k0 < T; k0 += FA_K) {
        int nk = T - k0 < FA_K ? T - k0 : FA_K;
        __syncthreads(); /* the last tile's Ks, Vs, Ps are used up */
        for (int i = t; i < FA_K * hs; i += FA_THREADS) {
            int j = i / hs, c = i % hs;
            size_t at = (size_t)(k0 + j) * ld + c;
            Ks[j][c] = j < nk ? K[at] : 0.0f;
            Vs[j][c] = j < nk ? V[at] : 0.0f;
        }
        if (t < FA_K) km[t] = t < nk ? keymask[row0 + k0 + t] : 0.0f;
        __syncthreads();
        float s[FA_K / 4], mx = -INFINITY;
        for (int i = 0; i < FA_K / 4; i++) s[i] = 0.0f;
        for (int c = 0; c < hs; c++) { /* each Q element read once for the thread's 8 keys */
            float q = Qs[r][c];
            for (int i = 0; i < FA_K / 4; i++) s[i] += q * Ks[part + 4 * i][c];
        }
        for (int i = 0; i < FA_K / 4; i++) {
            int j = part + 4 * i;
            s[i] = j >= nk ? -INFINITY : km[j] == 0.0f ? -FLT_MAX : s[i] * scale;
            mx = fmaxf(mx, s[i]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        float m_new = fmaxf(m, mx), corr = expf(m - m_new), sum = 0.0f;
        for (int i = 0; i < FA_K / 4; i++) {
            float p = expf(s[i] - m_new);
            Ps[r][part + 4 * i] = p;
            sum += p;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        l = l * corr + sum;
        m = m_new;
        __syncwarp(); /* the row's Ps, written by its four threads (one warp) */
        for (int i = 0; i < FA_DMAX / 4; i++) {
            int c = part + 4 * i;
            if (c >= hs) break;
            float acc = 0.0f;
            for (int j = 0; j < nk; j++) acc += Ps[r][j] * Vs[j][c];
            o[i] = o[i] * corr + acc;
        }
    }
    if (q0 + r >= T) return;
    float *out = attn + (size_t)(row0 + q0 + r) * C + (size_t)blockIdx.y * hs;
    for (int i = 0; i < FA_DMAX / 4 && part + 4 * i < hs; i++) out[part + 4 * i] = o[i] / l;
}

/* ---- the model's weights on the GPU -------------------------------------- */

typedef struct {
    float *qkv_w, *qkv_b, *o_w, *o_b, *ln1_w, *ln1_b, *i_w, *i_b, *o2_w, *o2_b, *ln2_w, *ln2_b;
    uint16_t *qkv_w16, *o_w16, *i_w16, *o2_w16; /* bf16 or f16: the dense weights rounded; else NULL */
} layer_dev;

/* The heads' weights on the GPU, NULL where the model has none. */
typedef struct {
    float *pooler_w, *pooler_b, *nsp_w, *nsp_b, *cls_w, *cls_b, *intent_w, *intent_b, *qa_w, *qa_b;
    float *mlm_w, *mlm_b, *mlm_ln_w, *mlm_ln_b, *mlm_bias;
    const float *mlm_dec; /* the decoder's weight [V x C]: its own copy, or the word table's (tied) */
    int classes, intents, vocab;
} heads_dev;

struct bert_cuda_model {
    int C, NH, I, L, act, tf32;
    float eps;
    float *emb;             /* word [V x C], position [P x C], token type [TV x C], LayerNorm w, b */
    size_t emb_pos, emb_type, emb_ln; /* where the later tables start in emb */
    float *block;           /* every layer weight, one allocation */
    uint16_t *block16;      /* bf16 or f16: the dense weights, rounded on the GPU; else NULL */
    int f16;                /* block16 holds float16 (else bf16) */
    layer_dev *layers;
    float *head_block; /* the heads' weights, one allocation (NULL: no head) */
    heads_dev head;
};

/* dst[i] = src[i] rounded to float16, nearest even (PyTorch's .half()),
 * src a matrix of rows of `cols`; where a finite value lies past float16's
 * range (+-65504: it rounds to inf), *over = its row + 1 (one such row's,
 * whichever thread writes last). */
__global__ static void to_f16(__half *dst, const float *src, size_t n, size_t cols, int *over) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        __half h = __float2half_rn(src[i]);
        dst[i] = h;
        if (isinf(__half2float(h)) && !isinf(src[i])) *over = (int)(i / cols) + 1;
    }
}

/* src [n] (rows of `cols`) rounded into dst, to float16 (f16; a value past
 * its range sets *over to its row + 1) or bf16, on the stream. */
static void round16(cudaStream_t stream, int f16, uint16_t *dst, const float *src, size_t n, size_t cols, int *over) {
    if (f16) BERT_LAUNCH(to_f16, blocks_for(n), 256, stream)((__half *)dst, src, n, cols, over);
    else BERT_LAUNCH(to_bf16, blocks_for(n), 256, stream)((__nv_bfloat16 *)dst, src, n);
}

/* bf16 or f16: the four dense weights of every layer rounded into
 * m->block16. f16: a weight past float16's range sets over[l], layer l's. */
static cudaError_t round_weights(bert_cuda_model *m, int *over) {
    (void)cudaGetLastError(); /* an earlier call's error is not this one's (cudaGetLastError below) */
    size_t C = (size_t)m->C, I = (size_t)m->I, per = 4 * C * C + 2 * C * I;
    cudaError_t e = cudaMalloc((void **)&m->block16, sizeof(uint16_t) * per * (size_t)m->L);
    for (int l = 0; l < m->L && e == cudaSuccess; l++) {
        layer_dev *L = &m->layers[l];
        uint16_t *d = m->block16 + per * l;
        struct {
            uint16_t **dst;
            const float *src;
            size_t n;
        } w[] = {{&L->qkv_w16, L->qkv_w, 3 * C * C}, {&L->o_w16, L->o_w, C * C}, {&L->i_w16, L->i_w, I * C},
                 {&L->o2_w16, L->o2_w, C * I}};
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
            *w[k].dst = d;
            round16(0, m->f16, d, w[k].src, w[k].n, w[k].n, over + l);
            d += w[k].n;
        }
        e = cudaGetLastError();
    }
    return e;
}

/* f16: the dense weights rounded (round_weights), each layer's checked
 * against float16's range: BERT_ERR_UNSUPPORTED naming the first layer
 * with a weight past it. */
static bert_status round_weights_f16(bert_cuda_model *m, bert_error *err) {
    int *over = NULL, *got = (int *)calloc((size_t)m->L + 1, sizeof *got); /* + 1: never 0 bytes */
    if (!got) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    cudaError_t e = cudaMalloc((void **)&over, sizeof(int) * ((size_t)m->L + 1));
    if (e == cudaSuccess) e = cudaMemsetAsync(over, 0, sizeof(int) * ((size_t)m->L + 1), 0);
    if (e == cudaSuccess) e = round_weights(m, over);
    if (e == cudaSuccess) e = cudaMemcpy(got, over, sizeof(int) * (size_t)m->L, cudaMemcpyDeviceToHost);
    if (over) cudaFree(over);
    bert_status rc = e == cudaSuccess ? BERT_OK : cuda_fail(err, e, "rounding the weights to float16 on the GPU");
    for (int l = 0; rc == BERT_OK && l < m->L; l++)
        if (got[l])
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "--dtype f16: a weight of layer %d lies past float16's range "
                                                      "(+-65504); run this model in bf16 or f32", l);
    free(got);
    return rc;
}

/* The heads' weights (those src has) into m->head_block, one allocation;
 * the MLM decoder's weight is the word table's (m->emb's first) when tied. */
static cudaError_t upload_heads(bert_cuda_model *m, const bert_cuda_heads_src *src, int vocab) {
    size_t C = (size_t)m->C, L = src->cls_w ? (size_t)src->classes : 0, I = src->intent_w ? (size_t)src->intents : 0;
    size_t V = (size_t)vocab;
    int mlm = src->mlm_w && src->mlm_b && src->mlm_ln_w && src->mlm_ln_b && src->mlm_bias;
    heads_dev *h = &m->head;
    float *dec = NULL;
    struct {
        float **dst;
        const float *a;
        size_t n;
    } parts[] = {{&h->pooler_w, src->pooler_w, C * C}, {&h->pooler_b, src->pooler_b, C},
                 {&h->nsp_w, src->nsp_w, 2 * C},       {&h->nsp_b, src->nsp_b, 2},
                 {&h->cls_w, src->cls_w, L * C},       {&h->cls_b, src->cls_b, L},
                 {&h->intent_w, src->intent_w, I * C}, {&h->intent_b, src->intent_b, I},
                 {&h->qa_w, src->qa_w, 2 * C},         {&h->qa_b, src->qa_b, 2},
                 {&h->mlm_w, src->mlm_w, C * C},       {&h->mlm_b, src->mlm_b, C},
                 {&h->mlm_ln_w, src->mlm_ln_w, C},     {&h->mlm_ln_b, src->mlm_ln_b, C},
                 {&h->mlm_bias, src->mlm_bias, V},     {&dec, src->mlm_dec, V * C}};
    enum { MLM_FIRST = 10 }; /* the MLM head's parts: all or none (the decoder's weight optional: tied) */
    size_t total = 0, n_parts = sizeof parts / sizeof parts[0];
    for (size_t k = 0; k < n_parts; k += 2) /* a weight and its bias, both or neither */
        if (k < MLM_FIRST ? parts[k].a && parts[k + 1].a && parts[k].n : mlm)
            total += parts[k].n + (parts[k + 1].a ? parts[k + 1].n : 0);
    if (!total) return cudaSuccess;
    cudaError_t e = cudaMalloc((void **)&m->head_block, sizeof(float) * total);
    float *d = m->head_block;
    for (size_t k = 0; k < n_parts && e == cudaSuccess; k += 2) {
        if (k < MLM_FIRST ? !parts[k].a || !parts[k + 1].a || !parts[k].n : !mlm) continue;
        for (size_t j = k; j < k + 2 && e == cudaSuccess; j++) {
            if (!parts[j].a) continue; /* a tied decoder */
            *parts[j].dst = d;
            e = cudaMemcpy(d, parts[j].a, sizeof(float) * parts[j].n, cudaMemcpyHostToDevice);
            d += parts[j].n;
        }
    }
    h->classes = h->cls_w ? src->classes : 0;
    h->intents = h->intent_w ? src->intents : 0;
    h->vocab = mlm ? vocab : 0;
    h->mlm_dec = !mlm ? NULL : dec ? dec : m->emb;
    return e;
}

extern "C" bert_status bert_cuda_model_create(const bert_cuda_model_src *src, bert_cuda_model **out, bert_error *err) {
    *out = NULL;
    const char *why = bert_cuda_unavailable();
    if (why) return bert_fail(err, BERT_ERR_UNSUPPORTED, "--device cuda: %s", why);
    size_t C = (size_t)src->hidden, I = (size_t)src->intermediate;
    if (src->heads < 1 || C % (size_t)src->heads)
        return bert_fail(err, BERT_ERR_SHAPE, "CUDA: hidden size %zu is not a multiple of %d heads", C, src->heads);
    /* floats per layer: qkv 3C*C + 3C, o C*C + C, ln1 2C, i I*C + I, o2 C*I + C, ln2 2C */
    size_t per = 3 * C * C + 3 * C + C * C + C + 2 * C + I * C + I + C * I + C + 2 * C, total = per * src->layers;
    bert_cuda_model *m = (bert_cuda_model *)calloc(1, sizeof *m);
    float *host = (float *)malloc(sizeof(float) * per);
    if (m) m->layers = (layer_dev *)calloc(src->layers > 0 ? (size_t)src->layers : 1, sizeof *m->layers);
    if (!m || !host || !m->layers) {
        free(host);
        bert_cuda_model_free(m);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    m->C = src->hidden, m->NH = src->heads, m->I = src->intermediate, m->L = src->layers, m->act = src->act;
    m->tf32 = src->tf32;
    m->eps = src->eps;
    cudaError_t e = cudaMalloc((void **)&m->block, sizeof(float) * total);
    if (e != cudaSuccess) {
        free(host);
        bert_cuda_model_free(m);
        return bert_fail(err, BERT_ERR_NOMEM, "CUDA: cannot allocate %.1f MB of GPU memory for the weights: %s",
                         sizeof(float) * total / 1e6, cudaGetErrorString(e));
    }
    for (int l = 0; l < src->layers && e == cudaSuccess; l++) {
        const bert_cuda_layer_src *s = &src->src[l];
        float *d = m->block + per * l, *h = host;
        layer_dev *L = &m->layers[l];
        struct {
            float **dst;
            const float *a;
            size_t n;
        } parts[] = {{&L->qkv_w, s->q_w, C * C}, {NULL, s->k_w, C * C}, {NULL, s->v_w, C * C},
                     {&L->qkv_b, s->q_b, C},     {NULL, s->k_b, C},     {NULL, s->v_b, C},
                     {&L->o_w, s->o_w, C * C},   {&L->o_b, s->o_b, C},  {&L->ln1_w, s->ln1_w, C},
                     {&L->ln1_b, s->ln1_b, C},   {&L->i_w, s->i_w, I * C}, {&L->i_b, s->i_b, I},
                     {&L->o2_w, s->o2_w, C * I}, {&L->o2_b, s->o2_b, C}, {&L->ln2_w, s->ln2_w, C},
                     {&L->ln2_b, s->ln2_b, C}};
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            if (parts[k].dst) *parts[k].dst = d + (h - host);
            memcpy(h, parts[k].a, sizeof(float) * parts[k].n);
            h += parts[k].n;
        }
        e = cudaMemcpy(d, host, sizeof(float) * per, cudaMemcpyHostToDevice);
    }
    free(host);
    /* the embedding tables and their LayerNorm, one allocation */
    const bert_cuda_embeddings_src *es = &src->emb;
    size_t nw = (size_t)es->vocab * C, np = (size_t)es->positions * C, nt = (size_t)es->token_types * C;
    m->emb_pos = nw, m->emb_type = nw + np, m->emb_ln = nw + np + nt;
    size_t emb_bytes = sizeof(float) * (m->emb_ln + 2 * C);
    if (e == cudaSuccess && (e = cudaMalloc((void **)&m->emb, emb_bytes)) != cudaSuccess) {
        bert_cuda_model_free(m);
        return bert_fail(err, BERT_ERR_NOMEM, "CUDA: cannot allocate %.1f MB of GPU memory for the embedding tables: %s",
                         emb_bytes / 1e6, cudaGetErrorString(e));
    }
    struct {
        size_t at;
        const float *p;
        size_t n;
    } tables[] = {{0, es->word, nw},
                  {m->emb_pos, es->position, np},
                  {m->emb_type, es->token_type, nt},
                  {m->emb_ln, es->ln_w, C},
                  {m->emb_ln + C, es->ln_b, C}};
    for (size_t k = 0; k < sizeof tables / sizeof tables[0] && e == cudaSuccess; k++)
        e = cudaMemcpy(m->emb + tables[k].at, tables[k].p, sizeof(float) * tables[k].n, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        bert_cuda_model_free(m);
        return cuda_fail(err, e, "copying the weights to the GPU");
    }
    if (e == cudaSuccess && (e = upload_heads(m, &src->head, es->vocab)) != cudaSuccess) {
        bert_cuda_model_free(m);
        return cuda_fail(err, e, "copying the heads' weights to the GPU");
    }
    m->f16 = src->f16;
    if (src->bf16 && !src->f16 && (e = round_weights(m, NULL)) != cudaSuccess) {
        bert_cuda_model_free(m);
        return cuda_fail(err, e, "rounding the weights to bf16 on the GPU");
    }
    bert_status rc = src->f16 ? round_weights_f16(m, err) : BERT_OK;
    if (rc != BERT_OK) {
        bert_cuda_model_free(m);
        return rc;
    }
    /* a copy from pageable memory may return before it lands, and the
     * contexts' streams do not wait for the default one: all done here */
    if ((e = cudaDeviceSynchronize()) != cudaSuccess) {
        bert_cuda_model_free(m);
        return cuda_fail(err, e, "copying the weights to the GPU");
    }
    *out = m;
    return BERT_OK;
}

extern "C" void bert_cuda_model_free(bert_cuda_model *m) {
    if (!m) return;
    if (m->block) cudaFree(m->block);
    if (m->emb) cudaFree(m->emb);
    if (m->block16) cudaFree(m->block16);
    if (m->head_block) cudaFree(m->head_block);
    free(m->layers);
    free(m);
}

/* ---- one context's working set ------------------------------------------- */

struct bert_cuda_work {
    cudaStream_t stream;
    cublasHandle_t blas;
    size_t cap_tokens, cap_pairs, cap_scores; /* what the buffers below hold */
    int states; /* the tokens of the last run, whose last layer's states are in hidden; 0: none
                 * (no run yet, or the last one failed) */
    float *hidden, *qkv, *attn, *tmp, *ff, *keymask, *scores;
    uint16_t *x16;      /* bf16 or f16: a dense layer's input, rounded (cap_tokens rows of max(C, I)) */
    int f16;            /* x16 holds float16: the model's (bert_cuda_model.f16) */
    int *over, *over_h; /* f16: per layer, 0, or a token whose input to its products lay past float16's
                         * range, its row + 1 (device, host) */
    const float **ptrs; /* device: 6 operand addresses per pair */
    int *keyrow;        /* device: first row of each pair's sequence */
    int *tiles, *offs;  /* device, fused attention: the query tiles (2 per token at most), the offsets */
    int *plan;          /* device: the sentence pooling's plan (bert_cuda_outputs.plan; 3 ints a sequence) */
    int *tok;           /* device: each token's id, token type and position */
    float *outs;        /* device: the heads' wanted outputs, one after another (cap_outs floats) */
    float *outs_h;      /* their host staging: one copy back (cap_outs_h floats) */
    size_t cap_outs, cap_outs_h;
    /* profiling (bert_cuda_run's prof): an event after each step, and what it ended */
    cudaEvent_t *ev;
    int *ev_what; /* (layer + 1) * BERT_OP_COUNT + kind; layer -1: the pass's own steps */
    int n_ev, cap_ev, profiling;
    int *tiles_h, *tok_h; /* their host staging */
    /* host staging of the plan */
    bert_cuda_pair *pairs;
    bert_cuda_group *groups;
    const float **ptrs_h;
    int *keyrow_h;
};

extern "C" void bert_cuda_work_free(bert_cuda_work *w) {
    if (!w) return;
    void *dev[] = {w->hidden, w->qkv,  w->attn,  w->tmp, w->ff,  w->keymask, w->scores,
                   (void *)w->ptrs, w->keyrow, w->x16, w->tiles, w->offs, w->tok, w->over, w->plan};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    free(w->tiles_h), free(w->tok_h), free(w->over_h);
    if (w->outs) cudaFree(w->outs);
    free(w->outs_h);
    for (int i = 0; i < w->cap_ev; i++) cudaEventDestroy(w->ev[i]);
    free(w->ev), free(w->ev_what);
    if (w->blas) cuda_blas()->destroy(w->blas);
    if (w->stream) cudaStreamDestroy(w->stream);
    free(w->pairs), free(w->groups), free((void *)w->ptrs_h), free(w->keyrow_h);
    free(w);
}

/* *p replaced by a new device buffer of n elements (at least one). */
template <class T> static cudaError_t grow(T **p, size_t n) {
    if (*p) cudaFree((void *)*p);
    *p = NULL;
    return cudaMalloc((void **)p, sizeof(T) * (n ? n : 1));
}

/* Buffers for N tokens, P pairs and `scores` floats of scores. */
static bert_status reserve(const bert_cuda_model *m, bert_cuda_work *w, size_t N, size_t P, size_t scores,
                           bert_error *err) {
    cudaError_t e = cudaSuccess;
    size_t C = (size_t)m->C, I = (size_t)m->I;
    if (N > w->cap_tokens) {
        size_t n = N + N / 4;
        w->cap_tokens = 0;
        free(w->tiles_h), free(w->tok_h);
        w->tok_h = NULL;
        if (!(w->tiles_h = (int *)malloc(sizeof(int) * 2 * n)) || !(w->tok_h = (int *)malloc(sizeof(int) * 3 * n)))
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if ((e = grow(&w->hidden, n * C)) == cudaSuccess && (e = grow(&w->qkv, n * 3 * C)) == cudaSuccess &&
            (e = grow(&w->attn, n * C)) == cudaSuccess && (e = grow(&w->tmp, n * C)) == cudaSuccess &&
            (e = grow(&w->ff, n * I)) == cudaSuccess && (e = grow(&w->keymask, n)) == cudaSuccess &&
            (e = grow(&w->tiles, 2 * n)) == cudaSuccess && (e = grow(&w->offs, n + 1)) == cudaSuccess &&
            (e = grow(&w->tok, 3 * n)) == cudaSuccess && (e = grow(&w->plan, 3 * n)) == cudaSuccess &&
            (!m->block16 || (e = grow(&w->x16, n * (I > C ? I : C))) == cudaSuccess))
            w->cap_tokens = n;
    }
    if (e == cudaSuccess && m->f16 && !w->over_h) { /* the range flags, one a layer */
        if (!(w->over_h = (int *)malloc(sizeof(int) * (size_t)m->L))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if ((e = grow(&w->over, (size_t)m->L)) != cudaSuccess) free(w->over_h), w->over_h = NULL;
    }
    if (e == cudaSuccess && P > w->cap_pairs) {
        size_t n = P + P / 4;
        free(w->pairs), free(w->groups), free((void *)w->ptrs_h), free(w->keyrow_h);
        w->cap_pairs = 0;
        w->pairs = (bert_cuda_pair *)malloc(sizeof *w->pairs * n);
        w->groups = (bert_cuda_group *)malloc(sizeof *w->groups * n);
        w->ptrs_h = (const float **)malloc(sizeof *w->ptrs_h * 6 * n);
        w->keyrow_h = (int *)malloc(sizeof *w->keyrow_h * n);
        if (!w->pairs || !w->groups || !w->ptrs_h || !w->keyrow_h) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if ((e = grow(&w->ptrs, 6 * n)) == cudaSuccess && (e = grow(&w->keyrow, n)) == cudaSuccess) w->cap_pairs = n;
    }
    if (e == cudaSuccess && scores > w->cap_scores) {
        if ((e = grow(&w->scores, scores)) == cudaSuccess) w->cap_scores = scores;
        else w->cap_scores = 0;
    }
    return e == cudaSuccess ? BERT_OK : cuda_fail(err, e, "allocating the GPU's working memory");
}

/* The device buffer for n floats of the heads' outputs and (host) its host staging. */
static bert_status reserve_outs(bert_cuda_work *w, size_t n, int host, bert_error *err) {
    if (n > w->cap_outs) {
        size_t c = n + n / 4;
        w->cap_outs = 0;
        cudaError_t e = grow(&w->outs, c);
        if (e != cudaSuccess) return cuda_fail(err, e, "allocating the GPU's working memory");
        w->cap_outs = c;
    }
    if (host && n > w->cap_outs_h) {
        size_t c = n + n / 4;
        free(w->outs_h);
        w->cap_outs_h = 0;
        if (!(w->outs_h = (float *)malloc(sizeof(float) * c))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        w->cap_outs_h = c;
    }
    return BERT_OK;
}

static bert_status work_create(const bert_cuda_model *m, bert_cuda_work **out, bert_error *err) {
    bert_cuda_work *w = (bert_cuda_work *)calloc(1, sizeof *w);
    if (!w) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    cudaError_t e = cudaStreamCreateWithFlags(&w->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(w);
        return cuda_fail(err, e, "creating a stream");
    }
    w->f16 = m->f16;
    cublasStatus_t s = cuda_blas()->create(&w->blas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cuda_blas()->set_stream(w->blas, w->stream);
    /* TF32 only where the model asks for it (--dtype tf32) */
    if (s == CUBLAS_STATUS_SUCCESS) s = cuda_blas()->set_math(w->blas, m->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    if (s != CUBLAS_STATUS_SUCCESS) {
        bert_cuda_work_free(w);
        return bert_fail(err, BERT_ERR_IO, "cuBLAS: could not set up a handle (status %d)", (int)s);
    }
    *out = w;
    return BERT_OK;
}

/* ---- the forward pass ---------------------------------------------------- */

/* While profiling: an event on the stream where the step of kind `kind`
 * (a bert_op_kind) of layer `layer` (-1: the pass's own) ends. */
static void mark(bert_cuda_work *w, int layer, int kind) {
    if (!w->profiling || w->n_ev >= w->cap_ev) return;
    cudaEventRecord(w->ev[w->n_ev], w->stream);
    w->ev_what[w->n_ev++] = (layer + 1) * BERT_OP_COUNT + kind;
}

/* Events for a pass of L layers (at most 16 steps a layer), made once. */
static cudaError_t profile_events(bert_cuda_work *w, int L) {
    int need = 4 + 16 * L;
    if (w->cap_ev >= need) return cudaSuccess;
    cudaEvent_t *ev = (cudaEvent_t *)realloc(w->ev, sizeof *ev * (size_t)need);
    if (!ev) return cudaErrorMemoryAllocation;
    w->ev = ev;
    int *what = (int *)realloc(w->ev_what, sizeof *what * (size_t)need);
    if (!what) return cudaErrorMemoryAllocation;
    w->ev_what = what;
    cudaError_t e = cudaSuccess;
    while (w->cap_ev < need && (e = cudaEventCreate(&w->ev[w->cap_ev])) == cudaSuccess) w->cap_ev++;
    return e;
}

/* y[M x Nout] = x[M x K] W^T (row-major, W [Nout x K]): in cuBLAS's
 * column-major terms y^T = W x^T, i.e. op(A) = W (A = W^T stored, 'T').
 * With W16 (bf16 or f16, layer l's): x rounded to that type into the
 * work's x16 (f16: a value past its range marks layer l in w->over with
 * its token's row + 1), then
 * 16-bit products summed in f32 into y (cublasGemmEx, CUBLAS_COMPUTE_32F),
 * as the CPU's --dtype bf16 dense layers and PyTorch's float16 autocast. */
static cublasStatus_t dense(bert_cuda_work *w, int l, float *y, const float *x, const float *W, const uint16_t *W16,
                            int M, int Nout, int K) {
    const float one = 1.0f, zero = 0.0f;
    if (!W16) return cuda_blas()->sgemm(w->blas, CUBLAS_OP_T, CUBLAS_OP_N, Nout, M, K, &one, W, K, x, K, &zero, y, Nout);
    size_t n = (size_t)M * (size_t)K;
    round16(w->stream, w->f16, w->x16, x, n, (size_t)K, w->f16 ? w->over + l : NULL); /* x's row: a token */
    mark(w, l, BERT_OP_CONVERT);
    cudaDataType t = w->f16 ? CUDA_R_16F : CUDA_R_16BF;
    return cuda_blas()->gemm_ex(w->blas, CUBLAS_OP_T, CUBLAS_OP_N, Nout, M, K, &one, W16, t, K, w->x16, t, K, &zero, y,
                                CUDA_R_32F, Nout, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

/* Layer l on the work's buffers (N tokens; attention fused over n_tiles
 * query tiles, or, n_tiles 0, batched over the plan's n_groups). The
 * profile's kinds as on the CPU: a dense layer's bias and activation are
 * its product's. */
static cublasStatus_t layer(const bert_cuda_model *m, int l, bert_cuda_work *w, int N, int n_groups, int n_tiles) {
    const layer_dev *L = &m->layers[l];
    int C = m->C, I = m->I, hs = C / m->NH;
    const float one = 1.0f, zero = 0.0f, scale = 1.0f / sqrtf((float)hs);
    cublasStatus_t s = dense(w, l, w->qkv, w->hidden, L->qkv_w, L->qkv_w16, N, 3 * C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act, blocks_for((size_t)N * 3 * C), 256, w->stream)(w->qkv, L->qkv_b, (size_t)N, 3 * C, -1);
    mark(w, l, BERT_OP_PRODUCTS);
    if (n_tiles)
        BERT_LAUNCH(fused_attention, dim3((unsigned)n_tiles, (unsigned)m->NH), FA_THREADS, w->stream)(
            w->attn, w->qkv, w->keymask, w->offs, w->tiles, C, hs, scale);
    for (int gi = 0; gi < n_groups && s == CUBLAS_STATUS_SUCCESS; gi++) {
        const bert_cuda_group *g = &w->groups[gi];
        const float **p = w->ptrs + 6 * (size_t)g->first;
        int n = g->n, T = g->T;
        /* S_i = scale Q_h K_h^T: column-major S^T [T x T] = op(K_h^T) Q_h^T */
        s = cuda_blas()->sgemm_batched(w->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &scale, p, 3 * C, p + n, 3 * C, &zero,
                            (float *const *)(p + 2 * n), T, n);
        if (s != CUBLAS_STATUS_SUCCESS) break;
        BERT_LAUNCH(mask_softmax, dim3((unsigned)T, (unsigned)n), threads_for(T, 128), w->stream)(w->scores, w->keymask, w->keyrow + g->first,
                                                                           T);
        /* attn_h = P_i V_h: column-major attn_h^T [hs x T] = V_h^T P_i^T */
        s = cuda_blas()->sgemm_batched(w->blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &one, p + 3 * n, 3 * C, p + 4 * n, T, &zero,
                            (float *const *)(p + 5 * n), C, n);
    }
    mark(w, l, BERT_OP_ATTENTION);
    if (s == CUBLAS_STATUS_SUCCESS) s = dense(w, l, w->tmp, w->attn, L->o_w, L->o_w16, N, C, C);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    mark(w, l, BERT_OP_PRODUCTS);
    BERT_LAUNCH(add_layernorm, (unsigned)N, threads_for(C, 256), w->stream)(w->hidden, w->tmp, L->o_b, w->hidden, L->ln1_w, L->ln1_b, C, m->eps);
    mark(w, l, BERT_OP_LAYERNORM);
    if ((s = dense(w, l, w->ff, w->hidden, L->i_w, L->i_w16, N, I, C)) != CUBLAS_STATUS_SUCCESS) return s;
    BERT_LAUNCH(bias_act, blocks_for((size_t)N * I), 256, w->stream)(w->ff, L->i_b, (size_t)N, I, m->act);
    mark(w, l, BERT_OP_PRODUCTS);
    if ((s = dense(w, l, w->tmp, w->ff, L->o2_w, L->o2_w16, N, C, I)) != CUBLAS_STATUS_SUCCESS) return s;
    mark(w, l, BERT_OP_PRODUCTS);
    BERT_LAUNCH(add_layernorm, (unsigned)N, threads_for(C, 256), w->stream)(w->hidden, w->tmp, L->o2_b, w->hidden, L->ln2_w, L->ln2_b, C, m->eps);
    mark(w, l, BERT_OP_LAYERNORM);
    return CUBLAS_STATUS_SUCCESS;
}

/* The heads' outputs in the order they lie in the work's outs buffer: the
 * pooled output first, then what is made of it, then the per-token ones. */
enum { OUT_POOLED, OUT_NSP, OUT_CLASSIFIER, OUT_INTENT, OUT_TOKENS, OUT_QA, OUT_SENTENCE, OUT_KINDS };

typedef struct {
    float *host;        /* where it goes (bert_cuda_outputs), NULL: not wanted */
    const float *w, *b; /* its dense layer on the GPU (NULL: the model lacks the head) */
    size_t rows;        /* S, or N for a per-token output */
    int width;
    const char *name;
} head_out;

/* The rows of the sentence pooling's plan for S sequences: the last one's first row and its modes. */
static size_t sentence_rows(const int *plan, int S) {
    return (size_t)plan[3 * (S - 1) + 2] + (size_t)__builtin_popcount((unsigned)plan[3 * (S - 1)]);
}

static void head_outs(const bert_cuda_model *m, const bert_cuda_outputs *o, size_t N, size_t S, head_out *h) {
    const heads_dev *d = &m->head;
    const head_out all[OUT_KINDS] = {
        {o->pooled, d->pooler_w, d->pooler_b, S, m->C, "pooler (bert.pooler.dense)"},
        {o->nsp, d->nsp_w, d->nsp_b, S, 2, "NSP head (cls.seq_relationship)"},
        {o->classifier, d->cls_w, d->cls_b, S, d->classes, "classifier head (classifier)"},
        {o->intent, d->intent_w, d->intent_b, S, d->intents, "intent head (intent_classifier)"},
        {o->tokens, d->cls_w, d->cls_b, N, d->classes, "classifier head (classifier)"},
        {o->qa, d->qa_w, d->qa_b, N, 2, "question-answering head (qa_outputs)"},
        {o->sentence, NULL, NULL, o->sentence ? sentence_rows(o->plan, (int)S) : 0, m->C, "sentence pooling"},
    };
    memcpy(h, all, sizeof all);
}

/* sentence-transformers' Pooling (bert_pool_states, models/Pooling.py) of
 * sequence s = blockIdx.x, rows offs[s] .. offs[s + 1] of h, column j =
 * blockIdx.y * blockDim.x + threadIdx.x: each mode of plan[3 s] in
 * Pooling.py's order (cls, max, mean, mean_sqrt_len, weighted_mean,
 * last_token) into its own row of out, from row plan[3 s + 2]. A token
 * counts when its key mask is 1 and it lies past the first plan[3 s + 1];
 * the rest is the CPU's code: masked tokens read -1e9 for max (and for cls
 * with max on), the means' sums in double over the tokens in order,
 * divided by max(weights, 1e-9) (its square root for mean_sqrt_len); nvcc
 * may fuse a sum's multiply-add, so the last bits may differ from the CPU's. */
__global__ static void pool_tokens(float *out, const float *h, const float *keymask, const int *offs, const int *plan,
                                   int C) {
    int s = (int)blockIdx.x, j = (int)(blockIdx.y * blockDim.x + threadIdx.x);
    if (j >= C) return;
    const int order[BERT_POOL_N_MODES] = {BERT_POOL_CLS, BERT_POOL_MAX, BERT_POOL_MEAN, BERT_POOL_MEAN_SQRT_LEN,
                                          BERT_POOL_WEIGHTED_MEAN, BERT_POOL_LAST_TOKEN};
    unsigned modes = (unsigned)plan[3 * s];
    int skip = plan[3 * s + 1], a = offs[s], T = offs[s + 1] - a, max_on = (modes >> BERT_POOL_MAX) & 1;
    const float *x = h + (size_t)a * C + j, *km = keymask + a;
    float *o = out + (size_t)plan[3 * s + 2] * C + j;
    for (int i = 0; i < BERT_POOL_N_MODES; i++) {
        int mode = order[i];
        if (!((modes >> mode) & 1)) continue;
        float v = 0.0f;
        if (mode == BERT_POOL_CLS) {
            v = max_on && !(0 >= skip && km[0] != 0.0f) ? -1e9f : x[0];
        } else if (mode == BERT_POOL_MAX) {
            v = -INFINITY;
            for (int t = 0; t < T; t++) {
                float y = t >= skip && km[t] != 0.0f ? x[(size_t)t * C] : -1e9f;
                if (y > v) v = y;
            }
        } else if (mode == BERT_POOL_LAST_TOKEN) {
            int last = -1;
            for (int t = T - 1; t >= 0 && last < 0; t--)
                if (t >= skip && km[t] != 0.0f) last = t;
            v = last >= 0 ? x[(size_t)last * C] : 0.0f;
        } else {
            double wsum = 0.0, sum = 0.0;
            for (int t = 0; t < T; t++)
                if (t >= skip && km[t] != 0.0f) {
                    int wt = mode == BERT_POOL_WEIGHTED_MEAN ? t + 1 : 1;
                    wsum += wt;
                    sum += wt * (double)x[(size_t)t * C];
                }
            double den = wsum > 1e-9 ? wsum : 1e-9;
            if (mode == BERT_POOL_MEAN_SQRT_LEN) den = sqrt(den);
            v = (float)(sum / den);
        }
        *o = v;
        o += C;
    }
}

/* The wanted heads on the last layer's hidden states (S sequences, the
 * first rows' offsets in w->offs; h's rows say how many tokens), each output into its place
 * in w->outs: BertPooler (the first tokens gathered into w->tmp, dense,
 * tanh; into w->attn when only what is made of it is wanted), then
 * nn.Linear on the pooled output (NSP, classifier, intent) or on every
 * token (token classifier, QA). */
static cublasStatus_t heads(const bert_cuda_model *m, bert_cuda_work *w, const head_out *h, int pooler, int S) {
    int C = m->C;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    float *at = w->outs, *pooled = h[OUT_POOLED].host ? w->outs : w->attn;
    if (pooler) {
        BERT_LAUNCH(gather_rows, (unsigned)S, threads_for(C, 256), w->stream)(w->tmp, w->hidden, w->offs, C);
        if ((s = dense(w, -1, pooled, w->tmp, m->head.pooler_w, NULL, S, C, C)) != CUBLAS_STATUS_SUCCESS) return s;
        BERT_LAUNCH(bias_tanh, blocks_for((size_t)S * C), 256, w->stream)(pooled, m->head.pooler_b, (size_t)S, C);
    }
    for (int k = 0; k < OUT_KINDS && s == CUBLAS_STATUS_SUCCESS; k++) {
        if (!h[k].host) continue;
        float *y = at;
        at += h[k].rows * (size_t)h[k].width;
        if (k == OUT_POOLED) continue; /* made above, in its place */
        if (k == OUT_SENTENCE) {
            BERT_LAUNCH(pool_tokens, dim3((unsigned)S, (unsigned)((C + 127) / 128)), 128, w->stream)(
                y, w->hidden, w->keymask, w->offs, w->plan, C);
            continue;
        }
        s = dense(w, -1, y, k < OUT_TOKENS ? pooled : w->hidden, h[k].w, NULL, (int)h[k].rows, h[k].width, C);
        if (s == CUBLAS_STATUS_SUCCESS)
            BERT_LAUNCH(bias_act, blocks_for(h[k].rows * (size_t)h[k].width), 256, w->stream)(y, h[k].b, h[k].rows,
                                                                                            h[k].width, -1);
    }
    mark(w, -1, BERT_OP_HEADS);
    return s;
}

/* Scores of one group at most: 64 M floats (256 MB), or one pair's T x T. */
enum { SCORE_CAP = 64 << 20 };

extern "C" bert_status bert_cuda_run(const bert_cuda_model *m, bert_cuda_work **work, const bert_cuda_outputs *out,
                                     const bert_sequence *seqs, const int *offset, int n_seqs, const float *keymask,
                                     double *prof, bert_error *err) {
    if (!m || !work || !out || !seqs || !offset || !keymask || n_seqs < 1)
        return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_run: missing arguments");
    if (out->sentence && !out->plan) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_run: a sentence output without its plan");
    head_out h[OUT_KINDS];
    head_outs(m, out, (size_t)offset[n_seqs], (size_t)n_seqs, h);
    int pooler = 0;
    size_t outs = 0;
    for (int k = 0; k < OUT_KINDS; k++) {
        if (!h[k].host) continue;
        if (!h[k].w && k != OUT_SENTENCE)
            return bert_fail(err, BERT_ERR_UNSUPPORTED, "CUDA: the model on the GPU has no %s", h[k].name);
        outs += h[k].rows * (size_t)h[k].width;
        pooler |= k < OUT_TOKENS;
    }
    if (pooler && !m->head.pooler_w)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "CUDA: the model on the GPU has no %s", h[OUT_POOLED].name);
    bert_status rc = *work ? BERT_OK : work_create(m, work, err);
    if (rc != BERT_OK) return rc;
    bert_cuda_work *w = *work;
    w->states = 0;
    (void)cudaGetLastError(); /* an earlier call's error (a failed allocation) is not this one's */
    size_t N = (size_t)offset[n_seqs], C = (size_t)m->C;
    int fused = bert_cuda_fused_attention(m->C / m->NH), n_groups = 0, n_tiles = 0;
    size_t P = fused ? 0 : (size_t)n_seqs * (size_t)m->NH;
    if ((rc = reserve(m, w, N, P, 0, err)) != BERT_OK || (rc = reserve_outs(w, outs, 1, err)) != BERT_OK) return rc;
    if (fused) {
        if ((n_tiles = bert_cuda_tiles(offset, n_seqs, FA_Q, w->tiles_h)) < 1)
            return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_run: a sequence is empty");
    } else {
        n_groups = bert_cuda_plan(offset, n_seqs, m->NH, SCORE_CAP, w->pairs, w->groups);
        if (n_groups == -2) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        if (n_groups < 1) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_run: a sequence is empty");
        size_t scores = 0;
        for (int g = 0; g < n_groups; g++) {
            size_t need = (size_t)w->groups[g].n * (size_t)w->groups[g].T * (size_t)w->groups[g].T;
            scores = need > scores ? need : scores;
        }
        if ((rc = reserve(m, w, N, P, scores, err)) != BERT_OK) return rc;
        for (int g = 0; g < n_groups; g++) {
            const bert_cuda_group *gr = &w->groups[g];
            bert_cuda_group_operands(gr, w->pairs, offset, m->C, m->NH, w->qkv, w->scores, w->attn,
                                     w->ptrs_h + 6 * (size_t)gr->first, w->keyrow_h + gr->first);
        }
    }
    for (int s = 0; s < n_seqs; s++)
        for (int t = 0; t < seqs[s].n_tokens; t++) {
            int *k = w->tok_h + 3 * ((size_t)offset[s] + t);
            k[0] = seqs[s].input_ids[t], k[1] = seqs[s].token_type_ids ? seqs[s].token_type_ids[t] : 0, k[2] = t;
        }
    cudaError_t e = cudaMemcpyAsync(w->tok, w->tok_h, sizeof(int) * 3 * N, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess) e = cudaMemcpyAsync(w->keymask, keymask, sizeof(float) * N, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && fused)
        e = cudaMemcpyAsync(w->tiles, w->tiles_h, sizeof(int) * 2 * (size_t)n_tiles, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && (fused || pooler || out->sentence)) /* the tiles' sequences, the pooler's first tokens */
        e = cudaMemcpyAsync(w->offs, offset, sizeof(int) * ((size_t)n_seqs + 1), cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && out->sentence)
        e = cudaMemcpyAsync(w->plan, out->plan, sizeof(int) * 3 * (size_t)n_seqs, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && !fused)
        e = cudaMemcpyAsync((void *)w->ptrs, w->ptrs_h, sizeof(float *) * 6 * P, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && !fused)
        e = cudaMemcpyAsync(w->keyrow, w->keyrow_h, sizeof(int) * P, cudaMemcpyHostToDevice, w->stream);
    if (e == cudaSuccess && m->f16) e = cudaMemsetAsync(w->over, 0, sizeof(int) * (size_t)m->L, w->stream);
    if (e != cudaSuccess) return cuda_drain(w->stream), cuda_fail(err, e, "copying the batch to the GPU");
    w->n_ev = 0, w->profiling = prof != NULL;
    if (prof && (e = profile_events(w, m->L)) != cudaSuccess) return cuda_drain(w->stream), cuda_fail(err, e, "making events");
    mark(w, -1, BERT_OP_OTHER); /* the copies over: the profile's start */
    const float *emb = m->emb;
    BERT_LAUNCH(embeddings, (unsigned)N, threads_for(m->C, 256), w->stream)(
        w->hidden, emb, emb + m->emb_pos, emb + m->emb_type, w->tok, emb + m->emb_ln, emb + m->emb_ln + m->C, m->C, m->eps);
    mark(w, -1, BERT_OP_EMBEDDINGS);
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    for (int l = 0; l < m->L && s == CUBLAS_STATUS_SUCCESS; l++) s = layer(m, l, w, (int)N, n_groups, n_tiles);
    if (s == CUBLAS_STATUS_SUCCESS && outs) s = heads(m, w, h, pooler, n_seqs);
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(w->stream, s, err);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_drain(w->stream), cuda_fail(err, e, "launching a kernel");
    if (out->hidden) e = cudaMemcpyAsync(out->hidden, w->hidden, sizeof(float) * N * C, cudaMemcpyDeviceToHost, w->stream);
    if (e == cudaSuccess && outs)
        e = cudaMemcpyAsync(w->outs_h, w->outs, sizeof(float) * outs, cudaMemcpyDeviceToHost, w->stream);
    if (e == cudaSuccess && m->f16)
        e = cudaMemcpyAsync(w->over_h, w->over, sizeof(int) * (size_t)m->L, cudaMemcpyDeviceToHost, w->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(w->stream);
    if (e == cudaSuccess) e = cudaGetLastError();
    for (int l = 0; e == cudaSuccess && m->f16 && l < m->L; l++) {
        if (!w->over_h[l]) continue;
        int row = w->over_h[l] - 1, s = 0; /* its sequence: the error names it (bert_error.item) */
        while (s + 1 < n_seqs && offset[s + 1] <= row) s++;
        bert_fail(err, BERT_ERR_UNSUPPORTED, "sequence %d: --dtype f16: an input of layer %d's products lies past "
                                             "float16's range (+-65504); run it in bf16 or f32", s, l);
        if (err) err->item = s;
        return BERT_ERR_UNSUPPORTED;
    }
    const float *from = w->outs_h; /* each wanted output where the caller wants it */
    for (int k = 0; e == cudaSuccess && k < OUT_KINDS; k++) {
        if (!h[k].host) continue;
        size_t n = h[k].rows * (size_t)h[k].width;
        memcpy(h[k].host, from, sizeof(float) * n);
        from += n;
    }
    /* each step's time: from the event before it to its own */
    for (int i = 1; e == cudaSuccess && prof && i < w->n_ev; i++) {
        float ms = 0.0f;
        if ((e = cudaEventElapsedTime(&ms, w->ev[i - 1], w->ev[i])) == cudaSuccess) {
            int layer = w->ev_what[i] / BERT_OP_COUNT - 1, kind = w->ev_what[i] % BERT_OP_COUNT;
            prof[(size_t)(layer < 0 ? m->L : layer) * BERT_OP_COUNT + kind] += ms * 1e-3;
        }
    }
    w->n_ev = 0;
    if (e != cudaSuccess) return cuda_drain(w->stream), cuda_fail(err, e, "running the layers");
    w->states = (int)N;
    return BERT_OK;
}

/* Logits of one bert_cuda_mlm round: at most 16 M floats (64 MB). */
enum { MLM_CAP = 16 << 20 };

extern "C" bert_status bert_cuda_mlm(const bert_cuda_model *m, bert_cuda_work *w, int first, const int32_t *pos, int n,
                                     float *out, bert_error *err) {
    if (!m || !out || n < 1) return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_mlm: no rows or no output buffer");
    const heads_dev *hd = &m->head;
    if (!hd->mlm_w) return bert_fail(err, BERT_ERR_UNSUPPORTED, "CUDA: the model on the GPU has no MLM head (cls.predictions)");
    if (!w || w->states < 1) return bert_fail(err, BERT_ERR_STATE, "bert_cuda_mlm: no forward pass has left hidden states on the GPU");
    for (int i = 0; i < n; i++) {
        long row = (long)first + (pos ? pos[i] : i);
        if (row < 0 || row >= w->states)
            return bert_fail(err, BERT_ERR_INPUT, "bert_cuda_mlm: row %ld is outside the last batch's %d tokens", row,
                             w->states);
    }
    size_t V = (size_t)hd->vocab, R = MLM_CAP / V;
    if (R > w->cap_tokens) R = w->cap_tokens; /* tmp and attn hold cap_tokens rows */
    if (R < 1) R = 1;
    if (R > (size_t)n) R = (size_t)n;
    bert_status rc = reserve_outs(w, R * V, 0, err); /* the rounds' logits go straight to out */
    if (rc != BERT_OK) return rc;
    (void)cudaGetLastError(); /* an earlier call's error is not this one's */
    cudaError_t e = cudaSuccess;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    for (size_t i0 = 0; i0 < (size_t)n && e == cudaSuccess && s == CUBLAS_STATUS_SUCCESS; i0 += R) {
        int r = (int)((size_t)n - i0 < R ? (size_t)n - i0 : R);
        /* the round's rows gathered into tmp (their indices through tok: the pass is over) */
        for (int i = 0; i < r; i++) w->tok_h[i] = first + (pos ? pos[i0 + i] : (int)i0 + i);
        if ((e = cudaMemcpyAsync(w->tok, w->tok_h, sizeof(int) * (size_t)r, cudaMemcpyHostToDevice, w->stream)) != cudaSuccess)
            break;
        BERT_LAUNCH(gather_rows, (unsigned)r, threads_for(m->C, 256), w->stream)(w->tmp, w->hidden, w->tok, m->C);
        if ((s = dense(w, -1, w->attn, w->tmp, hd->mlm_w, NULL, r, m->C, m->C)) != CUBLAS_STATUS_SUCCESS) break;
        BERT_LAUNCH(bias_act_layernorm, (unsigned)r, threads_for(m->C, 256), w->stream)(
            w->attn, w->attn, hd->mlm_b, m->act, hd->mlm_ln_w, hd->mlm_ln_b, m->C, m->eps);
        if ((s = dense(w, -1, w->outs, w->attn, hd->mlm_dec, NULL, r, (int)V, m->C)) != CUBLAS_STATUS_SUCCESS) break;
        BERT_LAUNCH(bias_act, blocks_for((size_t)r * V), 256, w->stream)(w->outs, hd->mlm_bias, (size_t)r, (int)V, -1);
        if ((e = cudaGetLastError()) == cudaSuccess)
            e = cudaMemcpyAsync(out + i0 * V, w->outs, sizeof(float) * (size_t)r * V, cudaMemcpyDeviceToHost, w->stream);
        if (e == cudaSuccess) /* landed, and tok_h free for the next round (a pageable copy may be late either way) */
            e = cudaStreamSynchronize(w->stream);
    }
    if (s != CUBLAS_STATUS_SUCCESS) return w->states = 0, cublas_fail(w->stream, s, err);
    if (e != cudaSuccess) return w->states = 0, cuda_drain(w->stream), cuda_fail(err, e, "running the MLM head");
    return BERT_OK;
}
