/* common.c — errors, flag values and atomic output for the subcommands. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

int cli_verror(const char *cmd, const char *fmt, va_list ap) {
    /* The whole line in one write, so that the lines of the ranks of a job
     * (mpirun) do not interleave on a shared stderr. */
    char buf[1024], *msg = buf;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= (int)sizeof buf && (msg = malloc((size_t)n + 1))) vsnprintf(msg, (size_t)n + 1, fmt, again);
    if (!msg) msg = buf; /* out of memory: the message cut short */
    va_end(again);
    fprintf(stderr, "bert %s: %s\n", cmd, n < 0 ? fmt : msg);
    if (msg != buf) free(msg);
    return CLI_ERROR;
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_verror(cmd, fmt, ap);
    va_end(ap);
    return CLI_ERROR;
}

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) {
    fprintf(stderr, "bert %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    size_t n = strcspn(usage, "\n");
    fprintf(stderr, "; %.*s\n", (int)n, usage);
    return CLI_USAGE;
}

void cli_help_if_asked(const char *arg, const char *usage) {
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        fputs(usage, stdout);
        exit(CLI_OK);
    }
}

int cli_parse_int(const char *cmd, const char *flag, const char *s, int min, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > INT_MAX) {
        fprintf(stderr, "bert %s: %s needs an integer >= %d (got '%s')\n", cmd, flag, min, s ? s : "");
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

int cli_lower_is_better(const char *metric) {
    return metric && (strstr(metric, "loss") || strcmp(metric, "perplexity") == 0);
}

void cli_name_flags(char *msg, size_t cap) {
    static const char *const names[][2] = {{"max_question_len", "--max-question-len"}, {"max_answer_len", "--max-answer-len"},
                                           {"max_seq_len", "--max-seq-len"},           {"doc_stride", "--doc-stride"},
                                           {"top_k", "--top-k"},                       {"batch_size", "--batch-size"}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k][0]), len = strlen(msg);
        for (char *p = strstr(msg, names[k][0]); p; p = strstr(p + 1, names[k][0])) {
            if ((p > msg && word_char(p[-1])) || word_char(p[n]) || len + 2 >= cap) continue;
            memmove(p + n + 2, p + n, len - (size_t)(p - msg) - n + 1);
            memcpy(p, names[k][1], n + 2); /* the flag: two dashes, '_' as '-' */
            len += 2;
        }
    }
}

int cli_check_json_line(const char *line, char *msg, size_t cap) {
    /* \u0000 is an escape only where an odd run of backslashes ends before
     * it ("C:\\u0000" is a backslash and the text u0000). */
    for (const char *p = strstr(line, "u0000"); p; p = strstr(p + 1, "u0000")) {
        size_t k = 0;
        while (p - k > line && p[-1 - (long)k] == '\\') k++;
        if (k % 2 == 1) {
            snprintf(msg, cap, "text contains U+0000 (\\u0000), which the JSON reader cannot keep; remove it");
            return 0;
        }
    }
    return 1;
}

int cli_output_open(const char *cmd, const char *path, cli_output *out) {
    memset(out, 0, sizeof *out);
    if (!path || strcmp(path, "-") == 0) {
        out->fp = stdout;
        return 1;
    }
    size_t n = strlen(path) + 32;
    out->path = strdup(path);
    out->tmp = malloc(n);
    if (!out->path || !out->tmp) return cli_error(cmd, "out of memory"), 0;
    snprintf(out->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    out->fp = fopen(out->tmp, "w");
    if (!out->fp) {
        cli_error(cmd, "%s: cannot create: %s", out->tmp, strerror(errno));
        free(out->path);
        free(out->tmp);
        return 0;
    }
    return 1;
}

int cli_output_close(const char *cmd, cli_output *out, int ok) {
    if (!out->fp) return ok;
    if (out->fp == stdout) {
        if (fflush(stdout) != 0) ok = cli_error(cmd, "writing output failed: %s", strerror(errno)) == 0;
        return ok;
    }
    int wrote = !ferror(out->fp) && fflush(out->fp) == 0 && fsync(fileno(out->fp)) == 0;
    wrote = fclose(out->fp) == 0 && wrote;
    if (ok && !wrote) ok = cli_error(cmd, "%s: write failed", out->path) == 0;
    if (ok && rename(out->tmp, out->path) != 0) ok = cli_error(cmd, "%s: rename failed: %s", out->path, strerror(errno)) == 0;
    if (!ok) unlink(out->tmp);
    free(out->path);
    free(out->tmp);
    memset(out, 0, sizeof *out);
    return ok;
}

int cli_parse_dtype(const char *cmd, const char *s, bert_compute_dtype *out) {
    if (strcmp(s, "f32") == 0 || strcmp(s, "fp32") == 0) *out = BERT_COMPUTE_F32;
    else if (strcmp(s, "bf16") == 0) *out = BERT_COMPUTE_BF16;
    else if (strcmp(s, "int8") == 0) *out = BERT_COMPUTE_INT8;
    else if (strcmp(s, "tf32") == 0) *out = BERT_COMPUTE_TF32;
    else if (strcmp(s, "f16") == 0 || strcmp(s, "fp16") == 0) *out = BERT_COMPUTE_F16;
    else {
        fprintf(stderr, "bert %s: --dtype must be f32, bf16, int8, tf32 or f16 (--device cuda), not '%s'\n", cmd, s);
        return 0;
    }
    return 1;
}

int cli_parse_device(const char *cmd, const char *s, bert_device *out) {
    if (strcmp(s, "cpu") == 0) *out = BERT_DEVICE_CPU;
    else if (strcmp(s, "cuda") == 0) *out = BERT_DEVICE_CUDA;
    else {
        fprintf(stderr, "bert %s: --device must be cpu or cuda, not '%s'\n", cmd, s);
        return 0;
    }
    return 1;
}

int cli_write_json(const char *cmd, const char *dir, const char *name, const cJSON *o) {
    char path[8200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = cJSON_Print(o);
    cli_output out;
    if (!text) return cli_error(cmd, "out of memory"), 0;
    int ok = cli_output_open(cmd, path, &out);
    if (ok) fputs(text, out.fp), fputc('\n', out.fp), ok = cli_output_close(cmd, &out, 1);
    free(text);
    return ok;
}

int cli_write_tokenizer_files(const char *cmd, const char *dir, int lowercase, int model_max_length) {
    static const char *const specials[][2] = {{"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}, {"pad_token", "[PAD]"},
                                              {"sep_token", "[SEP]"}, {"unk_token", "[UNK]"}};
    cJSON *tc = cJSON_CreateObject(), *sm = cJSON_CreateObject();
    cJSON_AddBoolToObject(tc, "do_lower_case", lowercase);
    cJSON_AddBoolToObject(tc, "do_basic_tokenize", 1);
    cJSON_AddBoolToObject(tc, "tokenize_chinese_chars", 1);
    cJSON_AddNullToObject(tc, "strip_accents");
    if (model_max_length > 0) cJSON_AddNumberToObject(tc, "model_max_length", model_max_length);
    cJSON_AddBoolToObject(tc, "clean_up_tokenization_spaces", 1);
    cJSON_AddStringToObject(tc, "tokenizer_class", "BertTokenizer");
    for (int i = 0; i < 5; i++) {
        cJSON_AddStringToObject(tc, specials[i][0], specials[i][1]);
        cJSON_AddStringToObject(sm, specials[i][0], specials[i][1]);
    }
    int ok = cli_write_json(cmd, dir, "tokenizer_config.json", tc) && cli_write_json(cmd, dir, "special_tokens_map.json", sm);
    cJSON_Delete(tc), cJSON_Delete(sm);
    return ok;
}
