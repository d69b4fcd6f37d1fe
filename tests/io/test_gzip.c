/* test_gzip.c — whole-file reads through zlib: gzip files, concatenated
 * members, truncated data, plain files, the size bound. */
#include <stdlib.h>
#include <zlib.h>

#include "io/gzip.h"
#include "test.h"

/* Write n bytes of data as a gzip file at path (one member, or two when
 * split > 0: the first split bytes, then the rest); 0 on success. */
static int write_gz(const char *path, const char *data, size_t n, size_t split) {
    gzFile f = gzopen(path, "wb");
    if (!f) return -1;
    int ok = gzwrite(f, data, (unsigned)(split ? split : n)) > 0;
    if (gzclose(f) != Z_OK || !ok) return -1;
    if (!split) return 0;
    f = gzopen(path, "ab");
    ok = f && gzwrite(f, data + split, (unsigned)(n - split)) > 0;
    return f && gzclose(f) == Z_OK && ok ? 0 : -1;
}

TEST(gzip_reads_gz_and_plain_files) {
    char path[1024], plain[1024];
    static const char text[] = "{\"data\": [\"hello, gzip\"]}\nsecond line\n";
    snprintf(path, sizeof path, "%s/a.json.gz", test_tmpdir());
    snprintf(plain, sizeof plain, "%s/a.json", test_tmpdir());
    CHECK(write_gz(path, text, sizeof text - 1, 0) == 0);
    CHECK(test_write_file(plain, text, sizeof text - 1) == 0);
    char *out = NULL;
    size_t len = 0;
    bert_error err;
    CHECK_OK(bert_file_read_gz(path, 0, &out, &len, &err), err);
    CHECK(out && len == sizeof text - 1 && strcmp(out, text) == 0);
    free(out);
    CHECK_OK(bert_file_read_gz(plain, 0, &out, &len, &err), err);
    CHECK(out && len == sizeof text - 1 && strcmp(out, text) == 0);
    free(out);
    /* two members read as one text, as gzip -dc does */
    snprintf(path, sizeof path, "%s/two.gz", test_tmpdir());
    CHECK(write_gz(path, text, sizeof text - 1, 10) == 0);
    CHECK_OK(bert_file_read_gz(path, 0, &out, &len, &err), err);
    CHECK(out && strcmp(out, text) == 0);
    free(out);
    /* an empty plain file is an empty string */
    snprintf(plain, sizeof plain, "%s/empty.txt", test_tmpdir());
    CHECK(test_write_file(plain, "", 0) == 0);
    CHECK_OK(bert_file_read_gz(plain, 0, &out, &len, &err), err);
    CHECK(out && len == 0 && *out == '\0');
    free(out);
}

TEST(gzip_errors_name_the_file) {
    char path[1024], cut[1024];
    char text[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof text; i++) x = x * 1103515245u + 12345u, text[i] = (char)('a' + (x >> 16) % 26);
    snprintf(path, sizeof path, "%s/big.gz", test_tmpdir());
    snprintf(cut, sizeof cut, "%s/cut.json.gz", test_tmpdir());
    CHECK(write_gz(path, text, sizeof text, 0) == 0);
    FILE *f = fopen(path, "rb");
    unsigned char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 40);
    CHECK(test_write_file(cut, buf, n / 2) == 0);
    char *out = (char *)1;
    bert_error err;
    CHECK_ERR(bert_file_read_gz(cut, 0, &out, NULL, &err), err, BERT_ERR_FORMAT, "cut.json.gz: truncated gzip data");
    CHECK(out == NULL);
    /* the size bound */
    CHECK_ERR(bert_file_read_gz(path, 100, &out, NULL, &err), err, BERT_ERR_INPUT, "larger than 100 bytes");
    /* a .gz name without gzip data */
    snprintf(path, sizeof path, "%s/fake.gz", test_tmpdir());
    CHECK(test_write_file(path, "plain text", 10) == 0);
    CHECK_ERR(bert_file_read_gz(path, 0, &out, NULL, &err), err, BERT_ERR_FORMAT, "fake.gz: not gzip data");
    snprintf(path, sizeof path, "%s/missing.json", test_tmpdir());
    CHECK_ERR(bert_file_read_gz(path, 0, &out, NULL, &err), err, BERT_ERR_IO, "missing.json: cannot open");
}
