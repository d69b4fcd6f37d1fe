/* test_trainer_eval.c — bert_trainer_eval is forward only, for every task
 * type: its loss is the training loss of the same batch (dropout 0), its
 * logits are what bert_forward gives on the trainer's model, and it leaves
 * the gradients, the RNG and the step alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "train/golden_batch.h"

/* Eval, then forward + backward on the same batch; compare. */
static void check_eval(const char *name, bert_task task, int num_labels, unsigned output) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/train/%s", name);
    bert_error err;
    golden_batch gb;
    if (!batch_ready(dir, &gb)) return;
    bert_train_params p = golden_params(task, 0, num_labels, 1e-3, 4, BERT_COMPUTE_F32);
    bert_trainer *t = NULL;
    CHECK_OK(bert_trainer_open(dir, &p, &t, NULL, &err), err);
    if (!t) {
        batch_close(&gb);
        return;
    }
    int N = 0;
    for (int s = 0; s < gb.B; s++) N += gb.seqs[s].n_tokens;
    int L = task == BERT_TASK_QA ? 2 : num_labels, per_token = output != BERT_OUTPUT_CLASSIFIER;
    float *logits = output ? malloc(sizeof *logits * (size_t)N * L) : NULL;
    size_t n_grads = 0;
    const float *grads = bert_trainer_gradients(t, &n_grads);
    double eval_loss = -1, train_loss = -2;
    CHECK_OK(bert_trainer_eval(t, gb.seqs, gb.B, gb.labels, &eval_loss, logits, &err), err);
    int untouched = bert_trainer_steps(t) == 0;
    for (size_t i = 0; i < n_grads; i++) untouched &= grads[i] == 0.0f;
    CHECK(untouched);
    CHECK_OK(bert_trainer_backward(t, gb.seqs, gb.B, gb.labels, &train_loss, &err), err);
    CHECK(fabs(eval_loss - train_loss) <= 1e-6);
    if (fabs(eval_loss - train_loss) > 1e-6) printf("  %s: eval loss %.9f, training loss %.9f\n", name, eval_loss, train_loss);
    if (output) {
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = 1;
        bert_context *ctx = NULL;
        CHECK_OK(bert_context_create(bert_trainer_model(t), &cp, &ctx, &err), err);
        if (ctx) CHECK_OK(bert_forward(ctx, gb.seqs, gb.B, output, &err), err);
        double worst = 0;
        for (int s = 0, row = 0; ctx && s < gb.B; s++) {
            const float *z = output == BERT_OUTPUT_QA          ? bert_output_qa_logits(ctx, s)
                             : output == BERT_OUTPUT_CLASSIFIER ? bert_output_classifier_logits(ctx, s)
                                                                : bert_output_token_classifier_logits(ctx, s);
            int rows = per_token ? gb.seqs[s].n_tokens : 1;
            CHECK(z != NULL);
            for (int i = 0; z && i < rows * L; i++) worst = fmax(worst, fabs((double)z[i] - logits[(size_t)row * L + i]));
            row += rows;
        }
        CHECK(worst <= 1e-5);
        bert_context_free(ctx);
    }
    free(logits);
    bert_trainer_free(t);
    batch_close(&gb);
}

TEST(trainer_eval_token_is_forward_only) { check_eval("token", BERT_TASK_TOKEN, 3, BERT_OUTPUT_TOKEN_CLASSIFIER); }
TEST(trainer_eval_qa_is_forward_only) { check_eval("qa", BERT_TASK_QA, 2, BERT_OUTPUT_QA); }
TEST(trainer_eval_pretraining_loss) { check_eval("pretraining", BERT_TASK_PRETRAINING, 2, 0); }
TEST(trainer_eval_sequence_loss) { check_eval("single-label", BERT_TASK_SEQUENCE, 3, BERT_OUTPUT_CLASSIFIER); }

/* A joint intent + slot model: the evaluation loss is the training loss,
 * its logits (slots, then intents) are what the inference forward gives on
 * the saved directory, whose config carries both label sets. */
TEST(trainer_eval_dialogue_saves_a_joint_model) {
    bert_error err;
    golden_batch gb;
    if (!batch_ready("tests/fixtures/train/dialogue", &gb)) return;
    static const char *const intents[] = {"book", "play", "rate", "find"};
    bert_train_params p = golden_params(BERT_TASK_DIALOGUE, 0, 3, 1e-3, 4, BERT_COMPUTE_F32);
    p.num_intents = 4, p.intents = intents;
    bert_trainer *t = NULL;
    CHECK_OK(bert_trainer_open("tests/fixtures/train/dialogue", &p, &t, NULL, &err), err);
    if (!t) return batch_close(&gb);
    int N = 0;
    for (int s = 0; s < gb.B; s++) N += gb.seqs[s].n_tokens;
    float *logits = malloc(sizeof *logits * ((size_t)N * 3 + (size_t)gb.B * 4));
    double eval_loss = -1, train_loss = -2;
    CHECK_OK(bert_trainer_eval(t, gb.seqs, gb.B, gb.labels, &eval_loss, logits, &err), err);
    CHECK_OK(bert_trainer_backward(t, gb.seqs, gb.B, gb.labels, &train_loss, &err), err);
    CHECK(fabs(eval_loss - train_loss) <= 1e-6);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/joint-model", test_tmpdir());
    CHECK_OK(bert_trainer_save(t, dir, 0, NULL, &err), err);
    bert_model *m = NULL;
    bert_context *ctx = NULL;
    CHECK_OK(bert_model_load(dir, NULL, &m, &err), err);
    if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    if (ctx) CHECK_OK(bert_forward(ctx, gb.seqs, gb.B, BERT_OUTPUT_TOKEN_CLASSIFIER | BERT_OUTPUT_INTENT, &err), err);
    CHECK(m && bert_model_config(m)->num_intents == 4 && !bert_model_config(m)->intent_multi_label);
    CHECK(m && strcmp(bert_model_intent(m, 3), "find") == 0 && bert_model_intent(m, 4) == NULL);
    CHECK(m && strcmp(bert_model_config(m)->architecture, "BertForTokenClassification") == 0);
    CHECK(m && (bert_model_heads(m) & BERT_HEAD_INTENT) && (bert_model_heads(m) & BERT_HEAD_POOLER));
    double worst = 0;
    for (int s = 0, row = 0; ctx && s < gb.B; s++) {
        const float *z = bert_output_token_classifier_logits(ctx, s), *zi = bert_output_intent_logits(ctx, s);
        for (int i = 0; i < gb.seqs[s].n_tokens * 3; i++) worst = fmax(worst, fabs((double)z[i] - logits[(size_t)row * 3 + i]));
        for (int i = 0; i < 4; i++) worst = fmax(worst, fabs((double)zi[i] - logits[(size_t)N * 3 + (size_t)s * 4 + i]));
        row += gb.seqs[s].n_tokens;
    }
    CHECK(ctx && worst <= 1e-5);
    bert_context_free(ctx);
    bert_model_free(m);
    free(logits);
    bert_trainer_free(t);
    batch_close(&gb);
}
