/* cmd_pretrain.c — `bert pretrain MODEL_DIR --output-dir OUT --corpus FILE...`:
 * the options (train_flags.c) into bert_pretrain_params, one bert_pretrain
 * call, progress on stderr. A bare --resume continues from the newest
 * OUT/checkpoint-STEP; an interrupted run (SIGINT, SIGTERM) has written a
 * checkpoint, prints the command that resumes it and exits with 130. */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_flags.h"
#include "cli/signals.h"
#include "cli/train_run.h"

/* Pre-train as one rank of the job d (rank 0 prints). */
static int run_job(cli_train_args *ap, int argc, char **argv, bert_dist *d) {
    cli_train_args a = *ap;
    int speaker = bert_dist_rank(d) == 0;
    a.pt.train.dist = d;
    char newest[4096];
    if (a.resume_newest) {
        if (cli_newest_checkpoint(a.pt.output_dir, newest, sizeof newest)) {
            a.pt.resume_from = newest;
            if (speaker) fprintf(stderr, "bert pretrain: --resume: %s\n", newest);
        } else if (speaker) {
            fprintf(stderr, "bert pretrain: no checkpoint in %s; starting from the beginning\n", a.pt.output_dir);
        }
    }
    cli_progress pr = {.cmd = a.name, .tty = isatty(2), .pretrain = 1, .t0 = cli_now_s()};
    a.pt.loop.on_event = cli_on_event, a.pt.loop.on_event_user = &pr;
    a.pt.loop.interrupt = cli_stop_flag();
    if (pr.tty) a.pt.read_progress = cli_read_progress, a.pt.read_progress_user = &pr;
    bert_loop_result r;
    bert_error err;
    bert_status rc = bert_pretrain(&a.pt, &r, &err);
    cli_progress_end(&pr);
    if (rc == BERT_ERR_INTERRUPTED) {
        cli_print_resume(d, a.name, argc, argv, 1, r.steps, r.checkpoint);
        return 130;
    }
    if (rc == BERT_OK) return CLI_OK;
    cli_name_flags(err.message, sizeof err.message);
    return cli_rank_error(a.name, d, err.message);
}

int cmd_pretrain(int argc, char **argv) {
    cli_train_args a;
    if (!cli_train_parse(CLI_CMD_PRETRAIN, argc, argv, &a)) return CLI_USAGE;
    return cli_train_job(&a, argc, argv, run_job);
}
