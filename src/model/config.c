/* config.c — BertConfig from config.json.
 *
 * Defaults are BertConfig's (transformers/models/bert/configuration_bert.py)
 * so a config that omits a field means what it means to Hugging Face. */
#include "model/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "util/error.h"

/* key (id2label, intent_id2label): {"0": "NEG", "1": "POS"}; ids must be
 * exactly 0..n-1. inverse (label2id, intent_label2id), when present, must
 * say the same thing. */
static bert_status parse_labels(const cJSON *root, const char *key, const char *inverse, char ***labels, int *count,
                                bert_error *err) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!m || cJSON_IsNull(m)) return BERT_OK;
    if (!cJSON_IsObject(m)) return bert_fail(err, BERT_ERR_CONFIG, "field '%s' must be an object", key);
    int n = cJSON_GetArraySize(m);
    char **l = *labels = calloc((size_t)(n ? n : 1), sizeof *l);
    if (!l) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    *count = n;
    for (const cJSON *e = m->child; e; e = e->next) {
        char *end;
        errno = 0;
        long id = strtol(e->string, &end, 10);
        if (*e->string == '\0' || *end || errno || id < 0 || id >= n)
            return bert_fail(err, BERT_ERR_CONFIG, "%s key '%s' is not an id in 0..%d", key, e->string, n - 1);
        if (!cJSON_IsString(e)) return bert_fail(err, BERT_ERR_CONFIG, "%s['%s'] must be a string", key, e->string);
        if (l[id]) return bert_fail(err, BERT_ERR_CONFIG, "%s has id %ld twice", key, id);
        if (!(l[id] = strdup(e->valuestring))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(root, inverse);
    if (l2i && cJSON_IsObject(l2i)) {
        for (const cJSON *e = l2i->child; e; e = e->next) {
            double v = cJSON_IsNumber(e) ? e->valuedouble : -1; /* checked before the cast: 4e46 is no int */
            int id = v >= 0 && v < n && v == (double)(long)v ? (int)v : -1;
            if (id < 0 || !l[id] || strcmp(l[id], e->string) != 0)
                return bert_fail(err, BERT_ERR_CONFIG, "%s['%s'] disagrees with %s", inverse, e->string, key);
        }
    }
    return BERT_OK;
}

/* A joint intent + slot model's intents and their problem type. */
static bert_status parse_intents(const cJSON *root, bert_config_full *c, bert_error *err) {
    bert_status rc = parse_labels(root, "intent_id2label", "intent_label2id", &c->intents, &c->pub.num_intents, err);
    char *problem = NULL;
    if (rc == BERT_OK) rc = bert_json_string(root, "intent_problem_type", "single_label_classification", &problem, err);
    if (rc == BERT_OK && strcmp(problem, "single_label_classification") != 0 && strcmp(problem, "multi_label_classification") != 0)
        rc = bert_fail(err, BERT_ERR_CONFIG, "intent_problem_type must be single_label_classification or multi_label_classification");
    if (rc == BERT_OK) c->pub.intent_multi_label = strcmp(problem, "multi_label_classification") == 0;
    free(problem);
    if (rc == BERT_OK) rc = bert_json_int(root, "dialogue_context_turns", 0, &c->pub.dialogue_context_turns, err);
    if (rc == BERT_OK) rc = bert_json_int(root, "dialogue_max_length", 0, &c->pub.dialogue_max_length, err);
    if (rc == BERT_OK && (c->pub.dialogue_context_turns < 0 || c->pub.dialogue_context_turns > 1000 ||
                          c->pub.dialogue_max_length < 0 || c->pub.dialogue_max_length > 1 << 20))
        rc = bert_fail(err, BERT_ERR_CONFIG, "dialogue_context_turns / dialogue_max_length out of range");
    return rc;
}

static bert_status parse_fields(const cJSON *root, bert_config_full *c, bert_error *err) {
    bert_config *p = &c->pub;
    bert_status rc;
#define INT_FIELD(name, def) \
    if ((rc = bert_json_int(root, #name, def, &p->name, err)) != BERT_OK) return rc
    INT_FIELD(vocab_size, 30522);
    INT_FIELD(hidden_size, 768);
    INT_FIELD(num_hidden_layers, 12);
    INT_FIELD(num_attention_heads, 12);
    INT_FIELD(intermediate_size, 3072);
    INT_FIELD(max_position_embeddings, 512);
    INT_FIELD(type_vocab_size, 2);
    INT_FIELD(pad_token_id, 0);
#undef INT_FIELD
    if ((rc = bert_json_double(root, "layer_norm_eps", 1e-12, &p->layer_norm_eps, err)) != BERT_OK) return rc;
    if ((rc = bert_json_string(root, "hidden_act", "gelu", &c->hidden_act, err)) != BERT_OK) return rc;
    if ((rc = bert_json_string(root, "position_embedding_type", "absolute", &c->position_embedding_type, err)) != BERT_OK)
        return rc;
    if ((rc = bert_json_string(root, "problem_type", "", &c->problem_type, err)) != BERT_OK) return rc;
    const cJSON *sin = cJSON_GetObjectItemCaseSensitive(root, "sinusoidal_position_embeddings");
    if (sin && !cJSON_IsBool(sin) && !cJSON_IsNull(sin))
        return bert_fail(err, BERT_ERR_CONFIG, "field 'sinusoidal_position_embeddings' must be true or false");
    p->sinusoidal_positions = cJSON_IsTrue(sin);
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
    if (arch && !cJSON_IsNull(arch) && !(cJSON_IsArray(arch) && (!a0 || cJSON_IsString(a0))))
        return bert_fail(err, BERT_ERR_CONFIG, "field 'architectures' must be a list of strings");
    if (!(c->architecture = strdup(a0 ? a0->valuestring : ""))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    char *model_type = NULL;
    if ((rc = bert_json_string(root, "model_type", "bert", &model_type, err)) != BERT_OK) return rc;
    int is_bert = strcmp(model_type, "bert") == 0;
    free(model_type);
    if (!is_bert)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "model_type is not 'bert' (other encoders place positions "
                                                    "and weights differently)");
    rc = parse_labels(root, "id2label", "label2id", &c->labels, &c->pub.num_labels, err);
    return rc == BERT_OK ? parse_intents(root, c, err) : rc;
}

/* Sizes that make the model impossible or unsupported. */
static bert_status check(bert_config_full *c, bert_error *err) {
    bert_config *p = &c->pub;
    struct {
        const char *name;
        int value, min;
    } sizes[] = {
        {"vocab_size", p->vocab_size, 1},
        {"hidden_size", p->hidden_size, 1},
        {"num_hidden_layers", p->num_hidden_layers, 0},
        {"num_attention_heads", p->num_attention_heads, 1},
        {"intermediate_size", p->intermediate_size, 1},
        {"max_position_embeddings", p->max_position_embeddings, 1},
        {"type_vocab_size", p->type_vocab_size, 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < sizes[i].min)
            return bert_fail(err, BERT_ERR_CONFIG, "%s = %d must be at least %d", sizes[i].name, sizes[i].value,
                             sizes[i].min);
    if (p->hidden_size % p->num_attention_heads != 0)
        return bert_fail(err, BERT_ERR_CONFIG, "hidden_size %d is not a multiple of num_attention_heads %d",
                         p->hidden_size, p->num_attention_heads);
    int act = bert_activation_from_name(c->hidden_act);
    if (act < 0)
        return bert_fail(err, BERT_ERR_UNSUPPORTED,
                         "hidden_act '%s' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu)",
                         c->hidden_act);
    c->act = (bert_activation)act;
    if (strcmp(c->position_embedding_type, "absolute") != 0)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "position_embedding_type '%s' is not supported (absolute)",
                         c->position_embedding_type);
    if (!(p->layer_norm_eps > 0.0f)) return bert_fail(err, BERT_ERR_CONFIG, "layer_norm_eps must be positive");
    p->hidden_act = c->hidden_act;
    p->position_embedding_type = c->position_embedding_type;
    p->problem_type = c->problem_type;
    p->architecture = c->architecture;
    return BERT_OK;
}

bert_status bert_config_parse(const char *text, const char *path, bert_config_full *out, bert_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *root;
    bert_status rc = bert_json_parse(text, path, &root, err);
    if (rc != BERT_OK) return rc;
    if (!cJSON_IsObject(root)) rc = bert_fail(err, BERT_ERR_CONFIG, "top level is not a JSON object");
    if (rc == BERT_OK) rc = parse_fields(root, out, err);
    if (rc == BERT_OK) rc = check(out, err);
    cJSON_Delete(root);
    if (rc != BERT_OK) {
        if (rc != BERT_ERR_FORMAT) bert_error_prefix(err, "%s", path);
        bert_config_free(out);
    }
    return rc;
}

bert_status bert_config_load(const char *dir, bert_config_full *out, bert_error *err) {
    char path[PATH_MAX];
    char *text;
    bert_status rc = bert_path_join(path, sizeof path, dir, "config.json", err);
    if (rc == BERT_OK) rc = bert_file_read_text(path, &text, NULL, err);
    if (rc != BERT_OK) return rc;
    rc = bert_config_parse(text, path, out, err);
    free(text);
    return rc;
}

void bert_config_free(bert_config_full *c) {
    if (!c) return;
    for (int i = 0; c->labels && i < c->pub.num_labels; i++) free(c->labels[i]);
    free(c->labels);
    for (int i = 0; c->intents && i < c->pub.num_intents; i++) free(c->intents[i]);
    free(c->intents);
    free(c->hidden_act);
    free(c->position_embedding_type);
    free(c->problem_type);
    free(c->architecture);
    memset(c, 0, sizeof *c);
}
