/* zip_build.h — the tests' zip and pickle writers: small archives and
 * torch-style state-dict pickles built in memory, with fields that can be
 * made wrong on purpose (hostile inputs for zip.c, pickle.c and
 * torch_load.c). Header-only: static functions for the test files that
 * include it. */
#ifndef BERT_TEST_ZIP_BUILD_H
#define BERT_TEST_ZIP_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} zb_buf;

/* Append n bytes to b (aborts on out of memory: a broken test machine). */
static inline void zb_put(zb_buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void zb_le(zb_buf *b, uint64_t v, int n) {
    unsigned char x[8];
    for (int i = 0; i < n; i++) x[i] = (unsigned char)(v >> (8 * i));
    zb_put(b, x, (size_t)n);
}

/* One entry: data stored or deflated; usize_lie, when non-zero, is the
 * uncompressed size written in the headers instead of the true one. */
typedef struct {
    const char *name;
    const void *data;
    size_t n;
    int deflate;
    uint64_t usize_lie;
} zb_entry;

/* Raw deflate of d[0..n) into a malloc'd block. */
static inline unsigned char *zb_deflate(const void *d, size_t n, size_t *out_n) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&s, (uLong)n) + 16;
    unsigned char *o = malloc(cap);
    s.next_in = (unsigned char *)(uintptr_t)d, s.avail_in = (uInt)n, s.next_out = o, s.avail_out = (uInt)cap;
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) abort();
    *out_n = cap - s.avail_out;
    deflateEnd(&s);
    return o;
}

/* A zip archive of the entries (zip64 records when zip64 is set); returns
 * the malloc'd bytes and their count in *size. */
static inline unsigned char *zb_zip(const zb_entry *e, int n, int zip64, size_t *size) {
    zb_buf b = {0}, cd = {0};
    for (int i = 0; i < n; i++) {
        size_t cn = e[i].n;
        unsigned char *cdata = e[i].deflate ? zb_deflate(e[i].data, e[i].n, &cn) : NULL;
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].n);
        uint64_t us = e[i].usize_lie ? e[i].usize_lie : e[i].n, off = b.n;
        size_t nl = strlen(e[i].name);
        zb_le(&b, 0x04034b50, 4), zb_le(&b, 20, 2), zb_le(&b, 0, 2), zb_le(&b, e[i].deflate ? 8 : 0, 2);
        zb_le(&b, 0, 4), zb_le(&b, crc, 4), zb_le(&b, cn, 4), zb_le(&b, us, 4), zb_le(&b, nl, 2), zb_le(&b, 0, 2);
        zb_put(&b, e[i].name, nl);
        zb_put(&b, cdata ? cdata : e[i].data, cn);
        free(cdata);
        zb_le(&cd, 0x02014b50, 4), zb_le(&cd, 45, 2), zb_le(&cd, 45, 2), zb_le(&cd, 0, 2), zb_le(&cd, e[i].deflate ? 8 : 0, 2);
        zb_le(&cd, 0, 4), zb_le(&cd, crc, 4);
        zb_le(&cd, zip64 ? 0xFFFFFFFFu : cn, 4), zb_le(&cd, zip64 ? 0xFFFFFFFFu : us, 4);
        zb_le(&cd, nl, 2), zb_le(&cd, zip64 ? 28 : 0, 2), zb_le(&cd, 0, 2), zb_le(&cd, 0, 2), zb_le(&cd, 0, 2), zb_le(&cd, 0, 4);
        zb_le(&cd, zip64 ? 0xFFFFFFFFu : off, 4);
        zb_put(&cd, e[i].name, nl);
        if (zip64) zb_le(&cd, 1, 2), zb_le(&cd, 24, 2), zb_le(&cd, us, 8), zb_le(&cd, cn, 8), zb_le(&cd, off, 8);
    }
    uint64_t cd_off = b.n;
    zb_put(&b, cd.p, cd.n);
    if (zip64) {
        uint64_t at = b.n;
        zb_le(&b, 0x06064b50, 4), zb_le(&b, 44, 8), zb_le(&b, 45, 2), zb_le(&b, 45, 2), zb_le(&b, 0, 4), zb_le(&b, 0, 4);
        zb_le(&b, (uint64_t)n, 8), zb_le(&b, (uint64_t)n, 8), zb_le(&b, cd.n, 8), zb_le(&b, cd_off, 8);
        zb_le(&b, 0x07064b50, 4), zb_le(&b, 0, 4), zb_le(&b, at, 8), zb_le(&b, 1, 4);
    }
    zb_le(&b, 0x06054b50, 4), zb_le(&b, 0, 2), zb_le(&b, 0, 2);
    zb_le(&b, zip64 ? 0xFFFF : (uint64_t)n, 2), zb_le(&b, zip64 ? 0xFFFF : (uint64_t)n, 2);
    zb_le(&b, zip64 ? 0xFFFFFFFFu : cd.n, 4), zb_le(&b, zip64 ? 0xFFFFFFFFu : cd_off, 4), zb_le(&b, 0, 2);
    free(cd.p);
    *size = b.n;
    return b.p;
}

/* Pickle writers (protocol 2), as torch.save emits them. */
static inline void pkb_op(zb_buf *b, const char *s) { zb_put(b, s, strlen(s)); }
static inline void pkb_global(zb_buf *b, const char *mod, const char *name) {
    pkb_op(b, "c"), pkb_op(b, mod), pkb_op(b, "\n"), pkb_op(b, name), pkb_op(b, "\n");
}
static inline void pkb_str(zb_buf *b, const char *s) {
    pkb_op(b, "X");
    zb_le(b, strlen(s), 4);
    pkb_op(b, s);
}
static inline void pkb_int(zb_buf *b, int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
        pkb_op(b, "J");
        zb_le(b, (uint64_t)v, 4);
    } else {
        zb_put(b, "\x8a\x08", 2);
        zb_le(b, (uint64_t)v, 8);
    }
}
static inline void pkb_ints(zb_buf *b, const int64_t *v, int n) {
    pkb_op(b, "(");
    for (int i = 0; i < n; i++) pkb_int(b, v[i]);
    pkb_op(b, "t");
}

/* One tensor of a state dict: name -> _rebuild_tensor_v2(storage key of
 * `type` with numel elements, offset, size, stride). legacy adds the sixth
 * persistent-id field (None). */
typedef struct {
    const char *name, *type, *key;
    int64_t numel, offset;
    int ndim;
    int64_t size[4], stride[4];
} pkb_tensor;

/* A whole state dict pickle of the tensors (OrderedDict, as torch writes it). */
static inline void pkb_state_dict(zb_buf *b, const pkb_tensor *t, int n, int legacy) {
    zb_put(b, "\x80\x02", 2);
    pkb_global(b, "collections", "OrderedDict");
    pkb_op(b, ")R(");
    for (int i = 0; i < n; i++) {
        pkb_str(b, t[i].name);
        pkb_global(b, "torch._utils", "_rebuild_tensor_v2");
        pkb_op(b, "((");
        pkb_str(b, "storage");
        pkb_global(b, "torch", t[i].type);
        pkb_str(b, t[i].key);
        pkb_str(b, "cpu");
        pkb_int(b, t[i].numel);
        if (legacy) pkb_op(b, "N");
        pkb_op(b, "tQ");
        pkb_int(b, t[i].offset);
        pkb_ints(b, t[i].size, t[i].ndim);
        pkb_ints(b, t[i].stride, t[i].ndim);
        zb_put(b, "\x89", 1);
        pkb_global(b, "collections", "OrderedDict");
        pkb_op(b, ")RtR");
    }
    pkb_op(b, "u.");
}

#endif
