/* fuzz_util.h — what every libFuzzer target of fuzz/ shares: a private
 * temporary directory for the process (removed at exit) and writing the
 * fuzzer's bytes to a file in it, since the readers under test take paths.
 * Header-only so that each target stays one file plus this. */
#ifndef BERT_FUZZ_UTIL_H
#define BERT_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fs.h"

/* The process's temporary directory ("" before fuzz_dir_init). Set once
 * by fuzz_dir_init, read afterwards. */
static char fuzz_dir[256];

/* Remove the temporary directory and what is in it (at exit). */
static inline void fuzz_dir_cleanup(void) {
    if (fuzz_dir[0]) bert_dir_remove(fuzz_dir, NULL);
}

/* Create the process's temporary directory under $TMPDIR (or /tmp) once;
 * aborts when it cannot, as no target can run without it. */
static inline void fuzz_dir_init(void) {
    if (fuzz_dir[0]) return;
    const char *base = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/bert-fuzz.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_dir_cleanup);
}

/* Write data[0..size) to fuzz_dir/name and return that path in path[cap];
 * aborts on a write failure (a broken harness, not a finding). */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size, char *path, size_t cap) {
    fuzz_dir_init();
    snprintf(path, cap, "%s/%s", fuzz_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Split data at the first occurrence of the separator line "\n--8<--\n":
 * the part before it in (a, na), the rest in (b, nb), empty when absent. */
static inline void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *na, const uint8_t **b, size_t *nb) {
    static const char sep[] = "\n--8<--\n";
    const size_t ls = sizeof sep - 1;
    *a = data, *na = size, *b = data + size, *nb = 0;
    for (size_t i = 0; i + ls <= size; i++)
        if (memcmp(data + i, sep, ls) == 0) {
            *na = i, *b = data + i + ls, *nb = size - i - ls;
            return;
        }
}

#endif
