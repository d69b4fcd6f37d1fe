/* test_file.c — atomic writes and file errors. */
#include <stdlib.h>
#include <unistd.h>

#include "io/file.h"
#include "test.h"

TEST(file_write_atomic_replaces_whole_file) {
    char path[512];
    snprintf(path, sizeof path, "%s/atomic.txt", test_tmpdir());
    bert_error err;
    CHECK_OK(bert_file_write_atomic(path, "first version", 13, &err), err);
    CHECK_OK(bert_file_write_atomic(path, "second", 6, &err), err);
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(bert_file_read_text(path, &text, &len, &err), err);
    CHECK(text && len == 6 && strcmp(text, "second") == 0);
    free(text);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0); /* no temporary left behind */
}

TEST(file_errors_name_the_path) {
    bert_error err;
    char *text;
    CHECK_ERR(bert_file_read_text("/no/such/file.json", &text, NULL, &err), err, BERT_ERR_IO, "/no/such/file.json");
    char path[512];
    snprintf(path, sizeof path, "%s/no-dir/x", test_tmpdir());
    CHECK_ERR(bert_file_write_atomic(path, "x", 1, &err), err, BERT_ERR_IO, "cannot create");
    bert_file f;
    CHECK_ERR(bert_file_open(test_tmpdir(), 1, &f, &err), err, BERT_ERR_IO, "not a regular file");
}

/* bert_file_release gives pages back, never bytes: a mapped file reads the
 * same after its middle was released (the private mapping maps the file's
 * pages again), and a file that was read rather than mapped is left alone
 * (advice on anonymous memory would zero it). */
TEST(file_release_keeps_the_bytes) {
    char path[512];
    snprintf(path, sizeof path, "%s/release.bin", test_tmpdir());
    enum { N = 3 * 65536 + 123 };
    unsigned char *want = malloc(N);
    for (int i = 0; i < N; i++) want[i] = (unsigned char)(i * 131 + 7);
    bert_error err;
    CHECK_OK(bert_file_write_atomic(path, want, N, &err), err);
    for (int mapped = 0; mapped <= 1; mapped++) {
        bert_file f;
        CHECK_OK(bert_file_open(path, mapped, &f, &err), err);
        if (!f.data) continue;
        CHECK(f.mapped == mapped && memcmp(f.data, want, N) == 0);
        bert_file_release(&f, f.data + 100, N - 200); /* unaligned ends: only whole pages inside */
        bert_file_release(&f, f.data + N - 10, 1000);  /* past the end: ignored */
        CHECK(memcmp(f.data, want, N) == 0);
        bert_file_close(&f);
    }
    free(want);
}
