/* train_flags.h — the options of the training commands (finetune, eval,
 * pretrain, multitask, and the finetune options `bert sweep` passes on), kept in one
 * table (train_flags.c): each option's kind, where it goes in
 * bert_finetune_params / bert_pretrain_params, and its help text. Parsing,
 * --help and the "did you mean" hints all read that table (train_parse.c). */
#ifndef BERT_CLI_TRAIN_FLAGS_H
#define BERT_CLI_TRAIN_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#include "bert.h"

/* Which command an option belongs to (bit set). */
enum { CLI_CMD_FINETUNE = 1, CLI_CMD_EVAL = 2, CLI_CMD_PRETRAIN = 4, CLI_CMD_MULTITASK = 8 };
/* Which fine-tuning task types an option applies to (bit set). */
enum { CLI_T_SEQ = 1, CLI_T_TOK = 2, CLI_T_QA = 4, CLI_T_DLG = 8, CLI_T_ALL = 15 };

#define CLI_MAX_CORPUS 64

/* A parsed command line. */
typedef struct {
    int cmd;                 /* CLI_CMD_*                                          */
    const char *name;        /* "finetune", "eval", "pretrain"                     */
    bert_finetune_params ft; /* finetune and eval                                  */
    bert_pretrain_params pt; /* pretrain                                           */
    const char *corpus[CLI_MAX_CORPUS];
    int resume_newest;       /* pretrain's bare --resume: the newest OUT/checkpoint-* */
    int task_given;          /* --task or --task-type was given                    */
    /* multitask: the run (sampler, second stage) and its tasks; the data,
     * batch, optimizer and loop options go into ft as every task's template */
    bert_multitask_params mt;
    const char *presets[BERT_MAX_HEADS]; /* --task, in order                      */
    int n_presets;
    const char *tasks_file;  /* --tasks-file                                       */
    bert_dist_params dist;   /* under mpirun: the data-parallel options            */
} cli_train_args;

/* Where an option's value goes. */
typedef enum { CLI_W_NONE = 0, CLI_W_FT, CLI_W_PT, CLI_W_TRAIN, CLI_W_LOOP, CLI_W_MT, CLI_W_DIST } cli_flag_where;
typedef enum { CLI_K_STR = 0, CLI_K_INT, CLI_K_LONG, CLI_K_DBL, CLI_K_U64, CLI_K_FLAG, CLI_K_FN, CLI_K_SECTION } cli_flag_kind;

/* A special option: consumes v (returns 1), or not (0: a flag, or pretrain's
 * bare --resume), or fails (-1 with a message in msg). */
typedef int (*cli_flag_fn)(cli_train_args *a, const char *v, char *msg, size_t cap);

typedef struct {
    const char *name;   /* "--max-seq-len"; for CLI_K_SECTION the heading    */
    const char *arg;    /* "N", "FILE", ...; NULL for a flag without a value */
    int cmds;           /* CLI_CMD_* bits                                     */
    int tasks;          /* CLI_T_* bits (fine-tuning); 0 = every task         */
    cli_flag_kind kind;
    cli_flag_where where;
    size_t off;         /* offset of the field inside `where`                 */
    long min;           /* CLI_K_INT / CLI_K_LONG: the smallest value         */
    cli_flag_fn fn;     /* CLI_K_FN                                           */
    const char *help;
} cli_flag;

/* The table, ending with an entry whose name is NULL. */
extern const cli_flag cli_train_flags[];

/* Parse argv (argv[0] is the command's name) for cmd into *a, starting from
 * the library's defaults for the task type that --task / --task-type name.
 * --help or -h prints the command's usage on stdout and exits 0. Returns 0
 * after printing one line "bert CMD: message" on stderr. */
int cli_train_parse(int cmd, int argc, char **argv, cli_train_args *a);

/* The usage and every option of cmd, from the table. */
void cli_train_usage(int cmd, FILE *f);

/* The option of cmd nearest to `unknown` by edit distance, or NULL when
 * none is close. */
const char *cli_train_suggest(int cmd, const char *unknown);

#endif
