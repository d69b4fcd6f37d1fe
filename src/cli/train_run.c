/* train_run.c — see train_run.h. Progress lines:
 *   training (not a terminal): "step S/T epoch E loss L lr R N tok/s"
 *   training (a terminal):     the same, rewritten in place with an ETA
 *   evaluation:                "eval step S: loss L METRIC V"
 *   pre-training evaluation:   "step S: held-out MLM loss L perplexity P accuracy A"
 *   early stopping:            "early stopping: ..."
 *   notices:                   "bert CMD: TEXT" */
#include "cli/train_run.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* 1 and *v when m holds `name`. */
static int metric(const bert_metrics *m, const char *name, double *v) {
    for (int i = 0; m && i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) return *v = m->value[i], 1;
    return 0;
}

void cli_progress_end(cli_progress *p) {
    if (p->open_line) fputc('\n', stderr), p->open_line = 0;
}

/* A training line: one per log step (rewritten in place on a terminal). */
static void train_line(cli_progress *p, const bert_event *e) {
    int epoch = (int)ceil(e->epoch - 1e-9);
    if (epoch < 1) epoch = 1;
    if (p->pretrain)
        fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e %.0f tok/s, ETA %.0f s\n", e->step, e->total_steps, e->loss, e->lr,
                e->tokens_per_s, e->eta_s);
    else if (p->tty)
        fprintf(stderr, "\rstep %ld/%ld  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %.0f s   ", e->step, e->total_steps,
                epoch, e->loss, e->lr, e->tokens_per_s, e->eta_s),
            p->open_line = 1;
    else
        fprintf(stderr, "step %ld/%ld epoch %d loss %.4f lr %.2e %.0f tok/s\n", e->step, e->total_steps, epoch, e->loss, e->lr,
                e->tokens_per_s);
}

/* An evaluation line: the loss and the metric that picks the best model. */
static void eval_line(cli_progress *p, const bert_event *e) {
    double loss = NAN, v;
    cli_progress_end(p);
    if (p->pretrain && metric(e->metrics, "mlm_loss", &loss)) {
        if (e->step == 0) return; /* the figures before training come as a notice */
        double ppl = NAN, acc = NAN;
        metric(e->metrics, "perplexity", &ppl);
        metric(e->metrics, "mlm_accuracy", &acc);
        fprintf(stderr, "step %ld: held-out MLM loss %.4f perplexity %.1f accuracy %.4f\n", e->step, loss, ppl, acc);
        return;
    }
    fprintf(stderr, "eval step %ld:", e->step);
    if (metric(e->metrics, "loss", &loss)) fprintf(stderr, " loss %.4f", loss);
    if (e->metric && *e->metric) snprintf(p->metric, sizeof p->metric, "%s", e->metric);
    if (e->metric && *e->metric) fprintf(stderr, " %s %.4f", e->metric, e->metric_value);
    else
        for (int i = 0; e->metrics && i < e->metrics->n; i++)
            if (strcmp(e->metrics->name[i], "loss") != 0 && metric(e->metrics, e->metrics->name[i], &v))
                fprintf(stderr, " %s %.4f", e->metrics->name[i], v);
    fputc('\n', stderr);
}

void cli_on_event(void *user, const bert_event *e) {
    cli_progress *p = user;
    switch (e->kind) {
    case BERT_EVENT_TRAIN: train_line(p, e); break;
    case BERT_EVENT_EVAL: eval_line(p, e); break;
    case BERT_EVENT_EARLY_STOP:
        cli_progress_end(p);
        fputs(e->text && *e->text ? e->text : "early stopping", stderr);
        fputc('\n', stderr);
        break;
    case BERT_EVENT_NOTICE: /* pre-training's held-out figures and its last line stand alone */
        cli_progress_end(p);
        if (e->text && (strncmp(e->text, "done: ", 6) == 0 || strncmp(e->text, "held-out ", 9) == 0)) fprintf(stderr, "%s\n", e->text);
        else fprintf(stderr, "bert %s: %s\n", p->cmd, e->text ? e->text : "");
        break;
    case BERT_EVENT_CHECKPOINT: break;
    }
    fflush(stderr);
}

void cli_read_progress(void *user, double bytes_read, double bytes_total, long long documents, long long tokens) {
    cli_progress *p = user;
    double el = cli_now_s() - p->t0;
    fprintf(stderr, "\rreading: %.1f/%.1f MB, %.1f MB/s, %lld documents, %lld tokens   ", bytes_read / 1e6, bytes_total / 1e6,
            bytes_read / 1e6 / (el > 0 ? el : 1e-9), documents, tokens);
    p->open_line = 1;
}

/* s quoted for a POSIX shell when it needs it. */
static void put_word(const char *s) {
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+-@%") == strlen(s)) {
        fputs(s, stderr);
        return;
    }
    fputc('\'', stderr);
    for (; *s; s++)
        if (*s == '\'') fputs("'\\''", stderr);
        else fputc(*s, stderr);
    fputc('\'', stderr);
}

void cli_print_resume(const bert_dist *d, const char *cmd, int argc, char **argv, int bare_resume, long step,
                      const char *checkpoint) {
    if (bert_dist_rank(d) != 0) return;
    fprintf(stderr, "bert %s: interrupted at step %ld; resume with: ", cmd, step);
    if (bert_dist_size(d) > 1) fprintf(stderr, "mpirun -np %d ", bert_dist_size(d));
    fprintf(stderr, "bert %s", cmd);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            int has_value = i + 1 < argc && !(bare_resume && strncmp(argv[i + 1], "--", 2) == 0);
            i += has_value;
            continue;
        }
        fputc(' ', stderr);
        put_word(argv[i]);
    }
    fputs(" --resume ", stderr);
    put_word(checkpoint);
    fputc('\n', stderr);
}

int cli_newest_checkpoint(const char *out, char *path, size_t cap) {
    DIR *d = opendir(out);
    long best = -1;
    for (struct dirent *e; d && (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, "checkpoint-", 11) != 0) continue;
        long step = strtol(e->d_name + 11, &end, 10);
        if (end != e->d_name + 11 && !*end && step > best) best = step;
    }
    if (d) closedir(d);
    if (best < 0) return 0;
    snprintf(path, cap, "%s/checkpoint-%ld", out, best);
    return 1;
}

int cli_dist_open(const char *cmd, const bert_dist_params *p, bert_dist **d) {
    bert_error err;
    if (bert_dist_open(p, d, &err) == BERT_OK) return 1;
    cli_error(cmd, "%s", err.message);
    return 0;
}

int cli_dist_end(bert_dist *d, int code) {
    fflush(stderr), fflush(stdout);
    if (code != CLI_OK && code != 130 && bert_dist_size(d) > 1) bert_dist_abort(d, code);
    bert_dist_close(d);
    return code;
}

int cli_rank_error(const char *cmd, const bert_dist *d, const char *message) {
    if (bert_dist_size(d) > 1) return cli_error(cmd, "rank %d of %d: %s", bert_dist_rank(d), bert_dist_size(d), message);
    return cli_error(cmd, "%s", message);
}

int cli_train_job(cli_train_args *a, int argc, char **argv, cli_train_job_fn job) {
    bert_dist *d = NULL;
    if (!cli_dist_open(a->name, &a->dist, &d)) return CLI_ERROR;
    return cli_dist_end(d, job(a, argc, argv, d));
}
