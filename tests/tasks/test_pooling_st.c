/* test_pooling_st.c — sentence embeddings against sentence-transformers
 * itself. tests/fixtures/conformance/st_embeddings.jsonl holds what
 * SentenceTransformer(dir).encode(texts, prompt=..., prompt_name=...) gave
 * for model directories made of the random-weight BERT fixture
 * (tests/fixtures/tasks/sentence-transformer) plus the modules that
 * sentence-transformers saved in tests/fixtures/conformance/st-NAME/: every
 * Pooling mode, several at once, include_prompt, prompts and a default
 * prompt, Dense modules (Tanh, Identity, ReLU, GELU, Sigmoid, with and
 * without bias) and Normalize before or after them
 * (tools/make_conformance_goldens.py). Required: the same number of values
 * and every value within 1e-5. Also: the pooling arithmetic by hand, and
 * what is refused. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "io/fs.h"
#include "test.h"

/* The goldens: the committed ones, or BERT_CONFORMANCE_DIR's (made
 * afresh by the peers in tests/cli/test_conform_embed.sh). */
static const char *conf_dir(void) {
    const char *d = getenv("BERT_CONFORMANCE_DIR");
    return d && *d ? d : "tests/fixtures/conformance";
}
#define ST_BASE "tests/fixtures/tasks/sentence-transformer"

/* A model directory: the fixture BERT plus conformance module folder `name`. */
static const char *make_dir(const char *name, char *dir, size_t n) {
    static const char *const base[] = {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"};
    char from[512], to[600];
    bert_error err;
    snprintf(dir, n, "%s/%s", test_tmpdir(), name);
    snprintf(from, sizeof from, "%s/%s", conf_dir(), name);
    struct stat st;
    if (stat(dir, &st) == 0) return dir;
    if (bert_dir_copy(from, dir, &err) != BERT_OK) {
        test_fail(__FILE__, __LINE__, "%s", err.message);
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, ST_BASE "/%s", base[i]);
        snprintf(to, sizeof to, "%s/%s", dir, base[i]);
        if (test_copy_file(from, to) != 0) return NULL;
    }
    return dir;
}

static const char *str_or_null(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One encode call of the golden file; returns the largest difference. */
static double check_call(const cJSON *c, int *calls) {
    const char *name = str_or_null(c, "model");
    char dir[512];
    if (!make_dir(name, dir, sizeof dir)) return 1e9;
    bert_pipeline *p = NULL;
    bert_error err;
    CHECK_OK(bert_pipeline_open(dir, NULL, &p, &err), err);
    if (!p) return 1e9;
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(c, "texts"), *want = cJSON_GetObjectItemCaseSensitive(c, "embeddings");
    int n = cJSON_GetArraySize(texts), dim = (int)cJSON_GetObjectItemCaseSensitive(c, "dim")->valuedouble;
    const char *tv[16];
    int k = 0;
    for (const cJSON *t = texts->child; t && k < 16; t = t->next) tv[k++] = t->valuestring;
    bert_embed_params ep = bert_embed_default_params();
    ep.prompt = str_or_null(c, "prompt");
    ep.prompt_name = str_or_null(c, "prompt_name");
    double worst = 0;
    if (bert_embed_dim(p, &ep) != dim) {
        test_fail(__FILE__, __LINE__, "%s: %d values per text, sentence-transformers has %d", name,
                  bert_embed_dim(p, &ep), dim);
        worst = 1e9;
    } else {
        float *out = malloc(sizeof(float) * (size_t)n * (size_t)dim);
        CHECK_OK(bert_embed_texts(p, tv, n, &ep, out, (size_t)n * (size_t)dim, &err), err);
        int i = 0;
        for (const cJSON *row = want->child; row; row = row->next, i++) {
            int j = 0;
            for (const cJSON *v = row->child; v; v = v->next, j++) {
                double d = fabs(v->valuedouble - out[(size_t)i * dim + j]);
                if (d > worst) worst = d;
            }
        }
        if (worst > 1e-5)
            test_fail(__FILE__, __LINE__, "%s prompt '%s' prompt_name '%s': differs by %g", name,
                      ep.prompt ? ep.prompt : "-", ep.prompt_name ? ep.prompt_name : "-", worst);
        free(out);
    }
    (*calls)++;
    bert_pipeline_free(p);
    return worst;
}

TEST(pooling_st_matches_sentence_transformers) {
    char path[600];
    snprintf(path, sizeof path, "%s/st_embeddings.jsonl", conf_dir());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int calls = 0;
    double worst = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *c = cJSON_Parse(line);
        CHECK(c != NULL);
        if (!c) continue;
        double d = check_call(c, &calls);
        worst = d > worst ? d : worst;
        cJSON_Delete(c);
    }
    free(line);
    fclose(f);
    printf("  sentence-transformers encode calls: %d, largest difference %.2g\n", calls, worst);
    CHECK(calls >= 20);
}

/* The modes by hand on 3 tokens of 2 values, the middle one masked. */
TEST(pooling_states_by_hand) {
    const float h[] = {1, -2, 3, 4, 5, 6};
    const int32_t mask[] = {1, 0, 1};
    float out[12];
    bert_error err;
    unsigned all = (1u << BERT_POOL_N_MODES) - 1;
    CHECK_OK(bert_pool_states(h, mask, 3, 2, all, 0, out, &err), err);
    /* cls, max, mean, mean_sqrt_len, weighted_mean (weights 1 and 3), last */
    const float want[] = {1, -2, 5, 6, 3, 2, 6 / sqrtf(2), 4 / sqrtf(2), 4, 4, 5, 6};
    CHECK(test_max_abs_diff(out, want, 12) < 1e-6);
    /* include_prompt = false with a 1-token prompt: token 0 leaves every
     * mode, and with max on, cls reads the -1e9 that masking put there. */
    CHECK_OK(bert_pool_states(h, mask, 3, 2, (1u << BERT_POOL_CLS) | (1u << BERT_POOL_MAX) | (1u << BERT_POOL_MEAN), 1, out,
                              &err), err);
    const float want2[] = {-1e9f, -1e9f, 5, 6, 5, 6};
    CHECK(test_max_abs_diff(out, want2, 6) < 1e-6);
    /* every token masked: max -1e9, mean 0, last token zeros */
    const int32_t none[] = {0, 0, 0};
    CHECK_OK(bert_pool_states(h, none, 3, 2, (1u << BERT_POOL_MAX) | (1u << BERT_POOL_MEAN) | (1u << BERT_POOL_LAST_TOKEN),
                              0, out, &err), err);
    const float want3[] = {-1e9f, -1e9f, 0, 0, 0, 0};
    CHECK(test_max_abs_diff(out, want3, 6) < 1e-6);
    CHECK_ERR(bert_pool_states(h, mask, 3, 2, 0, 0, out, &err), err, BERT_ERR_INPUT, "modes 0x0");
    CHECK_ERR(bert_pool_states(h, mask, 3, 2, 1u << 6, 0, out, &err), err, BERT_ERR_INPUT, "modes 0x40");
    const int32_t bad[] = {1, 2, 1};
    CHECK_ERR(bert_pool_states(h, bad, 3, 2, 1, 0, out, &err), err, BERT_ERR_INPUT, "mask[1] = 2");
}

/* Write file dir/rel with text. */
static void put(const char *dir, const char *rel, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    CHECK(test_write_file(path, text, strlen(text)) == 0);
}

#define MODULES(extra)                                                                                              \
    "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"              \
    "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}" extra "]"

/* A directory with modules.json `modules` and a cls + mean Pooling; what
 * bert_sentence_config_load says about it. */
static bert_status try_config(const char *name, const char *modules, const char *pooling, bert_error *err) {
    char dir[512], sub[600];
    snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/2_Dense", dir);
    mkdir(sub, 0755);
    put(dir, "modules.json", modules);
    put(dir, "1_Pooling/config.json", pooling ? pooling
                                              : "{\"word_embedding_dimension\":32,\"pooling_mode_cls_token\":true,"
                                                "\"pooling_mode_mean_tokens\":true}");
    bert_sentence_head *h = NULL;
    bert_status rc = bert_sentence_head_load(dir, &h, err);
    bert_sentence_head_free(h);
    return rc;
}

TEST(pooling_st_refuses_what_it_cannot_run) {
    bert_error err;
    bert_sentence_config st;
    /* cls + mean is 64 values: said, not silently cut to 32 */
    CHECK_OK(try_config("ok", MODULES(""), NULL, &err), err);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ok", test_tmpdir());
    CHECK_OK(bert_sentence_config_load(dir, &st, &err), err);
    CHECK(st.present && st.pooling == BERT_POOL_CLS && st.dim == 64 && !st.simple &&
          st.pooling_modes == ((1u << BERT_POOL_CLS) | (1u << BERT_POOL_MEAN)));
    CHECK_ERR(try_config("lstm", MODULES(",{\"path\":\"2\",\"type\":\"sentence_transformers.models.LSTM\"}"), NULL, &err),
              err, BERT_ERR_UNSUPPORTED, "module type 'sentence_transformers.models.LSTM' is not supported");
    CHECK_ERR(try_config("nopool", "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"}]", NULL, &err),
              err, BERT_ERR_UNSUPPORTED, "no Pooling module");
    CHECK_ERR(try_config("key", MODULES(""), "{\"word_embedding_dimension\":32,\"pooling_mode_magic\":true}", &err), err,
              BERT_ERR_UNSUPPORTED, "unknown Pooling setting 'pooling_mode_magic'");
    CHECK_ERR(try_config("nomode", MODULES(""), "{\"word_embedding_dimension\":32,\"pooling_mode_mean_tokens\":false}",
                         &err), err, BERT_ERR_CONFIG, "no pooling mode is on");
    CHECK_ERR(try_config("modename", MODULES(""), "{\"word_embedding_dimension\":32,\"pooling_mode\":\"median\"}", &err),
              err, BERT_ERR_CONFIG, "pooling_mode must be one of");
    snprintf(dir, sizeof dir, "%s/act", test_tmpdir());
    mkdir(dir, 0755);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/2_Dense", dir);
    mkdir(sub, 0755);
    put(dir, "2_Dense/config.json", "{\"in_features\":64,\"out_features\":8,\"bias\":true,"
                                    "\"activation_function\":\"torch.nn.modules.activation.Softsign\"}");
    CHECK_ERR(try_config("act", MODULES(",{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}"), NULL,
                         &err), err, BERT_ERR_UNSUPPORTED, "activation_function 'torch.nn.modules.activation.Softsign'");
    put(dir, "2_Dense/config.json", "{\"in_features\":32,\"out_features\":8,\"bias\":true,"
                                    "\"activation_function\":\"torch.nn.modules.activation.Tanh\"}");
    CHECK_ERR(try_config("act", MODULES(",{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}"), NULL,
                         &err), err, BERT_ERR_CONFIG, "in_features 32, but the module before gives 64");
    put(dir, "2_Dense/config.json", "{\"in_features\":64,\"out_features\":8,\"bias\":true,"
                                    "\"activation_function\":\"torch.nn.modules.activation.Tanh\"}");
    put(dir, "2_Dense/pytorch_model.bin", "not read");
    CHECK_ERR(try_config("act", MODULES(",{\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}"), NULL,
                         &err), err, BERT_ERR_UNSUPPORTED, "Dense weights in pytorch_model.bin are not read");
    CHECK_ERR(try_config("dotdot", MODULES(",{\"path\":\"../x\",\"type\":\"sentence_transformers.models.Dense\"}"), NULL,
                         &err), err, BERT_ERR_CONFIG, "needs a 'path' inside the directory");
    CHECK_ERR(try_config("sub", "[{\"path\":\"0_BERT\",\"type\":\"sentence_transformers.models.Transformer\"}]", NULL,
                         &err), err, BERT_ERR_UNSUPPORTED, "the Transformer is in '0_BERT'");
    snprintf(dir, sizeof dir, "%s/ok", test_tmpdir());
    put(dir, "sentence_bert_config.json", "{\"max_seq_length\":16,\"do_lower_case\":true}");
    CHECK_ERR(bert_sentence_config_load(dir, &st, &err), err, BERT_ERR_UNSUPPORTED, "do_lower_case = true");
    put(dir, "sentence_bert_config.json", "{\"max_seq_length\":16}");
    put(dir, "config_sentence_transformers.json", "{\"prompts\":{\"q\":\"query: \"},\"default_prompt_name\":\"p\"}");
    bert_sentence_head *h = NULL;
    CHECK_ERR(bert_sentence_head_load(dir, &h, &err), err, BERT_ERR_CONFIG, "default_prompt_name 'p' is not one of");
    bert_sentence_head_free(h);
}

/* bert_embed keeps its contract (hidden_size values per text): a
 * directory whose embeddings have another size is refused, not cut. */
TEST(pooling_st_bert_embed_refuses_other_sizes) {
    char dir[512];
    if (!make_dir("st-cls_mean", dir, sizeof dir)) return;
    bert_pipeline *p = NULL;
    bert_error err;
    CHECK_OK(bert_pipeline_open(dir, NULL, &p, &err), err);
    if (!p) return;
    const char *texts[] = {"hi"};
    float e[64];
    CHECK_ERR(bert_embed(p, texts, 1, -1, -1, e, &err), err, BERT_ERR_UNSUPPORTED, "have 64 values, not hidden_size 32");
    CHECK_OK(bert_embed(p, texts, 1, BERT_POOL_MAX, 0, e, &err), err); /* one mode: 32 values */
    bert_embed_params ep = bert_embed_default_params();
    CHECK(bert_embed_dim(p, &ep) == 64);
    CHECK_ERR(bert_embed_texts(p, texts, 1, &ep, e, 63, &err), err, BERT_ERR_INPUT, "out holds 63 floats");
    ep.prompt_name = "nope";
    CHECK_ERR(bert_embed_texts(p, texts, 1, &ep, e, 64, &err), err, BERT_ERR_INPUT, "prompt_name 'nope'");
    bert_pipeline_free(p);
    /* a Pooling made for another hidden size is refused when opening */
    put(dir, "1_Pooling/config.json", "{\"word_embedding_dimension\":16,\"pooling_mode_cls_token\":true}");
    p = NULL;
    CHECK_ERR(bert_pipeline_open(dir, NULL, &p, &err), err, BERT_ERR_CONFIG, "word_embedding_dimension is 16");
    bert_pipeline_free(p);
}
