/* line_reader.c — JSONL input lines with a length limit (line_reader.h). */
#include "cli/line_reader.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* See line_reader.h. */
long reader_next(line_reader *r, char **line, size_t *cap) {
    for (;;) {
        char *nl = r->len > r->pos ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl || (r->eof && r->pos < r->len)) {
            size_t n = nl ? (size_t)(nl - (r->buf + r->pos)) + 1 : r->len - r->pos;
            if (n > (size_t)CLI_MAX_LINE_BYTES) return -2;
            if (n + 1 > *cap) {
                char *g = realloc(*line, n + 1);
                if (!g) return -1;
                *line = g, *cap = n + 1;
            }
            memcpy(*line, r->buf + r->pos, n);
            (*line)[n] = '\0';
            r->pos += n;
            return (long)n;
        }
        if (r->eof) return -1;
        if (r->len - r->pos > (size_t)CLI_MAX_LINE_BYTES) return -2; /* no newline within the limit */
        if (r->pos > 0) memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos, r->pos = 0;
        if (r->len == r->cap) {
            size_t c = r->cap ? 2 * r->cap : 1 << 16;
            char *g = realloc(r->buf, c);
            if (!g) return -1;
            r->buf = g, r->cap = c;
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) r->eof = 1;
        else r->len += (size_t)got;
    }
}

/* See line_reader.h. */
int reader_ready(const line_reader *r) {
    if (r->eof || (r->len > r->pos && memchr(r->buf + r->pos, '\n', r->len - r->pos))) return 1;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

