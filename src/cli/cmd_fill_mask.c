/* cmd_fill_mask.c — `bert fill-mask MODEL_DIR`: {"text": "... [MASK] ..."}
 * in, transformers' fill-mask output out: a list of {"score", "token",
 * "token_str", "sequence"} (a list of such lists when the text has several
 * masks). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    int top_k, n_targets;
    char **targets;
} fill_state;

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    fill_state *s = st;
    const char **texts = malloc(sizeof *texts * (size_t)n);
    bert_fill_mask_result *r = calloc((size_t)n, sizeof *r);
    int ok = texts && r;
    ok = ok && task_strings(items, n, "text", 1, texts, err);
    if (ok) ok = bert_fill_mask(s->p, texts, n, s->top_k, (const char *const *)s->targets, s->n_targets, r, err) == BERT_OK;
    for (int i = 0; ok && i < n; i++) {
        cJSON *all = cJSON_CreateArray();
        for (int m = 0; m < r[i].n_masks; m++) {
            cJSON *row = cJSON_CreateArray();
            for (int k = 0; k < r[i].top_k; k++) {
                const bert_fill_prediction *pr = &r[i].predictions[m * r[i].top_k + k];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "score", pr->score);
                cJSON_AddNumberToObject(o, "token", pr->token);
                cJSON_AddStringToObject(o, "token_str", pr->token_str);
                cJSON_AddStringToObject(o, "sequence", pr->sequence);
                cJSON_AddItemToArray(row, o);
            }
            cJSON_AddItemToArray(all, row);
        }
        if (r[i].n_masks == 1) { /* a single mask: its list, as the pipeline returns */
            cJSON *row = cJSON_DetachItemFromArray(all, 0);
            cJSON_Delete(all);
            all = row;
        }
        task_emit(out, all);
    }
    if (r) bert_fill_mask_result_free(r, n);
    free(r);
    free(texts);
    return ok;
}

int cmd_fill_mask(int argc, char **argv) {
    static const char *usage = "usage: bert fill-mask MODEL_DIR [--top-k 5] [--targets a,b,c] [--input F] [--output F]\n"
                               "       [--batch-size N] [--threads N] [--truncate] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "fill-mask", .batch_size = 32};
    bert_pipeline_params pp = bert_pipeline_default_params();
    fill_state s = {.top_k = 5};
    const char *dir = NULL;
    char *targets = NULL;
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        if (strcmp(argv[i], "--top-k") == 0 && i + 1 < argc) {
            if (!cli_parse_int(o.cmd, argv[i], argv[i + 1], 1, &s.top_k)) return CLI_USAGE;
            i++;
        } else if (strcmp(argv[i], "--targets") == 0 && i + 1 < argc) {
            targets = argv[++i];
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    char *copy = targets ? strdup(targets) : NULL;
    for (char *t = copy ? strtok(copy, ",") : NULL; t; t = strtok(NULL, ",")) {
        s.targets = realloc(s.targets, sizeof *s.targets * (size_t)(s.n_targets + 1));
        s.targets[s.n_targets++] = t;
    }
    int rc = task_open_and_run(&o, dir, &pp, &s.p, run, &s);
    free(copy);
    free(s.targets);
    return rc;
}
