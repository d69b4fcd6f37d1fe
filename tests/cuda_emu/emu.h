/* emu.h — what the CUDA emulator (tests/cuda_emu) offers the tests and its
 * cuBLAS stand-in, beyond the CUDA calls themselves. C linkage. */
#ifndef BERT_EMU_H
#define BERT_EMU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Aborts (after saying what) unless [p, p + bytes) lies inside one live
 * allocation of emulated device memory. */
void bert_emu_check_range(const void *p, size_t bytes, const char *what);
/* Stream s (a cudaStream_t) busy with work that has not ended (held 1: an
 * NCCL all-reduce still running, as on a GPU) or idle again (0): while
 * busy, cudaStreamQuery is cudaErrorNotReady and cudaStreamSynchronize
 * aborts, saying it would wait for ever. */
void bert_emu_stream_hold(void *s, int held);
/* Queues run(arg) on stream s (a cudaStream_t; NULL: the default one) with
 * its kernels and copies: it runs in their order when the host waits for
 * the stream (see emu.cc: streams). For the cuBLAS stand-in's products. */
void bert_emu_enqueue(void *s, void (*run)(void *), void *arg);
/* Runs the work queued on s so far (up to an NCCL hold), as a GPU may
 * have by now: for NCCL's stand-in, whose all-reduce reads what the
 * stream's earlier kernels wrote. */
void bert_emu_stream_drain(void *s);
/* The n-th cudaMalloc or cudaMallocHost from now (1: the next) fails with
 * cudaErrorMemoryAllocation; 0: none. */
void bert_emu_fail_malloc(int n);
/* The n-th cudaMalloc (or cudaMallocHost) from now and the count - 1 after it fail; n 0: none. */
void bert_emu_fail_mallocs(int n, int count);
/* 1 while a failure set by bert_emu_fail_malloc has not happened yet. */
int bert_emu_malloc_failure_pending(void);
/* The n-th cudaMemcpy or cudaMemcpyAsync from now fails with
 * cudaErrorLaunchFailure, copying nothing; 0: none. */
void bert_emu_fail_copy(int n);
/* 1 while that failure has not happened yet. */
int bert_emu_copy_failure_pending(void);
/* The next n cudaHostRegister calls fail (cudaErrorMemoryAllocation), as
 * where the system refuses to lock memory; 0: none. */
void bert_emu_fail_pin(int n);
/* The kernel schedule from now (see emu.cc: the kernel schedule): 1
 * shuffled, 0 in order; returns the one before. */
int bert_emu_set_schedule(int shuffled);
/* Live device (and page-locked host) allocations and locked host ranges, and kernel launches so far. */
size_t bert_emu_live_allocations(void);
size_t bert_emu_launches(void);
/* Bytes copied from device to host memory so far. */
size_t bert_emu_copied_to_host(void);

#ifdef __cplusplus
}
#endif
#endif
