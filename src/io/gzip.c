/* gzip.c — whole-file reads through zlib's gz* interface, which inflates
 * gzip members and passes other bytes through as they are. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/gzip.h"
#include "util/error.h"

/* 1 when path ends in ".gz". */
static int gz_name(const char *path) {
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

/* The read loop: grows *buf (capacity *cap) and fills it from f until the
 * end, max_bytes or an error. */
static bert_status gz_read_all(gzFile f, const char *path, size_t max_bytes, char **buf, size_t *cap, size_t *len,
                               bert_error *err) {
    for (;;) {
        if (*len + 1 >= *cap) {
            size_t want = *cap * 2;
            if (want > max_bytes + 2) want = max_bytes + 2;
            if (want <= *len + 1) return bert_fail(err, BERT_ERR_INPUT, "%s: larger than %zu bytes", path, max_bytes);
            char *b = realloc(*buf, want);
            if (!b) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, want);
            *buf = b, *cap = want;
        }
        size_t room = *cap - *len - 1;
        unsigned ask = room > (1u << 30) ? 1u << 30 : (unsigned)room;
        int got = gzread(f, *buf + *len, ask);
        if (got < 0) {
            int code;
            const char *why = gzerror(f, &code);
            return bert_fail(err, code == Z_ERRNO ? BERT_ERR_IO : BERT_ERR_FORMAT, "%s: %s", path,
                             code == Z_ERRNO ? strerror(errno) : why);
        }
        if (got == 0) break;
        *len += (size_t)got;
        if (*len > max_bytes) return bert_fail(err, BERT_ERR_INPUT, "%s: larger than %zu bytes", path, max_bytes);
    }
    int code;
    const char *why = gzerror(f, &code);
    if (code == Z_BUF_ERROR) return bert_fail(err, BERT_ERR_FORMAT, "%s: truncated gzip data (%s)", path, why);
    if (code != Z_OK) return bert_fail(err, BERT_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, why);
    return BERT_OK;
}

bert_status bert_file_read_gz(const char *path, size_t max_bytes, char **out, size_t *len, bert_error *err) {
    *out = NULL;
    if (len) *len = 0;
    if (!max_bytes) max_bytes = BERT_GZ_MAX_DEFAULT;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return bert_fail(err, errno ? BERT_ERR_IO : BERT_ERR_NOMEM, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    bert_status rc = buf ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    if (rc == BERT_OK) rc = gz_read_all(f, path, max_bytes, &buf, &cap, &n, err);
    if (rc == BERT_OK && gz_name(path) && gzdirect(f))
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s: not gzip data (the name ends in .gz)", path);
    int closed = gzclose_r(f);
    if (rc == BERT_OK && closed == Z_BUF_ERROR) rc = bert_fail(err, BERT_ERR_FORMAT, "%s: truncated gzip data", path);
    else if (rc == BERT_OK && closed != Z_OK) rc = bert_fail(err, BERT_ERR_IO, "%s: read failed", path);
    if (rc != BERT_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return BERT_OK;
}
