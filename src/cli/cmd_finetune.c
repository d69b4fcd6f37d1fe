/* cmd_finetune.c — `bert finetune MODEL_DIR --output-dir OUT ...` and
 * `bert eval MODEL_DIR --output-dir OUT ...`: the options (train_flags.c)
 * into bert_finetune_params, one bert_finetune call, progress on stderr.
 * An interrupted run (SIGINT, SIGTERM) has written a checkpoint; the
 * command that resumes it is printed and the exit status is 130. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_flags.h"
#include "cli/signals.h"
#include "cli/train_run.h"

/* The directory a preset's files are in, under the data directory; 0 when
 * name is not a preset. */
static int preset_dir(const bert_finetune_params *p, char *dir, size_t cap) {
    const bert_glue_preset *g = bert_glue_preset_find(p->preset);
    const bert_ner_preset *n = g ? NULL : bert_ner_preset_find(p->preset);
    const bert_qa_preset *q = g || n ? NULL : bert_qa_preset_find(p->preset);
    bert_error err;
    if (g || n) return snprintf(dir, cap, "%s/%s", p->data_dir, g ? g->dir : n->dir), 1;
    if (!q || bert_qa_preset_path(p->data_dir, q->dev ? q->dev : q->train, p->subjqa_domain, dir, cap, &err) != BERT_OK) return 0;
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    return 1;
}

/* A preset whose directory is missing: say which path was tried. */
static int check_data_dir(const cli_train_args *a) {
    const bert_finetune_params *p = &a->ft;
    char dir[4096];
    struct stat st;
    int files_given = p->dev_file && (p->eval_only || p->train_file);
    if (!p->preset || files_given || !preset_dir(p, dir, sizeof dir) || stat(dir, &st) == 0) return 1;
    cli_error(a->name, "--task %s: %s does not exist; pass --data-dir DIR (the directory that holds %s)", p->preset, dir,
              dir + strlen(p->data_dir) + 1);
    return 0;
}

/* The one line after a run: the best score and where the model is. */
static void summary(const cli_train_args *a, const cli_progress *pr, const bert_loop_result *r) {
    const bert_metrics *m = &r->last_metrics;
    if (a->ft.eval_only) {
        fputs("dev", stderr);
        for (int i = 0; i < m->n; i++) fprintf(stderr, "%s %s %.4f", i ? "," : "", m->name[i], m->value[i]);
        fprintf(stderr, "; report in %s/report.json\n", a->ft.output_dir);
    } else if (r->best_step >= 0 && pr->metric[0]) {
        fprintf(stderr, "done: best %s %.4f at step %ld; model in %s/best\n", pr->metric, r->best, r->best_step, a->ft.output_dir);
    } else {
        fprintf(stderr, "done: %ld steps; report in %s/report.json\n", r->steps, a->ft.output_dir);
    }
}

/* Fine-tune or score, as one rank of the job d (rank 0 prints). */
static int run_job(cli_train_args *ap, int argc, char **argv, bert_dist *d) {
    cli_train_args a = *ap;
    int speaker = bert_dist_rank(d) == 0;
    a.ft.train.dist = d;
    cli_progress pr = {.cmd = a.name, .tty = isatty(2)};
    a.ft.loop.on_event = cli_on_event, a.ft.loop.on_event_user = &pr;
    if (cli_lower_is_better(a.ft.loop.metric)) a.ft.loop.greater_is_better = 0;
    if (!a.ft.eval_only) a.ft.loop.interrupt = cli_stop_flag();
    bert_loop_result r;
    bert_error err;
    bert_status rc = bert_finetune(&a.ft, &r, &err);
    cli_progress_end(&pr);
    if (rc == BERT_ERR_INTERRUPTED) {
        cli_print_resume(d, a.name, argc, argv, 0, r.steps, r.checkpoint);
        return 130;
    }
    if (rc != BERT_OK) return cli_name_flags(err.message, sizeof err.message), cli_rank_error(a.name, d, err.message);
    if (speaker) summary(&a, &pr, &r);
    return CLI_OK;
}

/* The command: parse, check the data directory, join the job, run. */
static int run(int cmd, int argc, char **argv) {
    cli_train_args a;
    if (!cli_train_parse(cmd, argc, argv, &a)) return CLI_USAGE;
    if (!check_data_dir(&a)) return CLI_ERROR;
    return cli_train_job(&a, argc, argv, run_job);
}

int cmd_finetune(int argc, char **argv) { return run(CLI_CMD_FINETUNE, argc, argv); }

int cmd_eval(int argc, char **argv) { return run(CLI_CMD_EVAL, argc, argv); }
