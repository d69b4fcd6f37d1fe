/* task_runner.h — the loop every task command shares: read JSONL, batch,
 * run, write one output line per input line in order, per-line errors,
 * --on-error skip, progress on a terminal; under mpirun, the batches split
 * over the ranks (shard.h). */
#ifndef BERT_CLI_TASK_RUNNER_H
#define BERT_CLI_TASK_RUNNER_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "bert.h"

/* Run one batch: items[0..n) are the parsed input lines. Write one JSON
 * line per item to out, in order, and return 1; or return 0 with
 * err->item = the index of the failing item (or -1) and a message. */
typedef int (*task_batch_fn)(void *state, cJSON **items, int n, FILE *out, bert_error *err);

typedef struct {
    const char *cmd;     /* "fill-mask", ... for messages */
    const char *input;   /* NULL: stdin */
    const char *output;  /* NULL: stdout */
    int batch_size;
    int on_error_skip;   /* 1: write {"error": ...} for a failing line and go on */
    bert_dist *dist;     /* the job whose ranks share the batches (shard.h); NULL: a job of one */
} task_run_opts;

/* --threads may ask for this many threads per online core at most. */
#define CLI_THREADS_PER_CORE 4

/* 1 when n threads are within CLI_THREADS_PER_CORE per core; else prints
 * the error (as command cmd) and returns 0. */
int cli_threads_ok(const char *cmd, int n);

/* Returns the process exit code; in a job of several ranks every rank
 * returns the same one. */
int task_run_jsonl(const task_run_opts *o, task_batch_fn fn, void *state);

/* Common flags: --input, --output, --batch-size, --threads, --on-error,
 * --truncate, --truncation-side. Returns 1 if argv[*i] was one of them
 * (advancing *i past its value), 0 if not, -1 on a bad value. */
int task_common_flag(int argc, char **argv, int *i, task_run_opts *o, bert_pipeline_params *pp);

/* The positional MODEL_DIR argument: stores arg in *dir; an option it does
 * not know, or a second positional, prints usage and returns 0. */
int task_positional(const char *cmd, const char *arg, const char **dir, const char *usage);

/* Join the job (mpirun's, else a job of one), open the pipeline of dir
 * into *slot (so fn's state can see it), run the JSONL loop with the
 * batches shared by the ranks, free it, leave the job. Returns the exit
 * code. */
int task_open_and_run(const task_run_opts *o, const char *dir, const bert_pipeline_params *pp, bert_pipeline **slot,
                      task_batch_fn fn, void *state);

/* out[i] = string field `key` of items[i] (NULL when absent). With
 * required, a missing one fails with err naming the input. */
int task_strings(cJSON **items, int n, const char *key, int required, const char **out, bert_error *err);

/* order[0..n) = indices of scores, highest first (ties: lower index first). */
void task_rank(const float *scores, int n, int *order);

/* A string field of a JSON object, or NULL. */
const char *task_str(const cJSON *o, const char *key);

/* Write a JSON value as one line and free it. */
void task_emit(FILE *out, cJSON *v);

#endif
