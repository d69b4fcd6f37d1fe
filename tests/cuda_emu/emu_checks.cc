/* emu_checks.cc — the CUDA emulator's own promises (tests/cuda_emu), shown
 * on small kernels of its own: a stream's work runs only when the host
 * waits for it, page-locked and pageable copies behave as CUDA documents,
 * and the shuffled schedule turns a missing __syncthreads into wrong
 * results where the in-order one cannot. Built as C++ against the
 * emulated headers, linked into build/test_cuda_emu. */
#include <math.h>
#include <stdint.h>

#include "cuda_runtime.h"
#include "emu.h"
extern "C" {
#include "test.h"
}

__global__ static void fill(float *d, float v, int n) {
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) d[i] = v;
}

TEST(cuda_emulator_streams_run_when_waited_for) {
    cudaStream_t s;
    float *d = NULL, *pinned = NULL, pageable[4] = {0, 0, 0, 0};
    cudaEvent_t e0, e1;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    CHECK(cudaMalloc((void **)&d, 4 * sizeof(float)) == cudaSuccess);
    CHECK(cudaMallocHost((void **)&pinned, 4 * sizeof(float)) == cudaSuccess);
    CHECK(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess);
    if (!d || !pinned) return;

    /* a result copied to page-locked memory is there only after the wait */
    CHECK(cudaEventRecord(e0, s) == cudaSuccess);
    BERT_LAUNCH(fill, dim3(1), dim3(32), s)(d, 1.0f, 4);
    CHECK(cudaEventRecord(e1, s) == cudaSuccess);
    CHECK(cudaMemcpyAsync(pinned, d, 4 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaErrorNotReady);
    CHECK(isnan(pinned[0])); /* fresh page-locked memory reads as NaN */
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(pinned[0] == 1.0f && pinned[3] == 1.0f);
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 0);
    CHECK(cudaGetLastError() == cudaSuccess);

    /* from page-locked memory the bytes are read when the copy runs; from
     * pageable memory, at the call */
    pinned[0] = 2.0f, pageable[1] = 4.0f;
    CHECK(cudaMemcpyAsync(d, pinned, sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
    CHECK(cudaMemcpyAsync(d + 1, pageable + 1, sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
    pinned[0] = 3.0f, pageable[1] = 5.0f;
    /* a copy to pageable memory waits for the stream */
    CHECK(cudaMemcpyAsync(pageable, d, 2 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
    CHECK(pageable[0] == 3.0f && pageable[1] == 4.0f);

    /* cudaMemcpy runs on the legacy default stream, which does not wait for a non-blocking one */
    BERT_LAUNCH(fill, dim3(1), dim3(32), s)(d, 7.0f, 4);
    CHECK(cudaMemcpy(pageable, d, sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(pageable[0] == 3.0f);
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    CHECK(cudaMemcpy(pageable, d, sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(pageable[0] == 7.0f);

    /* freeing waits for the GPU: the queued fill lands before the memory goes */
    size_t launches = bert_emu_launches();
    BERT_LAUNCH(fill, dim3(1), dim3(32), s)(d, 8.0f, 4);
    CHECK(cudaMemcpyAsync(pinned, d, sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
    CHECK(cudaFree(d) == cudaSuccess);
    CHECK(pinned[0] == 8.0f && bert_emu_launches() == launches + 1);
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    CHECK(cudaFreeHost(pinned) == cudaSuccess && cudaStreamDestroy(s) == cudaSuccess);
}

/* out[t] = what thread t - 32 (the other warp) wrote: with the barrier, or
 * without it (a race: in order, warp 0 happens to write first). */
__global__ static void neighbour(float *out, int barrier) {
    __shared__ float s[64];
    unsigned t = threadIdx.x;
    s[t] = (float)(blockIdx.x * 64 + t);
    if (barrier) __syncthreads();
    if (t >= 32) out[blockIdx.x * 32 + t - 32] = s[t - 32];
}

/* The launch's values wrong (NaN or not thread t - 32's) in how many places. */
static int neighbour_wrong(float *d, float *h, int blocks, int barrier) {
    BERT_LAUNCH(neighbour, dim3((unsigned)blocks), dim3(64), (cudaStream_t)0)(d, barrier);
    cudaMemcpy(h, d, sizeof(float) * 32 * (size_t)blocks, cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < 32; t++) wrong += !(h[b * 32 + t] == (float)(b * 64 + t));
    return wrong;
}

TEST(cuda_emulator_shuffled_schedule_finds_a_missing_barrier) {
    enum { BLOCKS = 16 };
    float *d = NULL, h[BLOCKS * 32];
    CHECK(cudaMalloc((void **)&d, sizeof h) == cudaSuccess);
    if (!d) return;
    int was = bert_emu_set_schedule(0);
    CHECK(neighbour_wrong(d, h, BLOCKS, 1) == 0);
    CHECK(neighbour_wrong(d, h, BLOCKS, 0) == 0); /* in order the race goes unseen */
    bert_emu_set_schedule(1);
    CHECK(neighbour_wrong(d, h, BLOCKS, 1) == 0);
    int wrong = neighbour_wrong(d, h, BLOCKS, 0);
    printf("  without the barrier, shuffled: %d of %d values wrong\n", wrong, BLOCKS * 32);
    CHECK(wrong > 0);
    bert_emu_set_schedule(was);
    CHECK(cudaFree(d) == cudaSuccess);
}
