/* file.h — reading, mapping and atomically writing files, with errors that
 * name the path. */
#ifndef BERT_IO_FILE_H
#define BERT_IO_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "bert.h"

/* A file's bytes, either mapped (mapped = 1) or read into a malloc'd block. */
typedef struct {
    unsigned char *data;
    size_t size;
    int mapped;
} bert_file;

/* Map (use_mmap) or read `path` whole. An empty file is mapped as size 0
 * with data NULL. Anything but a regular file (a FIFO, a device, a
 * directory) is BERT_ERR_IO "not a regular file", refused without waiting. */
bert_status bert_file_open(const char *path, int use_mmap, bert_file *out, bert_error *err);
void bert_file_close(bert_file *f);

/* Tell the kernel that the bytes [p, p + n) of the mapped file f will not
 * be read soon: their pages leave the process's resident set (they stay in
 * the page cache; a later read maps them again, with the file's bytes, as
 * the mapping is private and never written). For data that has been
 * copied into another form (weights packed at load), so that the two
 * forms are not both resident. Does nothing for a file that was read
 * rather than mapped, or for a range outside it. */
void bert_file_release(const bert_file *f, const void *p, size_t n);

/* Read a whole (text) file into a NUL-terminated malloc'd string. */
bert_status bert_file_read_text(const char *path, char **out, size_t *len, bert_error *err);

/* 1 if path exists and is a regular file, 0 otherwise. */
int bert_file_exists(const char *path);

/* An optional file: *present = 1 for a regular file (a link to one), 0 when
 * nothing is there; something else under that name (a FIFO, a directory,
 * a device) is BERT_ERR_IO "not a regular file", never read nor skipped. */
bert_status bert_file_optional(const char *path, int *present, bert_error *err);

/* Join dir and name into buf; fails with BERT_ERR_INPUT when it does not fit. */
bert_status bert_path_join(char *buf, size_t cap, const char *dir, const char *name, bert_error *err);

/* A file being written under a temporary name next to its final path. */
typedef struct {
    FILE *fp;   /* write here */
    char *tmp;  /* temporary path */
    char *path; /* final path */
} bert_atomic_file;

/* Start writing path: opens "path.tmp.PID" for writing. */
bert_status bert_atomic_open(const char *path, bert_atomic_file *out, bert_error *err);
/* Flush, fsync and rename the temporary file over path. */
bert_status bert_atomic_commit(bert_atomic_file *f, bert_error *err);
/* Close and delete the temporary file; path is untouched. */
void bert_atomic_abort(bert_atomic_file *f);

/* Write `size` bytes to path through a temporary file in the same directory
 * that is fsync'd then renamed, so readers see the old or the new file,
 * never a part. */
bert_status bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err);

/* A log written line by line (a training run's log.jsonl): path opened for
 * writing, appended to when append (created when absent), else truncated;
 * never through a symbolic link, and only a regular file. *out NULL on
 * failure, BERT_ERR_IO naming path. */
bert_status bert_file_open_log(const char *path, int append, FILE **out, bert_error *err);

#endif
