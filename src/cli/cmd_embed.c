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
 * Lines are run in batches of --batch-size without padding (embed_run.c;
 * under mpirun the ranks share the batches). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/embed_input.h"
#include "cli/shard.h"
#include "cli/task_runner.h"
#include "cli/train_run.h"

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
    "  --dtype f32|bf16|int8|tf32|f16  precision of the encoder's products (default f32,\n"
    "                       exact; bf16 needs AVX512-BF16 and oneDNN, or --device cuda;\n"
    "                       cosine >= 0.999 vs f32; int8 needs oneDNN, dynamic\n"
    "                       quantization, cosine >= 0.98; tf32, f16: --device cuda only)\n"
    "  --device cpu|cuda    where the encoder's layers run (default cpu; cuda: an NVIDIA\n"
    "                       GPU, f32, bf16, f16 or tf32, needs a build with nvcc and cuBLAS\n"
    "                       at run time)\n"
    "  --truncate           cut texts longer than the model accepts (default: error)\n"
    "  --truncation-side S  right (default) | left\n"
    "  --profile            print where the time went (ms per pass of each kind of\n"
    "                       operation, per layer) on stderr at the end\n"
    "  --profile-json FILE  write that profile as JSON to FILE\n";

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
        } else if (strcmp(a, "--profile") == 0) {
            o->profile = 1;
        } else if (strcmp(a, "--profile-json") == 0 && v) {
            o->profile_json = argv[++i];
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
        } else if (strcmp(a, "--device") == 0 && v) {
            if (!cli_parse_device("embed", argv[++i], &o->device)) return 0;
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

/* The resources of a run (bert_*_free takes NULL). */
typedef struct {
    embed_model em;
    bert_tokenizer *tok;
    bert_sentence_head *head;
} embed_res;

static void res_free(embed_res *r) {
    bert_sentence_head_free(r->head);
    bert_tokenizer_free(r->tok);
    bert_context_free(r->em.ctx);
    bert_model_free(r->em.m);
}

/* Load dir's model, a context, the tokenizer and sentence-transformers
 * modules into r, and settle o's defaults from them; 0 after a message. */
static int load(const char *dir, embed_opts *o, embed_res *r) {
    bert_error err;
    bert_model_params mp = bert_model_default_params();
    mp.compute = o->compute;
    mp.device = o->device;
    if (bert_model_load(dir, &mp, &r->em.m, &err) != BERT_OK) return !cli_error("embed", "%s", err.message);
    bert_model *m = r->em.m;
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = o->threads;
    cp.profile = o->profile || o->profile_json;
    if (bert_context_create(m, &cp, &r->em.ctx, &err) != BERT_OK) return !cli_error("embed", "%s", err.message);
    /* The tokenizer is optional: without one, inputs must be token ids. One
     * that is there but fails to load is an error of its own. */
    if (bert_tokenizer_load(dir, &r->tok, &err) != BERT_OK) {
        r->tok = NULL;
        if (has_tokenizer_files(dir)) return !cli_error("embed", "%s", err.message);
    }
    r->em.tok = r->tok;
    /* sentence-transformers files set the defaults: pooling, Normalize, and a
     * max_seq_length that texts are silently cut to (as ST does). */
    bert_sentence_config st;
    if (bert_sentence_config_load(dir, &st, &err) != BERT_OK) return !cli_error("embed", "%s", err.message);
    /* No --pooling: the directory's modules (every Pooling mode on, Dense,
     * Normalize), else mean pooling. */
    if (o->pooling == -2 && st.present && bert_sentence_head_load(dir, &r->head, &err) != BERT_OK)
        return !cli_error("embed", "%s", err.message);
    o->head = r->head;
    if (o->pooling == -2) o->pooling = r->head ? -3 : BERT_POOL_MEAN;
    if (o->normalize < 0) o->normalize = st.present ? st.normalize : 0;
    o->dim = r->head ? bert_sentence_head_config(r->head)->dim : bert_model_config(m)->hidden_size;
    /* a pooled embedding is pooled by the forward (BERT_OUTPUT_SENTENCE), as the modes say */
    int C = bert_model_config(m)->hidden_size;
    if (r->head && bert_sentence_head_config(r->head)->modules[0].in_features != C)
        return !cli_error("embed", "the Pooling module's word_embedding_dimension is %d, the model's hidden size %d",
                          bert_sentence_head_config(r->head)->modules[0].in_features, C);
    bert_pooling_spec spec = r->head ? bert_sentence_head_pooling(r->head, 0) : (bert_pooling_spec){1u << BERT_POOL_MEAN, 0};
    if (o->pooling >= 0) spec.modes = 1u << o->pooling;
    if (bert_context_set_pooling(r->em.ctx, &spec, 1, &err) != BERT_OK) return !cli_error("embed", "%s", err.message);
    bert_encode_params *ep = &r->em.ep;
    *ep = bert_encode_default_params();
    if (st.max_seq_length > 0) {
        ep->truncation = BERT_TRUNCATE_LONGEST_FIRST;
        ep->max_length = st.max_seq_length;
    }
    if (o->truncate) {
        ep->truncation = BERT_TRUNCATE_LONGEST_FIRST;
        int limit = bert_model_config(m)->max_position_embeddings;
        if (ep->max_length == 0 || ep->max_length > limit) ep->max_length = limit;
        if (r->tok && bert_tokenizer_model_max_length(r->tok) > 0 && bert_tokenizer_model_max_length(r->tok) < ep->max_length)
            ep->max_length = bert_tokenizer_model_max_length(r->tok);
        ep->truncate_left = o->truncate_left;
    }
    return 1;
}

/* --profile (a table on stderr) and --profile-json FILE (written
 * atomically): this process's passes; 0 after a message. */
static int report_profile(const embed_res *r, const embed_opts *o) {
    bert_profile p;
    bert_error err;
    if (bert_context_profile(r->em.ctx, &p, &err) != BERT_OK) return !cli_error("embed", "%s", err.message);
    for (int json = 0; json < 2; json++) {
        if (json ? !o->profile_json : !o->profile) continue;
        int len = bert_profile_format(&p, json, NULL, 0);
        char *text = malloc((size_t)len + 1);
        if (!text) return !cli_error("embed", "out of memory");
        bert_profile_format(&p, json, text, (size_t)len + 1);
        int ok = 1;
        if (!json) {
            fputs(text, stderr);
        } else {
            cli_output out;
            ok = cli_output_open("embed", o->profile_json, &out);
            if (ok) ok = fputs(text, out.fp) >= 0, ok = cli_output_close("embed", &out, ok);
        }
        free(text);
        if (!ok) return 0;
    }
    return 1;
}

/* The command: parse, join the job (mpirun's, else a job of one), load,
 * run the input loop (embed_run.c), leave the job. */
int cmd_embed(int argc, char **argv) {
    const char *dir = NULL;
    embed_opts o;
    if (!parse_args(argc, argv, &dir, &o)) return CLI_USAGE;
    bert_dist *d = NULL;
    if (!cli_dist_open("embed", NULL, &d)) return CLI_ERROR;
    if (!shard_files_ok("embed", d, o.input, o.output)) return shard_leave(d, CLI_ERROR);
    embed_res r = {0};
    if (!load(dir, &o, &r)) {
        res_free(&r);
        return cli_dist_end(d, CLI_ERROR);
    }
    int rc = embed_run_jsonl(&r.em, &o, d);
    if (rc == CLI_OK && (o.profile || o.profile_json) && !report_profile(&r, &o)) rc = CLI_ERROR;
    res_free(&r);
    return shard_leave(d, rc);
}
