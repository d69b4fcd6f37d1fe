/* common.cuh — what src/cuda's files share: the kernel launch, the cuBLAS
 * entry points (loaded once by device.cu), launch sizes, the error
 * convention and the device functions several kernels use. Included by
 * the .cu files only (C++; nvcc or, in the tests, the CPU emulator). */
#ifndef BERT_CUDA_COMMON_CUH
#define BERT_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <float.h>

extern "C" {
#include "kernels/ops.h"
#include "util/error.h"
}

/* A kernel launch: BERT_LAUNCH(kernel, grid, block, stream)(arguments). The
 * CPU emulator that runs this file in the tests (tests/cuda_emu) gives its
 * own. */
#ifndef BERT_LAUNCH
#define BERT_LAUNCH(k, grid, block, stream) k<<<(grid), (block), 0, (stream)>>>
#endif


#include "cuda/blas.h"

/* Threads of a block that walks n elements of one row: whole warps, at most cap. */
static inline unsigned threads_for(int n, unsigned cap) {
    unsigned t = ((unsigned)n + 31) / 32 * 32;
    return t < cap ? t : cap;
}

/* Blocks of 256 threads for a grid-stride loop over n elements: one
 * element a thread, at most 4,096 blocks. */
static inline unsigned blocks_for(size_t n) {
    size_t b = (n + 255) / 256;
    return (unsigned)(b < 4096 ? b : 4096);
}

/* The error convention for a failed CUDA call: BERT_ERR_NOMEM when the GPU's
 * memory ran out, else BERT_ERR_IO, naming what was being done and CUDA's reason. */
static inline bert_status cuda_fail(bert_error *err, cudaError_t e, const char *what) {
    return bert_fail(err, e == cudaErrorMemoryAllocation ? BERT_ERR_NOMEM : BERT_ERR_IO, "CUDA: %s: %s", what,
                     cudaGetErrorString(e));
}

/* After a failure: nothing queued on the stream may still run when its
 * buffers are reused or freed, and its launch errors are not left for the
 * next call. */
static inline void cuda_drain(cudaStream_t stream) {
    cudaStreamSynchronize(stream);
    cudaGetLastError();
}

/* The stream's work waited for, e the status of the call that queued the
 * last of it: BERT_OK, or (drained) cuda_fail's error naming what. */
static inline bert_status cuda_settle(cudaStream_t stream, cudaError_t e, const char *what, bert_error *err) {
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e == cudaSuccess) return BERT_OK;
    cuda_drain(stream);
    return cuda_fail(err, e, what);
}

/* A cuBLAS product that failed with status s, the stream drained. */
static inline bert_status cublas_fail(cudaStream_t stream, cublasStatus_t s, bert_error *err) {
    cuda_drain(stream);
    return bert_fail(err, BERT_ERR_IO, "cuBLAS: a product failed (status %d)", (int)s);
}

/* bert_activation_forward's formulas (kernels/ops.c, vecmath.h). */
__device__ static inline float activation(float x, int act) {
    switch (act) {
    case BERT_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case BERT_ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case BERT_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case BERT_ACT_SILU: return x / (1.0f + expf(-x));
    case BERT_ACT_GELU_FAST: return 0.5f * x * (1.0f + tanhf(0.7978845608f * x * (1.0f + 0.044715f * x * x)));
    default: return x;
    }
}

/* dst[i] = src[i] rounded to bf16, nearest even (bert_f32_to_bf16 on the CPU). */
__global__ static void to_bf16(__nv_bfloat16 *dst, const float *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

/* y[M x N] = act(y + b) (act < 0: y + b): nn.Linear's bias, then the
 * intermediate's activation. */
__global__ static void bias_act(float *y, const float *b, size_t M, int N, int act) {
    size_t n = M * (size_t)N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = y[i] + b[i % N];
        y[i] = act >= 0 ? activation(v, act) : v;
    }
}

/* Row i of dst [rows x C] = row rows[i] of src, one block a row: the
 * labelled tokens' hidden states (train.cu's MLM head), the first tokens'
 * (the pooler's input, in training and in inference). */
__global__ static void gather_rows(float *dst, const float *src, const int *rows, int C) {
    const float *r = src + (size_t)rows[blockIdx.x] * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) dst[(size_t)blockIdx.x * C + j] = r[j];
}

/* y[M x N] = tanh(y + b): BertPooler's bias and activation (bert_tanh). */
__global__ static void bias_tanh(float *y, const float *b, size_t M, int N) {
    size_t n = M * (size_t)N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = tanhf(y[i] + b[i % N]);
}

/* The sum (op 0) or maximum (op 1) of v over the block; every thread gets it. */
__device__ static inline float block_reduce(float v, int op) {
    __shared__ float part[32];
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = op ? fmaxf(v, w) : v + w;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads(); /* part[] may still be read from the previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < warps ? part[lane] : (op ? -FLT_MAX : 0.0f);
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = op ? fmaxf(v, w) : v + w;
    }
    return v;
}

/* out[j] = LayerNorm(x)[j] * g[j] + beta[j] over one row of C, x(j) its
 * j-th element, by the block (nn.LayerNorm: biased variance, rstd = 1 /
 * sqrt(var + eps)). x(j) is read by the thread that writes out[j], last
 * just before, so out may be one of x's inputs. */
template <class X>
__device__ static inline void layernorm_row(float *out, X x, const float *g, const float *beta, int C, float eps) {
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) s += x(j);
    float mean = block_reduce(s, 0) / C;
    float q = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float d = x(j) - mean;
        q += d * d;
    }
    float rstd = rsqrtf(block_reduce(q, 0) / C + eps);
    for (int j = threadIdx.x; j < C; j += blockDim.x) out[j] = (x(j) - mean) * rstd * g[j] + beta[j];
}

/* r[j] = exp(r[j] - mx) over one row r[0..T) by the block (each thread
 * its columns j = threadIdx.x + k blockDim.x); returns their sum to every
 * thread: softmax's numerators and denominator. */
__device__ static inline float exp_shifted_row(float *r, float mx, int T) {
    float s = 0.0f;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float e = expf(r[j] - mx);
        r[j] = e;
        s += e;
    }
    return block_reduce(s, 0);
}

/* One score row r[0..T) by the block: keys whose km is 0 to -FLT_MAX, then
 * softmax, as bert_mask_key_columns + bert_softmax_rows (the max
 * subtracted, the sum inverted once). */
__device__ static inline void masked_softmax_row(float *r, const float *km, int T) {
    float mx = -FLT_MAX;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        float v = km[j] == 0.0f ? -FLT_MAX : r[j];
        r[j] = v;
        mx = fmaxf(mx, v);
    }
    mx = block_reduce(mx, 1);
    float inv = 1.0f / exp_shifted_row(r, mx, T);
    for (int j = threadIdx.x; j < T; j += blockDim.x) r[j] *= inv;
}

#endif
