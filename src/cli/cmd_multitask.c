/* cmd_multitask.c — `bert multitask MODEL_DIR --output-dir OUT --task A
 * --task B ... | --tasks-file F`: the options (train_flags.c; the data,
 * batch and optimizer options are every task's template) into
 * bert_multitask_params, one bert_multitask call, progress on stderr. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_flags.h"
#include "cli/signals.h"
#include "cli/train_run.h"

/* Train the tasks as one rank of the job d (rank 0 prints). */
static int run_job(cli_train_args *ap, int argc, char **argv, bert_dist *d) {
    cli_train_args a = *ap;
    int speaker = bert_dist_rank(d) == 0;
    a.ft.train.dist = d;
    bert_error err;
    bert_task_list *list = NULL;
    bert_finetune_params data = a.ft; /* every task's template; --metric is the run's, not a task's */
    data.loop = bert_loop_default_params();
    if (a.tasks_file && bert_task_list_read(a.tasks_file, &data, &list, &err) != BERT_OK)
        return cli_error("multitask", "--tasks-file %s", err.message);
    int n_file = bert_task_list_count(list);
    if (a.n_presets + n_file == 0) {
        bert_task_list_free(list);
        return cli_error("multitask", "needs --task NAME (repeatable) or --tasks-file FILE"), CLI_USAGE;
    }
    if (a.n_presets + n_file > BERT_MAX_HEADS) {
        bert_task_list_free(list);
        return cli_error("multitask", "at most %d tasks", BERT_MAX_HEADS);
    }
    bert_multitask_task tasks[BERT_MAX_HEADS];
    for (int k = 0; k < a.n_presets; k++) {
        tasks[k] = (bert_multitask_task){.name = NULL, .data = data, .loss_weight = 1};
        tasks[k].data.preset = a.presets[k];
    }
    for (int k = 0; k < n_file; k++) tasks[a.n_presets + k] = bert_task_list_tasks(list)[k];
    bert_multitask_params mt = a.mt;
    mt.model_dir = a.ft.model_dir, mt.output_dir = a.ft.output_dir;
    mt.tasks = tasks, mt.n_tasks = a.n_presets + n_file;
    mt.epochs = a.ft.epochs, mt.max_steps = a.ft.max_steps;
    mt.train = a.ft.train, mt.loop = a.ft.loop, mt.resume_from = a.ft.resume_from;
    if (cli_lower_is_better(mt.loop.metric)) mt.loop.greater_is_better = 0;
    cli_progress pr = {.cmd = "multitask", .tty = isatty(2)};
    mt.loop.on_event = cli_on_event, mt.loop.on_event_user = &pr, mt.loop.interrupt = cli_stop_flag();
    bert_loop_result r;
    bert_status rc = bert_multitask(&mt, &r, &err);
    cli_progress_end(&pr);
    bert_task_list_free(list);
    if (rc == BERT_ERR_INTERRUPTED) {
        cli_print_resume(d, "multitask", argc, argv, 0, r.steps, r.checkpoint);
        return 130;
    }
    if (rc != BERT_OK) return cli_name_flags(err.message, sizeof err.message), cli_rank_error("multitask", d, err.message);
    if (!speaker) return CLI_OK;
    if (r.best_step >= 0)
        fprintf(stderr, "done: best %s %.4f at step %ld; models in %s/shared and %s/TASK\n", pr.metric, r.best, r.best_step,
                mt.output_dir, mt.output_dir);
    else
        fprintf(stderr, "done: %ld steps; report in %s/report.json\n", r.steps, mt.output_dir);
    return CLI_OK;
}

int cmd_multitask(int argc, char **argv) {
    cli_train_args a;
    if (!cli_train_parse(CLI_CMD_MULTITASK, argc, argv, &a)) return CLI_USAGE;
    return cli_train_job(&a, argc, argv, run_job);
}
