/* cmd_classify.c — `bert classify MODEL_DIR`: {"text", "text_pair"?} in,
 * transformers' text-classification output out: the top_k
 * {"label", "score"}, best first. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    int top_k;
    bert_score_function fn;
} cls_state;

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    cls_state *s = st;
    const bert_model *m = bert_pipeline_model(s->p);
    int L = bert_model_num_labels(m);
    const char **texts = malloc(sizeof *texts * (size_t)n), **pairs = malloc(sizeof *pairs * (size_t)n);
    float *scores = malloc(sizeof *scores * (size_t)n * (size_t)L);
    int *rk = malloc(sizeof *rk * (size_t)L);
    int ok = texts && pairs && scores && rk && task_strings(items, n, "text", 1, texts, err) &&
             task_strings(items, n, "text_pair", 0, pairs, err);
    if (ok) ok = bert_classify(s->p, texts, pairs, n, s->fn, scores, err) == BERT_OK;
    for (int i = 0; ok && i < n; i++) {
        task_rank(scores + (size_t)i * L, L, rk);
        cJSON *a = cJSON_CreateArray();
        for (int j = 0; j < L && j < s->top_k; j++) {
            cJSON *o = cJSON_CreateObject();
            const char *label = bert_model_label(m, rk[j]);
            char fallback[32];
            snprintf(fallback, sizeof fallback, "LABEL_%d", rk[j]);
            cJSON_AddStringToObject(o, "label", label ? label : fallback);
            cJSON_AddNumberToObject(o, "score", scores[(size_t)i * L + rk[j]]);
            cJSON_AddItemToArray(a, o);
        }
        task_emit(out, a);
    }
    free(texts), free(pairs), free(scores), free(rk);
    return ok;
}

int cmd_classify(int argc, char **argv) {
    static const char *usage =
        "usage: bert classify MODEL_DIR [--top-k 1] [--function auto|softmax|sigmoid|none] [--input F] [--output F]\n"
        "       [--batch-size N] [--threads N] [--truncate] [--truncation-side S] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "classify", .batch_size = 32};
    bert_pipeline_params pp = bert_pipeline_default_params();
    cls_state s = {.top_k = 1, .fn = BERT_SCORE_AUTO};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        if (strcmp(argv[i], "--top-k") == 0 && i + 1 < argc) {
            if (!cli_parse_int(o.cmd, argv[i], argv[i + 1], 1, &s.top_k)) return CLI_USAGE;
            i++;
        } else if (strcmp(argv[i], "--function") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") == 0) s.fn = BERT_SCORE_AUTO;
            else if (strcmp(v, "softmax") == 0) s.fn = BERT_SCORE_SOFTMAX;
            else if (strcmp(v, "sigmoid") == 0) s.fn = BERT_SCORE_SIGMOID;
            else if (strcmp(v, "none") == 0) s.fn = BERT_SCORE_NONE;
            else return fprintf(stderr, "bert classify: --function must be auto, softmax, sigmoid or none\n"), CLI_USAGE;
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
