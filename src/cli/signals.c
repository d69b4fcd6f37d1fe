/* signals.c — SIGINT, SIGTERM and SIGUSR1 handled on a thread that never
 * computes; see signals.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "cli/signals.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The process's signal state (see signals.h): the flag the training loop
 * polls, whether a first signal sets it, and whether one has. */
static volatile sig_atomic_t stop_requested;
static atomic_int stop_armed, stop_taken;

static const int taken_sigs[3] = {SIGINT, SIGTERM,
                                  /* mpirun forwards SIGUSR1 to every rank without killing them a second
                                   * later, as it does after forwarding SIGTERM: the way to stop a job
                                   * that needs more than a second for its checkpoint. */
                                  SIGUSR1};

static void taken_set(sigset_t *set) {
    sigemptyset(set);
    for (int i = 0; i < 3; i++) sigaddset(set, taken_sigs[i]);
}

/* The first signal of an armed run sets the flag; any other takes the
 * signal's default action (each of the three ends the process by that
 * signal). Only async-signal-safe calls. */
static void on_signal(int sig) {
    if (atomic_load(&stop_armed) && !atomic_exchange(&stop_taken, 1)) {
        stop_requested = 1;
        return;
    }
    signal(sig, SIG_DFL);
    sigset_t one; /* blocked while its handler runs: unblocked, raise delivers it here at once */
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

/* on_signal for sig, unless it was ignored when the process started and
 * even_ignored is 0 (a shell's background job keeps SIGINT ignored). */
static void handle(int sig, int even_ignored) {
    struct sigaction sa, old;
    if (!even_ignored && sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN) return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    taken_set(&sa.sa_mask); /* one at a time */
    sigaction(sig, &sa, NULL);
}

/* The taking thread: the three signals unblocked here alone (of the
 * threads started after cli_signals_take), so their handler runs here. */
static void *take(void *arg) {
    sigset_t set;
    taken_set(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (;;) pause();
    return arg;
}

void cli_signals_take(void) {
    sigset_t set;
    taken_set(&set);
    for (int i = 0; i < 3; i++) handle(taken_sigs[i], 0);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_attr_t attr;
    pthread_t t;
    int ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &attr, take, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    if (ok) {
        pthread_setname_np(t, "bert-signals");
        return;
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    fprintf(stderr, "bert: warning: no thread for the signals; a signal during a oneDNN product may corrupt memory\n");
}

volatile sig_atomic_t *cli_stop_flag(void) {
    atomic_store(&stop_armed, 1);
    for (int i = 0; i < 3; i++) handle(taken_sigs[i], 1); /* training stops cleanly, in the background too */
    return &stop_requested;
}
