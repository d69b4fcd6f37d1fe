/* task_runner.c — see task_runner.h. */
#include "cli/task_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/line_reader.h"
#include "cli/shard.h"
#include "cli/train_run.h"

const char *task_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int task_positional(const char *cmd, const char *arg, const char **dir, const char *usage) {
    if (arg[0] == '-' || *dir) {
        cli_help_if_asked(arg, usage);
        cli_usage_error(cmd, usage, "%s '%s'", arg[0] == '-' ? "unknown option or missing value:" : "unexpected argument", arg);
        return 0;
    }
    *dir = arg;
    return 1;
}

int task_open_and_run(const task_run_opts *o, const char *dir, const bert_pipeline_params *pp, bert_pipeline **slot,
                      task_batch_fn fn, void *state) {
    task_run_opts run = *o;
    if (!cli_dist_open(o->cmd, NULL, &run.dist)) return CLI_ERROR;
    if (!shard_files_ok(o->cmd, run.dist, o->input, o->output)) return shard_leave(run.dist, CLI_ERROR);
    bert_error err;
    if (bert_pipeline_open(dir, pp, slot, &err) != BERT_OK)
        return cli_dist_end(run.dist, cli_rank_error(o->cmd, run.dist, err.message));
    int rc = task_run_jsonl(&run, fn, state);
    bert_pipeline_free(*slot);
    *slot = NULL;
    return shard_leave(run.dist, rc);
}

int cli_threads_ok(const char *cmd, int n) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN), max = (cores > 0 ? cores : 1) * CLI_THREADS_PER_CORE;
    if (n <= max) return 1;
    cli_error(cmd, "--threads %d: at most %ld (%d per core on %ld cores)", n, max, CLI_THREADS_PER_CORE, cores);
    return 0;
}

int task_strings(cJSON **items, int n, const char *key, int required, const char **out, bert_error *err) {
    for (int i = 0; i < n; i++) {
        out[i] = task_str(items[i], key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(items[i], key);
        /* an optional field may be absent or null, never of another type */
        if (!out[i] && (required || (v && !cJSON_IsNull(v)))) {
            err->item = i;
            if (v) snprintf(err->message, sizeof err->message, "input %d: \"%s\" must be a string", i, key);
            else snprintf(err->message, sizeof err->message, "input %d: needs a \"%s\" string", i, key);
            return 0;
        }
    }
    return 1;
}

void task_rank(const float *scores, int n, int *order) {
    /* Insertion sort: stable, and n is a label or document count. */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && scores[order[j - 1]] < scores[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

void task_emit(FILE *out, cJSON *v) {
    char *s = cJSON_PrintUnformatted(v);
    if (s) fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(v);
}

int task_common_flag(int argc, char **argv, int *i, task_run_opts *o, bert_pipeline_params *pp) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--truncate") == 0) {
        pp->truncate = 1;
        return 1;
    }
    int takes = strcmp(a, "--input") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--batch-size") == 0 ||
                strcmp(a, "--threads") == 0 || strcmp(a, "--on-error") == 0 || strcmp(a, "--truncation-side") == 0 ||
                strcmp(a, "--dtype") == 0 || strcmp(a, "--device") == 0;
    if (!takes) return 0;
    if (!v) {
        fprintf(stderr, "bert %s: %s needs a value\n", o->cmd, a);
        return -1;
    }
    (*i)++;
    if (strcmp(a, "--input") == 0) o->input = v;
    else if (strcmp(a, "--output") == 0) o->output = v;
    else if (strcmp(a, "--batch-size") == 0) return cli_parse_int(o->cmd, a, v, 1, &o->batch_size) ? 1 : -1;
    else if (strcmp(a, "--threads") == 0) return cli_parse_int(o->cmd, a, v, 1, &pp->n_threads) && cli_threads_ok(o->cmd, pp->n_threads) ? 1 : -1;
    else if (strcmp(a, "--dtype") == 0) return cli_parse_dtype(o->cmd, v, &pp->compute) ? 1 : -1;
    else if (strcmp(a, "--device") == 0) return cli_parse_device(o->cmd, v, &pp->device) ? 1 : -1;
    else if (strcmp(a, "--on-error") == 0) {
        if (strcmp(v, "skip") != 0 && strcmp(v, "stop") != 0) {
            fprintf(stderr, "bert %s: --on-error must be stop or skip\n", o->cmd);
            return -1;
        }
        o->on_error_skip = strcmp(v, "skip") == 0;
    } else {
        if (strcmp(v, "left") != 0 && strcmp(v, "right") != 0) {
            fprintf(stderr, "bert %s: --truncation-side must be left or right\n", o->cmd);
            return -1;
        }
        pp->truncate_left = strcmp(v, "left") == 0;
    }
    return 1;
}

/* Lines in the file at path (for the ETA), or -1 when it cannot be read. */
static long count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Run items[0..n), retrying after a failing item when skipping. Returns
 * the number of failed items, or -1 to stop. */
static long run_batch(const task_run_opts *o, task_batch_fn fn, void *state, cJSON **items, long *lines, int n,
                      const char *src, FILE *out) {
    long failed = 0;
    int start = 0;
    while (start < n) {
        bert_error err;
        err.item = -1;
        err.message[0] = '\0';
        if (fn(state, items + start, n - start, out, &err)) return failed;
        cli_name_flags(err.message, sizeof err.message);
        int bad = err.item >= 0 && err.item < n - start ? start + err.item : -1;
        const char *msg = err.message;
        /* "input 3: ..." / "sequence 3: ...": the line number says where. */
        if (bad >= 0 && (strncmp(msg, "input ", 6) == 0 || strncmp(msg, "sequence ", 9) == 0)) {
            const char *c = strstr(msg, ": ");
            if (c) msg = c + 2;
        }
        if (bad < 0) {
            cli_error(o->cmd, "%s", err.message);
            return -1;
        }
        cli_error(o->cmd, "%s:%ld: %s", src, lines[bad], msg);
        if (!o->on_error_skip) return -1;
        /* Items before `bad` were not written: run them alone first. */
        if (bad > start && !fn(state, items + start, bad - start, out, &err)) return -1;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", msg);
        cJSON_AddNumberToObject(e, "line", (double)lines[bad]);
        task_emit(out, e);
        failed++;
        start = bad + 1;
    }
    return failed;
}

typedef struct {
    const task_run_opts *o;
    task_batch_fn fn;
    void *state;
    const char *src;
    cli_shard *sh;
    cJSON **items;
    long *lines, done, failed;
    int n;
} pending;

/* The pending items are a unit (a batch): run them on the rank whose unit
 * it is, write their lines out, free them, go to the next unit; 0 to stop. */
static int run_pending(pending *p) {
    if (!p->n) return 1;
    long f = shard_mine(p->sh) ? run_batch(p->o, p->fn, p->state, p->items, p->lines, p->n, p->src, p->sh->fp) : 0;
    for (int k = 0; k < p->n; k++) cJSON_Delete(p->items[k]);
    p->done += p->n;
    p->n = 0;
    fflush(p->sh->fp);
    if (f < 0) return 0;
    p->failed += f;
    return shard_next(p->sh);
}

int task_run_jsonl(const task_run_opts *o, task_batch_fn fn, void *state) {
    const char *src = o->input ? o->input : "stdin";
    line_reader r = {.fd = 0};
    int opened = !o->input || (r.fd = open(o->input, O_RDONLY)) >= 0;
    if (!opened) cli_error(o->cmd, "%s: cannot open: %s", o->input, strerror(errno));
    cli_shard sh;
    if (!shard_open(&sh, o->cmd, o->dist, o->output, opened)) {
        if (r.fd > 0) close(r.fd);
        return CLI_ERROR;
    }
    int bs = o->batch_size > 0 ? o->batch_size : 32;
    pending p = {o, fn, state, src, &sh, calloc((size_t)bs, sizeof(cJSON *)), calloc((size_t)bs, sizeof(long)), 0, 0, 0};
    long total = o->input && shard_speaker(&sh) ? count_lines(o->input) : -1, lineno = 0;
    int progress = shard_speaker(&sh) && isatty(2) && (total < 0 || total > 200), ok = p.items && p.lines;
    double t0 = cli_now_s(), last = t0;
    char *line = NULL, msg[600];
    size_t cap = 0;
    while (ok) {
        /* The input paused: answer what came (one process only: the ranks
         * of a job read a file, and all must cut the same batches). */
        if (p.n && !shard_several(&sh) && !reader_ready(&r) && !run_pending(&p)) {
            ok = 0;
            break;
        }
        long got = reader_next(&r, &line, &cap);
        if (got == -2) {
            if (shard_mine(&sh))
                cli_error(o->cmd, "%s:%ld: the line is longer than %ld bytes (the limit of one input line)", src, lineno + 1,
                          CLI_MAX_LINE_BYTES);
            ok = 0;
            break;
        }
        if (got < 0) break;
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        cJSON *item = NULL;
        if (!cli_check_json_line(line, msg, sizeof msg)) {
        } else if (!(item = cJSON_Parse(line)) || !cJSON_IsObject(item)) {
            snprintf(msg, sizeof msg, "not a JSON object");
            cJSON_Delete(item);
            item = NULL;
        }
        if (!item) {
            /* Keep output lines and messages in line order: what came before runs first. */
            if (o->on_error_skip && !run_pending(&p)) {
                ok = 0;
                break;
            }
            int mine = shard_mine(&sh); /* the line's {"error": ...} goes with the unit now open */
            if (mine) cli_error(o->cmd, "%s:%ld: %s", src, lineno, msg);
            if (!o->on_error_skip) {
                ok = 0;
                break;
            }
            if (!mine) continue;
            p.failed++;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", msg);
            cJSON_AddNumberToObject(e, "line", (double)lineno);
            task_emit(sh.fp, e);
            continue;
        }
        p.items[p.n] = item;
        p.lines[p.n++] = lineno;
        if (p.n == bs) {
            if (!run_pending(&p)) ok = 0;
            double t = cli_now_s();
            if (progress && t - last > 0.5) {
                double rate = p.done / (t - t0);
                if (total > 0)
                    fprintf(stderr, "\r%s: %ld/%ld lines, %.1f lines/s, ETA %.0f s   ", o->cmd, lineno, total, rate,
                            (total - lineno) / (rate > 0 ? rate : 1));
                else
                    fprintf(stderr, "\r%s: %ld lines, %.1f lines/s   ", o->cmd, lineno, rate);
                last = t;
            }
        }
    }
    if (ok && !run_pending(&p)) ok = 0;
    for (int k = 0; k < p.n; k++) cJSON_Delete(p.items[k]);
    ok = shard_finish(&sh, ok, &p.failed);
    if (progress) fprintf(stderr, "\n");
    if (ok && lineno > 0 && p.done == 0 && p.failed == 0) ok = !shard_error(&sh, "%s: no input lines", src);
    if (ok && lineno == 0) ok = !shard_error(&sh, "%s: no input (expected JSONL)", src);
    if (ok && p.failed) shard_error(&sh, "%ld line(s) failed (see above); their outputs are {\"error\": ...}", p.failed);
    ok = shard_close(&sh, ok);
    free(p.items), free(p.lines), free(line), free(r.buf);
    if (r.fd > 0) close(r.fd);
    return ok && !p.failed ? CLI_OK : CLI_ERROR;
}
