/* test_multihead.c — the multi-task trainer: one head is the single-task
 * trainer bit for bit (gradients, losses, weights); a head no micro-batch
 * reached is left alone and its bias correction counts its own updates; a
 * checkpoint resumes bit-identically; a saved head is its own Hugging Face
 * model; bad head specs are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "train/golden_batch.h"
#include "train/trainer.h"

static const char *const seq_labels[] = {"neg", "neu", "pos"};

static bert_head_spec head(const char *name, bert_task task, int num_labels) {
    return (bert_head_spec){.name = name, .task = task, .num_labels = num_labels, .labels = NULL, .loss_weight = 1};
}

/* Three steps on the fixture's batch, single-task and one-head multi-task,
 * dropout on: every gradient, loss and weight is the same bit for bit. */
static void one_head_equals_single(const char *fixture, bert_task task, int L) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/train/%s", fixture);
    bert_error err;
    golden_batch gb;
    if (!batch_ready(dir, &gb)) return;
    bert_train_params p = golden_params(task, 0, L, 1e-3, 4, BERT_COMPUTE_F32);
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.1;
    bert_train_params pm = p;
    bert_head_spec h = head("only", task, L);
    pm.heads = &h, pm.n_heads = 1;
    pm.task = BERT_TASK_QA; /* ignored with heads */
    bert_trainer *a = NULL, *b = NULL;
    CHECK_OK(bert_trainer_open(dir, &p, &a, NULL, &err), err);
    CHECK_OK(bert_trainer_open(dir, &pm, &b, NULL, &err), err);
    if (!a || !b) goto done;
    CHECK(bert_trainer_n_heads(a) == 0 && bert_trainer_n_heads(b) == 1);
    CHECK(a->n_params == b->n_params);
    for (int step = 0; step < 3 && a->n_params == b->n_params; step++) {
        double la = -1, lb = -2;
        CHECK_OK(bert_trainer_backward(a, gb.seqs, gb.B, gb.labels, &la, &err), err);
        CHECK_OK(bert_trainer_backward(b, gb.seqs, gb.B, gb.labels, &lb, &err), err);
        CHECK(la == lb);
        CHECK(memcmp(a->grads, b->grads, a->n_params * sizeof(float)) == 0);
        CHECK_OK(bert_trainer_apply(a, &err), err);
        CHECK_OK(bert_trainer_apply(b, &err), err);
        CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
        CHECK(memcmp(a->m, b->m, a->n_params * sizeof(float)) == 0);
    }
done:
    bert_trainer_free(a);
    bert_trainer_free(b);
    batch_close(&gb);
}

TEST(multihead_one_sequence_head_is_the_single_task_trainer) { one_head_equals_single("single-label", BERT_TASK_SEQUENCE, 3); }
TEST(multihead_one_token_head_is_the_single_task_trainer) { one_head_equals_single("token", BERT_TASK_TOKEN, 3); }

/* Two sequence heads "a" (3 classes) and "b" (4 classes) on the fixture. */
static bert_trainer *open_two(golden_batch *gb, bert_train_params *p, bert_head_spec *hs, bert_error *err) {
    if (!batch_open("tests/fixtures/train/single-label", gb, err)) return NULL;
    *p = golden_params(BERT_TASK_SEQUENCE, 0, 3, 1e-3, 10, BERT_COMPUTE_F32);
    p->weight_decay = 0;
    hs[0] = head("a", BERT_TASK_SEQUENCE, 3), hs[0].labels = seq_labels;
    hs[1] = head("b", BERT_TASK_SEQUENCE, 4);
    p->heads = hs, p->n_heads = 2;
    bert_trainer *t = NULL;
    if (bert_trainer_open("tests/fixtures/train/single-label", p, &t, NULL, err) != BERT_OK) return NULL;
    return t;
}

static bert_status step_head(bert_trainer *t, int k, golden_batch *gb, bert_error *err) {
    bert_status rc = bert_trainer_select(t, k, err);
    double loss;
    int stepped;
    return rc == BERT_OK ? bert_trainer_step(t, gb->seqs, gb->B, gb->labels, &loss, &stepped, err) : rc;
}

TEST(multihead_untouched_head_is_left_alone) {
    bert_error err;
    golden_batch gb;
    bert_train_params p;
    bert_head_spec hs[2];
    bert_trainer *t = open_two(&gb, &p, hs, &err);
    CHECK(t != NULL);
    if (!t) return;
    CHECK(bert_model_config(t->model)->hidden_size == 32); /* head a's classifier is 3 x 32 */
    float *wa0 = malloc(sizeof(float) * 3 * 32), *ba0 = malloc(sizeof(float) * 3);
    memcpy(wa0, t->heads[0].w, sizeof(float) * 3 * 32), memcpy(ba0, t->heads[0].b, sizeof(float) * 3);
    CHECK_OK(step_head(t, 1, &gb, &err), err);
    CHECK(memcmp(wa0, t->heads[0].w, sizeof(float) * 3 * 32) == 0 && memcmp(ba0, t->heads[0].b, sizeof(float) * 3) == 0);
    size_t off = (size_t)(t->heads[0].w - t->params);
    int moments_zero = 1;
    for (size_t i = 0; i < 3 * 32; i++) moments_zero &= t->m[off + i] == 0 && t->v[off + i] == 0;
    CHECK(moments_zero);
    CHECK(t->heads[0].steps == 0 && t->heads[1].steps == 1 && t->pooler_steps == 1 && bert_trainer_steps(t) == 1);
    /* Head a's first update at global step 2: Adam's first step moves each
     * weight by lr (m_hat / sqrt(v_hat) = sign(g)); with the global step's
     * bias correction it would move by ~0.74 lr. */
    double lr = bert_trainer_lr(t);
    CHECK_OK(step_head(t, 0, &gb, &err), err);
    double worst = 0;
    int moved = 0;
    for (size_t i = 0; i < 3 * 32; i++) {
        double d = fabs((double)t->heads[0].w[i] - wa0[i]);
        if (d > 0) moved++, worst = fmax(worst, fabs(d / lr - 1));
    }
    CHECK(moved > 90 && worst < 1e-2);
    if (worst >= 1e-2) printf("  head a's first update: |dw| / lr off by %.3g\n", worst);
    CHECK(t->heads[0].steps == 1 && t->heads[1].steps == 1 && t->pooler_steps == 2);
    free(wa0), free(ba0);
    bert_trainer_free(t);
    batch_close(&gb);
}

TEST(multihead_checkpoint_resumes_bit_identically) {
    bert_error err;
    golden_batch gb;
    bert_train_params p;
    bert_head_spec hs[2];
    bert_trainer *straight = open_two(&gb, &p, hs, &err), *first = NULL, *resumed = NULL;
    CHECK(straight != NULL);
    if (!straight) return;
    golden_batch gb2;
    bert_train_params p2;
    bert_head_spec hs2[2];
    first = open_two(&gb2, &p2, hs2, &err);
    batch_close(&gb2);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mt-checkpoint", test_tmpdir());
    static const int order[] = {0, 1, 1, 0, 1};
    for (int i = 0; i < 5; i++) CHECK_OK(step_head(straight, order[i], &gb, &err), err);
    for (int i = 0; first && i < 2; i++) CHECK_OK(step_head(first, order[i], &gb, &err), err);
    CHECK_OK(bert_trainer_save(first, dir, 1, "{\"data\":{}}", &err), err);
    char *extra = NULL;
    CHECK_OK(bert_trainer_resume(dir, &p, &resumed, &extra, &err), err);
    CHECK(extra && strcmp(extra, "{\"data\":{}}") == 0);
    free(extra);
    for (int i = 2; resumed && i < 5; i++) CHECK_OK(step_head(resumed, order[i], &gb, &err), err);
    CHECK(resumed && resumed->n_params == straight->n_params);
    if (resumed && resumed->n_params == straight->n_params) {
        CHECK(memcmp(resumed->params, straight->params, straight->n_params * sizeof(float)) == 0);
        CHECK(memcmp(resumed->v, straight->v, straight->n_params * sizeof(float)) == 0);
        CHECK(resumed->heads[0].steps == 2 && resumed->heads[1].steps == 3 && resumed->pooler_steps == 5);
    }
    /* Another run's heads are refused. */
    bert_head_spec other[2] = {hs[0], head("c", BERT_TASK_SEQUENCE, 4)};
    bert_train_params po = p;
    po.heads = other;
    bert_trainer *wrong = NULL;
    CHECK_ERR(bert_trainer_resume(dir, &po, &wrong, NULL, &err), err, BERT_ERR_INPUT, "is not this run's 'c'");
    bert_trainer_free(first), bert_trainer_free(resumed), bert_trainer_free(straight);
    batch_close(&gb);
}

TEST(multihead_saved_head_is_its_own_model) {
    bert_error err;
    golden_batch gb;
    bert_train_params p;
    bert_head_spec hs[2];
    bert_trainer *t = open_two(&gb, &p, hs, &err);
    CHECK(t != NULL);
    if (!t) return;
    CHECK_OK(step_head(t, 1, &gb, &err), err);
    CHECK_OK(step_head(t, 0, &gb, &err), err);
    char dir[512], shared[512];
    snprintf(dir, sizeof dir, "%s/mt-head-b", test_tmpdir());
    snprintf(shared, sizeof shared, "%s/mt-shared", test_tmpdir());
    for (int k = 1; k >= 0; k--) { /* head b, then a (the selection is restored) */
        float trainer_logits[64 * 4];
        CHECK_OK(bert_trainer_select(t, k, &err), err);
        CHECK_OK(bert_trainer_eval(t, gb.seqs, gb.B, NULL, NULL, trainer_logits, &err), err);
        CHECK_OK(bert_trainer_save_head(t, k, dir, &err), err);
        CHECK(t->cur == k);
        bert_model *m = NULL;
        bert_context *ctx = NULL;
        CHECK_OK(bert_model_load(dir, NULL, &m, &err), err);
        if (m) CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
        if (ctx) CHECK_OK(bert_forward(ctx, gb.seqs, gb.B, BERT_OUTPUT_CLASSIFIER, &err), err);
        int L = k ? 4 : 3;
        CHECK(m && bert_model_config(m)->num_labels == L);
        if (m && k == 0) CHECK(strcmp(bert_model_label(m, 2), "pos") == 0);
        double worst = 0;
        for (int s = 0; ctx && s < gb.B; s++)
            for (int j = 0; j < L; j++)
                worst = fmax(worst, fabs((double)bert_output_classifier_logits(ctx, s)[j] - trainer_logits[s * L + j]));
        CHECK(ctx && worst <= 1e-5);
        bert_context_free(ctx);
        bert_model_free(m);
    }
    /* The shared encoder: a BertModel directory with the heads beside it. */
    CHECK_OK(bert_trainer_save(t, shared, 0, NULL, &err), err);
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(shared, NULL, &m, &err), err);
    CHECK(m && strcmp(bert_model_config(m)->architecture, "BertModel") == 0);
    bert_model_free(m);
    char path[600];
    snprintf(path, sizeof path, "%s/heads.json", shared);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) fclose(f);
    bert_trainer_free(t);
    batch_close(&gb);
}

TEST(multihead_bad_specs_are_refused) {
    bert_error err;
    bert_train_params p = golden_params(BERT_TASK_SEQUENCE, 0, 3, 1e-3, 4, BERT_COMPUTE_F32);
    const char *dir = "tests/fixtures/train/single-label";
    bert_trainer *t = NULL;
    bert_head_spec hs[2] = {head("a", BERT_TASK_SEQUENCE, 3), head("a", BERT_TASK_TOKEN, 3)};
    p.heads = hs, p.n_heads = 2;
    CHECK_ERR(bert_trainer_open(dir, &p, &t, NULL, &err), err, BERT_ERR_INPUT, "given twice");
    hs[1] = head("../x", BERT_TASK_SEQUENCE, 3);
    CHECK_ERR(bert_trainer_open(dir, &p, &t, NULL, &err), err, BERT_ERR_INPUT, "must be 1..64");
    hs[1] = head("qa", BERT_TASK_QA, 2);
    CHECK_ERR(bert_trainer_open(dir, &p, &t, NULL, &err), err, BERT_ERR_INPUT, "sequence or token task");
    hs[1] = head("b", BERT_TASK_SEQUENCE, 0);
    CHECK_ERR(bert_trainer_open(dir, &p, &t, NULL, &err), err, BERT_ERR_INPUT, "num_labels 0");
    p.n_heads = BERT_MAX_HEADS + 1;
    CHECK_ERR(bert_trainer_open(dir, &p, &t, NULL, &err), err, BERT_ERR_INPUT, "1..16 heads");
    CHECK(t == NULL);
    p.n_heads = 1;
    CHECK_OK(bert_trainer_open(dir, &p, &t, NULL, &err), err);
    CHECK_ERR(bert_trainer_select(t, 1, &err), err, BERT_ERR_INPUT, "has 1 head");
    bert_trainer_free(t);
}

/* A head's loss weight scales what its micro-batches contribute: weight 2
 * gives exactly twice the gradients of weight 1 (a power of two scales
 * every float exactly), and the reported loss is the unweighted one. */
TEST(multihead_loss_weight_scales_the_gradients) {
    bert_error err;
    golden_batch gb;
    if (!batch_ready("tests/fixtures/train/single-label", &gb)) return;
    bert_trainer *t[2] = {NULL, NULL};
    double loss[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        bert_train_params p = golden_params(BERT_TASK_SEQUENCE, 0, 3, 1e-3, 4, BERT_COMPUTE_F32);
        bert_head_spec h = head("w", BERT_TASK_SEQUENCE, 3);
        h.loss_weight = k ? 2.0 : 1.0;
        p.heads = &h, p.n_heads = 1;
        CHECK_OK(bert_trainer_open("tests/fixtures/train/single-label", &p, &t[k], NULL, &err), err);
        if (t[k]) CHECK_OK(bert_trainer_backward(t[k], gb.seqs, gb.B, gb.labels, &loss[k], &err), err);
    }
    if (t[0] && t[1]) {
        int twice = t[0]->n_params == t[1]->n_params;
        for (size_t i = 0; twice && i < t[0]->n_params; i++) twice &= t[1]->grads[i] == 2.0f * t[0]->grads[i];
        CHECK(twice && loss[0] == loss[1]);
    }
    bert_trainer_free(t[0]), bert_trainer_free(t[1]);
    batch_close(&gb);
}
