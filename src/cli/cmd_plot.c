/* cmd_plot.c — `bert plot LOG.jsonl --output FILE.png|svg`: the curves of a
 * `bert finetune`, `bert pretrain` or `bert multitask` log, drawn with PLplot
 * (cairo devices): the loss (training "loss" with the validation
 * "eval_loss", the same quantity), then each other eval_* series of the log
 * on its own panel; a multi-task log (eval_TASK/METRIC) gets one panel per
 * task with its metrics (its loss left out) beside the combined score. When
 * a log holds a step twice (a run resumed into the same directory), the
 * later line counts. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_SERIES 128
#define PER_PANEL 6

typedef struct {
    char key[160]; /* eval_ + a 64-byte task name + / + the metric */
    PLFLT *x, *y;
    int n, cap;
} series;

typedef struct {
    series s[MAX_SERIES];
    int n;
} series_set;

/* The series called key (created empty), or NULL when there are too many. */
static series *get(series_set *set, const char *key) {
    for (int i = 0; i < set->n; i++)
        if (strcmp(set->s[i].key, key) == 0) return &set->s[i];
    if (set->n == MAX_SERIES) return NULL;
    series *s = &set->s[set->n++];
    snprintf(s->key, sizeof s->key, "%s", key);
    return s;
}

/* Append (x, y); 0 when out of memory. */
static int add(series *s, double x, double y) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        PLFLT *a = realloc(s->x, sizeof *a * (size_t)cap), *b = a ? realloc(s->y, sizeof *b * (size_t)cap) : NULL;
        if (a) s->x = a;
        if (!b) return 0;
        s->y = b;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
    return 1;
}

/* Order by step; of points with the same step keep the last one read. */
static void settle(series *s) {
    for (int i = 1; i < s->n; i++) { /* insertion sort: stable, logs are nearly sorted */
        PLFLT x = s->x[i], y = s->y[i];
        int j = i;
        while (j > 0 && s->x[j - 1] > x) s->x[j] = s->x[j - 1], s->y[j] = s->y[j - 1], j--;
        s->x[j] = x, s->y[j] = y;
    }
    int m = 0;
    for (int i = 0; i < s->n; i++) {
        if (m > 0 && s->x[m - 1] == s->x[i]) m--;
        s->x[m] = s->x[i], s->y[m++] = s->y[i];
    }
    s->n = m;
}

/* One panel: its series with their names as a legend in the top margin. */
static void panel(const char *title, series *const *s, const char *const *names, int n, double xmax) {
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < s[k]->n; i++) lo = fmin(lo, s[k]->y[i]), hi = fmax(hi, s[k]->y[i]);
    if (!(hi > lo)) hi = lo + 1e-3, lo -= 1e-3;
    double pad = 0.05 * (hi - lo);
    pladv(0);
    plvpor(0.12, 0.95, 0.2, 0.78);
    plcol0(15);
    plwind(0, xmax > 0 ? xmax : 1, lo - pad, hi + pad);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab("optimizer step", "", "");
    plmtex("t", 3.2, 0.5, 0.5, title);
    static const int colors[] = {1, 9, 3, 4, 8, 12};
    for (int k = 0; k < n; k++) {
        plcol0(colors[k % 6]);
        if (s[k]->n == 1) plpoin(1, s[k]->x, s[k]->y, 17);
        else plline(s[k]->n, s[k]->x, s[k]->y);
        plmtex("t", 1.2, 0.02 + (n > 3 ? 0.165 : 0.3) * k, 0.0, names[k]);
    }
    plcol0(15);
}

/* Read the log's "loss" and eval_* numbers by step; 0 after a message. */
static int read_log(const char *log, series_set *set) {
    FILE *f = fopen(log, "r");
    if (!f) return cli_error("plot", "%s: cannot open: %s", log, strerror(errno)), 0;
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int ok = 1;
    while (ok && getline(&line, &cap, f) != -1) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *step = o ? cJSON_GetObjectItemCaseSensitive(o, "step") : NULL;
        if (!o || !cJSON_IsNumber(step)) ok = !cli_error("plot", "%s:%ld: not a bert training log line", log, no);
        for (const cJSON *v = ok ? o->child : NULL; v && ok; v = v->next) {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) continue;
            if (strcmp(v->string, "loss") != 0 && strncmp(v->string, "eval_", 5) != 0) continue;
            series *s = get(set, v->string);
            if (s && !add(s, step->valuedouble, v->valuedouble)) ok = !cli_error("plot", "out of memory");
        }
        cJSON_Delete(o);
    }
    fclose(f);
    free(line);
    return ok;
}

/* Start drawing into a temporary name beside out (PLplot writes the file
 * itself); finish() renames it to out. */
static void begin(const char *out, int svg, char *tmp, size_t cap, int cols, int rows) {
    snprintf(tmp, cap, "%s.tmp.%ld%s", out, (long)getpid(), svg ? ".svg" : ".png");
    plsdev(svg ? "svgcairo" : "pngcairo");
    plsfnam(tmp);
    plspage(0, 0, cols * 640, rows * 300 + 60, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0);
    plssub(cols, rows);
    plinit();
}

static int finish(const char *tmp, const char *out, series_set *set) {
    plend();
    for (int i = 0; i < set->n; i++) free(set->s[i].x), free(set->s[i].y);
    if (access(tmp, F_OK) != 0) return cli_error("plot", "PLplot wrote no file (is plplot-driver-cairo installed?)");
    if (rename(tmp, out) != 0) return cli_error("plot", "%s: rename failed: %s", out, strerror(errno));
    return CLI_OK;
}

/* A multi-task log: the training loss and the combined score, then one
 * panel per task (eval_TASK/...) with up to PER_PANEL of its metrics. */
static int plot_tasks(const char *out, int svg, series *const *loss, series *const *s, int n, double xmax, series_set *set) {
    series *score = NULL, *group[PER_PANEL];
    const char *names[PER_PANEL];
    char prefixes[BERT_MAX_HEADS][72];
    int np = 0;
    for (int i = 0; i < n; i++) {
        const char *slash = strchr(s[i]->key, '/');
        if (!slash) {
            if (strcmp(s[i]->key, "eval_score") == 0) score = s[i];
            continue;
        }
        int len = (int)(slash - s[i]->key), k = 0;
        while (k < np && (strncmp(prefixes[k], s[i]->key, (size_t)len) != 0 || prefixes[k][len])) k++;
        if (k == np && np < BERT_MAX_HEADS) snprintf(prefixes[np++], sizeof prefixes[0], "%.*s", len, s[i]->key);
    }
    char tmp[4096];
    int panels = 1 + (score != NULL) + np, cols = 2, rows = (panels + 1) / 2;
    begin(out, svg, tmp, sizeof tmp, cols, rows);
    const char *train_name = "train loss", *score_name = "score";
    if (loss[0]) panel("training loss", (series *const *)&loss[0], &train_name, 1, xmax);
    else pladv(0);
    if (score) panel("combined score (mean of the tasks' metrics)", &score, &score_name, 1, xmax);
    for (int k = 0; k < np; k++) {
        int m = 0;
        size_t len = strlen(prefixes[k]);
        for (int i = 0; i < n && m < PER_PANEL; i++)
            if (strncmp(s[i]->key, prefixes[k], len) == 0 && s[i]->key[len] == '/') group[m] = s[i], names[m++] = s[i]->key + len + 1;
        char title[96];
        snprintf(title, sizeof title, "%s (validation)", prefixes[k] + 5);
        panel(title, group, names, m, xmax);
    }
    return finish(tmp, out, set);
}

int cmd_plot(int argc, char **argv) {
    static const char *usage = "usage: bert plot LOG.jsonl --output FILE.png|FILE.svg\n";
    const char *log = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !log) log = argv[i];
        else {
            cli_help_if_asked(argv[i], usage);
            return cli_error("plot", "unexpected argument '%s' (usage: bert plot LOG.jsonl --output FILE.png|FILE.svg)", argv[i]), CLI_USAGE;
        }
    }
    if (!log || !out) return cli_error("plot", "needs LOG.jsonl and --output FILE.png|FILE.svg"), CLI_USAGE;
    size_t ol = strlen(out);
    int svg = ol > 4 && strcmp(out + ol - 4, ".svg") == 0, png = ol > 4 && strcmp(out + ol - 4, ".png") == 0;
    if (!svg && !png) return cli_error("plot", "%s: the output must end in .png or .svg", out);
    series_set set = {0};
    if (!read_log(log, &set)) return CLI_ERROR;
    /* Panels: the loss pair first, then every other non-zero series (a
     * multi-task log: its tasks' series grouped by task). */
    series *loss[2] = {NULL, NULL}, *other[MAX_SERIES];
    int nl = 0, no = 0, tasks = 0;
    double xmax = 0;
    for (int i = 0; i < set.n; i++) {
        series *s = &set.s[i];
        settle(s);
        int zero = 1;
        for (int k = 0; k < s->n; k++) zero &= s->y[k] == 0, xmax = fmax(xmax, s->x[k]);
        if (strcmp(s->key, "loss") == 0) loss[0] = s;
        else if (strcmp(s->key, "eval_loss") == 0) loss[1] = s;
        else if (!zero && !(strchr(s->key, '/') && strcmp(strchr(s->key, '/'), "/loss") == 0)) other[no++] = s;
        tasks |= strchr(s->key, '/') != NULL;
    }
    if (tasks) return plot_tasks(out, svg, loss, other, no, xmax, &set);
    if (loss[0]) loss[nl++] = loss[0];
    if (loss[1]) loss[nl++] = loss[1];
    int panels = (nl > 0) + no;
    if (panels == 0) return cli_error("plot", "%s: no loss or eval_* values to plot", log);
    int cols = panels > 3 ? 2 : 1, rows = (panels + cols - 1) / cols;
    char tmp[4096];
    begin(out, svg, tmp, sizeof tmp, cols, rows);
    static const char *const loss_names[] = {"train loss", "eval loss"};
    const char *const *ln = loss_names + (loss[0] && strcmp(loss[0]->key, "loss") == 0 ? 0 : 1);
    if (nl) panel(nl == 2 ? "training and validation loss" : ln[0], loss, ln, nl, xmax);
    for (int k = 0; k < no; k++) {
        const char *name = other[k]->key + 5; /* without "eval_" */
        char title[96];
        snprintf(title, sizeof title, "validation %s", name);
        panel(title, &other[k], &name, 1, xmax);
    }
    return finish(tmp, out, &set);
}
