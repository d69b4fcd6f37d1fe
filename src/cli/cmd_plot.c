/* cmd_plot.c — `bert plot LOG.jsonl --output FILE.png|svg`: training and
 * validation curves from a `bert finetune` log, drawn with PLplot (cairo
 * devices): loss (train and eval) on top, the eval metrics below. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct {
    PLFLT *x, *y;
    int n, cap;
} series;

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

static void range(const series *s, int n, double *lo, double *hi, double *xmax) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < s[k].n; i++) {
            *lo = fmin(*lo, s[k].y[i]), *hi = fmax(*hi, s[k].y[i]);
            *xmax = fmax(*xmax, s[k].x[i]);
        }
    if (!(*hi > *lo)) *hi = *lo + 1e-3, *lo -= 1e-3;
    double pad = 0.05 * (*hi - *lo);
    *lo -= pad, *hi += pad;
}

/* One panel: the series with their names as a legend in the top margin. */
static void panel(const char *ylabel, const char *title, series *s, const char *const *names, int n, double xmax) {
    double lo, hi, xm = xmax;
    range(s, n, &lo, &hi, &xm);
    pladv(0);
    plvpor(0.1, 0.95, 0.15, 0.8);
    plcol0(15);
    plwind(0, xm > 0 ? xm : 1, lo, hi);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab("optimizer step", ylabel, "");
    plmtex("t", 3.5, 0.5, 0.5, title);
    static const int colors[] = {1, 9, 3, 4, 8, 12};
    for (int k = 0, shown = 0; k < n; k++) {
        if (!s[k].n) continue;
        plcol0(colors[k % 6]);
        if (s[k].n == 1) plpoin(1, s[k].x, s[k].y, 17);
        else plline(s[k].n, s[k].x, s[k].y);
        plmtex("t", 1.2, 0.02 + 0.16 * shown++, 0.0, names[k]);
    }
    plcol0(15);
}

int cmd_plot(int argc, char **argv) {
    static const char *usage = "usage: bert plot LOG.jsonl --output FILE.png|FILE.svg\n";
    const char *log = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !log) log = argv[i];
        else {
            cli_help_if_asked(argv[i], usage);
            fputs(usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!log || !out) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    size_t ol = strlen(out);
    int svg = ol > 4 && strcmp(out + ol - 4, ".svg") == 0, png = ol > 4 && strcmp(out + ol - 4, ".png") == 0;
    if (!svg && !png) return cli_error("plot", "%s: the output must end in .png or .svg", out);
    FILE *f = fopen(log, "r");
    if (!f) return cli_error("plot", "%s: cannot open: %s", log, strerror(errno));
    static const char *const loss_names[] = {"train loss", "eval loss"};
    /* keys of the finetune (classification, NER, QA) and pretrain logs */
    static const char *const metric_keys[] = {"eval_accuracy", "eval_f1", "eval_mcc", "eval_pearson", "eval_spearman", "eval_exact_match",
                                              "eval_mlm_accuracy"};
    static const char *const metric_names[] = {"accuracy", "F1", "MCC", "Pearson", "Spearman", "EM", "MLM accuracy"};
    enum { NM = 7 };
    series loss[2] = {{0}}, metric[NM] = {{0}};
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int ok = 1;
    while (ok && getline(&line, &cap, f) != -1) {
        no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *step = o ? cJSON_GetObjectItemCaseSensitive(o, "step") : NULL;
        if (!o || !cJSON_IsNumber(step)) {
            cJSON_Delete(o);
            fclose(f);
            free(line);
            return cli_error("plot", "%s:%ld: not a bert finetune log line", log, no);
        }
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(o, "loss")) && cJSON_IsNumber(v)) ok &= add(&loss[0], step->valuedouble, v->valuedouble);
        if (((v = cJSON_GetObjectItemCaseSensitive(o, "eval_loss")) || (v = cJSON_GetObjectItemCaseSensitive(o, "eval_mlm_loss"))) &&
            cJSON_IsNumber(v))
            ok &= add(&loss[1], step->valuedouble, v->valuedouble);
        for (int k = 0; k < NM; k++)
            if ((v = cJSON_GetObjectItemCaseSensitive(o, metric_keys[k])) && cJSON_IsNumber(v) && v->valuedouble != 0)
                ok &= add(&metric[k], step->valuedouble, v->valuedouble);
        cJSON_Delete(o);
    }
    fclose(f);
    free(line);
    if (!loss[0].n && !loss[1].n) ok = 0;
    if (!ok) return cli_error("plot", "%s: no loss values to plot", log);
    /* PLplot writes the file itself: draw into a temporary name, then rename. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld%s", out, (long)getpid(), svg ? ".svg" : ".png");
    plsdev(svg ? "svgcairo" : "pngcairo");
    plsfnam(tmp);
    plspage(0, 0, 960, 720, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0);
    plssub(1, 2);
    plinit();
    panel("loss", "training and validation loss", loss, loss_names, 2, 0);
    int any = 0;
    for (int k = 0; k < NM; k++) any |= metric[k].n > 0;
    if (any) panel("metric", "validation metrics", metric, metric_names, NM, loss[0].n ? loss[0].x[loss[0].n - 1] : 0);
    plend();
    for (int k = 0; k < 2; k++) free(loss[k].x), free(loss[k].y);
    for (int k = 0; k < NM; k++) free(metric[k].x), free(metric[k].y);
    if (access(tmp, F_OK) != 0) return cli_error("plot", "PLplot wrote no file (is plplot-driver-cairo installed?)");
    if (rename(tmp, out) != 0) return cli_error("plot", "%s: rename failed: %s", out, strerror(errno));
    return CLI_OK;
}
