/* error.h — filling a bert_error and returning its code in one statement.
 *
 * Deep code never prints: it records one line in the caller's bert_error
 * and returns the status upward, so only the CLI decides what to show. */
#ifndef BERT_UTIL_ERROR_H
#define BERT_UTIL_ERROR_H

#include "bert.h"

/* Record `code` with a printf-style message in err (when non-NULL) and
 * return code, so callers can write `return bert_fail(err, ...)`. */
bert_status bert_fail(bert_error *err, bert_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in err with "prefix: " (used to add a file
 * name to an error found by a lower layer). Returns err's code. */
bert_status bert_error_prefix(bert_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset err to BERT_OK with an empty message. */
void bert_error_clear(bert_error *err);

#endif
