/* cmd_tokenize.c — `bert tokenize MODEL_DIR`: JSONL of texts in, Hugging
 * Face encodings out.
 *
 * Input lines: {"text": "...", "text_pair": "..."} (text_pair optional).
 * Output lines use the field names of transformers' BatchEncoding:
 * input_ids, token_type_ids, attention_mask, tokens, offsets (code-point
 * [start, end) into the text the token came from), word_ids,
 * special_tokens_mask. With --return-overflowing every field is a list
 * with one entry per window, as transformers returns them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/line_reader.h"

static const char *usage_text =
    "usage: bert tokenize MODEL_DIR [options] < input.jsonl > output.jsonl\n"
    "  input lines: {\"text\": \"...\", \"text_pair\": \"...\"}   (text_pair optional; a line at most 2 MiB)\n"
    "  --input FILE / --output FILE   instead of stdin / stdout (output written atomically)\n"
    "  --max-length N                 truncate to N tokens (special tokens included)\n"
    "  --truncation S                 longest_first (default with --max-length) | only_first | only_second\n"
    "  --truncation-side S            right (default) | left\n"
    "  --stride N                     overlap between overflowing windows\n"
    "  --return-overflowing           also return the windows truncation cut off\n"
    "  --padding S                    none (default) | longest | max_length\n"
    "  --pad-to-multiple-of N         round the padded length up to a multiple of N (padded at most 65536)\n"
    "  --padding-side S               right (default) | left\n"
    "  --no-special-tokens            do not add [CLS] / [SEP]\n"
    "  --batch-size N                 lines padded together for --padding longest (default 32)\n";

typedef struct {
    bert_encode_params p;
    const char *input, *output;
    int batch_size;
} tok_opts;

static int parse_args(int argc, char **argv, const char **dir, tok_opts *o) {
    o->p = bert_encode_default_params();
    o->batch_size = 32;
    o->input = o->output = NULL;
    int truncation_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(CLI_OK);
        } else if (strcmp(a, "--return-overflowing") == 0) {
            o->p.return_overflowing = 1;
        } else if (strcmp(a, "--no-special-tokens") == 0) {
            o->p.add_special_tokens = 0;
        } else if (!v && a[0] == '-') {
            return cli_usage_error("tokenize", usage_text, "unknown option or missing value: '%s'", a), 0;
        } else if (strcmp(a, "--max-length") == 0) {
            if (!cli_parse_int("tokenize", a, argv[++i], 1, &o->p.max_length)) return 0;
        } else if (strcmp(a, "--stride") == 0) {
            if (!cli_parse_int("tokenize", a, argv[++i], 0, &o->p.stride)) return 0;
        } else if (strcmp(a, "--pad-to-multiple-of") == 0) {
            if (!cli_parse_int("tokenize", a, argv[++i], 1, &o->p.pad_to_multiple_of)) return 0;
        } else if (strcmp(a, "--batch-size") == 0) {
            if (!cli_parse_int("tokenize", a, argv[++i], 1, &o->batch_size)) return 0;
        } else if (strcmp(a, "--truncation") == 0) {
            i++;
            truncation_set = 1;
            if (strcmp(v, "longest_first") == 0) o->p.truncation = BERT_TRUNCATE_LONGEST_FIRST;
            else if (strcmp(v, "only_first") == 0) o->p.truncation = BERT_TRUNCATE_ONLY_FIRST;
            else if (strcmp(v, "only_second") == 0) o->p.truncation = BERT_TRUNCATE_ONLY_SECOND;
            else if (strcmp(v, "none") == 0) o->p.truncation = BERT_TRUNCATE_NONE;
            else return fprintf(stderr, "bert tokenize: --truncation must be longest_first, only_first, only_second or none\n"), 0;
        } else if (strcmp(a, "--truncation-side") == 0 || strcmp(a, "--padding-side") == 0) {
            i++;
            int left = strcmp(v, "left") == 0;
            if (!left && strcmp(v, "right") != 0)
                return fprintf(stderr, "bert tokenize: %s must be left or right\n", a), 0;
            if (a[2] == 't') o->p.truncate_left = left;
            else o->p.pad_left = left;
        } else if (strcmp(a, "--padding") == 0) {
            i++;
            if (strcmp(v, "none") == 0) o->p.padding = BERT_PAD_NONE;
            else if (strcmp(v, "longest") == 0) o->p.padding = BERT_PAD_LONGEST;
            else if (strcmp(v, "max_length") == 0) o->p.padding = BERT_PAD_MAX_LENGTH;
            else return fprintf(stderr, "bert tokenize: --padding must be none, longest or max_length\n"), 0;
        } else if (strcmp(a, "--input") == 0) {
            o->input = argv[++i];
        } else if (strcmp(a, "--output") == 0) {
            o->output = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("tokenize", usage_text, "unknown option '%s'", a), 0;
        } else if (!*dir) {
            *dir = a;
        } else {
            fprintf(stderr, "bert tokenize: unexpected argument '%s'\n", a);
            return 0;
        }
    }
    if (o->p.max_length > 0 && !truncation_set) o->p.truncation = BERT_TRUNCATE_LONGEST_FIRST;
    if (!*dir) return cli_usage_error("tokenize", usage_text, "needs MODEL_DIR"), 0;
    return 1;
}

static cJSON *int_list(const int32_t *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* One field of one encoding as a JSON value. */
static cJSON *field(const bert_encoding *e, int f) {
    switch (f) {
    case 0: return int_list(e->input_ids, e->n_tokens);
    case 1: return int_list(e->token_type_ids, e->n_tokens);
    case 2: return int_list(e->attention_mask, e->n_tokens);
    case 3: {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < e->n_tokens; i++) cJSON_AddItemToArray(a, cJSON_CreateString(e->tokens[i]));
        return a;
    }
    case 4: {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < e->n_tokens; i++) cJSON_AddItemToArray(a, int_list(e->offsets + 2 * i, 2));
        return a;
    }
    case 5: {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < e->n_tokens; i++)
            cJSON_AddItemToArray(a, e->word_ids[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(e->word_ids[i]));
        return a;
    }
    default: return int_list(e->special_tokens_mask, e->n_tokens);
    }
}

static const char *const field_names[] = {"input_ids", "tokens", "token_type_ids", "attention_mask", "offsets",
                                          "word_ids", "special_tokens_mask"};
static const int field_ids[] = {0, 3, 1, 2, 4, 5, 6};

static void write_result(FILE *out, const bert_encodings *es, int overflowing) {
    cJSON *o = cJSON_CreateObject();
    for (int f = 0; f < 7; f++) {
        if (!overflowing) {
            cJSON_AddItemToObject(o, field_names[f], field(&es->encodings[0], field_ids[f]));
        } else {
            cJSON *windows = cJSON_CreateArray();
            for (int k = 0; k < es->n; k++) cJSON_AddItemToArray(windows, field(&es->encodings[k], field_ids[f]));
            cJSON_AddItemToObject(o, field_names[f], windows);
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(o);
}

typedef struct {
    char *text, *pair;
    long line;
} tok_input;

static int flush(const bert_tokenizer *tok, tok_input *in, int n, const tok_opts *o, const char *src, FILE *out) {
    const char **texts = malloc(sizeof *texts * (size_t)n), **pairs = malloc(sizeof *pairs * (size_t)n);
    bert_encodings *res = calloc((size_t)n, sizeof *res);
    int ok = texts && pairs && res;
    for (int i = 0; ok && i < n; i++) texts[i] = in[i].text, pairs[i] = in[i].pair;
    bert_error err;
    if (ok && bert_tokenize_batch(tok, texts, pairs, n, &o->p, res, &err) != BERT_OK) {
        if (err.item >= 0 && err.item < n) cli_error("tokenize", "%s:%ld: %s", src, in[err.item].line, err.message);
        else cli_error("tokenize", "%s", err.message);
        ok = 0;
    }
    for (int i = 0; ok && i < n; i++) write_result(out, &res[i], o->p.return_overflowing);
    for (int i = 0; ok && i < n; i++) bert_encodings_free(&res[i]);
    free(texts);
    free(pairs);
    free(res);
    return ok;
}

/* Read {"text", "text_pair"}; a string field that is absent or null gives NULL. */
static int parse_line(const char *line, tok_input *in, char *msg, size_t cap) {
    if (!cli_check_json_line(line, msg, cap)) return 0;
    cJSON *o = cJSON_Parse(line);
    int ok = 0;
    if (!o || !cJSON_IsObject(o)) {
        snprintf(msg, cap, "not a JSON object");
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text"), *p = cJSON_GetObjectItemCaseSensitive(o, "text_pair");
        if (!cJSON_IsString(t)) snprintf(msg, cap, "\"text\" must be a string");
        else if (p && !cJSON_IsNull(p) && !cJSON_IsString(p)) snprintf(msg, cap, "\"text_pair\" must be a string");
        else {
            in->text = strdup(t->valuestring);
            in->pair = cJSON_IsString(p) ? strdup(p->valuestring) : NULL;
            ok = in->text != NULL;
        }
    }
    cJSON_Delete(o);
    return ok;
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL;
    tok_opts o;
    if (!parse_args(argc, argv, &dir, &o)) return CLI_USAGE;
    bert_error err;
    bert_tokenizer *tok;
    if (bert_tokenizer_load(dir, &tok, &err) != BERT_OK) return cli_error("tokenize", "%s", err.message);
    FILE *in = stdin;
    const char *src = o.input ? o.input : "stdin";
    if (o.input && !(in = fopen(o.input, "r"))) {
        bert_tokenizer_free(tok);
        return cli_error("tokenize", "%s: cannot open: %s", o.input, strerror(errno));
    }
    cli_output out;
    int ok = cli_output_open("tokenize", o.output, &out);
    tok_input *batch = calloc((size_t)o.batch_size, sizeof *batch);
    char *line = NULL, msg[600];
    size_t cap = 0;
    long lineno = 0, count = 0;
    int n = 0;
    ssize_t got;
    while (ok && batch && (got = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (got > CLI_MAX_LINE_BYTES) {
            ok = !cli_error("tokenize", "%s:%ld: the line is longer than %ld bytes (the limit of one input line)", src,
                            lineno, CLI_MAX_LINE_BYTES);
            break;
        }
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        batch[n].line = lineno;
        if (!parse_line(line, &batch[n], msg, sizeof msg)) {
            ok = !cli_error("tokenize", "%s:%ld: %s", src, lineno, msg);
            break;
        }
        count++;
        if (++n == o.batch_size) {
            ok = flush(tok, batch, n, &o, src, out.fp);
            for (int i = 0; i < n; i++) free(batch[i].text), free(batch[i].pair);
            memset(batch, 0, sizeof *batch * (size_t)n);
            n = 0;
        }
    }
    if (ok && n) ok = flush(tok, batch, n, &o, src, out.fp);
    if (ok && count == 0) ok = !cli_error("tokenize", "%s: no input (expected JSONL lines with \"text\")", src);
    for (int i = 0; batch && i < n; i++) free(batch[i].text), free(batch[i].pair);
    ok = cli_output_close("tokenize", &out, ok);
    free(batch);
    free(line);
    if (in != stdin) fclose(in);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
