/* test_config_hostile.c — config.json label maps with ids no int holds. */
#include "model/config.h"
#include "test.h"

TEST(hostile_config_label2id_id_out_of_int_range) {
    static const char *const bad[] = {"{\"id2label\":{},\"label2id\":{\"\":4e46}}",
                                      "{\"id2label\":{\"0\":\"a\"},\"label2id\":{\"a\":-1e300}}",
                                      "{\"id2label\":{\"0\":\"a\"},\"label2id\":{\"a\":0.5}}",
                                      "{\"id2label\":{\"0\":\"a\"},\"label2id\":{\"a\":\"0\"}}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        bert_config_full c;
        bert_error err;
        CHECK_ERR(bert_config_parse(bad[k], "config.json", &c, &err), err, BERT_ERR_CONFIG, "disagrees with id2label");
    }
    bert_config_full c;
    bert_error err;
    CHECK_OK(bert_config_parse("{\"id2label\":{\"0\":\"a\",\"1\":\"b\"},\"label2id\":{\"b\":1,\"a\":0}}", "config.json", &c, &err),
             err);
    bert_config_free(&c);
}
