/* cmd_nsp.c — `bert nsp MODEL_DIR`: {"text", "text_pair"} in,
 * {"is_next", "not_next"} probabilities out. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
} nsp_state;

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    bert_pipeline *p = ((nsp_state *)st)->p;
    const char **a = malloc(sizeof *a * (size_t)n), **b = malloc(sizeof *b * (size_t)n);
    float *prob = malloc(sizeof *prob * (size_t)n);
    int ok = a && b && prob && task_strings(items, n, "text", 1, a, err) && task_strings(items, n, "text_pair", 1, b, err);
    if (ok) ok = bert_nsp(p, a, b, n, prob, err) == BERT_OK;
    for (int i = 0; ok && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "is_next", prob[i]);
        cJSON_AddNumberToObject(o, "not_next", 1.0 - prob[i]);
        task_emit(out, o);
    }
    free(a), free(b), free(prob);
    return ok;
}

int cmd_nsp(int argc, char **argv) {
    static const char *usage = "usage: bert nsp MODEL_DIR [--input F] [--output F] [--batch-size N] [--threads N]\n"
                               "       [--truncate] [--truncation-side S] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "nsp", .batch_size = 32};
    bert_pipeline_params pp = bert_pipeline_default_params();
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        if (!task_positional(o.cmd, argv[i], &dir, usage)) return CLI_USAGE;
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    nsp_state s = {0};
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
