/* fail_io.c — an LD_PRELOAD shim for fault-injection tests: it counts the
 * calls of one kind that touch paths under a directory and makes the Nth
 * of them fail, once, with EIO or ENOSPC. Not part of the library.
 *
 * Environment (read at the first intercepted call):
 *   FAIL_IO_UNDER  only calls on paths containing this text count (fd
 *                  calls: the fd's path from /proc/self/fd); required
 *   FAIL_IO_MATCH  and, when set, ending in this text too
 *   FAIL_IO_OP     write  (write, fwrite, fflush, fclose of a written file)
 *                  fsync  (fsync, fdatasync; directories included)
 *                  rename (rename, renameat)
 *                  mkdir  (mkdir, mkdirat)
 *                  create (open/openat/fopen creating or writing a file)
 *   FAIL_IO_N      fail the Nth counted call (1-based); 0 or unset: count only
 *   FAIL_IO_ERRNO  EIO (default) or ENOSPC
 *   FAIL_IO_LOG    a file that gets "OP COUNT" at exit and a line naming
 *                  the call that was made to fail
 * Buffered stdio writes reach the file inside libc at fflush/fclose, which
 * are intercepted; fprintf/fputs themselves are not. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_WRITE, OP_FSYNC, OP_RENAME, OP_MKDIR, OP_CREATE, N_OPS };
static const char *const op_names[N_OPS] = {"write", "fsync", "rename", "mkdir", "create"};

/* The shim's configuration and counters (one test process each). */
static struct {
    int ready, op, fail_errno, failed;
    long n, count[N_OPS];
    const char *under, *match, *log;
} S = {.op = -1};

/* real_NAME: the next definition of NAME (libc, or a sanitizer before it). */
#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* Read the environment once. */
static void setup(void) {
    if (S.ready) return;
    S.ready = 1;
    S.under = getenv("FAIL_IO_UNDER");
    S.match = getenv("FAIL_IO_MATCH");
    S.log = getenv("FAIL_IO_LOG");
    const char *op = getenv("FAIL_IO_OP"), *n = getenv("FAIL_IO_N"), *e = getenv("FAIL_IO_ERRNO");
    for (int i = 0; op && i < N_OPS; i++)
        if (strcmp(op, op_names[i]) == 0) S.op = i;
    S.n = n ? atol(n) : 0;
    S.fail_errno = e && strcmp(e, "ENOSPC") == 0 ? ENOSPC : EIO;
}

/* Append text to the log file (raw syscalls: not intercepted). */
static void log_text(const char *text) {
    if (!S.log) return;
    REAL(open);
    REAL(write);
    int fd = real_open(S.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = real_write(fd, text, strlen(text));
    (void)w;
    close(fd);
}

/* At exit: the counts, into the log. */
__attribute__((destructor)) static void report(void) {
    if (!S.ready || !S.log) return;
    char buf[256];
    int len = 0;
    for (int i = 0; i < N_OPS; i++) len += snprintf(buf + len, sizeof buf - (size_t)len, "%s %ld\n", op_names[i], S.count[i]);
    log_text(buf);
}

/* 1 when this call (of kind op, on path) is the one to fail. */
static int should_fail(int op, const char *path) {
    setup();
    if (!S.under || !path || !strstr(path, S.under)) return 0;
    size_t pl = strlen(path), ml = S.match ? strlen(S.match) : 0;
    if (S.match && (pl < ml || strcmp(path + pl - ml, S.match) != 0)) return 0;
    long k = ++S.count[op];
    if (op != S.op || S.n <= 0 || k != S.n || S.failed) return 0;
    S.failed = 1;
    char buf[4200];
    snprintf(buf, sizeof buf, "FAILED %s #%ld %s %s\n", op_names[op], k, path, S.fail_errno == ENOSPC ? "ENOSPC" : "EIO");
    log_text(buf);
    return 1;
}

/* The path of fd into buf, or NULL for a fd that is not a file or directory. */
static const char *fd_path(int fd, char *buf, size_t cap) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return NULL;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, cap - 1);
    if (n <= 0) return NULL;
    buf[n] = '\0';
    return buf;
}

/* A failed stdio write as libc reports it: the stream's error flag set
 * (glibc's FILE), so that a later ferror() sees it. */
static void stream_error(FILE *f) {
#ifdef _IO_ERR_SEEN
    f->_flags |= _IO_ERR_SEEN;
#else
    (void)f;
#endif
}

/* should_fail for a call on fd. */
static int fd_fails(int op, int fd) {
    char buf[4096];
    return should_fail(op, fd_path(fd, buf, sizeof buf));
}

/* The intercepted calls: each fails with the configured errno when it is
 * the one to fail, else does what libc does. */
ssize_t write(int fd, const void *p, size_t n) {
    REAL(write);
    if (fd_fails(OP_WRITE, fd)) return errno = S.fail_errno, -1;
    return real_write(fd, p, n);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    REAL(fwrite);
    if (fd_fails(OP_WRITE, fileno(f))) return stream_error(f), errno = S.fail_errno, 0;
    return real_fwrite(p, size, n, f);
}

int fflush(FILE *f) {
    REAL(fflush);
    if (f && fd_fails(OP_WRITE, fileno(f))) return stream_error(f), errno = S.fail_errno, EOF;
    return real_fflush(f);
}

int fclose(FILE *f) {
    REAL(fclose);
    char buf[4096];
    const char *path = fd_path(fileno(f), buf, sizeof buf);
    int fail = path && (fcntl(fileno(f), F_GETFL) & O_ACCMODE) != O_RDONLY && should_fail(OP_WRITE, path);
    int rc = real_fclose(f);
    if (fail) return errno = S.fail_errno, EOF;
    return rc;
}

int fsync(int fd) {
    REAL(fsync);
    if (fd_fails(OP_FSYNC, fd)) return errno = S.fail_errno, -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (fd_fails(OP_FSYNC, fd)) return errno = S.fail_errno, -1;
    return real_fdatasync(fd);
}

int rename(const char *a, const char *b) {
    REAL(rename);
    if (should_fail(OP_RENAME, strstr(a, S.under ? S.under : "\x01") ? a : b)) return errno = S.fail_errno, -1;
    return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b) {
    REAL(renameat);
    if (should_fail(OP_RENAME, a)) return errno = S.fail_errno, -1;
    return real_renameat(da, a, db, b);
}

int mkdir(const char *path, mode_t mode) {
    REAL(mkdir);
    if (should_fail(OP_MKDIR, path)) return errno = S.fail_errno, -1;
    return real_mkdir(path, mode);
}

int mkdirat(int dfd, const char *path, mode_t mode) {
    REAL(mkdirat);
    if (should_fail(OP_MKDIR, path)) return errno = S.fail_errno, -1;
    return real_mkdirat(dfd, path, mode);
}

int open(const char *path, int flags, ...) {
    REAL(open);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if ((flags & O_ACCMODE) != O_RDONLY && should_fail(OP_CREATE, path)) return errno = S.fail_errno, -1;
    return real_open(path, flags, mode);
}

FILE *fopen(const char *path, const char *mode) {
    REAL(fopen);
    if (mode[0] != 'r' && should_fail(OP_CREATE, path)) return errno = S.fail_errno, NULL;
    return real_fopen(path, mode);
}
