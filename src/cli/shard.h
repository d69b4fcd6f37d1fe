/* shard.h — the JSONL task commands as one job of several processes
 * (mpirun -np N): batch inference split over the ranks, one output.
 *
 * Every rank reads the whole input and forms the same batches as one
 * process would (a "unit": a batch and the {"error": ...} lines written
 * before it); unit u is run by rank u mod N, so N units (a "round") run at
 * once. Each rank writes its unit's output lines into memory; at the end
 * of a round rank 0 gathers them in rank order, which is input order, and
 * appends them to the output file (written under a temporary name and
 * renamed into place at the end, as cli_output does). The batches are the
 * single process's, so the output is too, byte for byte. Every round the
 * ranks also agree whether one failed, so all stop together and the job's
 * outcome (exit code, output file or none) is the same on every rank.
 *
 * In a job of one (no mpirun) nothing of this happens: every unit is this
 * process's and the lines go straight to the output. */
#ifndef BERT_CLI_SHARD_H
#define BERT_CLI_SHARD_H

#include <stdio.h>

#include "bert.h"
#include "cli/cli.h"

typedef struct {
    const char *cmd;    /* "embed", "classify", ... for messages */
    bert_dist *d;       /* the job; NULL: a job of one */
    int rank, size;
    long unit;          /* the unit the lines read now belong to */
    FILE *fp;           /* where the command writes its output lines */
    cli_output out;     /* rank 0 (or a job of one): the output */
    char *mem;          /* several ranks: this round's lines (open_memstream) */
    size_t mem_len;
    int stopped;        /* a round said the job stops (a rank failed) */
} cli_shard;

/* Under a job of several ranks, input and output must name files (rank 0
 * says so otherwise: "under mpirun, --input and --output must be files");
 * every rank gets the same answer. A job of one takes anything: 1. */
int shard_files_ok(const char *cmd, bert_dist *d, const char *input, const char *output);

/* Open the output of the job d (NULL: a job of one) on s: in a job of one
 * cli_output_open(output); with several ranks, rank 0 opens output and
 * every rank a memory buffer. ready: this rank's own setup worked (0 after
 * it printed why). Returns 1 when every rank is ready, else 0 (having
 * removed what it opened). */
int shard_open(cli_shard *s, const char *cmd, bert_dist *d, const char *output, int ready);

/* 1 when the current unit is this rank's: it runs the unit's batch and
 * writes (and prints the messages of) the unit's lines. Always 1 in a job
 * of one. */
int shard_mine(const cli_shard *s);

/* 1 on rank 0, the rank that prints progress and the closing messages. */
int shard_speaker(const cli_shard *s);

/* 1 when the job has several ranks. */
int shard_several(const cli_shard *s);

/* The current unit is complete (run, or skipped, on every rank): the lines
 * read next belong to the next one. After the last unit of a round the
 * round's lines are written out. Returns 0 when the job stops because a
 * rank failed (this rank then stops quietly). */
int shard_next(cli_shard *s);

/* After the input loop, ok = this rank's outcome and *failed the lines it
 * wrote as {"error": ...} (failed may be NULL): the last round is written
 * out (unless a rank failed); *failed becomes the count over every rank. Returns the outcome
 * every rank agrees on (0 when any rank failed). */
int shard_finish(cli_shard *s, int ok, long *failed);

/* Close the output: renamed into place when ok (rank 0), else removed.
 * Returns the outcome every rank agrees on. */
int shard_close(cli_shard *s, int ok);

/* cli_error printed on rank 0 only (the message every rank would print);
 * returns CLI_ERROR on every rank. */
int shard_error(const cli_shard *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Leave the job after a command whose outcome every rank agreed on
 * (shard_close did): close d without ending the others; returns code. */
int shard_leave(bert_dist *d, int code);

#endif
