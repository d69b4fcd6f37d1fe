/* emu.cc — the CUDA runtime on the CPU for tests (see include/cuda_runtime.h
 * here for what it is and what it cannot show).
 *
 * Kernels: a launch runs its blocks one after another on the calling
 * thread. A block's threads are fibers (their own stacks, switched by a
 * few instructions), each run until it waits: at __syncthreads every thread
 * of the block must arrive before any goes on; at __shfl_xor_sync and
 * __syncwarp every lane of its warp (32 consecutive linear thread indices). A thread that
 * ends while others wait, a barrier no thread can pass, or a shuffle whose
 * partner lane is missing is a kernel bug: the emulator says so and aborts.
 *
 * Memory: cudaMalloc returns host memory filled with 0xff bytes (NaN as
 * floats, so a read of what no one wrote shows in the results) that ends
 * just before an inaccessible page; shared memory is NaN-filled likewise
 * at the start of every block (launches run one at a time); a kernel's
 * pointer arguments, each copy's device side and (through
 * bert_emu_check_range) every cuBLAS operand must lie inside a live
 * allocation, and a copy's host side outside all of them. Any breach aborts
 * with what and where. BERT_EMU_REPORT: see the end of this file. */
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "cuda_runtime.h"
#include "emu.h"

namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void misuse(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("CUDA emulator: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- device memory ---- */

/* An allocation of n bytes starts 16-byte aligned and ends at most 15
 * bytes (its slack) before a PROT_NONE page, so a kernel that reads or
 * writes well past it faults (the SIGSEGV handler below names the kernel).
 * The slack and the gap between the mapping's start and the allocation's
 * hold a canary that reads as NaN both as f32 and as bf16 (bytes c5 ff
 * repeated), so a read there shows in the results, and a write there is
 * found at the next check. */
const unsigned char CANARY[2] = {0xc5, 0xff};
struct mapping {
    size_t bytes;
    void *map;
    size_t map_len;
};
std::mutex mem_lock;
std::map<uintptr_t, mapping> allocs; /* start -> its mapping */
int fail_countdown, fail_more; /* the n-th cudaMalloc fails, and fail_more after it */
int copy_countdown;            /* the n-th copy fails */
size_t n_launches;
size_t to_host; /* bytes copied from device to host memory */
thread_local cudaError_t last_error = cudaSuccess;
size_t page;

size_t slack(size_t bytes) { return (16 - bytes % 16) % 16; }

/* the allocation holding p (p == its end counts only for empty ranges), or allocs.end() */
std::map<uintptr_t, mapping>::iterator holder(const void *p) {
    uintptr_t a = (uintptr_t)p;
    auto it = allocs.upper_bound(a);
    if (it == allocs.begin()) return allocs.end();
    --it;
    size_t n = it->second.bytes;
    return a < it->first + n || (a == it->first + n && n == 0) ? it : allocs.end();
}

bool is_device(const void *p) {
    std::lock_guard<std::mutex> g(mem_lock);
    return p && holder(p) != allocs.end();
}

/* The canary over [from, to), aligned to its mapping's start (map). */
void fill_canary(unsigned char *map, unsigned char *from, unsigned char *to) {
    for (unsigned char *c = from; c < to; c++) *c = CANARY[(c - map) & 1];
}

void check_canaries(const char *after) {
    std::lock_guard<std::mutex> g(mem_lock);
    for (auto &a : allocs) {
        unsigned char *map = (unsigned char *)a.second.map, *b = (unsigned char *)a.first;
        for (unsigned char *c = map; c < b; c++)
            if (*c != CANARY[(c - map) & 1])
                misuse("%s wrote before the start of a %zu-byte allocation (%zu bytes before it)", after,
                       a.second.bytes, (size_t)(b - c));
        for (unsigned char *c = b + a.second.bytes; c < b + a.second.bytes + slack(a.second.bytes); c++)
            if (*c != CANARY[(c - map) & 1])
                misuse("%s wrote past the end of a %zu-byte allocation (byte %zu after it)", after, a.second.bytes,
                       (size_t)(c - b - a.second.bytes));
    }
}

thread_local const char *running; /* the kernel being run, for the SIGSEGV handler */
std::mutex launch_lock;

} // namespace
/* every __shared__ variable, one after another (the linker's section bounds) */
extern "C" char __start_bert_emu_shared[] __attribute__((weak)), __stop_bert_emu_shared[] __attribute__((weak));
namespace {

#if !defined(__SANITIZE_ADDRESS__)
void on_fault(int sig) {
    static const char head[] = "CUDA emulator: a memory fault in kernel ", tail[] =
        " (past the end of a device allocation, not device memory, or a thread's stack overflowed)\n";
    const char *k = running ? running : "(none: host code)";
    ssize_t r = write(2, head, sizeof head - 1);
    r = write(2, k, strlen(k));
    r = write(2, tail, sizeof tail - 1);
    (void)r;
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

/* Each host thread that runs kernels: an alternate signal stack, so the
 * handler below also runs when a fiber's stack overflowed into its guard. */
void thread_setup(void) {
#if !defined(__SANITIZE_ADDRESS__)
    static thread_local char altstack[64 << 10];
    static thread_local int done;
    if (done++) return;
    stack_t st = {};
    st.ss_sp = altstack, st.ss_size = sizeof altstack;
    sigaltstack(&st, NULL);
#endif
}

/* Once: the page size, and (except under AddressSanitizer, which reports
 * faults itself) a SIGSEGV handler on the alternate stack that names the
 * kernel. */
void setup(void) {
    page = (size_t)sysconf(_SC_PAGESIZE);
#if !defined(__SANITIZE_ADDRESS__)
    struct sigaction sa = {};
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
#endif
}
std::once_flag setup_once;

std::set<cudaStream_t> streams, held; /* held: busy until bert_emu_stream_hold releases them */

void check_stream(cudaStream_t s, const char *what) {
    std::lock_guard<std::mutex> g(mem_lock);
    if (s && !streams.count(s)) misuse("%s on a stream that does not exist (destroyed?)", what);
}

/* ---- fibers ---- */

enum { RUNNABLE, AT_SYNC, AT_SHFL, AT_WARP, DONE };
enum { STACK = 64 << 10 };

/* A fiber's saved state is its stack pointer: switch_stack pushes the
 * callee-saved registers (and the SSE/x87 control words) on the stack it
 * leaves, stores that stack pointer in *from, and pops the same from the
 * stack it enters, so a switch is a few instructions and no system call
 * (x86-64; elsewhere swapcontext does it). A fiber runs fiber_entry: a loop
 * that runs the launch's body once per block and parks at its end. */
struct fiber {
#if defined(__x86_64__)
    void *sp;
#else
    ucontext_t uc;
#endif
    char *stack;
    void *fake; /* AddressSanitizer's fake stack while switched away */
    dim3 tid;
    int state;
    const void *site; /* where it waits: every thread of a barrier must wait at the same one */
    float shfl_in, shfl_out;
    int shfl_lanes;
};

/* A host thread's fibers, freed when it ends. */
struct fiber_pool {
    std::vector<fiber *> f;
    ~fiber_pool() {
        for (fiber *x : f) munmap(x->stack - page, STACK + page), delete x;
    }
};
thread_local fiber_pool pool;
thread_local fiber *cur;
thread_local const std::function<void()> *body;

/* AddressSanitizer is told of each switch between the host thread's stack
 * and a fiber's (its fiber annotations); elsewhere these do nothing. */
#if defined(__SANITIZE_ADDRESS__)
}
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
namespace {
thread_local void *sched_fake;
thread_local const void *sched_bottom;
thread_local size_t sched_size;
void to_fiber(fiber *f) { __sanitizer_start_switch_fiber(&sched_fake, f->stack, STACK); }
void at_sched() { __sanitizer_finish_switch_fiber(sched_fake, NULL, NULL); }
void to_sched(fiber *f) { __sanitizer_start_switch_fiber(&f->fake, sched_bottom, sched_size); }
void at_fiber(fiber *f) { __sanitizer_finish_switch_fiber(f->fake, &sched_bottom, &sched_size); }
#else
void to_fiber(fiber *) {}
void at_sched() {}
void to_sched(fiber *) {}
void at_fiber(fiber *) {}
#endif

#if defined(__x86_64__)
} // namespace
extern "C" void bert_emu_switch_stack(void **from, void *to);
__asm__(".text\n"
        ".globl bert_emu_switch_stack\n"
        ".type bert_emu_switch_stack,@function\n"
        "bert_emu_switch_stack:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size bert_emu_switch_stack, .-bert_emu_switch_stack\n");
namespace {
thread_local void *sched_sp;
void enter(fiber *f) { bert_emu_switch_stack(&sched_sp, f->sp); }
void leave(fiber *f) { bert_emu_switch_stack(&f->sp, sched_sp); }
#else
thread_local ucontext_t sched_uc;
void enter(fiber *f) { swapcontext(&sched_uc, &f->uc); }
void leave(fiber *f) { swapcontext(&f->uc, &sched_uc); }
#endif

void fiber_entry() {
    for (;;) {
        fiber *f = cur;
        at_fiber(f);
        (*body)();
        f->state = DONE;
        to_sched(f);
        leave(f);
    }
}

fiber *new_fiber() {
    fiber *f = new fiber();
    /* below the stack an inaccessible page: an overflow faults */
    char *map = (char *)mmap(NULL, STACK + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map, page, PROT_NONE) != 0) misuse("out of memory for a thread's stack");
    f->stack = map + page;
#if defined(__x86_64__)
    /* as if switch_stack had left fiber_entry's first instruction: after
     * its ret the stack pointer is 8 mod 16, as after a call */
    uintptr_t top = ((uintptr_t)f->stack + STACK) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = NULL;                   /* fiber_entry's return address: never used */
    *--sp = (void *)fiber_entry;    /* switch_stack's ret goes here */
    for (int i = 0; i < 6; i++) *--sp = NULL; /* rbp rbx r12 r13 r14 r15 */
    --sp;
    uint32_t mxcsr;
    uint16_t fcw;
    __asm__ volatile("stmxcsr %0\n fnstcw %1" : "=m"(mxcsr), "=m"(fcw));
    memcpy((char *)sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fcw, 2);
    f->sp = sp;
#else
    if (getcontext(&f->uc)) misuse("getcontext failed");
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = STACK;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, fiber_entry, 0);
#endif
    return f;
}

void resume(fiber *f) {
    cur = f;
    to_fiber(f);
    enter(f);
    at_sched();
}

void wait_here(int state, const void *site) {
    if (!cur) misuse("__syncthreads, __syncwarp or __shfl_xor_sync outside a kernel");
    fiber *f = cur;
    f->state = state, f->site = site;
    to_sched(f);
    leave(f);
    at_fiber(f);
}

void run_block(const char *name, unsigned n, dim3 bd) {
    while (pool.f.size() < n) pool.f.push_back(new_fiber());
    size_t shared = (size_t)(__stop_bert_emu_shared - __start_bert_emu_shared);
    if (shared) memset(__start_bert_emu_shared, 0xff, shared); /* shared memory: NaN, as unwritten */
    for (unsigned t = 0; t < n; t++) {
        pool.f[t]->tid = dim3(t % bd.x, t / bd.x % bd.y, t / (bd.x * bd.y));
        pool.f[t]->state = RUNNABLE;
        resume(pool.f[t]);
    }
    for (;;) {
        for (unsigned t = 0; t < n; t++)
            if (pool.f[t]->state == RUNNABLE) resume(pool.f[t]);
        unsigned done = 0, at_sync = 0, progress = 0;
        /* shuffles and __syncwarp complete warp by warp */
        for (unsigned w = 0; w < n; w += 32) {
            unsigned end = w + 32 < n ? w + 32 : n, shfl = 0, warp = 0;
            for (unsigned t = w; t < end; t++) shfl += pool.f[t]->state == AT_SHFL, warp += pool.f[t]->state == AT_WARP;
            if (!shfl && !warp) continue;
            if (shfl + warp != end - w || (shfl && warp))
                misuse("kernel %s, block (%u,%u,%u): a warp's lanes did not all reach the same %s", name, blockIdx.x,
                       blockIdx.y, blockIdx.z, shfl ? "__shfl_xor_sync" : "__syncwarp");
            for (unsigned t = w; t < end; t++)
                if (pool.f[t]->site != pool.f[w]->site)
                    misuse("kernel %s, block (%u,%u,%u): lanes %u and %u of a warp wait at different %s calls", name,
                           blockIdx.x, blockIdx.y, blockIdx.z, 0u, t - w, shfl ? "__shfl_xor_sync" : "__syncwarp");
            for (unsigned t = w; t < end && shfl; t++) {
                unsigned lane = t - w, other = w + (lane ^ (unsigned)pool.f[t]->shfl_lanes);
                if (other >= end)
                    misuse("kernel %s: lane %u shuffles with lane %u, past the block's %u threads", name, lane,
                           other - w, n);
                pool.f[t]->shfl_out = pool.f[other]->shfl_in;
            }
            for (unsigned t = w; t < end; t++) pool.f[t]->state = RUNNABLE;
            progress = 1;
        }
        if (progress) continue;
        for (unsigned t = 0; t < n; t++) done += pool.f[t]->state == DONE, at_sync += pool.f[t]->state == AT_SYNC;
        if (done == n) break;
        if (done)
            misuse("kernel %s, block (%u,%u,%u): %u thread(s) ended while %u wait at __syncthreads", name, blockIdx.x,
                   blockIdx.y, blockIdx.z, done, at_sync);
        for (unsigned t = 1; t < n; t++)
            if (pool.f[t]->site != pool.f[0]->site)
                misuse("kernel %s, block (%u,%u,%u): threads 0 and %u wait at different __syncthreads calls", name,
                       blockIdx.x, blockIdx.y, blockIdx.z, t);
        for (unsigned t = 0; t < n; t++) pool.f[t]->state = RUNNABLE;
    }
    cur = NULL;
}

} // namespace

namespace bert_emu {
thread_local dim3 block_idx, block_dim, grid_dim;

const dim3 &thread_idx() {
    if (!cur) misuse("threadIdx read outside a kernel");
    return cur->tid;
}

/* __builtin_return_address(0): the kernel's call (these are never inlined into it) */
__attribute__((noinline)) void syncthreads() { wait_here(AT_SYNC, __builtin_return_address(0)); }

__attribute__((noinline)) void syncwarp(unsigned mask) {
    if (mask != 0xffffffffu) misuse("__syncwarp with a partial mask (%#x) is not emulated", mask);
    wait_here(AT_WARP, __builtin_return_address(0));
}

__attribute__((noinline)) float shfl_xor(unsigned mask, float v, int lanes) {
    if (mask != 0xffffffffu) misuse("__shfl_xor_sync with a partial mask (%#x) is not emulated", mask);
    if (lanes < 0 || lanes > 31) misuse("__shfl_xor_sync lane mask %d", lanes);
    cur->shfl_in = v, cur->shfl_lanes = lanes;
    wait_here(AT_SHFL, __builtin_return_address(0));
    return cur->shfl_out;
}

void check_kernel_pointer(const char *kernel, int arg, const void *p) {
    if (p && !is_device(p)) misuse("kernel %s: argument %d (%p) is not device memory", kernel, arg, p);
}

void launch(const char *name, dim3 grid, dim3 block, cudaStream_t s, const std::function<void()> &fn) {
    std::call_once(setup_once, setup);
    thread_setup();
    check_stream(s, name);
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (!threads || threads > 1024 || block.z > 64 || !grid.x || !grid.y || !grid.z || grid.y > 65535 ||
        grid.z > 65535 || grid.x > 0x7fffffffu) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    {
        std::lock_guard<std::mutex> g(mem_lock);
        n_launches++;
    }
    std::lock_guard<std::mutex> one_at_a_time(launch_lock); /* the blocks share one shared memory */
    running = name;
    body = &fn;
    grid_dim = grid, block_dim = block;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                block_idx = dim3(x, y, z);
                run_block(name, (unsigned)threads, block);
            }
    body = NULL;
    running = NULL;
    char what[128];
    snprintf(what, sizeof what, "kernel %s", name);
    check_canaries(what);
}
} // namespace bert_emu

/* ---- the runtime's calls ---- */

/* The GPUs the emulator lists: BERT_EMU_GPUS (1..64, default 1), all of
 * them one memory; the ones a program made current (cudaSetDevice; bit k:
 * GPU k), for the report at exit. */
static int emu_gpus(void) {
    const char *v = getenv("BERT_EMU_GPUS");
    int n = v ? atoi(v) : 1;
    return n >= 1 && n <= 64 ? n : 1;
}
static std::atomic<unsigned long long> gpus_set{0};

cudaError_t cudaGetDeviceCount(int *n) {
    *n = emu_gpus();
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    if (device < 0 || device >= emu_gpus()) return last_error = cudaErrorInvalidValue;
    gpus_set |= 1ULL << device;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    if (device < 0 || device >= emu_gpus()) return last_error = cudaErrorInvalidValue;
    *value = attr == cudaDevAttrComputeCapabilityMajor ? 9 : 0; /* an sm_90 GPU */
    return cudaSuccess;
}

/* Page-locked host memory: plain host memory here (a host pointer to the
 * copies' checks), failing in the same count as cudaMalloc; live ones counted. */
std::set<void *> host_allocs;

cudaError_t cudaMallocHost(void **p, size_t bytes) {
    if (!p) return last_error = cudaErrorInvalidValue;
    std::lock_guard<std::mutex> g(mem_lock);
    if (fail_countdown > 0 && --fail_countdown == 0) return last_error = cudaErrorMemoryAllocation;
    if (fail_countdown == 0 && fail_more > 0) return fail_more--, last_error = cudaErrorMemoryAllocation;
    if (!(*p = malloc(bytes ? bytes : 1))) return last_error = cudaErrorMemoryAllocation;
    host_allocs.insert(*p);
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p) {
    std::lock_guard<std::mutex> g(mem_lock);
    if (p && !host_allocs.erase(p)) misuse("cudaFreeHost(%p): not a live cudaMallocHost allocation", p);
    free(p);
    return cudaSuccess;
}

/* Host memory page-locked in place: its ranges, live ones counted with the
 * allocations; bert_emu_fail_pin makes the next ones fail, as where the
 * system refuses to lock memory. */
std::map<uintptr_t, size_t> host_regs;
int pin_failures;

extern "C" void bert_emu_fail_pin(int n) {
    std::lock_guard<std::mutex> g(mem_lock);
    pin_failures = n;
}

cudaError_t cudaHostRegister(void *p, size_t bytes, unsigned flags) {
    if (!p || !bytes || flags != cudaHostRegisterDefault) return last_error = cudaErrorInvalidValue;
    if (is_device(p)) misuse("cudaHostRegister(%p): device memory", p);
    std::lock_guard<std::mutex> g(mem_lock);
    for (const auto &r : host_regs)
        if ((uintptr_t)p < r.first + r.second && r.first < (uintptr_t)p + bytes)
            misuse("cudaHostRegister(%p, %zu): overlaps memory locked already", p, bytes);
    if (pin_failures > 0) return pin_failures--, last_error = cudaErrorMemoryAllocation;
    host_regs[(uintptr_t)p] = bytes;
    return cudaSuccess;
}

cudaError_t cudaHostUnregister(void *p) {
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = host_regs.find((uintptr_t)p);
    if (it == host_regs.end()) misuse("cudaHostUnregister(%p): not the start of locked memory", p);
    /* the range must still be the program's: read its ends (a sanitizer build reports one freed first) */
    volatile const char *c = (const char *)p;
    (void)c[0], (void)c[it->second - 1];
    host_regs.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    std::call_once(setup_once, setup);
    if (!p) return last_error = cudaErrorInvalidValue;
    std::lock_guard<std::mutex> g(mem_lock);
    if (fail_countdown > 0 && --fail_countdown == 0) return last_error = cudaErrorMemoryAllocation;
    if (fail_countdown == 0 && fail_more > 0) return fail_more--, last_error = cudaErrorMemoryAllocation;
    if (bytes > ((size_t)1 << 36)) return last_error = cudaErrorMemoryAllocation;
    size_t used = bytes + slack(bytes), len = (used + page - 1) / page * page + page;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return last_error = cudaErrorMemoryAllocation;
    unsigned char *guard = (unsigned char *)map + len - page, *b = guard - used;
    if (mprotect(guard, page, PROT_NONE) != 0) misuse("mprotect failed");
    memset(b, 0xff, bytes);
    fill_canary((unsigned char *)map, (unsigned char *)map, b);
    fill_canary((unsigned char *)map, b + bytes, b + used);
    allocs[(uintptr_t)b] = mapping{bytes, map, len};
    *p = b;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    check_canaries("a kernel or copy");
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end()) misuse("cudaFree(%p): not the start of a live allocation", p);
    munmap(it->second.map, it->second.map_len);
    allocs.erase(it);
    return cudaSuccess;
}

static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what) {
    {
        std::lock_guard<std::mutex> g(mem_lock);
        if (copy_countdown > 0 && --copy_countdown == 0) return last_error = cudaErrorLaunchFailure;
    }
    if (!bytes) return cudaSuccess;
    int dd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyHostToDevice;
    int sd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDeviceToHost;
    if (kind == cudaMemcpyDefault || kind == cudaMemcpyHostToHost) dd = is_device(dst), sd = is_device(src);
    if (dd) bert_emu_check_range(dst, bytes, what);
    else if (is_device(dst)) misuse("%s: the destination is device memory, the kind says host", what);
    if (sd) bert_emu_check_range(src, bytes, what);
    else if (is_device(src)) misuse("%s: the source is device memory, the kind says host", what);
    memmove(dst, src, bytes);
    if (sd && !dd) {
        std::lock_guard<std::mutex> g(mem_lock);
        to_host += bytes;
    }
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    return copy(dst, src, bytes, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    check_stream(s, "cudaMemcpyAsync");
    return copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s) {
    check_stream(s, "cudaMemsetAsync");
    if (!bytes) return cudaSuccess;
    bert_emu_check_range(dst, bytes, "cudaMemsetAsync");
    memset(dst, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    std::lock_guard<std::mutex> g(mem_lock);
    *s = (cudaStream_t)malloc(1);
    if (!*s) return last_error = cudaErrorMemoryAllocation;
    streams.insert(*s);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
    std::lock_guard<std::mutex> g(mem_lock);
    if (!streams.erase(s)) misuse("cudaStreamDestroy of a stream that does not exist");
    if (held.count(s)) misuse("cudaStreamDestroy of a stream an NCCL all-reduce still runs on");
    free(s);
    return cudaSuccess;
}

extern "C" void bert_emu_stream_hold(void *s, int on) {
    std::lock_guard<std::mutex> g(mem_lock);
    if (on) held.insert((cudaStream_t)s);
    else held.erase((cudaStream_t)s);
}

/* 1 when s is held busy (bert_emu_stream_hold). */
static int is_held(cudaStream_t s) {
    std::lock_guard<std::mutex> g(mem_lock);
    return held.count(s) != 0;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    check_stream(s, "cudaStreamSynchronize");
    if (is_held(s)) misuse("cudaStreamSynchronize on a stream whose NCCL all-reduce never ends: it would wait for ever");
    check_canaries("a kernel or copy");
    return cudaSuccess;
}

/* The emulated streams run their work when it is queued: idle, unless held. */
cudaError_t cudaStreamQuery(cudaStream_t s) {
    check_stream(s, "cudaStreamQuery");
    check_canaries("a kernel or copy");
    return is_held(s) ? cudaErrorNotReady : cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    check_canaries("a kernel or copy");
    return cudaSuccess;
}

struct bert_emu_event {
    double t; /* seconds; < 0 until recorded */
};

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new bert_emu_event{-1.0};
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    check_stream(s, "cudaEventRecord");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->t = ts.tv_sec + ts.tv_nsec * 1e-9;
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!start || !end || start->t < 0 || end->t < 0) return last_error = cudaErrorInvalidValue; /* not recorded */
    *ms = (float)((end->t - start->t) * 1e3);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}

/* ---- emu.h ---- */

extern "C" void bert_emu_check_range(const void *p, size_t bytes, const char *what) {
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = p ? holder(p) : allocs.end();
    if (it == allocs.end()) misuse("%s: %p is not device memory", what, p);
    size_t n = it->second.bytes;
    if ((uintptr_t)p + bytes > it->first + n)
        misuse("%s: %zu bytes from %p pass the end of a %zu-byte allocation by %zu", what, bytes, p, n,
               (size_t)((uintptr_t)p + bytes - it->first - n));
}

extern "C" void bert_emu_fail_mallocs(int n, int count) {
    std::lock_guard<std::mutex> g(mem_lock);
    fail_countdown = n;
    fail_more = n > 0 && count > 1 ? count - 1 : 0;
}

extern "C" void bert_emu_fail_malloc(int n) { bert_emu_fail_mallocs(n, 1); }

extern "C" void bert_emu_fail_copy(int n) {
    std::lock_guard<std::mutex> g(mem_lock);
    copy_countdown = n;
}

extern "C" int bert_emu_copy_failure_pending(void) {
    std::lock_guard<std::mutex> g(mem_lock);
    return copy_countdown > 0;
}

extern "C" int bert_emu_malloc_failure_pending(void) {
    std::lock_guard<std::mutex> g(mem_lock);
    return fail_countdown > 0;
}

extern "C" size_t bert_emu_live_allocations(void) {
    std::lock_guard<std::mutex> g(mem_lock);
    return allocs.size() + host_allocs.size() + host_regs.size();
}

extern "C" size_t bert_emu_launches(void) {
    std::lock_guard<std::mutex> g(mem_lock);
    return n_launches;
}

extern "C" size_t bert_emu_copied_to_host(void) {
    std::lock_guard<std::mutex> g(mem_lock);
    return to_host;
}

/* With BERT_EMU_REPORT set, a program's last word on stderr: the kernels
 * it launched, the allocations it left and the GPUs it made current (for
 * tests of a whole program, such as the tool on the emulator). */
namespace {
struct report_at_exit {
    ~report_at_exit() {
        if (!getenv("BERT_EMU_REPORT")) return;
        char gpus[64 * 3 + 1] = "";
        for (int k = 0, at = 0; k < 64; k++)
            if (gpus_set >> k & 1) at += snprintf(gpus + at, sizeof gpus - (size_t)at, " %d", k);
        /* one write: other processes' lines (ranks under mpirun) cannot cut into it */
        fprintf(stderr, "cuda-emu: %zu kernels launched, %zu allocations left, GPUs made current:%s\n", bert_emu_launches(),
                bert_emu_live_allocations(), gpus);
    }
} report;
} // namespace
