/* cli.h — what the `bert` subcommands share. The CLI uses only bert.h
 * (plus cJSON for JSONL) and is the only place that prints or exits. */
#ifndef BERT_CLI_H
#define BERT_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bert.h"

/* Exit codes: 0 success, 1 error in input/model/files, 2 bad usage. */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

int cmd_info(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_fill_mask(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_ner(int argc, char **argv);
int cmd_qa(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_nsp(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_multitask(int argc, char **argv);
int cmd_dialogue(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_score_squad(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* Print "bert <cmd>: <message>" to stderr; returns CLI_ERROR. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error with the arguments in ap; the line goes out in one write. */
int cli_verror(const char *cmd, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Print "bert <cmd>: <message>; <the first line of usage>" to stderr (one
 * line); returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic clock in seconds (progress rates, run times). */
double cli_now_s(void);

/* Called where a command meets an argument it does not take: for --help or
 * -h, prints the command's usage on stdout and exits with status 0. */
void cli_help_if_asked(const char *arg, const char *usage);

/* Parse a positive int flag value; prints an error and returns 0 on failure. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, int min, int *out);
/* --dtype f32|bf16|int8|tf32|f16 into *out; 0 (after a message) when s is none of them. */
int cli_parse_dtype(const char *cmd, const char *s, bert_compute_dtype *out);
/* --device cpu|cuda into *out; 0 (after a message) when s is neither. */
int cli_parse_device(const char *cmd, const char *s, bert_device *out);

/* Rewrite the library's parameter names in msg (max_question_len, ...) as
 * the flags that set them (--max-question-len, ...), within cap bytes. */
void cli_name_flags(char *msg, size_t cap);

/* 1 for a --metric where lower is better (a loss, perplexity). */
int cli_lower_is_better(const char *metric);

/* Checks an input line before cJSON parses it: cJSON strings end at a NUL,
 * so a "\u0000" escape would silently cut the text. Returns 0 with a
 * message in msg for such a line. */
int cli_check_json_line(const char *line, char *msg, size_t cap);

/* Output that is either stdout or a file written under a temporary name and
 * renamed into place by cli_output_close(ok = 1), so an interrupted run never
 * leaves a partial file behind. */
typedef struct {
    FILE *fp;
    char *path, *tmp;
} cli_output;

int cli_output_open(const char *cmd, const char *path, cli_output *out);
int cli_output_close(const char *cmd, cli_output *out, int ok);

/* Write o as dir/name through cli_output (atomically); 0 after a message. */
struct cJSON;
int cli_write_json(const char *cmd, const char *dir, const char *name, const struct cJSON *o);

/* BertTokenizer's tokenizer_config.json (do_lower_case, BERT's normalizer
 * defaults, model_max_length when > 0, the special tokens) and
 * special_tokens_map.json into dir; 0 after a message. */
int cli_write_tokenizer_files(const char *cmd, const char *dir, int lowercase, int model_max_length);

#endif
