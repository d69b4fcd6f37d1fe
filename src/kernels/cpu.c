/* cpu.c — run-time CPU feature detection (GCC/Clang builtins on x86). */
#define _GNU_SOURCE /* syscall() for the AMX permission request */
#include "kernels/cpu.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bert.h"
#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/linear_packed.h"
#include "kernels/qlinear.h"

#if defined(__x86_64__) || defined(__i386__)
#define X86 1
#else
#define X86 0
#endif

int bert_cpu_has_avx512(void) {
#if X86
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int bert_cpu_has_avx2(void) {
#if X86
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int bert_cpu_has_avx512bf16(void) {
#if X86 && defined(__GNUC__) && (__GNUC__ >= 12)
    return bert_cpu_has_avx512() && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

#if BERT_AMX_INTRINSICS
/* Set once under pthread_once, read-only afterwards. */
static int amx_granted;
static void request_amx(void) {
#ifdef SYS_arch_prctl
    if (bert_cpu_has_avx512bf16() && __builtin_cpu_supports("amx-bf16") && __builtin_cpu_supports("amx-tile"))
        amx_granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#endif
}

int bert_amx_bf16_ready(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, request_amx);
    return amx_granted;
}
#else
int bert_amx_bf16_ready(void) { return 0; }
#endif

int bert_cpu_has_int8_dot(void) {
#if X86 && defined(__GNUC__) && (__GNUC__ >= 12)
    return __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni") ||
           __builtin_cpu_supports("amx-int8");
#else
    return 0;
#endif
}

const char *bert_cpu_features(void) {
    if (bert_cpu_has_avx512bf16()) return "avx2 fma avx512f avx512bw avx512dq avx512vl avx512bf16";
    if (bert_cpu_has_avx512()) return "avx2 fma avx512f avx512bw avx512dq avx512vl";
    if (bert_cpu_has_avx2()) return "avx2 fma";
    return "";
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
    const char *bf16 = bert_amx_bf16_ready() ? (no_bf16 ? "yes where every dense layer is at most 512 x 512 (AMX); larger "
                                                          "ones need oneDNN (libdnnl.so.2)"
                                                        : "yes (AMX for attention and layers up to 512 x 512, oneDNN above)")
                                             : no_bf16 ? no_bf16 : "yes (oneDNN)";
    snprintf(buf, cap, "cpu: %s | gemm: %s%s%s%s | bf16: %s | int8: %s",
             *bert_cpu_features() ? bert_cpu_features() : "(baseline)",
             bert_plinear_preferred(256, 256) ? "oneDNN matmul, weights packed at load (dense layers >= 256 x 256), sgemm (smaller), "
             : bert_dnnl_sgemm_available()    ? "oneDNN sgemm (dense layers), "
                                              : "", bert_gemm_backend(), core ? " | core: " : "",
             core ? core : "", bf16, no_int8 ? no_int8 : "yes (oneDNN matmul)");
    return buf;
}
