/* error.c — status strings and the helpers that fill bert_error. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *bert_status_string(bert_status code) {
    switch (code) {
    case BERT_OK: return "ok";
    case BERT_ERR_IO: return "i/o error";
    case BERT_ERR_FORMAT: return "malformed file";
    case BERT_ERR_CONFIG: return "bad configuration";
    case BERT_ERR_SHAPE: return "shape or dtype mismatch";
    case BERT_ERR_INPUT: return "invalid input";
    case BERT_ERR_NOMEM: return "out of memory";
    case BERT_ERR_UNSUPPORTED: return "unsupported";
    case BERT_ERR_STATE: return "invalid state";
    case BERT_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

const char *bert_version(void) { return BERT_VERSION; }

bert_status bert_fail(bert_error *err, bert_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        err->item = -1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

bert_status bert_error_prefix(bert_error *err, const char *fmt, ...) {
    if (!err) return BERT_ERR_STATE;
    char joined[2 * sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(joined, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof err->message) n = sizeof err->message - 1;
    /* joined holds at most 511 + 2 + 511 bytes: no truncation here. */
    memcpy(joined + n, ": ", 2);
    memcpy(joined + n + 2, err->message, strlen(err->message) + 1);
    memcpy(err->message, joined, sizeof err->message - 1);
    err->message[sizeof err->message - 1] = '\0';
    return err->code;
}

void bert_error_clear(bert_error *err) {
    if (err) {
        err->code = BERT_OK;
        err->item = -1;
        err->message[0] = '\0';
    }
}
