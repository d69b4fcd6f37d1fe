/* test_train_bf16.c — mixed-precision training (bert_train_params.compute =
 * BERT_COMPUTE_BF16) against the exact f32 trainer, which test_backprop.c
 * ties to PyTorch autograd.
 *
 * Bounds, on the golden batches of the training fixtures (dropout off):
 *   - loss within 1 % of f32;
 *   - the whole gradient (every parameter, concatenated) cosine >= 0.999 with
 *     f32's, and each tensor whose gradient is not ~0 cosine >= 0.99;
 *   - 30 AdamW steps on the batch: the bf16 loss falls like the f32 one
 *     (final losses within 10 % of each other, both below half the start).
 * bf16 rounds weights and activations to 8 significant bits before each
 * product (sums stay f32), as torch.autocast(bfloat16) does: gradients
 * agree in direction, not to 1e-4. Where the machine cannot run bf16, what
 * is tested is the clear BERT_ERR_UNSUPPORTED at open (said on stdout). */
#include <stdlib.h>

#include "io/safetensors.h"
#include "test.h"
#include "train/golden_batch.h"
#include "train/trainer.h"

static void check_case(const char *name, bert_task task, bert_problem problem, int num_labels) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/train/%s", name);
    bert_error err;
    bert_train_params p32 = golden_params(task, problem, num_labels, 1e-3, 30, BERT_COMPUTE_F32);
    bert_train_params p16 = golden_params(task, problem, num_labels, 1e-3, 30, BERT_COMPUTE_BF16);
    bert_trainer *t32 = NULL, *t16 = NULL;
    const char *why = bert_bf16_unavailable_reason();
    if (why) {
        printf("  bf16 unavailable here (%s): checking the open error only\n", why);
        CHECK_ERR(bert_trainer_open(dir, &p16, &t16, NULL, &err), err, BERT_ERR_UNSUPPORTED, why);
        CHECK(t16 == NULL);
        return;
    }
    golden_batch gb;
    if (!batch_ready(dir, &gb)) return;
    CHECK_OK(bert_trainer_open(dir, &p32, &t32, NULL, &err), err);
    CHECK_OK(bert_trainer_open(dir, &p16, &t16, NULL, &err), err);
    if (t32 && t16) {
        double l32 = 0, l16 = 0;
        CHECK_OK(train_forward_backward(t32, gb.seqs, gb.B, gb.labels, &l32, &err), err);
        CHECK_OK(train_forward_backward(t16, gb.seqs, gb.B, gb.labels, &l16, &err), err);
        if (!(fabs(l16 - l32) <= 0.01 * fabs(l32)))
            test_fail(__FILE__, __LINE__, "%s: bf16 loss %.6f vs f32 %.6f", name, l16, l32);
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < t32->n_tensors; k++) {
            const train_tensor *x = &t32->tensors[k];
            size_t n = (size_t)x->rows * (size_t)(x->cols ? x->cols : 1);
            const float *g32 = t32->grads + x->offset, *g16 = t16->grads + x->offset;
            double tab = 0, taa = 0, tbb = 0;
            for (size_t i = 0; i < n; i++)
                tab += (double)g32[i] * g16[i], taa += (double)g32[i] * g32[i], tbb += (double)g16[i] * g16[i];
            ab += tab, aa += taa, bb += tbb;
            if (sqrt(taa / (double)n) < 1e-6) continue; /* ~0 exactly (see test_backprop.c): noise in both */
            double cos = tab / sqrt(taa * tbb);
            if (!(cos >= 0.99)) test_fail(__FILE__, __LINE__, "%s: gradient of %s: cosine %.5f < 0.99", name, x->name, cos);
        }
        double cos = ab / sqrt(aa * bb);
        if (!(cos >= 0.999)) test_fail(__FILE__, __LINE__, "%s: whole gradient cosine %.6f < 0.999", name, cos);
        /* the same 30 steps from the same start */
        memset(t32->grads, 0, t32->n_params * sizeof(float));
        memset(t16->grads, 0, t16->n_params * sizeof(float));
        double first = l32;
        for (int step = 0; step < 30; step++) {
            CHECK_OK(bert_trainer_step(t32, gb.seqs, gb.B, gb.labels, &l32, NULL, &err), err);
            CHECK_OK(bert_trainer_step(t16, gb.seqs, gb.B, gb.labels, &l16, NULL, &err), err);
        }
        printf("  %s: bf16 gradient cosine %.6f; loss after 30 steps f32 %.5f bf16 %.5f (start %.5f)\n", name, cos, l32, l16,
               first);
        if (!(l32 < 0.5 * first && l16 < 0.5 * first && fabs(l16 - l32) <= 0.1 * fmax(l32, 1e-3)))
            test_fail(__FILE__, __LINE__, "%s: after 30 steps loss f32 %.5f, bf16 %.5f (start %.5f)", name, l32, l16, first);
    }
    bert_trainer_free(t32);
    bert_trainer_free(t16);
    batch_close(&gb);
}

TEST(train_bf16_sequence_classifier_follows_f32) { check_case("single-label", BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3); }
TEST(train_bf16_token_classifier_follows_f32) { check_case("token", BERT_TASK_TOKEN, 0, 3); }
TEST(train_bf16_pretraining_follows_f32) { check_case("pretraining", BERT_TASK_PRETRAINING, 0, 2); }
