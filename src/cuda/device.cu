/* device.cu — what this machine's GPU path can do, decided once: whether
 * a GPU, its driver and cuBLAS are there (cuBLAS is opened with dlopen, so
 * a machine without it runs everything else), and the attention kernel the
 * environment asks for. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "cuda/encoder.h"
}

#include "cuda/blas.h"

/* Set once under pthread_once, read-only afterwards (the documented
 * capability cache of this file). */
static struct {
    char why[256]; /* empty: usable */
    int batched;   /* BERT_CUDA_ATTENTION=batched: no fused attention */
    cuda_blas_api api;
} B;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* cuBLAS of the CUDA major version built against (its soname), first from
 * the toolkit the build used, then from the loader's path; the unversioned
 * name last. The first failure's message goes into why. */
static void *open_cublas(char *why, size_t cap) {
    char names[4][512];
    int n = 0;
#ifdef BERT_CUDA_LIBDIR
    snprintf(names[n++], sizeof names[0], "%s/libcublas.so.%d", BERT_CUDA_LIBDIR, CUDART_VERSION / 1000);
#endif
    snprintf(names[n++], sizeof names[0], "libcublas.so.%d", CUDART_VERSION / 1000);
    snprintf(names[n++], sizeof names[0], "libcublas.so");
    why[0] = 0;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
        if (!why[0]) snprintf(why, cap, "cuBLAS was not found: %s", dlerror());
    }
    return NULL;
}

static void probe(void) {
    const char *attention = getenv("BERT_CUDA_ATTENTION");
    B.batched = attention && strcmp(attention, "batched") == 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (driver) dlclose(driver);
        snprintf(B.why, sizeof B.why, "no usable NVIDIA GPU: %s%s", cudaGetErrorString(e),
                 driver ? "" : " (the NVIDIA driver, libcuda.so.1, is not installed)");
        return;
    }
    if (n < 1) {
        snprintf(B.why, sizeof B.why, "no NVIDIA GPU found (CUDA lists none)");
        return;
    }
    /* the kernels are built for compute capability 8.0 and 9.0 (+ PTX of 9.0) */
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    if (major < 8) {
        snprintf(B.why, sizeof B.why, "the GPU's compute capability is %d.%d; bert.c's kernels need 8.0 or newer", major,
                 minor);
        return;
    }
    void *h = open_cublas(B.why, sizeof B.why);
    if (!h) return;
#define SYM(field, name) \
    if (!(*(void **)&B.api.field = dlsym(h, name))) snprintf(B.why, sizeof B.why, "cuBLAS lacks %s", name);
    SYM(create, "cublasCreate_v2") SYM(destroy, "cublasDestroy_v2") SYM(set_stream, "cublasSetStream_v2")
    SYM(set_math, "cublasSetMathMode") SYM(sgemm, "cublasSgemm_v2") SYM(sgemm_batched, "cublasSgemmBatched")
    SYM(gemm_ex, "cublasGemmEx")
#undef SYM
}

extern "C" const char *bert_cuda_unavailable(void) {
    pthread_once(&once, probe);
    return B.why[0] ? B.why : NULL;
}

extern "C" int bert_cuda_fused_attention(int head_size) {
    pthread_once(&once, probe);
    return !B.batched && head_size >= 1 && head_size <= BERT_CUDA_FUSED_HEAD_MAX;
}

const cuda_blas_api *cuda_blas(void) { return &B.api; }
