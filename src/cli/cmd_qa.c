/* cmd_qa.c — `bert qa MODEL_DIR`: {"question", "context"} in,
 * {"score", "start", "end", "answer"} out (a list of them with --top-k > 1). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/task_runner.h"

typedef struct {
    bert_pipeline *p;
    bert_qa_params q;
} qa_state;

static cJSON *answer_json(const bert_answer *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "score", a->score);
    cJSON_AddNumberToObject(o, "start", a->start);
    cJSON_AddNumberToObject(o, "end", a->end);
    cJSON_AddStringToObject(o, "answer", a->answer);
    return o;
}

static int run(void *st, cJSON **items, int n, FILE *out, bert_error *err) {
    qa_state *s = st;
    for (int i = 0; i < n; i++) {
        const char *question = task_str(items[i], "question"), *context = task_str(items[i], "context");
        if (!question || !context) {
            err->item = i;
            snprintf(err->message, sizeof err->message, "input %d: needs \"question\" and \"context\" strings", i);
            return 0;
        }
        bert_answer *a;
        int na;
        if (bert_qa(s->p, question, context, &s->q, &a, &na, err) != BERT_OK) {
            err->item = i;
            return 0;
        }
        if (s->q.top_k == 1 && na == 1) {
            task_emit(out, answer_json(&a[0]));
        } else {
            cJSON *arr = cJSON_CreateArray();
            for (int k = 0; k < na; k++) cJSON_AddItemToArray(arr, answer_json(&a[k]));
            task_emit(out, arr);
        }
        bert_answers_free(a, na);
    }
    return 1;
}

int cmd_qa(int argc, char **argv) {
    static const char *usage =
        "usage: bert qa MODEL_DIR [--top-k 1] [--max-seq-len 384] [--doc-stride 128] [--max-question-len 64]\n"
        "       [--max-answer-len 15] [--handle-impossible] [--input F] [--output F] [--threads N] [--on-error stop|skip]\n"
        "       [--dtype f32|bf16|int8|tf32|f16]\n";
    task_run_opts o = {.cmd = "qa", .batch_size = 1};
    bert_pipeline_params pp = bert_pipeline_default_params();
    qa_state s = {.q = bert_qa_default_params()};
    const char *dir = NULL;
    struct {
        const char *flag;
        int *dst, min;
    } ints[] = {{"--top-k", &s.q.top_k, 1},          {"--max-seq-len", &s.q.max_seq_len, 8},
                {"--doc-stride", &s.q.doc_stride, 0}, {"--max-question-len", &s.q.max_question_len, 1},
                {"--max-answer-len", &s.q.max_answer_len, 1}};
    for (int i = 1; i < argc; i++) {
        int c = task_common_flag(argc, argv, &i, &o, &pp);
        if (c < 0) return CLI_USAGE;
        if (c) continue;
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (strcmp(argv[i], ints[k].flag) == 0 && i + 1 < argc) {
                if (!cli_parse_int(o.cmd, argv[i], argv[i + 1], ints[k].min, ints[k].dst)) return CLI_USAGE;
                i++;
                matched = 1;
            }
        }
        if (matched) continue;
        if (strcmp(argv[i], "--handle-impossible") == 0) {
            s.q.handle_impossible = 1;
        } else if (!task_positional(o.cmd, argv[i], &dir, usage)) {
            return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error(o.cmd, usage, "needs MODEL_DIR");
    return task_open_and_run(&o, dir, &pp, &s.p, run, &s);
}
