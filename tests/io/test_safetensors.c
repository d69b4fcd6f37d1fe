/* test_safetensors.c — the reader accepts valid files and rejects every
 * kind of damage with a message that says what is wrong. */
#include <stdint.h>
#include <stdlib.h>

#include "io/safetensors.h"
#include "test.h"

/* Write 8-byte length + header + data bytes. */
static const char *craft(const char *name, const char *header, const void *data, size_t n, long header_len_override) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    size_t hl = strlen(header);
    uint64_t len = header_len_override >= 0 ? (uint64_t)header_len_override : hl;
    unsigned char *buf = malloc(8 + hl + n + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (n) memcpy(buf + 8 + hl, data, n);
    test_write_file(path, buf, 8 + hl + n);
    free(buf);
    return path;
}

static bert_status open_crafted(const char *header, size_t data_bytes, bert_error *err) {
    unsigned char data[64] = {0};
    st_file f;
    bert_status rc = st_open(craft("x.safetensors", header, data, data_bytes, -1), 1, &f, err);
    if (rc == BERT_OK) st_close(&f);
    return rc;
}

TEST(safetensors_write_then_read_roundtrip) {
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[3] = {0x3c00, 0xc000, 0x7bff};
    int32_t ids[2] = {7, -1};
    st_write_tensor ts[] = {
        {.name = "a", .dtype = ST_F32, .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "h", .dtype = ST_F16, .ndim = 1, .shape = {3}, .data = h},
        {.name = "ids", .dtype = ST_I32, .ndim = 1, .shape = {2}, .data = ids},
        {.name = "scalar_empty", .dtype = ST_F32, .ndim = 1, .shape = {0}, .data = NULL},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/rt.safetensors", test_tmpdir());
    bert_error err;
    CHECK_OK(st_write(path, ts, 4, "{\"format\":\"pt\"}", &err), err);
    st_file f;
    CHECK_OK(st_open(path, 1, &f, &err), err);
    CHECK(f.n_tensors == 4);
    const st_tensor *t = st_find(&f, "a");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t && memcmp(t->data, a, sizeof a) == 0);
    CHECK(t && (uintptr_t)t->data % 8 == 0); /* header padded: data aligned */
    t = st_find(&f, "h");
    CHECK(t && t->dtype == ST_F16 && memcmp(t->data, h, sizeof h) == 0);
    CHECK(st_find(&f, "missing") == NULL);
    st_close(&f);
}

TEST(safetensors_valid_minimal_file_with_metadata) {
    bert_error err;
    CHECK_OK(open_crafted("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                          4, &err), err);
}

TEST(safetensors_rejects_short_and_truncated_files) {
    bert_error err;
    st_file f;
    char path[512];
    snprintf(path, sizeof path, "%s/short.safetensors", test_tmpdir());
    test_write_file(path, "abc", 3);
    CHECK_ERR(st_open(path, 1, &f, &err), err, BERT_ERR_FORMAT, "too short");
    CHECK(strstr(err.message, "short.safetensors") != NULL); /* names the file */
    test_write_file(path, "", 0);
    CHECK_ERR(st_open(path, 1, &f, &err), err, BERT_ERR_FORMAT, "too short");
    /* Header length beyond the end of the file. */
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    CHECK_ERR(st_open(craft("big.safetensors", hdr, "abcd", 4, 1000), 1, &f, &err), err, BERT_ERR_FORMAT,
              "beyond the end");
    /* Data cut short: offsets go beyond the buffer. */
    CHECK_ERR(st_open(craft("cut.safetensors", hdr, "ab", 2, -1), 1, &f, &err), err, BERT_ERR_FORMAT, "truncated");
    CHECK_ERR(st_open("/nonexistent/x.safetensors", 1, &f, &err), err, BERT_ERR_IO, "/nonexistent/x.safetensors");
}

TEST(safetensors_rejects_bad_headers) {
    bert_error err;
    CHECK_ERR(open_crafted("[1,2,3]", 0, &err), err, BERT_ERR_FORMAT, "does not start with '{'");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",", 0, &err), err, BERT_ERR_FORMAT, "not valid JSON");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &err), err,
              BERT_ERR_FORMAT, "unknown dtype 'F33'");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, &err), err,
              BERT_ERR_FORMAT, "needs 8");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, &err), err,
              BERT_ERR_FORMAT, "shape[0]");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, &err), err,
              BERT_ERR_FORMAT, "reversed");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, &err), err, BERT_ERR_FORMAT, "data_offsets");
    CHECK_ERR(open_crafted("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, &err), err,
              BERT_ERR_FORMAT, "trailing");
}

TEST(safetensors_rejects_overlap_gap_and_out_of_range) {
    bert_error err;
    CHECK_ERR(open_crafted("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           8, &err),
              err, BERT_ERR_FORMAT, "overlaps");
    CHECK_ERR(open_crafted("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           12, &err),
              err, BERT_ERR_FORMAT, "unused bytes");
    CHECK_ERR(open_crafted("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, &err), err,
              BERT_ERR_FORMAT, "after the last tensor");
    CHECK_ERR(open_crafted("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[60,76]}}", 64, &err), err,
              BERT_ERR_FORMAT, "go beyond");
    CHECK_ERR(open_crafted("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           8, &err),
              err, BERT_ERR_FORMAT, "listed twice");
}
