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

/* A context's thread count is bounded like a pipeline's and a trainer's:
 * each thread gets a T x T scratch block, so 10^6 threads would be
 * gigabytes asked for by one field. */
TEST(hostile_context_threads_bounded) {
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/classifier-4l", NULL, &m, &err), err);
    if (!m) return;
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = 1000000;
    bert_context *ctx = NULL;
    CHECK_ERR(bert_context_create(m, &cp, &ctx, &err), err, BERT_ERR_INPUT, "n_threads 1000000: at most");
    CHECK(ctx == NULL);
    bert_model_free(m);
}
