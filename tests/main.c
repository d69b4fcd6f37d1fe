/* main.c — runs every registered test (or those whose name contains argv[1])
 * and prints one "PASS name" / "FAIL name" / "SKIP name" line each. tests/run.sh adds the
 * CLI tests and prints the closing "N passed, N failed". */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 512
static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int n_tests, current_failed, current_skipped;
static char tmpdir[256];

void test_register(const char *name, test_fn fn) {
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    current_failed = 1;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void test_skip(const char *fmt, ...) {
    current_skipped = 1;
    fputs("  skipped: ", stdout);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

double test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

const char *test_tmpdir(void) { return tmpdir; }

int test_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int test_copy_file(const char *from, const char *to) {
    FILE *f = fopen(from, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    int ok = buf && fread(buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    ok = ok && test_write_file(to, buf, (size_t)n) == 0;
    free(buf);
    return ok ? 0 : -1;
}

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(int argc, char **argv) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bert-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    atexit(remove_tmpdir);
    int failed = 0, run = 0;
    for (int i = 0; i < n_tests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        current_failed = current_skipped = 0;
        tests[i].fn();
        printf("%s %s\n", current_failed ? "FAIL" : current_skipped ? "SKIP" : "PASS", tests[i].name);
        fflush(stdout);
        failed += current_failed;
        run++;
    }
    return failed ? 1 : 0;
}
