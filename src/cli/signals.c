/* signals.c — SIGINT, SIGTERM and SIGUSR1 handled on a thread that never
 * computes; see signals.h. */
#include "cli/signals.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* The process's signal state (see signals.h): the flag the training loop
 * polls, and whether a first signal sets it. */
static volatile sig_atomic_t stop_requested;
static atomic_int stop_armed;

static void taken_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    /* mpirun forwards SIGUSR1 to every rank without killing them a second
     * later, as it does after forwarding SIGTERM: the way to stop a job
     * that needs more than a second for its checkpoint. */
    sigaddset(set, SIGUSR1);
}

/* The first signal of an armed run sets the flag; any other takes the
 * signal's default action (each of the three ends the process). Only
 * async-signal-safe calls. */
static void on_signal(int sig) {
    if (atomic_load(&stop_armed) && !stop_requested) {
        stop_requested = 1;
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig); /* not reached */
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
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sa.sa_mask = set; /* one at a time */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_attr_t attr;
    pthread_t t;
    int ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &attr, take, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!ok) pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

volatile sig_atomic_t *cli_stop_flag(void) {
    atomic_store(&stop_armed, 1);
    return &stop_requested;
}
