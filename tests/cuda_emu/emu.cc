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
#include <deque>
#include <map>
#include <memory>
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

/* The kernel schedule (BERT_EMU_SCHEDULE, read once): 0 in order — blocks
 * by index, and at each step a block's threads by index; 1 shuffled — the
 * blocks of a launch and, at every step, the order in which a block's
 * waiting threads resume drawn from a PRNG (BERT_EMU_SEED, default 1), so
 * a kernel whose result hangs on an order the GPU does not promise (one
 * thread reading what another writes between the same two barriers, one
 * block reading what another writes) comes out otherwise. */
int schedule_shuffled;
uint64_t schedule_state = 1; /* under launch_lock */

unsigned schedule_draw(unsigned n) { /* uniform in [0, n): splitmix64, then Lemire's reduction */
    uint64_t z = (schedule_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (unsigned)(((z >> 32) * (uint64_t)n) >> 32);
}


/* Once: the page size, and (except under AddressSanitizer, which reports
 * faults itself) a SIGSEGV handler on the alternate stack that names the
 * kernel. */
void setup(void) {
    page = (size_t)sysconf(_SC_PAGESIZE);
    const char *sched = getenv("BERT_EMU_SCHEDULE"), *seed = getenv("BERT_EMU_SEED");
    if (sched && strcmp(sched, "shuffle") == 0) schedule_shuffled = 1;
    else if (sched && *sched && strcmp(sched, "in-order") != 0)
        misuse("BERT_EMU_SCHEDULE=%s: in-order or shuffle", sched);
    if (seed) schedule_state = strtoull(seed, NULL, 10);
#if !defined(__SANITIZE_ADDRESS__)
    struct sigaction sa = {};
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
#endif
}
std::once_flag setup_once;

/* ---- streams ----
 * A stream holds its work — kernels, copies, memsets, event records, the
 * cuBLAS stand-in's products — queued, as a GPU does: it runs, in order,
 * only when the host waits for that stream (cudaStreamSynchronize,
 * cudaStreamQuery, a synchronous copy from it, NCCL's all-reduce on it) or
 * for the whole GPU (cudaDeviceSynchronize, cudaFree, cudaFreeHost,
 * cudaHostUnregister). So a program that reads a result copied to
 * page-locked memory before waiting reads what was there before (NaN for
 * fresh page-locked memory), one that changes page-locked memory a queued
 * copy reads sends the new bytes, and one that frees or reuses a buffer
 * queued work still needs shows it. Copies to or from pageable host memory
 * behave as CUDA documents: from it, its bytes are taken at the call; to
 * it, the call waits for the stream and copies. The default stream (NULL)
 * is CUDA's legacy one; the program's streams are non-blocking ones, which
 * never wait for it, nor it for them. */
} // namespace
struct bert_emu_stream { /* cudaStream_t points to one */
    std::mutex run;                        /* one host thread drains it at a time, in order */
    std::deque<std::function<void()>> ops; /* under queue_lock */
    cudaStream_t self;
};
namespace {
std::mutex queue_lock;
std::map<cudaStream_t, std::shared_ptr<bert_emu_stream>> streams; /* under queue_lock */
std::shared_ptr<bert_emu_stream> default_stream;                  /* NULL's, made on first use */
std::set<cudaStream_t> held; /* under mem_lock: busy until bert_emu_stream_hold releases them */

std::shared_ptr<bert_emu_stream> queue_of(cudaStream_t s, const char *what) {
    std::lock_guard<std::mutex> g(queue_lock);
    if (!s) {
        if (!default_stream) default_stream = std::make_shared<bert_emu_stream>(), default_stream->self = NULL;
        return default_stream;
    }
    auto it = streams.find(s);
    if (it == streams.end()) misuse("%s on a stream that does not exist (destroyed?)", what);
    return it->second;
}

void check_stream(cudaStream_t s, const char *what) { (void)queue_of(s, what); }

void enqueue(cudaStream_t s, const char *what, std::function<void()> op) {
    std::shared_ptr<bert_emu_stream> q = queue_of(s, what);
    std::lock_guard<std::mutex> g(queue_lock);
    q->ops.push_back(std::move(op));
}

int is_held(cudaStream_t s) {
    std::lock_guard<std::mutex> g(mem_lock);
    return held.count(s) != 0;
}

/* Runs q's queued work in order, stopping at an NCCL hold (the work after
 * an all-reduce waits for it to end). */
void drain(const std::shared_ptr<bert_emu_stream> &q) {
    std::lock_guard<std::mutex> one(q->run);
    for (;;) {
        if (is_held(q->self)) return;
        std::function<void()> op;
        {
            std::lock_guard<std::mutex> g(queue_lock);
            if (q->ops.empty()) return;
            op = std::move(q->ops.front());
            q->ops.pop_front();
        }
        op();
    }
}

/* The whole GPU: every stream drained. `what` waits for the GPU, so while
 * an NCCL all-reduce runs it would wait for that too: a misuse here (the
 * all-reduce's buffers, or the work queued after it, may be what goes). */
void drain_all(const char *what) {
    std::vector<std::shared_ptr<bert_emu_stream>> all;
    all.push_back(queue_of(NULL, what));
    {
        std::lock_guard<std::mutex> g(queue_lock);
        for (auto &s : streams) all.push_back(s.second);
    }
    for (auto &q : all) {
        if (is_held(q->self)) misuse("%s while an NCCL all-reduce runs: it would wait for the all-reduce", what);
        drain(q);
    }
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

/* A block's threads ready to run, and which runs next. In order: first
 * come, first run (so the warps move on together, a shuffle at a time).
 * Shuffled: a drawn lane of the warp that ran last while it has one ready,
 * else of a drawn warp — so a warp runs on alone, through its shuffles, to
 * the next __syncthreads while the others have not started, and the warps
 * take turns in a drawn order: what one warp writes before a barrier it
 * lacks reaches another too early or too late. */
struct ready_threads {
    std::vector<unsigned> fifo;              /* in order */
    size_t head = 0;
    std::vector<std::vector<unsigned>> lanes; /* shuffled: per warp */
    std::vector<unsigned> warps;              /* shuffled: the warps with a lane ready */
    int last = -1;                            /* shuffled: the warp that ran last */

    explicit ready_threads(unsigned n) { lanes.resize((n + 31) / 32); }
    bool empty() const { return schedule_shuffled ? warps.empty() : head == fifo.size(); }
    void push(unsigned t) {
        if (!schedule_shuffled) {
            if (head == fifo.size()) fifo.clear(), head = 0;
            fifo.push_back(t);
            return;
        }
        std::vector<unsigned> &l = lanes[t / 32];
        if (l.empty()) warps.push_back(t / 32);
        l.push_back(t);
    }
    unsigned pop() {
        if (!schedule_shuffled) return fifo[head++];
        if (last < 0 || lanes[(unsigned)last].empty()) last = (int)warps[schedule_draw((unsigned)warps.size())];
        std::vector<unsigned> &l = lanes[(unsigned)last];
        unsigned k = schedule_draw((unsigned)l.size()), t = l[k];
        l[k] = l.back(), l.pop_back();
        if (l.empty())
            for (size_t i = 0; i < warps.size(); i++)
                if (warps[i] == (unsigned)last) warps[i] = warps.back(), warps.pop_back(), i = warps.size();
        return t;
    }
};

/* Warp [w, end) has every lane at a shuffle or __syncwarp: checked (the
 * same call, the same kind), the shuffle's values exchanged, the lanes
 * ready again. */
void complete_warp(const char *name, unsigned w, unsigned end, unsigned n, ready_threads &ready) {
    int shfl = pool.f[w]->state == AT_SHFL;
    for (unsigned t = w; t < end; t++)
        if (pool.f[t]->state != pool.f[w]->state)
            misuse("kernel %s, block (%u,%u,%u): a warp's lanes did not all reach the same %s", name, blockIdx.x,
                   blockIdx.y, blockIdx.z, shfl ? "__shfl_xor_sync" : "__syncwarp");
    for (unsigned t = w; t < end; t++)
        if (pool.f[t]->site != pool.f[w]->site)
            misuse("kernel %s, block (%u,%u,%u): lanes %u and %u of a warp wait at different %s calls", name,
                   blockIdx.x, blockIdx.y, blockIdx.z, 0u, t - w, shfl ? "__shfl_xor_sync" : "__syncwarp");
    for (unsigned t = w; t < end && shfl; t++) {
        unsigned lane = t - w, other = w + (lane ^ (unsigned)pool.f[t]->shfl_lanes);
        if (other >= end)
            misuse("kernel %s: lane %u shuffles with lane %u, past the block's %u threads", name, lane, other - w, n);
        pool.f[t]->shfl_out = pool.f[other]->shfl_in;
    }
    for (unsigned t = w; t < end; t++) pool.f[t]->state = RUNNABLE, ready.push(t);
}

void run_block(const char *name, unsigned n, dim3 bd) {
    while (pool.f.size() < n) pool.f.push_back(new_fiber());
    size_t shared = (size_t)(__stop_bert_emu_shared - __start_bert_emu_shared);
    if (shared) memset(__start_bert_emu_shared, 0xff, shared); /* shared memory: NaN, as unwritten */
    ready_threads ready(n);
    std::vector<unsigned> arrived((n + 31) / 32, 0); /* per warp: lanes at a shuffle or __syncwarp */
    for (unsigned t = 0; t < n; t++) {
        pool.f[t]->tid = dim3(t % bd.x, t / bd.x % bd.y, t / (bd.x * bd.y));
        pool.f[t]->state = RUNNABLE;
        ready.push(t);
    }
    for (;;) {
        while (!ready.empty()) {
            unsigned t = ready.pop();
            resume(pool.f[t]);
            int st = pool.f[t]->state;
            if (st != AT_SHFL && st != AT_WARP) continue;
            unsigned w = t / 32 * 32, end = w + 32 < n ? w + 32 : n;
            if (++arrived[t / 32] == end - w) arrived[t / 32] = 0, complete_warp(name, w, end, n, ready);
        }
        unsigned done = 0, at_sync = 0;
        for (unsigned w = 0; w < arrived.size(); w++)
            if (arrived[w])
                misuse("kernel %s, block (%u,%u,%u): a warp's lanes did not all reach the same %s", name, blockIdx.x,
                       blockIdx.y, blockIdx.z,
                       pool.f[w * 32]->state == AT_WARP ? "__syncwarp" : "__shfl_xor_sync");
        for (unsigned t = 0; t < n; t++) done += pool.f[t]->state == DONE, at_sync += pool.f[t]->state == AT_SYNC;
        if (done == n) break;
        if (done)
            misuse("kernel %s, block (%u,%u,%u): %u thread(s) ended while %u wait at __syncthreads", name, blockIdx.x,
                   blockIdx.y, blockIdx.z, done, at_sync);
        for (unsigned t = 1; t < n; t++)
            if (pool.f[t]->site != pool.f[0]->site)
                misuse("kernel %s, block (%u,%u,%u): threads 0 and %u wait at different __syncthreads calls", name,
                       blockIdx.x, blockIdx.y, blockIdx.z, t);
        ready.last = -1; /* past a barrier, the first warp to run is drawn too */
        for (unsigned t = 0; t < n; t++) pool.f[t]->state = RUNNABLE, ready.push(t);
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
    enqueue(s, name, [name, grid, block, threads, fn]() {
        thread_setup();
        std::lock_guard<std::mutex> one_at_a_time(launch_lock); /* the blocks share one shared memory */
        running = name;
        body = &fn;
        grid_dim = grid, block_dim = block;
        unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
        std::vector<unsigned long long> order;
        if (schedule_shuffled && blocks <= (1ULL << 24)) { /* past that, in order: the list alone would be 128 MB */
            order.resize(blocks);
            for (unsigned long long i = 0; i < blocks; i++) order[i] = i;
            for (unsigned long long i = blocks; i > 1; i--) {
                unsigned long long j = (unsigned long long)schedule_draw((unsigned)i);
                std::swap(order[i - 1], order[j]);
            }
        }
        for (unsigned long long i = 0; i < blocks; i++) {
            unsigned long long b = order.empty() ? i : order[i];
            block_idx = dim3((unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y));
            run_block(name, (unsigned)threads, block);
        }
        body = NULL;
        running = NULL;
        char what[128];
        snprintf(what, sizeof what, "kernel %s", name);
        check_canaries(what);
    });
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
std::map<uintptr_t, size_t> host_allocs; /* start -> bytes */
std::map<uintptr_t, size_t> host_regs;    /* page-locked in place (cudaHostRegister): start -> bytes */

cudaError_t cudaMallocHost(void **p, size_t bytes) {
    if (!p) return last_error = cudaErrorInvalidValue;
    std::lock_guard<std::mutex> g(mem_lock);
    if (fail_countdown > 0 && --fail_countdown == 0) return last_error = cudaErrorMemoryAllocation;
    if (fail_countdown == 0 && fail_more > 0) return fail_more--, last_error = cudaErrorMemoryAllocation;
    if (!(*p = malloc(bytes ? bytes : 1))) return last_error = cudaErrorMemoryAllocation;
    memset(*p, 0xff, bytes); /* NaN, as device memory: a result read before it came shows */
    host_allocs[(uintptr_t)*p] = bytes;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p) {
    drain_all("cudaFreeHost"); /* as CUDA's, it waits for the GPU */
    std::lock_guard<std::mutex> g(mem_lock);
    if (p && !host_allocs.erase((uintptr_t)p)) misuse("cudaFreeHost(%p): not a live cudaMallocHost allocation", p);
    free(p);
    return cudaSuccess;
}

/* 1 when [p, p + bytes) lies inside one page-locked range (cudaMallocHost or cudaHostRegister). */
static int is_pinned(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> g(mem_lock);
    uintptr_t a = (uintptr_t)p;
    for (const std::map<uintptr_t, size_t> *m : {&host_allocs, &host_regs}) {
        auto it = m->upper_bound(a);
        if (it == m->begin()) continue;
        --it;
        if (a >= it->first && a + bytes <= it->first + it->second) return 1;
    }
    return 0;
}

/* Host memory page-locked in place: its ranges, live ones counted with the
 * allocations; bert_emu_fail_pin makes the next ones fail, as where the
 * system refuses to lock memory. */
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
    drain_all("cudaHostUnregister"); /* queued copies may still read or write the range */
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
    drain_all("cudaFree"); /* as CUDA's, it waits for the GPU */
    check_canaries("a kernel or copy");
    std::lock_guard<std::mutex> g(mem_lock);
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end()) misuse("cudaFree(%p): not the start of a live allocation", p);
    munmap(it->second.map, it->second.map_len);
    allocs.erase(it);
    return cudaSuccess;
}

/* Checks a copy's two sides against its kind and counts it; 0 when the
 * copy fails (bert_emu_fail_copy) or is empty. *to_dev / *from_dev: which
 * side is device memory. */
static int copy_check(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what, int *to_dev,
                      int *from_dev, cudaError_t *e) {
    *e = cudaSuccess;
    {
        std::lock_guard<std::mutex> g(mem_lock);
        if (copy_countdown > 0 && --copy_countdown == 0) return *e = last_error = cudaErrorLaunchFailure, 0;
    }
    if (!bytes) return 0;
    int dd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyHostToDevice;
    int sd = kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDeviceToHost;
    if (kind == cudaMemcpyDefault || kind == cudaMemcpyHostToHost) dd = is_device(dst), sd = is_device(src);
    if (dd) bert_emu_check_range(dst, bytes, what);
    else if (is_device(dst)) misuse("%s: the destination is device memory, the kind says host", what);
    if (sd) bert_emu_check_range(src, bytes, what);
    else if (is_device(src)) misuse("%s: the source is device memory, the kind says host", what);
    if (sd && !dd) {
        std::lock_guard<std::mutex> g(mem_lock);
        to_host += bytes;
    }
    *to_dev = dd, *from_dev = sd;
    return 1;
}

/* On the legacy default stream, after its queued work; the program's
 * (non-blocking) streams are not waited for. */
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    int dd, sd;
    cudaError_t e;
    if (!copy_check(dst, src, bytes, kind, "cudaMemcpy", &dd, &sd, &e)) return e;
    drain(queue_of(NULL, "cudaMemcpy"));
    memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    check_stream(s, "cudaMemcpyAsync");
    int dd, sd;
    cudaError_t e;
    if (!copy_check(dst, src, bytes, kind, "cudaMemcpyAsync", &dd, &sd, &e)) return e;
    if ((dd && sd) || (dd && is_pinned(src, bytes)) || (sd && is_pinned(dst, bytes))) {
        enqueue(s, "cudaMemcpyAsync", [dst, src, bytes]() { memmove(dst, src, bytes); });
    } else if (dd) { /* from pageable memory: its bytes now, to the GPU in the stream's order */
        std::shared_ptr<std::vector<char>> bytes_now = std::make_shared<std::vector<char>>((const char *)src,
                                                                                           (const char *)src + bytes);
        enqueue(s, "cudaMemcpyAsync", [dst, bytes_now]() { memcpy(dst, bytes_now->data(), bytes_now->size()); });
    } else { /* to pageable memory (or host to host): the call waits for the stream, then copies */
        if (is_held(s)) misuse("cudaMemcpyAsync to pageable memory on a stream whose NCCL all-reduce runs: it waits");
        drain(queue_of(s, "cudaMemcpyAsync"));
        memmove(dst, src, bytes);
    }
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s) {
    check_stream(s, "cudaMemsetAsync");
    if (!bytes) return cudaSuccess;
    bert_emu_check_range(dst, bytes, "cudaMemsetAsync");
    enqueue(s, "cudaMemsetAsync", [dst, value, bytes]() { memset(dst, value, bytes); });
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    std::shared_ptr<bert_emu_stream> q = std::make_shared<bert_emu_stream>();
    std::lock_guard<std::mutex> g(queue_lock);
    q->self = q.get();
    streams[q.get()] = q;
    *s = q.get();
    return cudaSuccess;
}

/* Its queued work runs first (CUDA lets it finish after the call). */
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    if (is_held(s)) misuse("cudaStreamDestroy of a stream an NCCL all-reduce still runs on");
    drain(queue_of(s, "cudaStreamDestroy"));
    std::lock_guard<std::mutex> g(queue_lock);
    if (!streams.erase(s)) misuse("cudaStreamDestroy of a stream that does not exist");
    return cudaSuccess;
}

extern "C" void bert_emu_stream_hold(void *s, int on) {
    std::lock_guard<std::mutex> g(mem_lock);
    if (on) held.insert((cudaStream_t)s);
    else held.erase((cudaStream_t)s);
}

extern "C" void bert_emu_stream_drain(void *s) { drain(queue_of((cudaStream_t)s, "bert_emu_stream_drain")); }

extern "C" void bert_emu_enqueue(void *s, void (*run)(void *), void *arg) {
    enqueue((cudaStream_t)s, "bert_emu_enqueue", [run, arg]() { run(arg); });
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    check_stream(s, "cudaStreamSynchronize");
    if (is_held(s)) misuse("cudaStreamSynchronize on a stream whose NCCL all-reduce never ends: it would wait for ever");
    drain(queue_of(s, "cudaStreamSynchronize"));
    check_canaries("a kernel or copy");
    return cudaSuccess;
}

/* Busy while held; otherwise its queued work runs and it is idle. */
cudaError_t cudaStreamQuery(cudaStream_t s) {
    check_stream(s, "cudaStreamQuery");
    if (is_held(s)) return cudaErrorNotReady;
    drain(queue_of(s, "cudaStreamQuery"));
    check_canaries("a kernel or copy");
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    drain_all("cudaDeviceSynchronize");
    check_canaries("a kernel or copy");
    return cudaSuccess;
}

/* An event: the host's clock when its stream reached it. Destroyed with
 * records still queued, it lives until the last of them has run, as CUDA
 * lets it. */
struct bert_emu_event {
    double t;     /* seconds; < 0 until reached */
    int recorded; /* cudaEventRecord called */
    int queued;   /* records not reached yet (under queue_lock) */
    int destroyed;
};

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new bert_emu_event{-1.0, 0, 0, 0};
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!e) return cudaSuccess;
    std::lock_guard<std::mutex> g(queue_lock);
    if (e->queued) e->destroyed = 1; /* the last queued record deletes it */
    else delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    check_stream(s, "cudaEventRecord");
    {
        std::lock_guard<std::mutex> g(queue_lock);
        e->t = -1.0, e->recorded = 1, e->queued++;
    }
    enqueue(s, "cudaEventRecord", [e]() {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        std::lock_guard<std::mutex> g(queue_lock);
        e->t = ts.tv_sec + ts.tv_nsec * 1e-9;
        if (--e->queued == 0 && e->destroyed) delete e;
    });
    return cudaSuccess;
}

/* As CUDA's: an event never recorded is an invalid handle; one its stream has not reached yet, not ready. */
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!start || !end || !start->recorded || !end->recorded) return last_error = cudaErrorInvalidValue;
    if (start->t < 0 || end->t < 0) return cudaErrorNotReady; /* not an error: cudaGetLastError does not keep it */
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

extern "C" int bert_emu_set_schedule(int shuffled) {
    std::call_once(setup_once, setup); /* BERT_EMU_SCHEDULE read first, so it cannot override this */
    std::lock_guard<std::mutex> g(launch_lock);
    int was = schedule_shuffled;
    schedule_shuffled = shuffled != 0;
    return was;
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
