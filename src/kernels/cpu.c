/* cpu.c — run-time CPU feature detection (GCC/Clang builtins on x86). A
 * leaf: what the libraries found can do is capabilities.c's question. */
#define _GNU_SOURCE /* syscall() for the AMX permission request */
#include "kernels/cpu.h"

#include "bert.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int bert_cpu_bf16_dot_is_fast(void) {
#if X86 && BERT_AMX_INTRINSICS
    return bert_cpu_has_avx512bf16() && __builtin_cpu_is("amd");
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

int bert_amx_int8_ready(void) { return bert_amx_bf16_ready() && __builtin_cpu_supports("amx-int8"); }
#else
int bert_amx_bf16_ready(void) { return 0; }
int bert_amx_int8_ready(void) { return 0; }
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

long bert_max_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (cores > 0 ? cores : 1) * BERT_MAX_THREADS_PER_CORE;
}
