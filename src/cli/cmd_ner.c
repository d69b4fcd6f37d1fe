/* cmd_ner.c — `bert ner MODEL_DIR`: {"text"} in, transformers'
 * token-classification output out: a list of entities, {"entity", "score",
 * "index", "word", "start", "end"} with --aggregation none, else
 * {"entity_group", "score", "word", "start", "end"}. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    bert_aggregation agg;
} ner_state;

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    ner_state *s = st;
    const char **texts = malloc(sizeof *texts * (size_t)n);
    bert_entities *r = calloc((size_t)n, sizeof *r);
    int ok = texts && r;
    ok = ok && task_strings(items, n, "text", 1, texts, err);
    if (ok) ok = bert_ner(s->p, texts, n, s->agg, r, err) == BERT_OK;
    for (int i = 0; ok && i < n; i++) {
        cJSON *a = cJSON_CreateArray();
        for (int j = 0; j < r[i].n; j++) {
            const bert_entity *e = &r[i].entities[j];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, s->agg == BERT_AGGREGATE_NONE ? "entity" : "entity_group", e->entity);
            cJSON_AddNumberToObject(o, "score", e->score);
            if (s->agg == BERT_AGGREGATE_NONE) cJSON_AddNumberToObject(o, "index", e->index);
            cJSON_AddStringToObject(o, "word", e->word);
            cJSON_AddNumberToObject(o, "start", e->start);
            cJSON_AddNumberToObject(o, "end", e->end);
            cJSON_AddItemToArray(a, o);
        }
        task_emit(out, a);
    }
    if (r) bert_entities_free(r, n);
    free(r);
    free(texts);
    return ok;
}

int cmd_ner(int argc, char **argv) {
    static const char *usage =
        "usage: bert ner MODEL_DIR [--aggregation none|simple|first|average|max] [--input F] [--output F]\n"
        "       [--batch-size N] [--threads N] [--truncate] [--truncation-side S] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "ner", .batch_size = 32};
    bert_pipeline_params pp = bert_pipeline_default_params();
    ner_state s = {.agg = BERT_AGGREGATE_NONE};
    const char *dir = NULL;
    static const char *const names[] = {"none", "simple", "first", "average", "max"};
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        if (strcmp(argv[i], "--aggregation") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            int found = -1;
            for (int k = 0; k < 5; k++)
                if (strcmp(v, names[k]) == 0) found = k;
            if (found < 0) return fprintf(stderr, "bert ner: --aggregation must be none, simple, first, average or max\n"), CLI_USAGE;
            s.agg = (bert_aggregation)found;
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
