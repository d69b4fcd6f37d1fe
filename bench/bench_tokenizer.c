/* bench_tokenizer.c — single-thread tokenizer throughput.
 *
 *   build/bench_tokenizer MODEL_DIR TEXT_FILE [REPS]
 *
 * Encodes every line of TEXT_FILE (special tokens added, no truncation)
 * REPS times (default 5) and prints the median MB/s and tokens/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bert.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer MODEL_DIR TEXT_FILE [REPS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    bert_error err;
    bert_tokenizer *tok;
    if (bert_tokenizer_load(argv[1], &tok, &err) != BERT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **lines = NULL, *line = NULL;
    size_t cap = 0, n = 0, bytes = 0, *lens = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) != -1) {
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        lines = realloc(lines, (n + 1) * sizeof *lines);
        lens = realloc(lens, (n + 1) * sizeof *lens);
        lines[n] = malloc((size_t)len + 1);
        memcpy(lines[n], line, (size_t)len + 1); /* may hold NUL bytes: keep the length */
        lens[n++] = (size_t)len;
        bytes += (size_t)len;
    }
    fclose(f);
    free(line);
    double *t = malloc(sizeof(double) * (size_t)reps);
    long tokens = 0;
    for (int r = 0; r < reps; r++) {
        tokens = 0;
        double t0 = bench_now_ms();
        for (size_t i = 0; i < n; i++) {
            bert_encodings es;
            if (bert_tokenize(tok, lines[i], (long)lens[i], NULL, 0, NULL, &es, &err) != BERT_OK) {
                fprintf(stderr, "line %zu: %s\n", i + 1, err.message);
                return 1;
            }
            tokens += es.encodings[0].n_tokens;
            bert_encodings_free(&es);
        }
        t[r] = (bench_now_ms() - t0) / 1e3; /* seconds */
    }
    bench_sort(t, reps);
    double med = t[reps / 2];
    printf("bert.c   lines %zu  bytes %zu  tokens %ld  median %.3f s  %.2f MB/s  %.0f tokens/s\n", n, bytes, tokens, med,
           bytes / med / 1e6, tokens / med);
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
    free(lens);
    free(t);
    bert_tokenizer_free(tok);
    return 0;
}
