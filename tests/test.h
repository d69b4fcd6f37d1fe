/* test.h — the smallest test harness that does the job.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_OK(rc, err); }
 *
 * Tests register themselves (constructor functions), so adding a test file
 * to tests/ is enough. A failing CHECK prints file:line and the expression
 * and marks the test failed, then the test continues. */
#ifndef BERT_TEST_H
#define BERT_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bert.h"

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Marks the running test skipped (printed SKIP, never counted as passed),
 * saying why; the test should return. A failure already marked stays. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST(name)                                                                            \
    static void name(void);                                                                   \
    __attribute__((constructor)) static void register_##name(void) { test_register(#name, name); } \
    static void name(void)

#define CHECK(cond)                                                 \
    do {                                                            \
        if (!(cond)) test_fail(__FILE__, __LINE__, "%s", #cond);    \
    } while (0)

/* rc must be BERT_OK; prints the error message otherwise. */
#define CHECK_OK(rc, err)                                                                         \
    do {                                                                                          \
        bert_status rc_ = (rc);                                                                   \
        if (rc_ != BERT_OK) test_fail(__FILE__, __LINE__, "status %d: %s", (int)rc_, (err).message); \
    } while (0)

/* rc must be `code` and the message must contain `needle`. */
#define CHECK_ERR(rc, err, code, needle)                                                             \
    do {                                                                                             \
        bert_status rc_ = (rc);                                                                      \
        if (rc_ != (code) || !strstr((err).message, (needle)))                                       \
            test_fail(__FILE__, __LINE__, "want status %d with \"%s\", got %d: %s", (int)(code), (needle), \
                      (int)rc_, (err).message);                                                       \
    } while (0)

/* Largest |a[i] - b[i]| over n floats. */
double test_max_abs_diff(const float *a, const float *b, size_t n);

/* A fresh empty directory for this test run (removed at exit). */
const char *test_tmpdir(void);

/* Root of the fixtures: tests/fixtures/models. */
#define FIXTURES "tests/fixtures/models"

/* Copy a file; returns 0 on success. */
int test_copy_file(const char *from, const char *to);
/* Write a string to a file; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t n);
/* A random BertModel (uniform weights, fixed seed per shape; 1 layer of
 * hidden size C, `heads` heads, intermediate size I; 200 words, 128
 * positions, a pooler) written to the new directory dir; 1 on success. */
int test_write_random_model(const char *dir, int C, int heads, int I);

#endif
