/* cmd_info.c — `bert info MODEL_DIR [--json]`. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    unsigned flag;
    const char *name;
} head_names[] = {{BERT_HEAD_POOLER, "pooler"},
                  {BERT_HEAD_MLM, "mlm"},
                  {BERT_HEAD_NSP, "nsp"},
                  {BERT_HEAD_CLASSIFIER, "classifier"},
                  {BERT_HEAD_QA, "qa"}};
#define N_HEADS (sizeof head_names / sizeof head_names[0])

static void print_json(const char *dir, const bert_model *m) {
    const bert_config *c = bert_model_config(m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_dir", dir);
    cJSON_AddStringToObject(o, "architecture", c->architecture);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddNumberToObject(o, "type_vocab_size", c->type_vocab_size);
    cJSON_AddStringToObject(o, "hidden_act", c->hidden_act);
    cJSON_AddNumberToObject(o, "layer_norm_eps", c->layer_norm_eps);
    cJSON_AddStringToObject(o, "position_embedding_type", c->position_embedding_type);
    cJSON_AddNumberToObject(o, "pad_token_id", c->pad_token_id);
    cJSON_AddStringToObject(o, "problem_type", c->problem_type);
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    for (int i = 0; i < c->num_labels; i++) cJSON_AddItemToArray(labels, cJSON_CreateString(bert_model_label(m, i)));
    cJSON *heads = cJSON_AddArrayToObject(o, "heads");
    for (size_t i = 0; i < N_HEADS; i++)
        if (bert_model_heads(m) & head_names[i].flag) cJSON_AddItemToArray(heads, cJSON_CreateString(head_names[i].name));
    cJSON_AddNumberToObject(o, "parameters", (double)bert_model_n_params(m));
    cJSON_AddStringToObject(o, "dtypes", bert_model_dtypes(m));
    cJSON_AddStringToObject(o, "source", bert_model_source(m));
    cJSON_AddNumberToObject(o, "ignored_tensors", bert_model_n_ignored_tensors(m));
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void print_text(const char *dir, const bert_model *m) {
    const bert_config *c = bert_model_config(m);
    printf("model:          %s\n", dir);
    printf("architecture:   %s\n", *c->architecture ? c->architecture : "(not given)");
    printf("layers:         %d\n", c->num_hidden_layers);
    printf("hidden size:    %d (%d heads of %d)\n", c->hidden_size, c->num_attention_heads,
           c->hidden_size / c->num_attention_heads);
    printf("intermediate:   %d\n", c->intermediate_size);
    printf("vocabulary:     %d\n", c->vocab_size);
    printf("max positions:  %d (%s%s)\n", c->max_position_embeddings, c->position_embedding_type,
           c->sinusoidal_positions ? ", fixed sinusoidal" : "");
    printf("token types:    %d\n", c->type_vocab_size);
    printf("activation:     %s\n", c->hidden_act);
    printf("layer_norm_eps: %g\n", c->layer_norm_eps);
    printf("heads:         ");
    for (size_t i = 0; i < N_HEADS; i++)
        if (bert_model_heads(m) & head_names[i].flag) printf(" %s", head_names[i].name);
    printf("%s\n", bert_model_heads(m) ? "" : " (encoder only)");
    if (c->num_labels) {
        printf("labels:         %d (", c->num_labels);
        for (int i = 0; i < c->num_labels; i++) printf("%s%s", i ? ", " : "", bert_model_label(m, i));
        printf(")%s%s\n", *c->problem_type ? "  problem_type: " : "", c->problem_type);
    }
    int64_t n = bert_model_n_params(m);
    printf("parameters:     %lld (%.1f M)\n", (long long)n, (double)n / 1e6);
    printf("weights:        %s\n", bert_model_source(m));
    printf("dtypes:         %s\n", bert_model_dtypes(m));
    if (bert_model_n_ignored_tensors(m))
        printf("ignored:        %d tensor(s) bert.c does not use\n", bert_model_n_ignored_tensors(m));
}

int cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bert info MODEL_DIR [--json]\n");
            return CLI_OK;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bert info: unknown option '%s'; usage: bert info MODEL_DIR [--json]\n", argv[i]);
            return CLI_USAGE;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "bert info: unexpected argument '%s'\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "bert info: needs MODEL_DIR; usage: bert info MODEL_DIR [--json]\n");
        return CLI_USAGE;
    }
    bert_error err;
    bert_model *m;
    if (bert_model_load(dir, NULL, &m, &err) != BERT_OK) return cli_error("info", "%s", err.message);
    if (json) print_json(dir, m);
    else print_text(dir, m);
    bert_model_free(m);
    return CLI_OK;
}
