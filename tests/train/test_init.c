/* A model created from a config (`bert init`): BERT's initialisation, and
 * fixed sinusoidal positions that training leaves alone. */
#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "train/trainer.h"

static void make_dir(char *dir, size_t cap, int sinusoidal) {
    snprintf(dir, cap, "%s/init-%d", test_tmpdir(), sinusoidal);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp tests/fixtures/tasks/mlm/vocab.txt tests/fixtures/tasks/mlm/tokenizer_config.json %s/", dir, dir);
    CHECK(system(cmd) == 0);
    char cfg[600], path[1100];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"bert\", \"vocab_size\": 242, \"hidden_size\": 16, \"num_hidden_layers\": 1, "
             "\"num_attention_heads\": 2, \"intermediate_size\": 32, \"max_position_embeddings\": 64, "
             "\"pad_token_id\": 1, \"initializer_range\": 0.02%s}",
             sinusoidal ? ", \"sinusoidal_position_embeddings\": true" : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(test_write_file(path, cfg, strlen(cfg)) == 0);
}

TEST(train_from_scratch_initialises_as_bert) {
    char dir[1024];
    make_dir(dir, sizeof dir, 1);
    bert_train_params p = bert_train_default_params();
    p.task = BERT_TASK_PRETRAINING;
    p.lr = 1e-2;
    p.total_steps = 3;
    p.warmup_ratio = 0;
    bert_trainer *t = NULL;
    bert_error err;
    /* without from_scratch the missing weights are an error, never a silent random model */
    CHECK(bert_trainer_open(dir, &p, &t, NULL, &err) != BERT_OK);
    p.from_scratch = 1;
    CHECK_OK(bert_trainer_open(dir, &p, &t, NULL, &err), err);
    if (!t) return;
    const bert_weights *w = &t->model->w;
    int C = 16, P = 64, V = 242;
    double ss = 0, worst_pos = 0;
    int pad_zero = 1, ln_ok = 1;
    for (int i = 0; i < C; i++) {
        pad_zero &= w->word[1 * C + i] == 0.0f; /* pad_token_id 1 */
        ln_ok &= w->emb_ln.w[i] == 1.0f && w->emb_ln.b[i] == 0.0f && w->mlm_ln.w[i] == 1.0f && w->layers[0].out_ln.w[i] == 1.0f;
    }
    for (int i = 0; i < V * C; i++) ss += (double)w->word[i] * w->word[i];
    for (int pos = 0; pos < P; pos++)
        for (int i = 0; i < C; i++) {
            double angle = pos / pow(10000.0, (double)(i - i % 2) / C), want = i % 2 ? cos(angle) : sin(angle);
            worst_pos = fmax(worst_pos, fabs(w->pos[pos * C + i] - want));
        }
    double sd = sqrt(ss / ((V - 1) * C));
    CHECK(pad_zero && ln_ok);
    CHECK(fabs(sd - 0.02) < 0.002);
    CHECK(worst_pos < 1e-6);
    CHECK(w->mlm_decoder == w->word); /* tied */
    /* training moves everything but the fixed table */
    float *pos0 = malloc(sizeof(float) * P * C), *word0 = malloc(sizeof(float) * V * C);
    memcpy(pos0, w->pos, sizeof(float) * P * C);
    memcpy(word0, w->word, sizeof(float) * V * C);
    int32_t ids[12] = {3, 20, 30, 40, 5, 50, 60, 4, 70, 80, 90, 4}, types[12] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    float labels[13];
    for (int i = 0; i < 12; i++) labels[i] = i % 3 == 1 ? (float)(100 + i) : -100.0f;
    labels[12] = 1;
    bert_sequence s = {.input_ids = ids, .token_type_ids = types, .n_tokens = 12};
    double loss;
    for (int k = 0; k < 3; k++) CHECK_OK(bert_trainer_step(t, &s, 1, labels, &loss, NULL, &err), err);
    CHECK(memcmp(pos0, w->pos, sizeof(float) * P * C) == 0);
    CHECK(memcmp(word0, w->word, sizeof(float) * V * C) != 0);
    /* the flag survives a save and every loader sees it */
    char out[1100];
    snprintf(out, sizeof out, "%s/saved", dir);
    CHECK_OK(bert_trainer_save(t, out, 0, NULL, &err), err);
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(out, NULL, &m, &err), err);
    if (m) CHECK(bert_model_config(m)->sinusoidal_positions == 1);
    bert_model_free(m);
    free(pos0), free(word0);
    bert_trainer_free(t);
}

/* An MLM trainer on a model created from make_dir's config (learned positions). */
static bert_trainer *open_mlm_from_scratch(double lr) {
    char dir[1024];
    make_dir(dir, sizeof dir, 0);
    bert_train_params p = bert_train_default_params();
    p.task = BERT_TASK_MLM;
    p.from_scratch = 1;
    p.lr = lr;
    p.warmup_ratio = 0;
    bert_trainer *t = NULL;
    bert_error err;
    CHECK_OK(bert_trainer_open(dir, &p, &t, NULL, &err), err);
    return t;
}

TEST(train_learned_positions_are_trained) {
    bert_trainer *t = open_mlm_from_scratch(1e-2);
    bert_error err;
    if (!t) return;
    float pos0[64 * 16];
    memcpy(pos0, t->model->w.pos, sizeof pos0);
    int32_t ids[6] = {3, 20, 5, 40, 50, 4};
    float labels[6] = {-100, -100, 30, -100, -100, -100};
    bert_sequence s = {.input_ids = ids, .n_tokens = 6};
    double loss;
    CHECK_OK(bert_trainer_step(t, &s, 1, labels, &loss, NULL, &err), err);
    CHECK(memcmp(pos0, t->model->w.pos, sizeof pos0) != 0);
    bert_trainer_free(t);
}

/* Every token of every sequence labelled (the API allows it; the built-in
 * masker labels 15 %): the MLM head's scratch holds its eight [tokens x C]
 * buffers besides the shared one (ASan shows an overflow otherwise). */
TEST(train_mlm_with_every_token_labelled) {
    bert_trainer *t = open_mlm_from_scratch(bert_train_default_params().lr);
    bert_error err;
    if (!t) return;
    enum { S = 4, T = 60 };
    int32_t ids[S][T];
    float labels[S * T];
    bert_sequence seqs[S];
    for (int s = 0; s < S; s++) {
        for (int i = 0; i < T; i++) ids[s][i] = 5 + (s * 31 + i * 7) % 200, labels[s * T + i] = (float)(5 + (i * 13 + s) % 200);
        seqs[s] = (bert_sequence){.input_ids = ids[s], .n_tokens = T};
    }
    double loss[2];
    for (int k = 0; k < 2; k++) CHECK_OK(bert_trainer_step(t, seqs, S, labels, &loss[k], NULL, &err), err);
    CHECK(isfinite(loss[0]) && loss[0] > 4.0); /* ~ln(242) from a random start */
    CHECK(isfinite(loss[1]));
    bert_trainer_free(t);
}
