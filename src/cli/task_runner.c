/* task_runner.c — see task_runner.h. */
#include "cli/task_runner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const char *task_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int task_positional(const char *cmd, const char *arg, const char **dir, const char *usage) {
    if (arg[0] == '-' || *dir) {
        cli_help_if_asked(arg, usage);
        fprintf(stderr, "bert %s: unexpected argument '%s'\n%s", cmd, arg, usage);
        return 0;
    }
    *dir = arg;
    return 1;
}

int task_open_and_run(const task_run_opts *o, const char *dir, const bert_pipeline_params *pp, bert_pipeline **slot,
                      task_batch_fn fn, void *state) {
    bert_error err;
    if (bert_pipeline_open(dir, pp, slot, &err) != BERT_OK) return cli_error(o->cmd, "%s", err.message);
    int rc = task_run_jsonl(o, fn, state);
    bert_pipeline_free(*slot);
    *slot = NULL;
    return rc;
}

int task_strings(cJSON **items, int n, const char *key, int required, const char **out, bert_error *err) {
    for (int i = 0; i < n; i++) {
        out[i] = task_str(items[i], key);
        if (!out[i] && required) {
            err->item = i;
            snprintf(err->message, sizeof err->message, "input %d: needs a \"%s\" string", i, key);
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
                strcmp(a, "--dtype") == 0;
    if (!takes) return 0;
    if (!v) {
        fprintf(stderr, "bert %s: %s needs a value\n", o->cmd, a);
        return -1;
    }
    (*i)++;
    if (strcmp(a, "--input") == 0) o->input = v;
    else if (strcmp(a, "--output") == 0) o->output = v;
    else if (strcmp(a, "--batch-size") == 0) return cli_parse_int(o->cmd, a, v, 1, &o->batch_size) ? 1 : -1;
    else if (strcmp(a, "--threads") == 0) return cli_parse_int(o->cmd, a, v, 1, &pp->n_threads) ? 1 : -1;
    else if (strcmp(a, "--dtype") == 0) return cli_parse_dtype(o->cmd, v, &pp->compute) ? 1 : -1;
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

int task_run_jsonl(const task_run_opts *o, task_batch_fn fn, void *state) {
    FILE *in = stdin;
    const char *src = o->input ? o->input : "stdin";
    if (o->input && !(in = fopen(o->input, "r"))) return cli_error(o->cmd, "%s: cannot open: %s", o->input, strerror(errno));
    cli_output out;
    if (!cli_output_open(o->cmd, o->output, &out)) {
        if (in != stdin) fclose(in);
        return CLI_ERROR;
    }
    int bs = o->batch_size > 0 ? o->batch_size : 32;
    cJSON **items = calloc((size_t)bs, sizeof *items);
    long *lines = calloc((size_t)bs, sizeof *lines);
    long total = o->input ? count_lines(o->input) : -1, lineno = 0, done = 0, failed = 0;
    int progress = isatty(2) && (total < 0 || total > 200), n = 0, ok = items && lines;
    double t0 = cli_now_s(), last = t0;
    char *line = NULL, msg[600];
    size_t cap = 0;
    while (ok && getline(&line, &cap, in) != -1) {
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
            cli_error(o->cmd, "%s:%ld: %s", src, lineno, msg);
            if (!o->on_error_skip) {
                ok = 0;
                break;
            }
            /* Keep output lines aligned with input lines: flush what came before. */
            long f = n ? run_batch(o, fn, state, items, lines, n, src, out.fp) : 0;
            for (int k = 0; k < n; k++) cJSON_Delete(items[k]);
            done += n;
            n = 0;
            if (f < 0) {
                ok = 0;
                break;
            }
            failed += f + 1;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "error", msg);
            cJSON_AddNumberToObject(e, "line", (double)lineno);
            task_emit(out.fp, e);
            continue;
        }
        items[n] = item;
        lines[n++] = lineno;
        if (n == bs) {
            long f = run_batch(o, fn, state, items, lines, n, src, out.fp);
            for (int k = 0; k < n; k++) cJSON_Delete(items[k]);
            done += n;
            n = 0;
            if (f < 0) ok = 0;
            else failed += f;
            double t = cli_now_s();
            if (progress && t - last > 0.5) {
                double rate = done / (t - t0);
                if (total > 0)
                    fprintf(stderr, "\r%s: %ld/%ld lines, %.1f lines/s, ETA %.0f s   ", o->cmd, lineno, total, rate,
                            (total - lineno) / (rate > 0 ? rate : 1));
                else
                    fprintf(stderr, "\r%s: %ld lines, %.1f lines/s   ", o->cmd, lineno, rate);
                last = t;
            }
        }
    }
    if (ok && n) {
        long f = run_batch(o, fn, state, items, lines, n, src, out.fp);
        if (f < 0) ok = 0;
        else failed += f;
    }
    for (int k = 0; k < n; k++) cJSON_Delete(items[k]);
    if (progress) fprintf(stderr, "\n");
    if (ok && lineno > 0 && done + n == 0 && failed == 0) ok = !cli_error(o->cmd, "%s: no input lines", src);
    if (ok && lineno == 0) ok = !cli_error(o->cmd, "%s: no input (expected JSONL)", src);
    if (ok && failed) cli_error(o->cmd, "%ld line(s) failed (see above); their outputs are {\"error\": ...}", failed);
    ok = cli_output_close(o->cmd, &out, ok);
    free(items);
    free(lines);
    free(line);
    if (in != stdin) fclose(in);
    return ok && !failed ? CLI_OK : CLI_ERROR;
}
