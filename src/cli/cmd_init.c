/* cmd_init.c — `bert init OUT --vocab vocab.txt [sizes]`: a new, randomly
 * initialised BertForPreTraining in Hugging Face layout, the starting point
 * of `bert pretrain` for a model trained from scratch.
 *
 * The directory is assembled in OUT.init (config.json and the tokenizer
 * files), the trainer initialises every weight from the seed as BERT does
 * (bert_train_params.from_scratch) and writes OUT atomically; OUT.init is
 * then removed. An existing OUT is never overwritten. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static int copy_text(const char *from, const char *to, char *msg, size_t cap) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        snprintf(msg, cap, "%s: cannot %s: %s", in ? to : from, in ? "create" : "open", strerror(errno));
        if (in) fclose(in);
        return 0;
    }
    char buf[65536];
    size_t n;
    int ok = 1;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ok &= fwrite(buf, 1, n, out) == n;
    ok &= !ferror(in);
    fclose(in);
    ok &= fclose(out) == 0;
    if (!ok) snprintf(msg, cap, "%s: write failed", to);
    return ok;
}

static void remove_staging(const char *dir) {
    static const char *const names[] = {"config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    char path[8200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int cmd_init(int argc, char **argv) {
    static const char *usage =
        "usage: bert init OUT_DIR --vocab vocab.txt [--cased] [--layers 2] [--hidden 128] [--heads 2]\n"
        "       [--intermediate 4*hidden] [--max-position 512] [--type-vocab 2] [--act gelu]\n"
        "       [--positions learned|sinusoidal] [--dropout 0.1] [--seed 42]\n";
    const char *out = NULL, *vocab = NULL, *act = "gelu", *positions = "learned";
    int layers = 2, hidden = 128, heads = 2, inter = 0, max_pos = 512, type_vocab = 2, cased = 0;
    double dropout = 0.1;
    unsigned long long seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *ip = strcmp(a, "--layers") == 0 ? &layers : strcmp(a, "--hidden") == 0 ? &hidden
                : strcmp(a, "--heads") == 0 ? &heads : strcmp(a, "--intermediate") == 0 ? &inter
                : strcmp(a, "--max-position") == 0 ? &max_pos : strcmp(a, "--type-vocab") == 0 ? &type_vocab : NULL;
        if (ip && v) {
            if (!cli_parse_int("init", a, v, 1, ip)) return CLI_USAGE;
            i++;
        } else if (strcmp(a, "--vocab") == 0 && v) vocab = v, i++;
        else if (strcmp(a, "--act") == 0 && v) act = v, i++;
        else if (strcmp(a, "--positions") == 0 && v) positions = v, i++;
        else if (strcmp(a, "--dropout") == 0 && v) dropout = atof(v), i++;
        else if (strcmp(a, "--seed") == 0 && v) seed = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--cased") == 0) cased = 1;
        else if (a[0] != '-' && !out) out = a;
        else return cli_help_if_asked(a, usage), cli_usage_error("init", usage, "unexpected argument '%s'", a);
    }
    if (!out || !vocab) return cli_usage_error("init", usage, "needs OUT_DIR and --vocab FILE");
    if (strcmp(positions, "learned") != 0 && strcmp(positions, "sinusoidal") != 0)
        return cli_error("init", "--positions must be 'learned' or 'sinusoidal', not '%s'", positions), CLI_USAGE;
    if (!(dropout >= 0 && dropout < 1)) return cli_error("init", "--dropout must be in [0, 1)"), CLI_USAGE;
    if (!inter) inter = 4 * hidden;
    struct stat st;
    if (stat(out, &st) == 0) return cli_error("init", "%s already exists; not overwriting it", out);
    char stage[4096], path[8200], msg[8400] = "";
    snprintf(stage, sizeof stage, "%s.init", out);
    remove_staging(stage);
    if (mkdir(stage, 0755) != 0) return cli_error("init", "%s: cannot create: %s", stage, strerror(errno));
    snprintf(path, sizeof path, "%s/vocab.txt", stage);
    int ok = copy_text(vocab, path, msg, sizeof msg);
    ok = ok && cli_write_tokenizer_files("init", stage, !cased, max_pos); /* BertTokenizer's defaults, written out */
    /* the vocabulary decides vocab_size and the padding id */
    bert_tokenizer *tok = NULL;
    bert_error err;
    if (ok && bert_tokenizer_load(stage, &tok, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    for (int s = BERT_SPECIAL_UNK; ok && s <= BERT_SPECIAL_MASK; s++)
        if (bert_tokenizer_special_id(tok, (bert_special)s) < 0)
            snprintf(msg, sizeof msg, "%s lacks [PAD], [UNK], [CLS], [SEP] or [MASK]", vocab), ok = 0;
    if (ok) {
        cJSON *c = cJSON_CreateObject();
        cJSON *arch = cJSON_AddArrayToObject(c, "architectures");
        cJSON_AddItemToArray(arch, cJSON_CreateString("BertForPreTraining"));
        cJSON_AddStringToObject(c, "model_type", "bert");
        cJSON_AddNumberToObject(c, "vocab_size", bert_tokenizer_vocab_size(tok));
        cJSON_AddNumberToObject(c, "hidden_size", hidden);
        cJSON_AddNumberToObject(c, "num_hidden_layers", layers);
        cJSON_AddNumberToObject(c, "num_attention_heads", heads);
        cJSON_AddNumberToObject(c, "intermediate_size", inter);
        cJSON_AddStringToObject(c, "hidden_act", act);
        cJSON_AddNumberToObject(c, "hidden_dropout_prob", dropout);
        cJSON_AddNumberToObject(c, "attention_probs_dropout_prob", dropout);
        cJSON_AddNumberToObject(c, "max_position_embeddings", max_pos);
        cJSON_AddNumberToObject(c, "type_vocab_size", type_vocab);
        cJSON_AddNumberToObject(c, "initializer_range", 0.02);
        cJSON_AddNumberToObject(c, "layer_norm_eps", 1e-12);
        cJSON_AddNumberToObject(c, "pad_token_id", bert_tokenizer_special_id(tok, BERT_SPECIAL_PAD));
        cJSON_AddStringToObject(c, "position_embedding_type", "absolute");
        if (strcmp(positions, "sinusoidal") == 0) cJSON_AddBoolToObject(c, "sinusoidal_position_embeddings", 1);
        cJSON_AddStringToObject(c, "torch_dtype", "float32");
        cJSON_AddStringToObject(c, "transformers_version", "4.46.0");
        ok = cli_write_json("init", stage, "config.json", c);
        cJSON_Delete(c);
    }
    bert_tokenizer_free(tok);
    bert_trainer *t = NULL;
    if (ok) {
        bert_train_params tp = bert_train_default_params();
        tp.task = BERT_TASK_PRETRAINING;
        tp.from_scratch = 1;
        tp.seed = seed;
        if (bert_trainer_open(stage, &tp, &t, NULL, &err) != BERT_OK || bert_trainer_save(t, out, 0, NULL, &err) != BERT_OK)
            snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    }
    if (ok) {
        const bert_config *c = bert_model_config(bert_trainer_model(t));
        fprintf(stderr, "bert init: %s: %d layers, hidden %d, %d heads, intermediate %d, vocabulary %d, %s positions, "
                        "%.2f M parameters\n", out, c->num_hidden_layers, c->hidden_size, c->num_attention_heads,
                c->intermediate_size, c->vocab_size, positions, bert_model_n_params(bert_trainer_model(t)) / 1e6);
    }
    bert_trainer_free(t);
    remove_staging(stage);
    return ok ? CLI_OK : *msg ? cli_error("init", "%s", msg) : CLI_ERROR; /* the writers print their own */
}
