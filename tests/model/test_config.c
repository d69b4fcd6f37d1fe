/* test_config.c — config.json parsing: defaults, checks, error messages. */
#include "model/config.h"
#include "test.h"

TEST(config_defaults_are_bertconfig_defaults) {
    bert_config_full c;
    bert_error err;
    CHECK_OK(bert_config_parse("{}", "config.json", &c, &err), err);
    CHECK(c.pub.vocab_size == 30522 && c.pub.hidden_size == 768 && c.pub.num_hidden_layers == 12);
    CHECK(c.pub.num_attention_heads == 12 && c.pub.intermediate_size == 3072);
    CHECK(c.pub.max_position_embeddings == 512 && c.pub.type_vocab_size == 2 && c.pub.pad_token_id == 0);
    CHECK(c.pub.layer_norm_eps == 1e-12 && strcmp(c.pub.hidden_act, "gelu") == 0 && c.act == BERT_ACT_GELU);
    CHECK(strcmp(c.pub.position_embedding_type, "absolute") == 0 && c.pub.num_labels == 0);
    bert_config_free(&c);
}

TEST(config_reads_labels_and_architecture) {
    bert_config_full c;
    bert_error err;
    const char *json = "{\"architectures\": [\"BertForTokenClassification\"], \"hidden_act\": \"gelu_new\","
                       "\"id2label\": {\"1\": \"B-PER\", \"0\": \"O\", \"2\": \"I-PER\"},"
                       "\"label2id\": {\"O\": 0, \"B-PER\": 1, \"I-PER\": 2}, \"problem_type\": null}";
    CHECK_OK(bert_config_parse(json, "config.json", &c, &err), err);
    CHECK(c.pub.num_labels == 3 && strcmp(c.labels[0], "O") == 0 && strcmp(c.labels[2], "I-PER") == 0);
    CHECK(strcmp(c.pub.architecture, "BertForTokenClassification") == 0 && c.act == BERT_ACT_GELU_TANH);
    CHECK(strcmp(c.pub.problem_type, "") == 0);
    bert_config_free(&c);
}

TEST(config_errors_name_the_field) {
    bert_config_full c;
    bert_error err;
    CHECK_ERR(bert_config_parse("{\"hidden_size\": 100, \"num_attention_heads\": 12}", "m/config.json", &c, &err), err,
              BERT_ERR_CONFIG, "m/config.json: hidden_size 100 is not a multiple of num_attention_heads 12");
    CHECK_ERR(bert_config_parse("{\"hidden_size\": \"768\"}", "config.json", &c, &err), err, BERT_ERR_CONFIG,
              "field 'hidden_size' must be an integer");
    CHECK_ERR(bert_config_parse("{\"num_hidden_layers\": 2.5}", "config.json", &c, &err), err, BERT_ERR_CONFIG,
              "'num_hidden_layers' must be an integer");
    CHECK_ERR(bert_config_parse("{\"vocab_size\": 0}", "config.json", &c, &err), err, BERT_ERR_CONFIG,
              "vocab_size = 0 must be at least 1");
    CHECK_ERR(bert_config_parse("{\"hidden_act\": \"mish\"}", "config.json", &c, &err), err, BERT_ERR_UNSUPPORTED,
              "hidden_act 'mish'");
    CHECK_ERR(bert_config_parse("{\"position_embedding_type\": \"relative_key\"}", "config.json", &c, &err), err,
              BERT_ERR_UNSUPPORTED, "relative_key");
    CHECK_ERR(bert_config_parse("{\"model_type\": \"roberta\"}", "config.json", &c, &err), err, BERT_ERR_UNSUPPORTED,
              "model_type");
    CHECK_ERR(bert_config_parse("{\"layer_norm_eps\": 0}", "config.json", &c, &err), err, BERT_ERR_CONFIG,
              "layer_norm_eps");
    CHECK_ERR(bert_config_parse("{\"id2label\": {\"0\": \"A\", \"5\": \"B\"}}", "config.json", &c, &err), err,
              BERT_ERR_CONFIG, "id2label key '5'");
    CHECK_ERR(bert_config_parse("{\"id2label\": {\"0\": \"A\"}, \"label2id\": {\"B\": 0}}", "config.json", &c, &err), err,
              BERT_ERR_CONFIG, "label2id['B']");
    CHECK_ERR(bert_config_parse("[1]", "config.json", &c, &err), err, BERT_ERR_CONFIG, "not a JSON object");
}

TEST(config_malformed_json_gives_line_and_column) {
    bert_config_full c;
    bert_error err;
    CHECK_ERR(bert_config_parse("{\n  \"hidden_size\": 768,\n  \"vocab_size\": ,\n}", "dir/config.json", &c, &err), err,
              BERT_ERR_FORMAT, "dir/config.json: malformed JSON at line 3");
    CHECK_ERR(bert_config_parse("", "config.json", &c, &err), err, BERT_ERR_FORMAT, "malformed JSON");
}
