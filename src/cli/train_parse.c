/* train_parse.c — reading the training commands' options through the
 * table of train_flags.c: values into the params structs, --help, and a
 * "did you mean" for options that do not exist. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/train_flags.h"

static const char *task_names[] = {"sequence", "token", "qa", "dialogue"};

/* The usage line and one sentence about cmd. */
static const char *usage_line(int cmd) {
    switch (cmd) {
    case CLI_CMD_EVAL:
        return "usage: bert eval MODEL_DIR --output-dir OUT (--task NAME | [--task-type TYPE] --dev FILE) [options]\n"
               "Score a fine-tuned model on validation (and test) data; no training.\n";
    case CLI_CMD_MULTITASK:
        return "usage: bert multitask MODEL_DIR --output-dir OUT (--task NAME ... | --tasks-file FILE) [options]\n"
               "Multi-task fine-tuning: one shared encoder, a head per task, a task-sampling schedule.\n";
    case CLI_CMD_PRETRAIN:
        return "usage: bert pretrain MODEL_DIR --output-dir OUT --corpus FILE [--corpus FILE ...] [options]\n"
               "Masked-LM + next-sentence pre-training (dynamic masking) on text corpora.\n";
    default:
        return "usage: bert finetune MODEL_DIR --output-dir OUT (--task NAME | [--task-type TYPE] --train FILE --dev FILE) [options]\n"
               "Fine-tune sequence classification / regression, token classification (NER) or extractive QA.\n";
    }
}

void cli_train_usage(int cmd, FILE *f) {
    fputs(usage_line(cmd), f);
    for (const cli_flag *x = cli_train_flags; x->name; x++) {
        if (!(x->cmds & cmd)) continue;
        if (x->kind == CLI_K_SECTION) {
            fprintf(f, "\n%s:\n", x->name);
            continue;
        }
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", x->name, x->arg ? " " : "", x->arg ? x->arg : "");
        const char *only = x->tasks == CLI_T_TOK ? " [token]" : x->tasks == CLI_T_QA ? " [qa]" : x->tasks == CLI_T_SEQ ? " [sequence]"
                         : x->tasks == CLI_T_DLG ? " [dialogue]" : "";
        fprintf(f, "  %-30s %s%s\n", left, x->help, only);
    }
    if (cmd != CLI_CMD_PRETRAIN) { /* multitask: the sequence and token presets */
        fputs("\npresets (--task):", f);
        for (const char *const *p = bert_finetune_presets(); *p; p++) {
            bert_task task = BERT_TASK_SEQUENCE;
            bert_finetune_preset_task(*p, &task, NULL);
            if (cmd != CLI_CMD_MULTITASK || task == BERT_TASK_SEQUENCE || task == BERT_TASK_TOKEN) fprintf(f, " %s", *p);
        }
        fputc('\n', f);
    }
}

/* Levenshtein distance of a and b (99 when either is over 63 bytes). */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]), del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

const char *cli_train_suggest(int cmd, const char *unknown) {
    const char *best = NULL;
    int best_d = 99;
    for (const cli_flag *x = cli_train_flags; x->name; x++) {
        if (x->kind == CLI_K_SECTION || !(x->cmds & cmd)) continue;
        int d = edit_distance(unknown, x->name);
        if (d < best_d) best_d = d, best = x->name;
    }
    int len = (int)strlen(unknown), limit = len / 3 > 2 ? len / 3 : 2;
    return best_d <= limit ? best : NULL;
}

/* The option `name` of cmd, or NULL. */
static const cli_flag *find(int cmd, const char *name) {
    for (const cli_flag *x = cli_train_flags; x->name; x++)
        if (x->kind != CLI_K_SECTION && (x->cmds & cmd) && strcmp(x->name, name) == 0) return x;
    return NULL;
}

/* The task type --task / --task-type name (sequence when neither). */
static int task_type(int argc, char **argv, bert_task *task, int *given, char *msg, size_t cap) {
    *task = BERT_TASK_SEQUENCE, *given = 0;
    for (int i = 1; i + 1 < argc; i++) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--task-type") == 0) {
            int k = 0;
            while (k < 4 && strcmp(v, task_names[k]) != 0) k++;
            if (k == 4) return snprintf(msg, cap, "--task-type must be sequence, token, qa or dialogue, not '%s'", v), 0;
            static const bert_task types[] = {BERT_TASK_SEQUENCE, BERT_TASK_TOKEN, BERT_TASK_QA, BERT_TASK_DIALOGUE};
            *task = types[k], *given = 1;
        } else if (strcmp(argv[i], "--task") == 0) {
            bert_error err;
            if (bert_finetune_preset_task(v, task, &err) != BERT_OK) {
                int n = snprintf(msg, cap, "unknown --task '%s' (", v);
                for (const char *const *p = bert_finetune_presets(); *p && n > 0 && (size_t)n < cap; p++)
                    n += snprintf(msg + n, cap - (size_t)n, "%s%s", *p, p[1] ? ", " : ")");
                return 0;
            }
            *given = 1;
        }
    }
    return 1;
}

/* Store value v of option x; 1 when v was consumed, 0 when not, -1 on error. */
static int store(cli_train_args *a, const cli_flag *x, const char *v, char *msg, size_t cap) {
    if (x->kind == CLI_K_FN) return x->fn(a, v, msg, cap);
    char *base = x->where == CLI_W_FT ? (char *)&a->ft : x->where == CLI_W_PT ? (char *)&a->pt
               : x->where == CLI_W_TRAIN ? (char *)(a->cmd == CLI_CMD_PRETRAIN ? &a->pt.train : &a->ft.train)
               : x->where == CLI_W_MT ? (char *)&a->mt
               : x->where == CLI_W_DIST ? (char *)&a->dist
               : (char *)(a->cmd == CLI_CMD_PRETRAIN ? &a->pt.loop : &a->ft.loop);
    void *dst = base + x->off;
    if (x->kind == CLI_K_FLAG) return *(int *)dst = 1, 0;
    if (!v) return snprintf(msg, cap, "%s needs a value (%s)", x->name, x->arg), -1;
    char *end = NULL;
    errno = 0;
    if (x->kind == CLI_K_STR) {
        *(const char **)dst = v;
    } else if (x->kind == CLI_K_DBL) {
        double d = strtod(v, &end);
        if (end == v || *end || errno) return snprintf(msg, cap, "%s needs a number (got '%s')", x->name, v), -1;
        *(double *)dst = d;
    } else if (x->kind == CLI_K_U64) {
        unsigned long long u = strtoull(v, &end, 10);
        if (end == v || *end || errno || *v == '-') return snprintf(msg, cap, "%s needs a non-negative integer (got '%s')", x->name, v), -1;
        *(uint64_t *)dst = u;
    } else {
        long n = strtol(v, &end, 10);
        long max = x->kind == CLI_K_INT ? INT_MAX : LONG_MAX;
        if (end == v || *end || errno || n < x->min || n > max)
            return snprintf(msg, cap, "%s needs an integer >= %ld (got '%s')", x->name, x->min, v), -1;
        if (x->kind == CLI_K_INT) *(int *)dst = (int)n;
        else *(long *)dst = n;
    }
    return 1;
}

/* Print "bert NAME: msg"; returns 0. */
static int fail(const char *name, const char *msg) {
    cli_error(name, "%s", msg);
    return 0;
}

int cli_train_parse(int cmd, int argc, char **argv, cli_train_args *a) {
    const char *name = cmd == CLI_CMD_EVAL ? "eval" : cmd == CLI_CMD_PRETRAIN ? "pretrain" : cmd == CLI_CMD_MULTITASK ? "multitask" : "finetune";
    char msg[1024];
    memset(a, 0, sizeof *a);
    a->cmd = cmd, a->name = name;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_train_usage(cmd, stdout);
            exit(CLI_OK);
        }
    bert_task task = BERT_TASK_SEQUENCE;
    if (cmd != CLI_CMD_PRETRAIN && !task_type(argc, argv, &task, &a->task_given, msg, sizeof msg)) return fail(name, msg);
    if (cmd == CLI_CMD_MULTITASK) task = BERT_TASK_SEQUENCE; /* each task's type is its own */
    a->ft = bert_finetune_default_params(task);
    a->mt = bert_multitask_default_params();
    if (cmd == CLI_CMD_MULTITASK) a->ft.train.lr = a->mt.train.lr, a->ft.loop.metric = NULL;
    a->pt = bert_pretrain_default_params();
    a->dist = bert_dist_default_params();
    a->ft.eval_only = cmd == CLI_CMD_EVAL;
    int tmask = task == BERT_TASK_TOKEN ? CLI_T_TOK : task == BERT_TASK_QA ? CLI_T_QA : task == BERT_TASK_DIALOGUE ? CLI_T_DLG : CLI_T_SEQ;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (arg[0] != '-' || !arg[1]) {
            if (model) return snprintf(msg, sizeof msg, "unexpected argument '%s' (MODEL_DIR is '%s')", arg, model), fail(name, msg);
            model = arg;
            continue;
        }
        const cli_flag *x = find(cmd, arg);
        if (!x) {
            const char *near = cli_train_suggest(cmd, arg);
            if (near) snprintf(msg, sizeof msg, "unknown option '%s'; did you mean %s?", arg, near);
            else snprintf(msg, sizeof msg, "unknown option '%s' (see bert %s --help)", arg, name);
            return fail(name, msg);
        }
        if (x->tasks && !(x->tasks & tmask) && cmd != CLI_CMD_MULTITASK)
            return snprintf(msg, sizeof msg, "%s is for %s tasks (this is a %s task)", arg,
                            x->tasks == CLI_T_TOK ? "token" : x->tasks == CLI_T_QA ? "qa" : x->tasks == CLI_T_DLG ? "dialogue" : "sequence",
                            task_names[tmask == CLI_T_TOK ? 1 : tmask == CLI_T_QA ? 2 : tmask == CLI_T_DLG ? 3 : 0]),
                   fail(name, msg);
        int used = store(a, x, v, msg, sizeof msg);
        if (used < 0) return fail(name, msg);
        i += used;
    }
    if (!model) return snprintf(msg, sizeof msg, "needs MODEL_DIR (see bert %s --help)", name), fail(name, msg);
    if (cmd == CLI_CMD_PRETRAIN) {
        a->pt.model_dir = model;
        if (!a->pt.output_dir) return fail(name, "needs --output-dir OUT");
        if (!a->pt.n_corpus_files) return fail(name, "needs --corpus FILE (text, or a file from bert prepare)");
        a->pt.loop.output_dir = a->pt.output_dir;
        return 1;
    }
    a->ft.model_dir = model;
    if (!a->ft.output_dir) return fail(name, "needs --output-dir OUT");
    a->ft.task = task;
    a->ft.loop.output_dir = a->ft.output_dir;
    return 1;
}
