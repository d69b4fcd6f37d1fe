/* cmd_dialogue.c — `bert dialogue MODEL_DIR`: {"text", "history"?: [...]}
 * in (history: the earlier turns, oldest first, strings or {"speaker",
 * "text"}), {"intent": {"label", "score"}, "intents": [...], "slots":
 * [{"slot", "value", "start", "end", "score"}]} out, offsets in code
 * points into text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    int top_k, context_turns;
} dlg_state;

#define MAX_HISTORY 64

/* An input's error, as the JSONL runner reports it; returns 0. */
static int input_error(bert_error *err, int i, const char *what) {
    err->code = BERT_ERR_INPUT, err->item = i;
    snprintf(err->message, sizeof err->message, "input %d: %s", i, what);
    return 0;
}

/* Item i's history into out (the last MAX_HISTORY turns; a {"speaker",
 * "text"} turn written "speaker: text" into a malloc'd string in owned). */
static int history_of(const cJSON *item, int i, const char **out, int *n, char **owned, bert_error *err) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(item, "history");
    *n = 0;
    if (!h || cJSON_IsNull(h)) return 1;
    if (!cJSON_IsArray(h)) return input_error(err, i, "\"history\" must be a list");
    int total = cJSON_GetArraySize(h), k = 0;
    for (const cJSON *e = h->child; e; e = e->next, k++) {
        if (k < total - MAX_HISTORY) continue;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "speaker"), *tx = cJSON_GetObjectItemCaseSensitive(e, "text");
        if (cJSON_IsString(e)) {
            out[(*n)++] = e->valuestring;
            continue;
        }
        if (!cJSON_IsString(sp) || !cJSON_IsString(tx)) return input_error(err, i, "a history turn is a string or {\"speaker\", \"text\"}");
        char *s = owned[*n] = malloc(strlen(sp->valuestring) + strlen(tx->valuestring) + 3);
        if (!s) return err->code = BERT_ERR_NOMEM, snprintf(err->message, sizeof err->message, "out of memory"), 0;
        sprintf(s, "%s: %s", sp->valuestring, tx->valuestring);
        out[(*n)++] = s;
    }
    return 1;
}

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    dlg_state *s = st;
    const char **texts = malloc(sizeof *texts * (size_t)n);
    bert_dialogue_input *in = calloc((size_t)n, sizeof *in);
    bert_dialogue_output *r = calloc((size_t)n, sizeof *r);
    const char *(*hist)[MAX_HISTORY] = calloc((size_t)n, sizeof *hist);
    char *(*owned)[MAX_HISTORY] = calloc((size_t)n, sizeof *owned);
    int ok = texts && in && r && hist && owned;
    if (!ok) err->code = BERT_ERR_NOMEM, snprintf(err->message, sizeof err->message, "out of memory");
    ok = ok && task_strings(items, n, "text", 1, texts, err);
    for (int i = 0; ok && i < n; i++) {
        in[i].text = texts[i], in[i].history = hist[i];
        ok = history_of(items[i], i, hist[i], &in[i].n_history, owned[i], err);
    }
    int ran = ok && bert_dialogue(s->p, in, n, s->context_turns, s->top_k, r, err) == BERT_OK;
    ok = ran;
    for (int i = 0; ok && i < n; i++) {
        char *json = bert_dialogue_output_json(&r[i]);
        if (json) fprintf(out, "%s\n", json);
        else ok = 0, err->code = BERT_ERR_NOMEM, snprintf(err->message, sizeof err->message, "out of memory");
        free(json);
    }
    if (ran) bert_dialogue_output_free(r, n);
    for (int i = 0; owned && i < n; i++)
        for (int k = 0; k < MAX_HISTORY; k++) free(owned[i][k]);
    free(texts), free(in), free(r), free(hist), free(owned);
    return ok;
}

int cmd_dialogue(int argc, char **argv) {
    static const char *usage =
        "usage: bert dialogue MODEL_DIR [--top-k K] [--context-turns N] [--input F] [--output F]\n"
        "       [--batch-size N] [--threads N] [--on-error stop|skip] [--dtype f32|bf16|int8|tf32|f16]\n"
        "  {\"text\": ..., \"history\": [earlier turns, oldest first]} per line in; intent and slots out.\n"
        "  --context-turns: earlier turns read (default: what the model was trained with)\n";
    task_run_opts o = {.cmd = "dialogue", .batch_size = 32};
    bert_pipeline_params pp = bert_pipeline_default_params();
    dlg_state s = {.top_k = 1, .context_turns = -1};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        int *dst = strcmp(argv[i], "--top-k") == 0 ? &s.top_k : strcmp(argv[i], "--context-turns") == 0 ? &s.context_turns : NULL;
        if (dst && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < (dst == &s.top_k ? 1 : 0) || v > 1000)
                return cli_usage_error(o.cmd, usage, "%s needs an integer in %d..1000", argv[i - 1], dst == &s.top_k ? 1 : 0);
            *dst = (int)v;
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
