/* random_model.c — a random BertModel written as a Hugging Face directory,
 * for tests that need shapes the fixtures lack (test.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "test.h"

int test_write_random_model(const char *dir, int C, int heads, int I) {
    const int V = 200, P = 128;
    char path[1024], cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\", \"hidden_size\": %d,"
             " \"num_hidden_layers\": 1, \"num_attention_heads\": %d, \"intermediate_size\": %d,"
             " \"vocab_size\": %d, \"max_position_embeddings\": %d, \"type_vocab_size\": 2}\n",
             C, heads, I, V, P);
    bert_error err;
    if (mkdir(dir, 0755) != 0) return 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (test_write_file(path, cfg, strlen(cfg)) != 0) return 0;
    static const char *dense[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                  "attention.output.dense", "intermediate.dense", "output.dense"};
    static const char *norms[] = {"embeddings.LayerNorm", "encoder.layer.0.attention.output.LayerNorm",
                                  "encoder.layer.0.output.LayerNorm"};
    st_write_tensor ts[32];
    char names[32][96];
    float *data[32];
    int n = 0;
    uint32_t seed = (uint32_t)(C * 131 + heads);
#define ADD(rows, cols, scale, ...)                                                                            \
    do {                                                                                                       \
        size_t k_ = (size_t)(rows) * (size_t)((cols) ? (cols) : 1);                                            \
        data[n] = malloc(sizeof(float) * k_);                                                                  \
        for (size_t i_ = 0; i_ < k_; i_++) {                                                                   \
            seed = seed * 1664525u + 1013904223u;                                                              \
            data[n][i_] = (scale) * ((float)(seed >> 8) / 8388608.0f - 1.0f);                                   \
        }                                                                                                      \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                                      \
        ts[n] = (st_write_tensor){.name = names[n], .dtype = ST_F32, .ndim = (cols) ? 2 : 1,                    \
                                  .shape = {(rows), (cols)}, .data = data[n]};                                 \
        n++;                                                                                                   \
    } while (0)
    ADD(V, C, 1.0f, "embeddings.word_embeddings.weight");
    ADD(P, C, 0.5f, "embeddings.position_embeddings.weight");
    ADD(2, C, 0.5f, "embeddings.token_type_embeddings.weight");
    for (int d = 0; d < 6; d++) {
        int out = d == 4 ? I : C, in = d == 5 ? I : C;
        ADD(out, in, 1.5f / sqrtf((float)in), "encoder.layer.0.%s.weight", dense[d]);
        ADD(out, 0, 0.1f, "encoder.layer.0.%s.bias", dense[d]);
    }
    for (int k = 0; k < 3; k++) {
        ADD(C, 0, 1.0f, "%s.weight", norms[k]);
        ADD(C, 0, 0.1f, "%s.bias", norms[k]);
    }
    ADD(C, C, 0.2f, "pooler.dense.weight");
    ADD(C, 0, 0.1f, "pooler.dense.bias");
#undef ADD
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    bert_status rc = st_write(path, ts, n, "{\"format\":\"pt\"}", &err);
    for (int i = 0; i < n; i++) free(data[i]);
    return rc == BERT_OK;
}
