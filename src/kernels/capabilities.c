/* capabilities.c — what can run here and why not (see capabilities.h), and
 * the one-line report of it (bert_system_info). */
#include "kernels/capabilities.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bert.h"
#include "kernels/cpu.h"
#include "kernels/linear_avx512.h"
#include "kernels/linear_packed.h"
#include "kernels/onednn.h"

const char *bert_bf16_unavailable(void) {
#if defined(__SANITIZE_ADDRESS__)
    return "bf16 needs oneDNN, which sanitizer builds do not load";
#endif
    if (!bert_cpu_has_avx512bf16())
        return "bf16 needs a CPU with AVX512-BF16 (Cooper Lake, Sapphire Rapids or newer); this one has not";
    const bert_dnnl_gemms *g = bert_dnnl_gemm_api();
    if (!g->library) return "bf16 needs oneDNN (libdnnl.so.2; Debian: apt-get install libdnnl2), which was not found";
    if (!g->gemm_bf16) return "bf16 needs dnnl_gemm_bf16bf16f32, which the libdnnl found lacks";
    return NULL;
}

const char *bert_int8_unavailable(void) {
    if (!bert_cpu_has_int8_dot())
        return "int8 needs a CPU with VNNI or AMX int8 dot products (without them int8 sums can saturate); this one has neither";
    switch (bert_dnnl_status()) {
    case BERT_DNNL_OK: return NULL;
    case BERT_DNNL_NO_HEADER: return "int8 needs bert.c built with oneDNN's header (Debian: apt-get install libdnnl-dev, then rebuild)";
    case BERT_DNNL_SANITIZER: return "int8 needs oneDNN, which sanitizer builds do not load";
    case BERT_DNNL_NO_LIBRARY: return "int8 needs oneDNN (libdnnl.so.2; Debian: apt-get install libdnnl2), which was not found";
    case BERT_DNNL_OLD_LIBRARY: return "int8 needs oneDNN 2.x's matmul API, which the libdnnl.so.2 found lacks";
    default: return "int8 needs a oneDNN CPU engine, which could not be created";
    }
}

#ifdef BERT_USE_CBLAS
/* OpenBLAS extensions, declared here so any CBLAS header works. */
extern char *openblas_get_config(void) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));
#endif

const char *bert_gemm_backend(void) {
#ifdef BERT_USE_CBLAS
    if (openblas_get_config) return openblas_get_config();
    return "CBLAS";
#else
    return "portable";
#endif
}

const char *bert_gemm_core_name(void) {
#ifdef BERT_USE_CBLAS
    if (openblas_get_corename) return openblas_get_corename();
#endif
    return NULL;
}

/* OpenBLAS picks its kernels from the CPU model number at load time. On
 * processors it does not know (seen on virtual machines reporting a generic
 * "Intel Xeon Processor"), it falls back to Prescott (SSE3) kernels, which
 * run matrix products ~5x slower than its AVX-512 ones. The choice can only
 * be changed before the library loads, with OPENBLAS_CORETYPE. */
const char *bert_blas_coretype_hint(void) {
    const char *core = bert_gemm_core_name();
    if (!core) return NULL;
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2_cores[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
    int want512 = bert_cpu_has_avx512(), want2 = bert_cpu_has_avx2();
    const char *const *ok = want512 ? avx512_cores : avx2_cores;
    size_t n = want512 ? 3 : 5;
    if (!want512 && !want2) return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(core, ok[i]) == 0) return NULL;
    if (want512) return bert_cpu_has_avx512bf16() ? "Cooperlake" : "SkylakeX";
    return "Haswell";
}

char *bert_system_info(char *buf, size_t cap) {
    const char *core = bert_gemm_core_name();
    if (cap == 0) return buf;
    const char *no_bf16 = bert_bf16_unavailable(), *no_int8 = bert_int8_unavailable();
    /* with AMX but no oneDNN, bf16 runs for models whose dense layers all fit the AMX kernel */
    const char *bf16 = bert_amx_bf16_ready() ? (no_bf16 ? "yes where every dense layer's sizes are multiples of 16 x 32 (AMX); "
                                                          "others need oneDNN (libdnnl.so.2)"
                                                        : "yes (AMX for attention and dense layers, oneDNN for sizes AMX does not take)")
                                             : no_bf16 ? no_bf16 : "yes (oneDNN)";
    snprintf(buf, cap, "cpu: %s | gemm: %s%s%s%s | bf16: %s | int8: %s",
             *bert_cpu_features() ? bert_cpu_features() : "(baseline)",
             bert_plinear_preferred(256, 256)
                 ? (bert_avx512_linear_preferred(256, 128)
                        ? "oneDNN matmul, weights packed at load (dense layers >= 256 x 256), AVX-512 kernel on weights "
                          "packed at load (smaller), "
                        : "oneDNN matmul, weights packed at load (dense layers >= 256 x 256), sgemm (smaller), ")
             : bert_dnnl_sgemm_available() ? "oneDNN sgemm (dense layers), "
                                           : "", bert_gemm_backend(), core ? " | core: " : "",
             core ? core : "", bf16, no_int8                 ? no_int8
             : bert_amx_int8_ready() ? "yes (AMX kernel; oneDNN matmul for layers it does not fit)"
                                     : "yes (oneDNN matmul)");
    return buf;
}
