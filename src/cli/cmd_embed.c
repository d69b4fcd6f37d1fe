/* cmd_embed.c — `bert embed MODEL_DIR`: JSONL of token ids in, embeddings out.
 *
 * Input, one JSON object per line: text, tokenized with the model
 * directory's tokenizer,
 *   {"text": "hello world"}  or  {"text": "a question", "text_pair": "a passage"}
 * or token ids,
 *   {"input_ids": [101, 7592, 102], "token_type_ids": [0, 0, 0], "attention_mask": [1, 1, 1]}
 * (token_type_ids and attention_mask optional). Output, one line per input,
 * in input order: {"embedding": [...]} (the directory's sentence-transformers
 * modules: Pooling in every mode it has on, Dense, Normalize; or one
 * --pooling mode), or {"token_embeddings": [[...], ...]} for --pooling none.
 * Lines are run in batches of --batch-size without padding. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/embed_input.h"
#include "cli/line_reader.h"
#include "cli/task_runner.h"

static const char *usage_text =
    "usage: bert embed MODEL_DIR [options] < input.jsonl > output.jsonl\n"
    "  --input FILE         read JSONL from FILE instead of stdin\n"
    "  --output FILE        write JSONL to FILE (atomically) instead of stdout\n"
    "  --pooling MODE       cls | mean | max | mean_sqrt_len | weightedmean | lasttoken |\n"
    "                       none (per-token vectors); default: the sentence-transformers\n"
    "                       modules of MODEL_DIR (Pooling, Dense, Normalize), else mean.\n"
    "                       Prompts of config_sentence_transformers.json are not added\n"
    "                       (bert serve and bert_embed_texts add them)\n"
    "  --normalize          L2-normalise each embedding (default: as the sentence-transformers\n"
    "                       config says, else off)\n"
    "  --batch-size N       sequences per forward pass (default 32)\n"
    "  --threads N          threads (default: all cores; at most 4 per core)\n"
    "  --dtype f32|bf16|int8  precision of the encoder's products (default f32, exact;\n"
    "                       bf16 needs AVX512-BF16 and oneDNN, cosine >= 0.999 vs f32;\n"
    "                       int8 needs oneDNN, dynamic quantization, cosine >= 0.98)\n"
    "  --truncate           cut texts longer than the model accepts (default: error)\n"
    "  --truncation-side S  right (default) | left\n";

typedef struct {
    const char *input, *output;
    int pooling; /* a bert_pooling, -1 for none, -2 = not given, -3 = the directory's modules */
    int normalize, batch_size, threads, truncate, truncate_left;
    int normalize_given;            /* --normalize on the command line                */
    const bert_sentence_head *head; /* the directory's modules (pooling -3)          */
    int dim;                        /* values per pooled embedding                    */
    bert_compute_dtype compute;
} embed_opts;

/* Run one batch and print its results; returns 0 after printing an error. */
static int run_batch(bert_context *ctx, record *recs, bert_sequence *seqs, int n, const embed_opts *o,
                     const char *src, FILE *out, float *vec, int C) {
    for (int i = 0; i < n; i++)
        seqs[i] = (bert_sequence){.input_ids = recs[i].ids, .token_type_ids = recs[i].types,
                                  .attention_mask = recs[i].mask, .n_tokens = recs[i].n};
    bert_error err;
    if (bert_forward(ctx, seqs, n, BERT_OUTPUT_HIDDEN, &err) != BERT_OK) {
        if (err.item >= 0 && err.item < n) {
            const char *m = strstr(err.message, ": "); /* drop "sequence N: ", the line says where */
            cli_error("embed", "%s:%ld: %s", src, recs[err.item].line, m ? m + 2 : err.message);
        } else {
            cli_error("embed", "%s", err.message);
        }
        return 0;
    }
    /* A NaN or infinite output (non-finite weights) is an error naming the line, not a bare nan. */
    for (int i = 0; i < n; i++)
        if (!embed_all_finite(bert_output_hidden(ctx, i), (size_t)recs[i].n * (size_t)C))
            return !cli_error("embed", "%s:%ld: the model's output is not finite (NaN or infinity: are its weights finite?)",
                              src, recs[i].line);
    for (int i = 0; i < n; i++) {
        if (o->pooling == -1) { /* none: the token states */
            const float *h = bert_output_hidden(ctx, i);
            fputs("{\"token_embeddings\":[", out);
            for (int t = 0; t < recs[i].n; t++) {
                if (t) fputc(',', out);
                memcpy(vec, h + (size_t)t * C, sizeof *vec * (size_t)C);
                if (o->normalize) embed_l2_normalize(vec, C);
                embed_print_vector(out, vec, C);
            }
            fputs("]}\n", out);
        } else {
            const float *h = bert_output_hidden(ctx, i);
            bert_status rc = o->head ? bert_sentence_head_apply(o->head, h, recs[i].mask, recs[i].n, C, 0, vec, &err)
                                     : bert_pool_states(h, recs[i].mask, recs[i].n, C, 1u << o->pooling, 0, vec, &err);
            if (rc != BERT_OK) return !cli_error("embed", "%s:%ld: %s", src, recs[i].line, err.message);
            if (o->head ? o->normalize_given : o->normalize) embed_l2_normalize(vec, o->dim);
            fputs("{\"embedding\":", out);
            embed_print_vector(out, vec, o->dim);
            fputs("}\n", out);
        }
    }
    return 1;
}

static int parse_args(int argc, char **argv, const char **dir, embed_opts *o) {
    *o = (embed_opts){.pooling = -2, .normalize = -1, .batch_size = 32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(CLI_OK);
        } else if (strcmp(a, "--normalize") == 0) {
            o->normalize = 1, o->normalize_given = 1;
        } else if (strcmp(a, "--truncate") == 0) {
            o->truncate = 1;
        } else if (strcmp(a, "--truncation-side") == 0 && v) {
            i++;
            if (strcmp(v, "left") != 0 && strcmp(v, "right") != 0) {
                fprintf(stderr, "bert embed: --truncation-side must be left or right\n");
                return 0;
            }
            o->truncate_left = strcmp(v, "left") == 0;
        } else if (strcmp(a, "--pooling") == 0 && v) {
            i++;
            static const char *const names[] = {"cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken"};
            o->pooling = strcmp(v, "none") == 0 ? -1 : -2;
            for (int k = 0; k < BERT_POOL_N_MODES; k++)
                if (strcmp(v, names[k]) == 0) o->pooling = k;
            if (o->pooling == -2) {
                fprintf(stderr, "bert embed: --pooling must be cls, mean, max, mean_sqrt_len, weightedmean, lasttoken or none (got '%s')\n", v);
                return 0;
            }
        } else if (strcmp(a, "--batch-size") == 0 && v) {
            if (!cli_parse_int("embed", a, argv[++i], 1, &o->batch_size)) return 0;
        } else if (strcmp(a, "--dtype") == 0 && v) {
            if (!cli_parse_dtype("embed", argv[++i], &o->compute)) return 0;
        } else if (strcmp(a, "--threads") == 0 && v) {
            if (!cli_parse_int("embed", a, argv[++i], 1, &o->threads) || !cli_threads_ok("embed", o->threads)) return 0;
        } else if (strcmp(a, "--input") == 0 && v) {
            o->input = argv[++i];
        } else if (strcmp(a, "--output") == 0 && v) {
            o->output = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("embed", usage_text, "unknown option or missing value: '%s'", a), 0;
        } else if (!*dir) {
            *dir = a;
        } else {
            fprintf(stderr, "bert embed: unexpected argument '%s'\n", a);
            return 0;
        }
    }
    if (!*dir) return cli_usage_error("embed", usage_text, "needs MODEL_DIR"), 0;
    return 1;
}

/* 1 when dir holds tokenizer.json or vocab.txt. */
static int has_tokenizer_files(const char *dir) {
    char path[4096];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, i ? "vocab.txt" : "tokenizer.json");
        if (stat(path, &st) == 0) return 1;
    }
    return 0;
}

static int is_blank(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    return *s == '\0';
}

int cmd_embed(int argc, char **argv) {
    const char *dir = NULL;
    embed_opts o;
    if (!parse_args(argc, argv, &dir, &o)) return CLI_USAGE;
    bert_error err;
    bert_model *m = NULL;
    bert_context *ctx = NULL;
    bert_model_params mp = bert_model_default_params();
    mp.compute = o.compute;
    if (bert_model_load(dir, &mp, &m, &err) != BERT_OK) return cli_error("embed", "%s", err.message);
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = o.threads;
    if (bert_context_create(m, &cp, &ctx, &err) != BERT_OK) {
        bert_model_free(m);
        return cli_error("embed", "%s", err.message);
    }
    /* The tokenizer is optional: without one, inputs must be token ids. One
     * that is there but fails to load is an error of its own. */
    bert_tokenizer *tok = NULL;
    if (bert_tokenizer_load(dir, &tok, &err) != BERT_OK) {
        tok = NULL;
        if (has_tokenizer_files(dir)) {
            bert_context_free(ctx);
            bert_model_free(m);
            return cli_error("embed", "%s", err.message);
        }
    }
    /* sentence-transformers files set the defaults: pooling, Normalize, and a
     * max_seq_length that texts are silently cut to (as ST does). */
    bert_sentence_config st;
    if (bert_sentence_config_load(dir, &st, &err) != BERT_OK) {
        bert_tokenizer_free(tok);
        bert_context_free(ctx);
        bert_model_free(m);
        return cli_error("embed", "%s", err.message);
    }
    /* No --pooling: the directory's modules (every Pooling mode on, Dense,
     * Normalize), else mean pooling. */
    bert_sentence_head *head = NULL;
    if (o.pooling == -2 && st.present && bert_sentence_head_load(dir, &head, &err) != BERT_OK) {
        bert_tokenizer_free(tok);
        bert_context_free(ctx);
        bert_model_free(m);
        return cli_error("embed", "%s", err.message);
    }
    o.head = head;
    if (o.pooling == -2) o.pooling = head ? -3 : BERT_POOL_MEAN;
    if (o.normalize < 0) o.normalize = st.present ? st.normalize : 0;
    o.dim = head ? bert_sentence_head_config(head)->dim : bert_model_config(m)->hidden_size;
    bert_encode_params ep = bert_encode_default_params();
    if (st.max_seq_length > 0) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep.max_length = st.max_seq_length;
    }
    if (o.truncate) {
        ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
        int limit = bert_model_config(m)->max_position_embeddings;
        if (ep.max_length == 0 || ep.max_length > limit) ep.max_length = limit;
        if (tok && bert_tokenizer_model_max_length(tok) > 0 && bert_tokenizer_model_max_length(tok) < ep.max_length)
            ep.max_length = bert_tokenizer_model_max_length(tok);
        ep.truncate_left = o.truncate_left;
    }
    FILE *in = stdin;
    const char *src = o.input ? o.input : "stdin";
    if (o.input && !(in = fopen(o.input, "r"))) {
        bert_sentence_head_free(head);
        bert_tokenizer_free(tok);
        bert_context_free(ctx);
        bert_model_free(m);
        return cli_error("embed", "%s: cannot open: %s", o.input, strerror(errno));
    }
    cli_output out;
    int ok = cli_output_open("embed", o.output, &out);
    int C = bert_model_config(m)->hidden_size;
    record *recs = calloc((size_t)o.batch_size, sizeof *recs);
    bert_sequence *seqs = calloc((size_t)o.batch_size, sizeof *seqs);
    float *vec = malloc((size_t)(o.dim > C ? o.dim : C) * sizeof *vec);
    if (ok && (!recs || !seqs || !vec)) ok = !cli_error("embed", "out of memory");
    char *line = NULL, msg[600];
    size_t cap = 0;
    long lineno = 0, n_records = 0;
    int n = 0;
    ssize_t got;
    while (ok && (got = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (got > CLI_MAX_LINE_BYTES) {
            ok = !cli_error("embed", "%s:%ld: the line is longer than %ld bytes (the limit of one input line)", src, lineno,
                            CLI_MAX_LINE_BYTES);
            break;
        }
        if (is_blank(line)) continue;
        recs[n].line = lineno;
        if (!parse_record(line, tok, &ep, &recs[n], msg, sizeof msg)) {
            ok = !cli_error("embed", "%s:%ld: %s", src, lineno, msg);
            record_free(&recs[n]);
            break;
        }
        n_records++;
        if (++n == o.batch_size) {
            ok = run_batch(ctx, recs, seqs, n, &o, src, out.fp, vec, C);
            for (int i = 0; i < n; i++) record_free(&recs[i]);
            n = 0;
        }
    }
    if (ok && ferror(in)) ok = !cli_error("embed", "%s: read error", src);
    if (ok && n) ok = run_batch(ctx, recs, seqs, n, &o, src, out.fp, vec, C);
    if (ok && n_records == 0) ok = !cli_error("embed", "%s: no input (expected JSONL lines with \"input_ids\")", src);
    for (int i = 0; i < n; i++) record_free(&recs[i]);
    ok = cli_output_close("embed", &out, ok);
    free(line);
    free(recs);
    free(seqs);
    free(vec);
    if (in != stdin) fclose(in);
    bert_sentence_head_free(head);
    bert_tokenizer_free(tok);
    bert_context_free(ctx);
    bert_model_free(m);
    return ok ? CLI_OK : CLI_ERROR;
}
