/* cmd_score_squad.c — `bert score-squad DATA.json PREDICTIONS.json`: the
 * official SQuAD evaluation of a predictions file (evaluate-v1.1.py or
 * evaluate-v2.0.py rules, chosen from the data), printing the script's
 * JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *usage =
    "usage: bert score-squad DATA.json PREDICTIONS.json [--na-prob FILE] [--na-prob-thresh 1.0] [--version 1.1|2.0]\n"
    "       [--output FILE]\n"
    "  Scores {\"id\": \"answer\"} predictions as the official SQuAD script does and prints its JSON:\n"
    "  v1.1 data with evaluate-v1.1.py's rules ({\"exact_match\", \"f1\"}), v2.0 data (unanswerable\n"
    "  questions) with evaluate-v2.0.py's (exact, f1, HasAns_*, NoAns_*; best_exact / best_f1 and\n"
    "  their thresholds with --na-prob {\"id\": probability of no answer}). --version forces the rules.\n";

/* The command's flags. */
typedef struct {
    const char *data, *preds, *output;
    bert_squad_eval_params p;
} score_args;

/* Parse argv into a; 0 after a message. */
static int parse(int argc, char **argv, score_args *a) {
    a->p = bert_squad_eval_default_params();
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--na-prob") == 0 || strcmp(f, "--na-prob-file") == 0 || strcmp(f, "-n") == 0) {
            if (!v) return cli_usage_error("score-squad", usage, "%s needs a file", f) == 0;
            a->p.na_prob_file = v, i++;
        } else if (strcmp(f, "--na-prob-thresh") == 0 || strcmp(f, "-t") == 0) {
            char *end;
            errno = 0;
            double t = v ? strtod(v, &end) : 0;
            if (!v || end == v || *end || errno) return cli_usage_error("score-squad", usage, "%s needs a number", f) == 0;
            a->p.na_prob_thresh = t, i++;
        } else if (strcmp(f, "--version") == 0) {
            if (v && (strcmp(v, "1.1") == 0 || strcmp(v, "v1.1") == 0)) a->p.version = BERT_SQUAD_V1;
            else if (v && (strcmp(v, "2.0") == 0 || strcmp(v, "v2.0") == 0)) a->p.version = BERT_SQUAD_V2;
            else return cli_usage_error("score-squad", usage, "--version takes 1.1 or 2.0") == 0;
            i++;
        } else if (strcmp(f, "--output") == 0 || strcmp(f, "--out-file") == 0 || strcmp(f, "-o") == 0) {
            if (!v) return cli_usage_error("score-squad", usage, "%s needs a file", f) == 0;
            a->output = v, i++;
        } else if (f[0] == '-' && f[1]) {
            cli_help_if_asked(f, usage);
            return cli_usage_error("score-squad", usage, "unknown flag %s", f) == 0;
        } else if (!a->data) {
            a->data = f;
        } else if (!a->preds) {
            a->preds = f;
        } else {
            return cli_usage_error("score-squad", usage, "one data file and one predictions file") == 0;
        }
    }
    if (!a->data || !a->preds) return cli_usage_error("score-squad", usage, "needs DATA.json and PREDICTIONS.json") == 0;
    return 1;
}

int cmd_score_squad(int argc, char **argv) {
    score_args a = {0};
    if (!parse(argc, argv, &a)) return CLI_USAGE;
    bert_squad_eval e;
    bert_error err;
    if (bert_squad_evaluate(a.data, a.preds, &a.p, &e, &err) != BERT_OK) return cli_error("score-squad", "%s", err.message);
    /* what the official v1.1 script says on stderr */
    if (e.version == BERT_SQUAD_V1 && e.data_version && strcmp(e.data_version, "1.1") != 0)
        fprintf(stderr, "Evaluation expects v-1.1, but got dataset with v-%s\n", e.data_version);
    for (long i = 0; i < e.n_missing; i++) fprintf(stderr, "Unanswered question %s will receive score 0.\n", e.missing[i]);
    cli_output out;
    int ok = cli_output_open("score-squad", a.output, &out);
    if (ok) ok = fputs(e.json, out.fp) >= 0;
    ok = cli_output_close("score-squad", &out, ok);
    bert_squad_eval_free(&e);
    return ok ? CLI_OK : CLI_ERROR;
}
