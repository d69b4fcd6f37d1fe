/* buf.c — growable byte buffers and the JSON pieces the routes write by
 * hand: string literals, float vectors in `bert embed`'s format, base64. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* Make room for n more bytes (plus a NUL); 0 when out of memory. */
static int sb_room(sbuf *b, size_t n) {
    if (b->oom) return 0;
    if (b->n + n + 1 <= b->cap) return 1;
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n + 1) c *= 2;
    char *g = realloc(b->p, c);
    if (!g) {
        b->oom = 1;
        return 0;
    }
    b->p = g, b->cap = c;
    return 1;
}

/* Append n bytes. */
void sb_put(sbuf *b, const char *s, size_t n) {
    if (!sb_room(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Append a NUL-terminated string. */
void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Append printf output. */
void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    if (!sb_room(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* Append s as a JSON string literal. */
void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Append [v0,...] with %.9g (round-trips every float). */
void sb_floats(sbuf *b, const float *v, int n) {
    sb_put(b, "[", 1);
    for (int j = 0; j < n; j++) sb_printf(b, j ? ",%.9g" : "%.9g", v[j]);
    sb_put(b, "]", 1);
}

/* Append v as base64 of its little-endian f32 bytes, quoted. */
void sb_base64_f32(sbuf *b, const float *v, int n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (size_t)n * 4;
    if (!sb_room(b, (len + 2) / 3 * 4 + 2)) return;
    unsigned char *bytes = malloc(len ? len : 1);
    if (!bytes) {
        b->oom = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) bytes[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    char *o = b->p + b->n;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t w = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        *o++ = tab[w >> 18], *o++ = tab[(w >> 12) & 63], *o++ = tab[(w >> 6) & 63], *o++ = tab[w & 63];
    }
    if (len - i == 1) {
        uint32_t w = (uint32_t)bytes[i] << 16;
        *o++ = tab[w >> 18], *o++ = tab[(w >> 12) & 63], *o++ = '=', *o++ = '=';
    } else if (len - i == 2) {
        uint32_t w = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8;
        *o++ = tab[w >> 18], *o++ = tab[(w >> 12) & 63], *o++ = tab[(w >> 6) & 63], *o++ = '=';
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
    b->p[b->n] = '\0';
    free(bytes);
}

/* Release the buffer's memory. */
void sb_free(sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}
