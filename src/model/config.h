/* config.h — BertConfig, read from config.json. */
#ifndef BERT_MODEL_CONFIG_H
#define BERT_MODEL_CONFIG_H

#include "bert.h"
#include "kernels/ops.h"

typedef struct {
    bert_config pub;     /* what bert_model_config() returns; strings below */
    bert_activation act; /* parsed hidden_act */
    char *hidden_act;
    char *position_embedding_type;
    char *problem_type;
    char *architecture;
    char **labels; /* [pub.num_labels], id2label in id order */
    char **intents; /* [pub.num_intents], intent_id2label in id order */
} bert_config_full;

/* Parse config.json text. `path` is used in error messages. Absent fields
 * take BertConfig's defaults; sizes are checked for consistency. */
bert_status bert_config_parse(const char *text, const char *path, bert_config_full *out, bert_error *err);

/* Read and parse dir/config.json. */
bert_status bert_config_load(const char *dir, bert_config_full *out, bert_error *err);

void bert_config_free(bert_config_full *c);

#endif
