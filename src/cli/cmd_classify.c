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

typedef struct {
    int label;
    float score;
} ranked;

static int by_score(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->label - y->label;
}

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    cls_state *s = st;
    const bert_model *m = bert_pipeline_model(s->p);
    int L = bert_model_num_labels(m);
    const char **texts = malloc(sizeof *texts * (size_t)n), **pairs = malloc(sizeof *pairs * (size_t)n);
    float *scores = malloc(sizeof *scores * (size_t)n * (size_t)L);
    ranked *rk = malloc(sizeof *rk * (size_t)L);
    int ok = texts && pairs && scores && rk;
    for (int i = 0; ok && i < n; i++) {
        texts[i] = task_str(items[i], "text");
        pairs[i] = task_str(items[i], "text_pair");
        if (!texts[i]) {
            err->item = i;
            snprintf(err->message, sizeof err->message, "input %d: needs a \"text\" string", i);
            ok = 0;
        }
    }
    if (ok) ok = bert_classify(s->p, texts, pairs, n, s->fn, scores, err) == BERT_OK;
    for (int i = 0; ok && i < n; i++) {
        for (int j = 0; j < L; j++) rk[j] = (ranked){j, scores[(size_t)i * L + j]};
        qsort(rk, (size_t)L, sizeof *rk, by_score);
        cJSON *a = cJSON_CreateArray();
        for (int j = 0; j < L && j < s->top_k; j++) {
            cJSON *o = cJSON_CreateObject();
            const char *label = bert_model_label(m, rk[j].label);
            char fallback[32];
            snprintf(fallback, sizeof fallback, "LABEL_%d", rk[j].label);
            cJSON_AddStringToObject(o, "label", label ? label : fallback);
            cJSON_AddNumberToObject(o, "score", rk[j].score);
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
        "       [--batch-size N] [--threads N] [--truncate] [--truncation-side S] [--on-error stop|skip]\n";
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
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "bert classify: unexpected argument '%s'\n%s", argv[i], usage);
            return CLI_USAGE;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) return fputs(usage, stderr), CLI_USAGE;
    bert_error err;
    if (bert_pipeline_open(dir, &pp, &s.p, &err) != BERT_OK) return cli_error(o.cmd, "%s", err.message);
    int rc = task_run_jsonl(&o, run, &s);
    bert_pipeline_free(s.p);
    return rc;
}
