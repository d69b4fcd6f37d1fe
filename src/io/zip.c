/* zip.c — the zip reader of zip.h: end record, central directory, local
 * headers, stored and deflated entries, each size checked against the
 * buffer before it is used. */
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/error.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u
/* deflate cannot expand more than this (the format's limit is 1032:1). */
#define MAX_RATIO 1032u

/* Little-endian 16/32/64-bit reads (the format's byte order). */
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The end-of-central-directory record: where the central directory starts,
 * its size and its entry count (from the zip64 record when the classic one
 * says 0xFFFF/0xFFFFFFFF). */
static bert_status find_end(const unsigned char *d, size_t size, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count,
                            bert_error *err) {
    if (size < 22) return bert_fail(err, BERT_ERR_FORMAT, "zip: %zu bytes is too short for an archive (truncated?)", size);
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, at = SIZE_MAX;
    for (size_t i = size - 22 + 1; i-- > lo;)
        if (rd32(d + i) == SIG_END && i + 22 + rd16(d + i + 20) == size) {
            at = i;
            break;
        }
    if (at == SIZE_MAX) return bert_fail(err, BERT_ERR_FORMAT, "zip: no end-of-central-directory record (truncated archive?)");
    if (rd16(d + at + 4) != 0 || rd16(d + at + 6) != 0)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: multi-disk archives are not supported");
    *count = rd16(d + at + 10), *cd_size = rd32(d + at + 12), *cd_off = rd32(d + at + 16);
    if (*count == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_off == 0xFFFFFFFFu) {
        if (at < 20 || rd32(d + at - 20) != SIG_LOC64)
            return bert_fail(err, BERT_ERR_FORMAT, "zip: the end record needs a zip64 record but has no zip64 locator");
        uint64_t off64 = rd64(d + at - 20 + 8);
        if (off64 > size || size - off64 < 56 || rd32(d + off64) != SIG_END64)
            return bert_fail(err, BERT_ERR_FORMAT, "zip: zip64 end record at offset %llu is missing or truncated",
                             (unsigned long long)off64);
        *count = rd64(d + off64 + 32), *cd_size = rd64(d + off64 + 40), *cd_off = rd64(d + off64 + 48);
        at = (size_t)off64;
    }
    if (*cd_off > at || *cd_size > at - *cd_off)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: central directory [%llu, +%llu) runs past its end record (truncated?)",
                         (unsigned long long)*cd_off, (unsigned long long)*cd_size);
    if (*count > ZIP_MAX_ENTRIES || *count > *cd_size / 46)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: %llu entries cannot fit in a %llu-byte central directory",
                         (unsigned long long)*count, (unsigned long long)*cd_size);
    return BERT_OK;
}

/* A name a reader may use: relative, no ".." component, no backslash, NUL
 * or empty component. */
static int safe_name(const char *s, size_t n) {
    if (n == 0 || s[0] == '/' || memchr(s, '\0', n) || memchr(s, '\\', n)) return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/') j++;
        if ((j - i == 2 && s[i] == '.' && s[i + 1] == '.') || (j == i && j < n)) return 0;
        i = j + 1;
    }
    return 1;
}

/* Read the zip64 extra field (id 1) of a central record for the fields
 * that are 0xFFFFFFFF, in the order the format gives them. */
static int read_zip64_extra(const unsigned char *x, size_t xn, zip_entry *e, uint64_t *local) {
    int need_u = e->usize == 0xFFFFFFFFu, need_c = e->csize == 0xFFFFFFFFu, need_o = *local == 0xFFFFFFFFu;
    if (!need_u && !need_c && !need_o) return 1;
    for (size_t i = 0; i + 4 <= xn;) {
        uint16_t id = rd16(x + i), len = rd16(x + i + 2);
        if (i + 4 + len > xn) return 0;
        if (id == 1) {
            const unsigned char *p = x + i + 4, *end = p + len;
            if (need_u && p + 8 <= end) e->usize = rd64(p), p += 8, need_u = 0;
            if (need_c && p + 8 <= end) e->csize = rd64(p), p += 8, need_c = 0;
            if (need_o && p + 8 <= end) *local = rd64(p), need_o = 0;
            return !need_u && !need_c && !need_o;
        }
        i += 4 + (size_t)len;
    }
    return 0;
}

/* One central directory record at d + *pos: fills e (name owned) and moves
 * *pos past it. cd_end bounds the record; cd_off bounds the entry's data. */
static bert_status read_central(const zip_archive *z, size_t *pos, size_t cd_end, size_t cd_off, zip_entry *e,
                                bert_error *err) {
    const unsigned char *d = z->data, *c = d + *pos;
    if (cd_end - *pos < 46 || rd32(c) != SIG_CENTRAL)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: central directory record at offset %zu is malformed", *pos);
    size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
    if (cd_end - *pos - 46 < nlen + xlen + clen)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: central directory record at offset %zu runs past the directory", *pos);
    const char *name = (const char *)c + 46;
    if (!safe_name(name, nlen))
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry name '%.*s' is absolute, empty or leaves the archive ('..')",
                         (int)(nlen > 200 ? 200 : nlen), name);
    if (!(e->name = malloc(nlen + 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memcpy(e->name, name, nlen);
    e->name[nlen] = '\0';
    uint16_t flags = rd16(c + 8);
    e->method = rd16(c + 10), e->crc = rd32(c + 16), e->csize = rd32(c + 20), e->usize = rd32(c + 24);
    uint64_t local = rd32(c + 42);
    *pos += 46 + nlen + xlen + clen;
    if (!read_zip64_extra(c + 46 + nlen, xlen, e, &local))
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s': sizes need a zip64 extra field it lacks", e->name);
    if (flags & 1) return bert_fail(err, BERT_ERR_UNSUPPORTED, "zip: entry '%s' is encrypted", e->name);
    if (e->method != 0 && e->method != 8)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "zip: entry '%s' uses compression method %d (only stored and deflated are read)",
                         e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: stored entry '%s' has compressed size %llu != size %llu", e->name,
                         (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == 8 && e->usize / MAX_RATIO > e->csize + 64)
        return bert_fail(err, BERT_ERR_FORMAT,
                         "zip: entry '%s' declares %llu bytes from %llu compressed bytes, more than deflate can produce (zip bomb?)",
                         e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
    if (local > cd_off || cd_off - local < 30 || rd32(d + local) != SIG_LOCAL)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s': no local header at offset %llu", e->name,
                         (unsigned long long)local);
    const unsigned char *l = d + local;
    size_t lnlen = rd16(l + 26), lxlen = rd16(l + 28);
    if (cd_off - local - 30 < lnlen + lxlen || lnlen != nlen || memcmp(l + 30, name, nlen) != 0)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s': its local header does not match the central directory", e->name);
    e->data_offset = local + 30 + lnlen + lxlen;
    if (e->csize > cd_off - e->data_offset)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s': %llu bytes at offset %llu run past the data (truncated?)",
                         e->name, (unsigned long long)e->csize, (unsigned long long)e->data_offset);
    return BERT_OK;
}

/* qsort order: by data offset. */
static int cmp_entry_offset(const void *a, const void *b) {
    const zip_entry *x = *(const zip_entry *const *)a, *y = *(const zip_entry *const *)b;
    return x->data_offset < y->data_offset ? -1 : x->data_offset > y->data_offset;
}

/* qsort order: by name. */
static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const zip_entry *const *)a)->name, (*(const zip_entry *const *)b)->name);
}

/* No two entries share bytes (overlapping entries multiply what a small
 * archive expands to) and no name is listed twice. */
static bert_status check_layout(zip_archive *z, bert_error *err) {
    int n = z->n_entries;
    const zip_entry **v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) v[i] = &z->entries[i];
    bert_status rc = BERT_OK;
    qsort(v, (size_t)n, sizeof *v, cmp_entry_offset);
    for (int i = 1; i < n && rc == BERT_OK; i++)
        if (v[i - 1]->data_offset + v[i - 1]->csize > v[i]->data_offset - 30)
            rc = bert_fail(err, BERT_ERR_FORMAT, "zip: entries '%s' and '%s' overlap", v[i - 1]->name, v[i]->name);
    qsort(v, (size_t)n, sizeof *v, cmp_entry_name);
    for (int i = 1; i < n && rc == BERT_OK; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0)
            rc = bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s' is listed twice", v[i]->name);
    free(v);
    return rc;
}

bert_status zip_open(const unsigned char *data, size_t size, zip_archive *z, bert_error *err) {
    memset(z, 0, sizeof *z);
    z->data = data, z->size = size;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    bert_status rc = find_end(data, size, &cd_off, &cd_size, &count, err);
    if (rc != BERT_OK) return rc;
    if (!(z->entries = calloc(count ? (size_t)count : 1, sizeof *z->entries)))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    size_t pos = (size_t)cd_off, cd_end = (size_t)(cd_off + cd_size);
    for (uint64_t i = 0; i < count && rc == BERT_OK; i++) {
        rc = read_central(z, &pos, cd_end, (size_t)cd_off, &z->entries[z->n_entries], err);
        if (z->entries[z->n_entries].name) z->n_entries++;
    }
    if (rc == BERT_OK) rc = check_layout(z, err);
    if (rc != BERT_OK) zip_close(z);
    return rc;
}

void zip_close(zip_archive *z) {
    if (!z) return;
    for (int i = 0; i < z->n_entries; i++) free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

const zip_entry *zip_find(const zip_archive *z, const char *name) {
    for (int i = 0; i < z->n_entries; i++)
        if (strcmp(z->entries[i].name, name) == 0) return &z->entries[i];
    return NULL;
}

/* zlib's crc32 over any length (its length argument is a uInt). */
static uint32_t crc_of(const unsigned char *p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, k);
        p += k, n -= k;
    }
    return (uint32_t)c;
}

const unsigned char *zip_stored(const zip_archive *z, const zip_entry *e, bert_error *err) {
    if (e->method != 0) {
        bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s' is compressed", e->name);
        return NULL;
    }
    const unsigned char *p = z->data + e->data_offset;
    if (crc_of(p, e->usize) != e->crc) {
        bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s' fails its CRC-32 check (corrupt archive)", e->name);
        return NULL;
    }
    return p;
}

/* Inflate e's raw deflate stream into dst[0..e->usize). */
static bert_status inflate_entry(const zip_archive *z, const zip_entry *e, unsigned char *dst, bert_error *err) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return bert_fail(err, BERT_ERR_NOMEM, "zip: zlib cannot start");
    const unsigned char *in = z->data + e->data_offset;
    uint64_t in_left = e->csize, out_done = 0;
    int zr = Z_OK;
    while (zr == Z_OK) {
        uInt in_k = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        uint64_t out_left = e->usize - out_done;
        uInt out_k = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
        unsigned char spare;
        s.next_in = (unsigned char *)(uintptr_t)in, s.avail_in = in_k;
        s.next_out = out_k ? dst + out_done : &spare, s.avail_out = out_k ? out_k : 1;
        zr = inflate(&s, Z_NO_FLUSH);
        uint64_t used_in = in_k - s.avail_in, made = (out_k ? out_k : 1) - s.avail_out;
        in += used_in, in_left -= used_in;
        if (!out_k && made) zr = Z_DATA_ERROR; /* more output than declared */
        else out_done += made;
        if (zr == Z_OK && used_in == 0 && made == 0) zr = Z_BUF_ERROR; /* no progress: truncated stream */
    }
    inflateEnd(&s);
    if (zr != Z_STREAM_END || out_done != e->usize)
        return bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s': deflate data is corrupt, truncated or not %llu bytes long",
                         e->name, (unsigned long long)e->usize);
    return BERT_OK;
}

bert_status zip_extract(const zip_archive *z, const zip_entry *e, unsigned char *dst, bert_error *err) {
    if (e->method == 0) {
        const unsigned char *p = zip_stored(z, e, err);
        if (!p) return BERT_ERR_FORMAT;
        if (e->usize) memcpy(dst, p, (size_t)e->usize);
        return BERT_OK;
    }
    bert_status rc = inflate_entry(z, e, dst, err);
    if (rc == BERT_OK && crc_of(dst, e->usize) != e->crc)
        rc = bert_fail(err, BERT_ERR_FORMAT, "zip: entry '%s' fails its CRC-32 check (corrupt archive)", e->name);
    return rc;
}
