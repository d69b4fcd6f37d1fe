/* cmd_finetune.c — `bert finetune MODEL_DIR --output-dir OUT ...` and
 * `bert eval MODEL_DIR --output-dir OUT ...`: the options (train_flags.c)
 * into bert_finetune_params, then the fine-tuner of the task type. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/train_flags.h"

/* A preset read from the default data directory that is not there. */
static int check_data_dir(const cli_train_args *a, int data_dir_given) {
    struct stat st;
    if (!a->ft.preset || a->ft.train_file || data_dir_given || stat(a->ft.data_dir, &st) == 0) return 1;
    cli_error(a->name, "--task %s: the data sets are looked up in %s, which does not exist; pass --data-dir DIR", a->ft.preset,
              a->ft.data_dir);
    return 0;
}

static int run(int cmd, int argc, char **argv) {
    cli_train_args a;
    if (!cli_train_parse(cmd, argc, argv, &a)) return CLI_USAGE;
    int data_dir_given = 0;
    for (int i = 1; i < argc; i++) data_dir_given |= strcmp(argv[i], "--data-dir") == 0;
    if (!check_data_dir(&a, data_dir_given)) return CLI_ERROR;
    /* The task type's fine-tuner reads the same command line. */
    char **args = malloc(sizeof *args * (size_t)(argc + 2));
    if (!args) return cli_error(a.name, "out of memory");
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (a.ft.task == BERT_TASK_SEQUENCE && strcmp(argv[i], "--task-type") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        args[n++] = argv[i];
    }
    if (cmd == CLI_CMD_EVAL) args[n++] = "--eval-only";
    args[n] = NULL;
    int rc = a.ft.task == BERT_TASK_TOKEN ? cmd_finetune_ner(n, args)
           : a.ft.task == BERT_TASK_QA    ? cmd_finetune_qa(n, args)
                                          : finetune_seq_main(n, args);
    free(args);
    return rc;
}

int cmd_finetune(int argc, char **argv) { return run(CLI_CMD_FINETUNE, argc, argv); }

int cmd_eval(int argc, char **argv) { return run(CLI_CMD_EVAL, argc, argv); }
