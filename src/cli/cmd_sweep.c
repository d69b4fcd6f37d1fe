/* cmd_sweep.c — `bert sweep MODEL_DIR --output-dir OUT [grid] [-- finetune options]`:
 * run `bert finetune` for every combination of learning rates, epochs,
 * batch sizes and seeds, then print one table of the validation results,
 * best first (and write it to OUT/sweep.jsonl). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/train_flags.h"

#define MAX_VALUES 16

typedef struct {
    char dir[1024];
    char lr[32], epochs[16], batch[16], seed[24];
    double best, em; /* the ranking metric; QA's exact match (NAN elsewhere) */
    long best_step;
    double seconds;
    int ok, lower_is_better; /* the metric is a loss or a perplexity */
} sweep_run;

/* Split csv (in place) at commas into out (at most MAX_VALUES); the count. */
static int split(char *csv, char **out) {
    int n = 0;
    for (char *t = strtok(csv, ","); t && n < MAX_VALUES; t = strtok(NULL, ",")) out[n++] = t;
    return n;
}

/* qsort order: finished runs first, better scores first (lower for a loss
 * or a perplexity, higher otherwise). */
static int by_best(const void *a, const void *b) {
    const sweep_run *x = a, *y = b;
    if (x->ok != y->ok) return y->ok - x->ok;
    int c = x->best < y->best ? 1 : x->best > y->best ? -1 : 0;
    return x->lower_is_better ? -c : c;
}

/* The score of a finished run from its report.json: the sequence tasks'
 * "best_METRIC", else token classification's dev entity F1 ("dev": {"f1"}),
 * else QA's "dev_f1" (BioASQ: "mrr"). *metric names it. */
static int read_report(sweep_run *r, char *metric, size_t cap) {
    char path[1100];
    snprintf(path, sizeof path, "%s/report.json", r->dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    if (!cJSON_IsObject(o)) return cJSON_Delete(o), 0; /* a run's report is an object; anything else: no score */
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "dev"), *v = NULL;
    const char *name = NULL;
    if (cJSON_IsObject(dev) && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(dev, "f1"))) name = "f1";
    else if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "mrr"))) name = "mrr";
    else if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "dev_f1"))) name = "f1";
    for (const cJSON *e = o->child; !name && e; e = e->next)
        if (strncmp(e->string, "best_", 5) == 0 && strcmp(e->string, "best_step") != 0 && strcmp(e->string, "best_model") != 0 &&
            strcmp(e->string, "best_epoch") != 0 && cJSON_IsNumber(e))
            v = e, name = e->string + 5;
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(o, "dev_exact_match");
    r->em = cJSON_IsNumber(em) ? em->valuedouble : NAN;
    if (name) snprintf(metric, cap, "%s", name), r->best = v->valuedouble;
    r->lower_is_better = name && (strstr(name, "loss") || strcmp(name, "perplexity") == 0);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "best_step"), *t = cJSON_GetObjectItemCaseSensitive(o, "seconds");
    r->best_step = cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble < 1e15 ? (long)s->valuedouble : -1;
    r->seconds = cJSON_IsNumber(t) ? t->valuedouble : 0;
    cJSON_Delete(o);
    return name != NULL;
}

/* A JSON number from a value the user wrote ("1e-3", ".001"), or null when it
 * is not one. */
static cJSON *number_of(const char *s) {
    char *end;
    double v = strtod(s, &end);
    return end != s && !*end && isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* One sweep.jsonl line for run r; 0 when out of memory. */
static int write_line(FILE *f, const sweep_run *r, const char *metric) {
    char key[80];
    snprintf(key, sizeof key, "best_%s", metric);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "lr", number_of(r->lr));
    cJSON_AddItemToObject(o, "epochs", number_of(r->epochs));
    cJSON_AddItemToObject(o, "batch_size", number_of(r->batch));
    cJSON_AddItemToObject(o, "seed", number_of(r->seed));
    cJSON_AddBoolToObject(o, "ok", r->ok);
    if (r->ok && isfinite(r->best)) cJSON_AddNumberToObject(o, key, r->best);
    else cJSON_AddNullToObject(o, key);
    cJSON_AddStringToObject(o, "dir", r->dir);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return 0;
    fprintf(f, "%s\n", line);
    free(line);
    return 1;
}

/* The command line of run r: `finetune MODEL --output-dir DIR --lr ... --seed
 * ...` and the pass-through options; their count. */
static int finetune_args(const char *model, sweep_run *r, int n_rest, char **rest, char **args) {
    int n = 0;
    args[n++] = "finetune";
    args[n++] = (char *)model;
    args[n++] = "--output-dir", args[n++] = r->dir;
    args[n++] = "--lr", args[n++] = r->lr;
    args[n++] = "--epochs", args[n++] = r->epochs;
    args[n++] = "--batch-size", args[n++] = r->batch;
    args[n++] = "--seed", args[n++] = r->seed;
    for (int i = 0; i < n_rest && n < 63; i++) args[n++] = rest[i];
    args[n] = NULL;
    return n;
}

int cmd_sweep(int argc, char **argv) {
    static const char *usage =
        "usage: bert sweep MODEL_DIR --output-dir OUT [--lrs 2e-5,3e-5,5e-5] [--epochs 2,3] [--batch-sizes 16,32]\n"
        "       [--seeds 1,2,3] [-- FINETUNE OPTIONS (e.g. --task sst2)]\n";
    const char *model = NULL, *out = NULL;
    char lrs[256] = "2e-5,3e-5,5e-5", eps[64] = "3", bss[64] = "32", seeds[128] = "42";
    int rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            rest = i + 1;
            break;
        }
        if (strcmp(a, "--output-dir") == 0 && v) out = v, i++;
        else if (strcmp(a, "--lrs") == 0 && v) snprintf(lrs, sizeof lrs, "%s", v), i++;
        else if (strcmp(a, "--epochs") == 0 && v) snprintf(eps, sizeof eps, "%s", v), i++;
        else if (strcmp(a, "--batch-sizes") == 0 && v) snprintf(bss, sizeof bss, "%s", v), i++;
        else if (strcmp(a, "--seeds") == 0 && v) snprintf(seeds, sizeof seeds, "%s", v), i++;
        else if (a[0] != '-' && !model) model = a;
        else return cli_help_if_asked(a, usage), cli_usage_error("sweep", usage, "unexpected argument '%s'", a);
    }
    if (!model || !out) return cli_usage_error("sweep", usage, "needs MODEL_DIR and --output-dir OUT");
    char *L[MAX_VALUES], *E[MAX_VALUES], *B[MAX_VALUES], *S[MAX_VALUES];
    int nl = split(lrs, L), ne = split(eps, E), nb = split(bss, B), ns = split(seeds, S);
    int total = nl * ne * nb * ns, k = 0;
    sweep_run *runs = calloc((size_t)total, sizeof *runs);
    if (!runs) return cli_error("sweep", "out of memory");
    /* The pass-through options are finetune's: check them once, before any run. */
    sweep_run probe = {.lr = "1", .epochs = "1", .batch = "1", .seed = "1"};
    snprintf(probe.dir, sizeof probe.dir, "%s", out);
    char *pargs[64];
    cli_train_args parsed;
    if (!cli_train_parse(CLI_CMD_FINETUNE, finetune_args(model, &probe, argc - rest, argv + rest, pargs), pargs, &parsed)) {
        free(runs);
        return CLI_USAGE;
    }
    mkdir(out, 0755);
    char metric[64] = "metric";
    int any_em = 0;
    int stopped = 0; /* a run was interrupted (SIGINT / SIGTERM): the sweep ends there */
    for (; k < total && !stopped; k++) {
        int d = k % ns, c = k / ns % nb, b = k / ns / nb % ne, a = k / ns / nb / ne;
        sweep_run *r = &runs[k];
        snprintf(r->lr, sizeof r->lr, "%s", L[a]);
        snprintf(r->epochs, sizeof r->epochs, "%s", E[b]);
        snprintf(r->batch, sizeof r->batch, "%s", B[c]);
        snprintf(r->seed, sizeof r->seed, "%s", S[d]);
        snprintf(r->dir, sizeof r->dir, "%s/lr%s-ep%s-bs%s-seed%s", out, L[a], E[b], B[c], S[d]);
        char *args[64];
        int n = finetune_args(model, r, argc - rest, argv + rest, args);
        fprintf(stderr, "sweep %d/%d: lr %s, epochs %s, batch %s, seed %s\n", k + 1, total, r->lr, r->epochs, r->batch, r->seed);
        int rc = cmd_finetune(n, args);
        r->ok = rc == CLI_OK && read_report(r, metric, sizeof metric);
        stopped = rc == 130;
    }
    total = k;
    qsort(runs, (size_t)total, sizeof *runs, by_best);
    char path[1100];
    snprintf(path, sizeof path, "%s/sweep.jsonl", out);
    cli_output o;
    int ok = cli_output_open("sweep", path, &o);
    for (int i = 0; i < total; i++) any_em |= runs[i].ok && !isnan(runs[i].em);
    printf("%-4s %-10s %-7s %-6s %-8s %-12s %s%-10s %-8s\n", "rank", "lr", "epochs", "batch", "seed", metric,
           any_em ? "exact_match  " : "", "best step", "seconds");
    for (int i = 0; i < total; i++) {
        const sweep_run *r = &runs[i];
        char em[32] = "", step[32] = "-";
        if (any_em) snprintf(em, sizeof em, "%-12.4f ", r->em);
        if (r->best_step >= 0) snprintf(step, sizeof step, "%ld", r->best_step);
        if (r->ok)
            printf("%-4d %-10s %-7s %-6s %-8s %-12.4f %s%-10s %-8.1f\n", i + 1, r->lr, r->epochs, r->batch, r->seed, r->best, em,
                   step, r->seconds);
        else
            printf("%-4d %-10s %-7s %-6s %-8s %-12s\n", i + 1, r->lr, r->epochs, r->batch, r->seed, "failed");
        if (ok) ok = write_line(o.fp, r, metric);
    }
    ok = ok && cli_output_close("sweep", &o, 1);
    int failed = 0;
    for (int i = 0; i < total; i++) failed += !runs[i].ok;
    free(runs);
    return stopped ? 130 : ok && !failed ? CLI_OK : CLI_ERROR;
}
