/* cuda_runtime.h (emulated) — the part of the CUDA runtime that src/cuda
 * uses, run on the CPU, so that `make test` executes the GPU path's own
 * source (kernels, launches, copies, cuBLAS calls) where no GPU is.
 *
 * Compiled in place of NVIDIA's header when src/cuda's .cu files are built with g++
 * for build/test_cuda_emu (see tests/cuda_emu/emu.cc for what is checked):
 *  - a kernel launch runs every block, one after another; a block's threads
 *    are fibers that switch at __syncthreads, __syncwarp and __shfl_xor_sync, so block
 *    reductions and shared memory behave as on the GPU (one legal schedule);
 *  - "device" memory is host memory the emulator allocated: filled with NaN
 *    bytes, fenced by canaries checked at every synchronisation, and every
 *    kernel pointer argument, copy and cuBLAS operand must lie inside it;
 *  - a stream queues its work (kernels, copies, memsets, event records,
 *    cuBLAS products) and runs it in order only when the host waits for
 *    it or for the GPU, so a result read before the wait, or a page-locked
 *    buffer changed while a queued copy still reads it, shows in the
 *    results (emu.cc: streams);
 *  - BERT_EMU_SCHEDULE=shuffle (seed BERT_EMU_SEED) runs each launch's
 *    blocks, and a block's threads between two barriers, in a drawn order
 *    instead of by index (emu.cc: the kernel schedule).
 * What it cannot show: speed, races between a block's threads beyond the
 * schedules it tries (a thread runs from one barrier to the next without
 * a switch), two streams' work overlapping in time, the GPU's own libm
 * (erff, expf: other last bits). */
#ifndef BERT_EMU_CUDA_RUNTIME_H
#define BERT_EMU_CUDA_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <functional>

#define BERT_CUDA_EMULATED 1
#define CUDART_VERSION 13000

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
/* one block runs at a time, so a static is its shared memory; the section
 * lets the emulator NaN-fill all of them at each block's start */
#define __shared__ static __attribute__((section("bert_emu_shared")))

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorNoDevice = 100,
    cudaErrorNotReady = 600,
    cudaErrorLaunchFailure = 719
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

enum cudaDeviceAttr { cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76 };

typedef struct bert_emu_stream *cudaStream_t;
typedef struct bert_emu_event *cudaEvent_t;
#define cudaStreamNonBlocking 0x01

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
#define cudaHostRegisterDefault 0x00
cudaError_t cudaHostRegister(void *p, size_t bytes, unsigned flags);
cudaError_t cudaHostUnregister(void *p);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
/* events: the host's clock when the stream reaches the record */
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
const char *cudaGetErrorString(cudaError_t e);

/* ---- inside kernels ------------------------------------------------------ */

namespace bert_emu {
extern thread_local dim3 block_idx, block_dim, grid_dim;
const dim3 &thread_idx();
void syncthreads();
void syncwarp(unsigned mask);
float shfl_xor(unsigned mask, float v, int lane_mask);
/* always inlined, here and below: the emulator tells calls apart by where they are made */
__attribute__((always_inline)) static inline int shfl_xor(unsigned mask, int v, int lane_mask) {
    float f, r;
    memcpy(&f, &v, sizeof f); /* the bits travel, not the value */
    r = shfl_xor(mask, f, lane_mask);
    memcpy(&v, &r, sizeof v);
    return v;
}
/* Runs body once per thread of every block of grid x block (after checking
 * the configuration as CUDA does: an invalid one is the launch's error). */
void launch(const char *name, dim3 grid, dim3 block, cudaStream_t s, const std::function<void()> &body);
/* Aborts unless p is null or lies inside memory from cudaMalloc. */
void check_kernel_pointer(const char *kernel, int arg, const void *p);

template <class T> void check_arg(const char *kernel, int arg, const T &) { (void)kernel, (void)arg; }
template <class T> void check_arg(const char *kernel, int arg, T *const &p) { check_kernel_pointer(kernel, arg, p); }

template <class... P> struct launcher {
    const char *name;
    dim3 grid, block;
    cudaStream_t stream;
    void (*kernel)(P...);
    template <class... A> void operator()(A... a) const {
        int i = 0;
        (check_arg(name, i++, a), ...);
        void (*k)(P...) = kernel;
        launch(name, grid, block, stream, [=]() { k(a...); });
    }
};
template <class... P> launcher<P...> make_launcher(const char *name, dim3 g, dim3 b, cudaStream_t s, void (*k)(P...)) {
    return launcher<P...>{name, g, b, s, k};
}
} // namespace bert_emu

#define threadIdx (bert_emu::thread_idx())
#define blockIdx (bert_emu::block_idx)
#define blockDim (bert_emu::block_dim)
#define gridDim (bert_emu::grid_dim)
#define __syncthreads() bert_emu::syncthreads()
__attribute__((always_inline)) static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    bert_emu::syncwarp(mask);
}
#define __shfl_xor_sync(mask, v, lane) bert_emu::shfl_xor((mask), (v), (lane))
/* src/cuda's launch spelling (BERT_LAUNCH(kernel, grid, block, stream)(args)) */
#define BERT_LAUNCH(k, grid, block, stream) bert_emu::make_launcher(#k, (grid), (block), (stream), k)

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
/* CUDA's once-rounded operations: the host's IEEE f32 ones (the emulator is
 * built with -ffp-contract=off, so none is fused into an FMA) */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }

#endif
