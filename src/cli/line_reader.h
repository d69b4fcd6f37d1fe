/* line_reader.h — JSONL input read with read(2), so the runner knows
 * whether another line is already there: a partial batch runs as soon as
 * the input pauses, which makes the commands usable as streaming filters.
 * A line is at most CLI_MAX_LINE_BYTES. */
#ifndef BERT_CLI_LINE_READER_H
#define BERT_CLI_LINE_READER_H

#include <stddef.h>

/* The longest input line the JSONL commands read (bytes, 2 MiB); a longer
 * line is an error naming it (docs/usage.md, "Limits"). */
#define CLI_MAX_LINE_BYTES (2L << 20)

typedef struct {
    int fd, eof;
    char *buf;
    size_t len, pos, cap;
} line_reader;

/* The next line (with its '\n') into *line (grown as getline does); its
 * length, -1 at the end of the input (or out of memory), -2 for a line
 * longer than CLI_MAX_LINE_BYTES. */
long reader_next(line_reader *r, char **line, size_t *cap);

/* 1 when the next line can be read without waiting. */
int reader_ready(const line_reader *r);

#endif
