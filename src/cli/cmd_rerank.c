/* cmd_rerank.c — `bert rerank MODEL_DIR` (cross-encoder): {"query",
 * "documents": [...]} in, {"results": [{"index", "score", "text"}]} out,
 * best first. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    int top_n;
} rr_state;

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    rr_state *s = st;
    for (int i = 0; i < n; i++) {
        const char *query = task_str(items[i], "query");
        const cJSON *docs = cJSON_GetObjectItemCaseSensitive(items[i], "documents");
        int nd = cJSON_IsArray(docs) ? cJSON_GetArraySize(docs) : -1, k = 0;
        if (!query || nd < 0) {
            snprintf(err->message, sizeof err->message, "input %d: needs \"query\" and a \"documents\" list", i);
        } else if (nd == 0) {
            snprintf(err->message, sizeof err->message, "input %d: the documents list is empty", i);
        }
        if (!query || nd <= 0) {
            err->item = i;
            return 0;
        }
        const char **d = malloc(sizeof *d * (size_t)nd);
        float *sc = malloc(sizeof *sc * (size_t)nd);
        int *r = malloc(sizeof *r * (size_t)nd);
        int ok = d && sc && r;
        for (const cJSON *e = docs->child; ok && e; e = e->next, k++) {
            if (!cJSON_IsString(e)) {
                snprintf(err->message, sizeof err->message, "input %d: documents[%d] is not a string", i, k);
                ok = 0;
            } else {
                d[k] = e->valuestring;
            }
        }
        if (ok && bert_rerank(s->p, query, d, nd, sc, err) != BERT_OK) ok = 0;
        if (ok) {
            task_rank(sc, nd, r);
            cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "results");
            for (int j = 0; j < nd && (s->top_n <= 0 || j < s->top_n); j++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "index", r[j]);
                cJSON_AddNumberToObject(x, "score", sc[r[j]]);
                cJSON_AddStringToObject(x, "text", d[r[j]]);
                cJSON_AddItemToArray(a, x);
            }
            task_emit(out, o);
        }
        free(d), free(sc), free(r);
        if (!ok) {
            err->item = i;
            return 0;
        }
    }
    return 1;
}

int cmd_rerank(int argc, char **argv) {
    static const char *usage = "usage: bert rerank MODEL_DIR [--top-n N] [--input F] [--output F] [--threads N]\n"
                               "       [--truncate] [--truncation-side S] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "rerank", .batch_size = 1};
    bert_pipeline_params pp = bert_pipeline_default_params();
    rr_state s = {.top_n = 0};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        if (strcmp(argv[i], "--top-n") == 0 && i + 1 < argc) {
            if (!cli_parse_int(o.cmd, argv[i], argv[i + 1], 1, &s.top_n)) return CLI_USAGE;
            i++;
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
