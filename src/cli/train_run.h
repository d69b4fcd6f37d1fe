/* train_run.h — what the training commands share around the one library
 * call: progress lines on stderr from the loop's events and the command
 * that resumes an interrupted run (the stop flag: cli/signals.h). */
#ifndef BERT_CLI_TRAIN_RUN_H
#define BERT_CLI_TRAIN_RUN_H

#include "bert.h"
#include "cli/train_flags.h"

/* The state of the progress printer (bert_loop_params.on_event_user). */
typedef struct {
    const char *cmd;  /* "finetune", "pretrain" */
    int tty;          /* stderr is a terminal: training lines rewrite one line */
    int pretrain;     /* pre-training's line formats */
    int open_line;    /* a \r line is on the terminal */
    double t0;        /* when the command started (read rates)              */
    char metric[64];  /* the metric that picks the best model (from the evaluations) */
} cli_progress;

/* bert_loop_params.on_event: one stderr line per event (see train_run.c). */
void cli_on_event(void *user, const bert_event *e);

/* bert_corpus_read_params.progress on a terminal: "reading: X/Y MB, ...". */
void cli_read_progress(void *user, double bytes_read, double bytes_total, long long documents, long long tokens);

/* End a \r line left on the terminal. */
void cli_progress_end(cli_progress *p);

/* Print "bert CMD: interrupted at step N; resume with: [mpirun -np N]
 * bert CMD ARGS --resume CHECKPOINT" (argv with any old --resume replaced,
 * quoted for a POSIX shell) on rank 0 of the job d (NULL: alone).
 * bare_resume: the old --resume may have no value. */
void cli_print_resume(const bert_dist *d, const char *cmd, int argc, char **argv, int bare_resume, long step,
                      const char *checkpoint);

/* A training command's run as one rank of a job: job(a, argc, argv, d). */
typedef int (*cli_train_job_fn)(cli_train_args *a, int argc, char **argv, bert_dist *d);
/* Join the job (cli_dist_open with a->dist), run job, leave it
 * (cli_dist_end); returns the exit code. */
int cli_train_job(cli_train_args *a, int argc, char **argv, cli_train_job_fn job);

/* Join the job mpirun started (a job of one otherwise) into *d, for
 * bert_train_params.dist; 0 after printing why not (as command cmd). */
int cli_dist_open(const char *cmd, const bert_dist_params *p, bert_dist **d);
/* Leave the job with the command's exit code: after an error in a job of
 * several ranks, end them all (bert_dist_abort) so none waits for this
 * one; else close d. Returns code. */
int cli_dist_end(bert_dist *d, int code);
/* cli_error with "rank R of N: " before message in a job of several ranks. */
int cli_rank_error(const char *cmd, const bert_dist *d, const char *message);

/* The newest OUT/checkpoint-STEP directory into path; 0 when there is none. */
int cli_newest_checkpoint(const char *out, char *path, size_t cap);

#endif
