/* test_backprop.c — the training engine against PyTorch autograd
 * (tools/make_train_golden.py): loss, every parameter's gradient, and the
 * parameters after two AdamW steps (linear schedule, clipping), for
 * every head: single-label, regression, multi-label, token, QA, pre-training
 * and the joint intent + slot head (single- and multi-label intents). Tolerance: relative
 * error ||ours - ref|| / ||ref|| <= 1e-4 per tensor (dropout off).
 *
 * One exception: tensors whose exact gradient is zero. The attention key
 * bias adds q.b to a whole row of scores, which softmax ignores; with a QA
 * head, the qa_outputs bias (and the last LayerNorm bias) shift a softmax
 * over the sequence by a constant. PyTorch and bert.c both produce float
 * noise there (~1e-9), and Adam turns noise into steps of size ~lr
 * (m / sqrt(v) is O(1) for any nonzero g). For such a tensor (reference
 * gradient below 1e-6 everywhere) ours must be below 1e-6 too, and the
 * updated values are not compared.
 *
 * The same checks run with the layers on the GPU (BERT_DEVICE_CUDA) where
 * it can run, on the CUDA emulator in every build (tests/cuda_emu), and
 * the GPU pass with dropout against the CPU pass with the same masks. */
#include <stdlib.h>

#include "io/safetensors.h"
#include "kernels/ops.h"
#include "test.h"
#include "train/golden_batch.h"
#include "cuda/train.h"
#include "train/gpu.h"
#include "train/trainer.h"

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* A copy of t's gradients as the step will see them: the host block with
 * the sums a GPU trainer keeps on the GPU added (left there as they are).
 * NULL (a failed check) when they cannot be had. */
static float *grads_of(bert_trainer *t) {
    float *g = malloc(t->n_params * sizeof *g);
    bert_error err;
    if (!g) return NULL;
    memcpy(g, t->grads, t->n_params * sizeof *g);
    if (t->gpu && !t->gpu_host_grads) {
        bert_status rc = train_gpu_add_grads(t, g, &err);
        CHECK_OK(rc, err);
        if (rc != BERT_OK) free(g), g = NULL;
    }
    return g;
}

static void check_case(const char *name, bert_task task, bert_problem problem, int num_labels, int num_intents,
                       int intent_multi, bert_device device) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/train/%s", name);
    bert_error err;
    golden_batch gb;
    if (!batch_ready(dir, &gb)) return;
    st_file g = gb.g;
    const float *labels = gb.labels;
    const float *loss_ref = (const float *)(const void *)st_find(&g, "loss")->data;
    bert_train_params p = golden_params(task, problem, num_labels, 1e-3, 4, BERT_COMPUTE_F32);
    p.weight_decay = 0.01;
    p.num_intents = num_intents, p.intent_multi_label = intent_multi;
    p.device = device;
    p.warmup_steps = (long)((const float *)(const void *)st_find(&g, "warmup")->data)[0];
    bert_trainer *t = NULL;
    unsigned created = 0;
    CHECK_OK(bert_trainer_open(dir, &p, &t, &created, &err), err);
    if (!t) {
        batch_close(&gb);
        return;
    }
    CHECK(created == 0);
    bert_sequence *seqs = gb.seqs;
    int B = gb.B;
    char zero[256] = {0};
    CHECK(t->n_tensors <= 256);
    for (int step = 1; step <= 2; step++) {
        double loss = 0;
        CHECK_OK(train_forward_backward(t, seqs, B, labels, &loss, &err), err);
        if (fabs(loss - loss_ref[step - 1]) > 1e-5 * (1 + fabs(loss_ref[step - 1])))
            test_fail(__FILE__, __LINE__, "%s step %d: loss %.8f vs %.8f", name, step, loss, loss_ref[step - 1]);
        float *grads = step == 1 ? grads_of(t) : NULL;
        for (int k = 0; grads && k < t->n_tensors; k++) {
            const train_tensor *x = &t->tensors[k];
            char key[160];
            snprintf(key, sizeof key, "grad1.%s", x->name);
            const st_tensor *r = st_find(&g, key);
            size_t n = train_tensor_numel(x);
            if (!r) {
                test_fail(__FILE__, __LINE__, "%s: no golden gradient for %s", name, x->name);
                continue;
            }
            double ours = 0, ref = 0;
            for (size_t i = 0; i < n; i++)
                ours = fmax(ours, fabs(grads[x->offset + i])), ref = fmax(ref, fabs(((const float *)(const void *)r->data)[i]));
            if (ref < 1e-6) { /* an exactly-zero gradient: see the top of the file */
                zero[k] = 1;
                if (!(ours < 1e-6)) test_fail(__FILE__, __LINE__, "%s: %s gradient should be ~0: %.3g", name, x->name, ours);
                continue;
            }
            double e = rel_err(grads + x->offset, (const float *)(const void *)r->data, n);
            if (!(e <= 1e-4)) test_fail(__FILE__, __LINE__, "%s: gradient of %s: relative error %.3g", name, x->name, e);
        }
        free(grads);
        CHECK_OK(train_adamw_step(t, train_lr_at(&t->p, t->step), &err), err);
        for (int k = 0; k < t->n_tensors; k++) {
            const train_tensor *x = &t->tensors[k];
            char key[160];
            snprintf(key, sizeof key, "step%d.%s", step, x->name);
            const st_tensor *r = st_find(&g, key);
            size_t n = train_tensor_numel(x);
            if (zero[k]) continue; /* see the top of the file */
            double e = r ? rel_err(t->params + x->offset, (const float *)(const void *)r->data, n) : 1;
            if (!(e <= 1e-4)) test_fail(__FILE__, __LINE__, "%s: %s after step %d: relative error %.3g", name, x->name, step, e);
        }
    }
    bert_trainer_free(t);
    batch_close(&gb);
}

TEST(train_single_label_matches_pytorch) { check_case("single-label", BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 0, 0, BERT_DEVICE_CPU); }
TEST(train_regression_matches_pytorch) { check_case("regression", BERT_TASK_SEQUENCE, BERT_PROBLEM_REGRESSION, 1, 0, 0, BERT_DEVICE_CPU); }
TEST(train_multi_label_matches_pytorch) { check_case("multi-label", BERT_TASK_SEQUENCE, BERT_PROBLEM_MULTI_LABEL, 4, 0, 0, BERT_DEVICE_CPU); }
TEST(train_token_classification_matches_pytorch) { check_case("token", BERT_TASK_TOKEN, 0, 3, 0, 0, BERT_DEVICE_CPU); }
TEST(train_question_answering_matches_pytorch) { check_case("qa", BERT_TASK_QA, 0, 2, 0, 0, BERT_DEVICE_CPU); }
TEST(train_pretraining_mlm_nsp_matches_pytorch) { check_case("pretraining", BERT_TASK_PRETRAINING, 0, 2, 0, 0, BERT_DEVICE_CPU); }
TEST(train_joint_intent_slots_matches_pytorch) { check_case("dialogue", BERT_TASK_DIALOGUE, 0, 3, 4, 0, BERT_DEVICE_CPU); }
TEST(train_joint_multi_intent_slots_matches_pytorch) { check_case("dialogue-multi", BERT_TASK_DIALOGUE, 0, 3, 3, 1, BERT_DEVICE_CPU); }

/* Each backward kernel against float64 central differences on tiny shapes. */
TEST(train_kernels_match_finite_differences) {
    enum { N = 3, C = 5 };
    float x[N * C], w[C], b[C], out[N * C], sum[N * C], mean[N], rstd[N], dout[N * C], dx[N * C], dw[C] = {0}, db[C] = {0};
    unsigned s = 11;
    for (int i = 0; i < N * C; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) % 1000) / 250.0f - 2.0f;
        dout[i] = (float)((s >> 4) % 100) / 50.0f - 1.0f;
    }
    for (int j = 0; j < C; j++) w[j] = 0.5f + 0.1f * j, b[j] = 0.05f * j;
    bert_add_layernorm_train(out, sum, mean, rstd, x, NULL, w, b, N, C, 1e-5f, 1);
    bert_layernorm_backward(dx, dw, db, dout, sum, w, mean, rstd, N, C, 1);
    /* L = sum(dout * LN(x)): dL/dx by central differences in double */
    double worst = 0;
    for (int i = 0; i < N * C; i++) {
        double h = 1e-3, lp = 0, lm = 0;
        for (int sign = -1; sign <= 1; sign += 2) {
            float xp[N * C], o2[N * C], s2[N * C], m2[N], r2[N];
            memcpy(xp, x, sizeof x);
            xp[i] += (float)(sign * h);
            bert_add_layernorm_train(o2, s2, m2, r2, xp, NULL, w, b, N, C, 1e-5f, 1);
            double l = 0;
            for (int k = 0; k < N * C; k++) l += (double)dout[k] * o2[k];
            if (sign < 0) lm = l;
            else lp = l;
        }
        double fd = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(fd - dx[i]));
    }
    CHECK(worst < 2e-3);
    /* activations */
    const bert_activation acts[] = {BERT_ACT_GELU, BERT_ACT_GELU_TANH, BERT_ACT_SILU, BERT_ACT_RELU};
    for (int a = 0; a < 4; a++) {
        double worst_a = 0;
        for (int i = 0; i < 40; i++) {
            float v = -3.9f + 0.2f * i, one = 1.0f, d, yp, ym;
            bert_activation_backward(&d, &one, &v, 1, acts[a], 1);
            double h = 1e-3;
            yp = (float)(v + h), ym = (float)(v - h);
            bert_activation_forward(&yp, 1, acts[a], 1);
            bert_activation_forward(&ym, 1, acts[a], 1);
            worst_a = fmax(worst_a, fabs((yp - ym) / (2 * h) - d));
        }
        CHECK(worst_a < 5e-3);
    }
}

/* LayerNorm's backward at a layer's size: dx within 1e-6 of float64 (relative
 * to the row's largest), dweight and dbias the float sums over rows in order
 * exactly; the same bits on 1 and 2 threads and with dx written over dout. */
TEST(train_layernorm_backward_threads_and_alias) {
    static const int shapes[][2] = {{96, 768}, {70, 100}};
    for (int sh = 0; sh < 2; sh++) {
        int N = shapes[sh][0], C = shapes[sh][1];
        size_t NC = (size_t)N * C;
        float *x = malloc(NC * 4), *dout = malloc(NC * 4), *out = malloc(NC * 4), *sum = malloc(NC * 4), *dx1 = malloc(NC * 4),
              *dx2 = malloc(NC * 4), *alias = malloc(NC * 4), *w = malloc(C * 4), *b = malloc(C * 4),
              *mean = malloc(N * 4), *rstd = malloc(N * 4), *dw = calloc(3 * C, 4), *db = calloc(3 * C, 4);
        CHECK(x && dout && out && sum && dx1 && dx2 && alias && w && b && mean && rstd && dw && db);
        if (!(x && dout && out && sum && dx1 && dx2 && alias && w && b && mean && rstd && dw && db)) return;
        unsigned s = 5;
        for (size_t i = 0; i < NC; i++) {
            s = s * 1103515245u + 12345u;
            x[i] = (float)((s >> 8) % 1000) / 250.0f - 2.0f + (i % (size_t)C == 3 ? 40.0f : 0.0f);
            dout[i] = (float)((s >> 4) % 100) / 50.0f - 1.0f;
        }
        for (int j = 0; j < C; j++) w[j] = 0.5f + 0.01f * j, b[j] = 0.05f;
        bert_add_layernorm_train(out, sum, mean, rstd, x, NULL, w, b, N, C, 1e-12f, 1);
        memcpy(alias, dout, NC * 4);
        bert_layernorm_backward(dx1, dw, db, dout, sum, w, mean, rstd, N, C, 1);
        bert_layernorm_backward(dx2, dw + C, db + C, dout, sum, w, mean, rstd, N, C, 2);
        bert_layernorm_backward(alias, dw + 2 * C, db + 2 * C, alias, sum, w, mean, rstd, N, C, 2);
        CHECK(memcmp(dx1, dx2, NC * 4) == 0 && memcmp(dx1, alias, NC * 4) == 0);
        CHECK(memcmp(dw, dw + C, C * 4) == 0 && memcmp(dw, dw + 2 * C, C * 4) == 0);
        CHECK(memcmp(db, db + C, C * 4) == 0 && memcmp(db, db + 2 * C, C * 4) == 0);
        double worst = 0;
        size_t wrong_sums = 0;
        for (int j = 0; j < C; j++) {
            float fw = 0, fb = 0;
            for (int i = 0; i < N; i++) {
                fb += dout[(size_t)i * C + j];
                fw += (float)(dout[(size_t)i * C + j] * (((double)sum[(size_t)i * C + j] - mean[i]) * rstd[i]));
            }
            wrong_sums += fw != dw[j] || fb != db[j];
        }
        for (int i = 0; i < N; i++) {
            const float *xi = sum + (size_t)i * C, *gi = dout + (size_t)i * C;
            double mu = 0, var = 0, sg = 0, sgx = 0, big = 0;
            for (int j = 0; j < C; j++) mu += xi[j];
            mu /= C;
            for (int j = 0; j < C; j++) var += (xi[j] - mu) * (xi[j] - mu);
            double r = 1.0 / sqrt(var / C + 1e-12);
            for (int j = 0; j < C; j++) sg += (double)gi[j] * w[j], sgx += (double)gi[j] * w[j] * (xi[j] - mu) * r;
            double want[800];
            for (int j = 0; j < C; j++) {
                want[j] = r * ((double)gi[j] * w[j] - sg / C - (xi[j] - mu) * r * sgx / C);
                big = fmax(big, fabs(want[j]));
            }
            for (int j = 0; j < C; j++) worst = fmax(worst, fabs(dx1[(size_t)i * C + j] - want[j]) / big);
        }
        CHECK(wrong_sums == 0);
        CHECK(worst < 1e-6);
        if (worst >= 1e-6) fprintf(stderr, "  LayerNorm backward %dx%d: %.3g off float64\n", N, C, worst);
        free(x), free(dout), free(out), free(sum), free(dx1), free(dx2), free(alias), free(w), free(b), free(mean),
            free(rstd), free(dw), free(db);
    }
}

/* The single-label fixture's golden file and its batch (at most 8 sequences). */
typedef struct {
    st_file g;
    bert_sequence seqs[8];
    const float *labels;
    int B;
} resume_fixture;

/* Opens f; 0 (a failed check) when it cannot. */
static int resume_open(resume_fixture *f) {
    bert_error err;
    bert_status rc = st_open("tests/fixtures/train/single-label/golden.safetensors", 0, &f->g, &err);
    CHECK_OK(rc, err);
    if (rc != BERT_OK) return 0;
    const st_tensor *ids = st_find(&f->g, "input_ids");
    int B = (int)ids->shape[0], T = (int)ids->shape[1];
    const int32_t *id = (const int32_t *)(const void *)ids->data;
    const int32_t *mk = (const int32_t *)(const void *)st_find(&f->g, "attention_mask")->data;
    f->labels = (const float *)(const void *)st_find(&f->g, "labels")->data;
    f->B = B < 8 ? B : 8;
    for (int b = 0; b < f->B; b++) {
        int n = 0;
        while (n < T && mk[b * T + n]) n++;
        f->seqs[b] = (bert_sequence){.input_ids = id + b * T, .n_tokens = n};
    }
    return 1;
}

/* 1 when a and b hold the same weights and AdamW moments, bit for bit
 * (a GPU trainer's moments fetched first). */
static int same_training_state(bert_trainer *a, bert_trainer *b) {
    bert_error err;
    for (int k = 0; k < 2; k++) {
        bert_trainer *t = k ? b : a;
        if (t->gpu && train_gpu_pull_moments(t, &err) != BERT_OK) {
            test_fail(__FILE__, __LINE__, "%s", err.message);
            return 0;
        }
    }
    size_t n = a->n_params * sizeof(float);
    return a->n_params == b->n_params && memcmp(a->params, b->params, n) == 0 && memcmp(a->m, b->m, n) == 0 &&
           memcmp(a->v, b->v, n) == 0;
}

/* Fine-tuning with dropout on, warm-up, accumulation of two micro-batches. */
static bert_train_params resume_params(void) {
    bert_train_params p = bert_train_default_params();
    p.problem = BERT_PROBLEM_SINGLE_LABEL;
    p.num_labels = 3;
    p.lr = 1e-3;
    p.total_steps = 6;
    p.warmup_steps = 2;
    p.grad_accum = 2;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.2;
    p.seed = 7;
    return p;
}

/* N steps + save + resume + N steps == 2N steps, bit for bit (dropout on),
 * on device d in compute type c. */
static void resume_check(bert_device d, bert_compute_dtype c) {
    const char *dir = "tests/fixtures/train/single-label";
    bert_error err;
    resume_fixture f;
    if (!resume_open(&f)) return;
    bert_train_params p = resume_params();
    p.device = d, p.compute = c;
    bert_trainer *a = NULL, *b = NULL;
    CHECK_OK(bert_trainer_open(dir, &p, &a, NULL, &err), err);
    CHECK_OK(bert_trainer_open(dir, &p, &b, NULL, &err), err);
    if (!a || !b) return;
    double loss;
    int stepped;
    for (int i = 0; i < 12; i++) CHECK_OK(bert_trainer_step(a, f.seqs, f.B, f.labels, &loss, &stepped, &err), err);
    CHECK(bert_trainer_steps(a) == 6);
    for (int i = 0; i < 6; i++) CHECK_OK(bert_trainer_step(b, f.seqs, f.B, f.labels, &loss, &stepped, &err), err);
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", test_tmpdir());
    CHECK_OK(bert_trainer_save(b, ckpt, 1, "{\"epoch\": 0, \"position\": 6}", &err), err);
    bert_trainer_free(b);
    b = NULL;
    char *extra = NULL;
    CHECK_OK(bert_trainer_resume(ckpt, &p, &b, &extra, &err), err);
    if (!b) return;
    CHECK(extra && strstr(extra, "\"position\":6"));
    free(extra);
    CHECK(bert_trainer_steps(b) == 3);
    for (int i = 0; i < 6; i++) CHECK_OK(bert_trainer_step(b, f.seqs, f.B, f.labels, &loss, &stepped, &err), err);
    CHECK(same_training_state(a, b));
    /* A saved checkpoint is a model directory the inference commands load. */
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(ckpt, NULL, &m, &err), err);
    if (m) CHECK(bert_model_heads(m) == (BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER) && bert_model_num_labels(m) == 3);
    bert_model_free(m);
    bert_trainer_free(a);
    bert_trainer_free(b);
    st_close(&f.g);
}

TEST(train_resume_is_bit_identical) { resume_check(BERT_DEVICE_CPU, BERT_COMPUTE_F32); }

/* The same steps on one thread and on two (dropout on), on the fixture's
 * small model: the same weights and moments bit for bit, so splitting the
 * attention's (sequence, head) pairs and the gradient norm's pieces over
 * threads changes nothing. (At bert-base size the BLAS's own threading of
 * the products — OpenBLAS's for the weight gradients, oneDNN's for the input
 * gradients where found — moves the last bits.) */
TEST(train_small_model_steps_are_the_same_on_1_and_2_threads) {
    const char *dir = "tests/fixtures/train/single-label";
    bert_error err;
    resume_fixture f;
    if (!resume_open(&f)) return;
    bert_train_params p = resume_params();
    bert_trainer *t[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        p.n_threads = k + 1;
        CHECK_OK(bert_trainer_open(dir, &p, &t[k], NULL, &err), err);
        if (!t[k]) break;
        double loss;
        int stepped;
        for (int i = 0; i < 6; i++) CHECK_OK(bert_trainer_step(t[k], f.seqs, f.B, f.labels, &loss, &stepped, &err), err);
    }
    if (t[0] && t[1]) {
        CHECK(bert_trainer_steps(t[1]) == 3);
        CHECK(same_training_state(t[0], t[1]));
    }
    bert_trainer_free(t[0]);
    bert_trainer_free(t[1]);
    st_close(&f.g);
}

/* AdamW skips reading the word embeddings' rows no sequence fed in: the
 * same weights and moments bit for bit as the update that reads every row
 * (taken for good once the caller is handed the gradients), with
 * accumulation, clipping, and two threads. */
TEST(train_untouched_embedding_rows_update_as_zeros) {
    const char *dir = "tests/fixtures/train/single-label";
    bert_error err;
    resume_fixture f;
    if (!resume_open(&f)) return;
    bert_train_params p = resume_params();
    p.weight_decay = 0.01;
    p.max_grad_norm = 0.05; /* clipped: the norm's skipped rows matter */
    p.n_threads = 2;        /* thread slices of the table start mid-row */
    bert_trainer *t[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(bert_trainer_open(dir, &p, &t[k], NULL, &err), err);
        if (!t[k]) break;
        CHECK(t[k]->word_tensor >= 0 && t[k]->word_rows);
        for (int i = 0; i < 8; i++) {
            double loss;
            int half = f.B / 2, lo = i % 2 ? half : 0, n = i % 2 ? f.B - half : half;
            CHECK_OK(bert_trainer_backward(t[k], f.seqs + lo, n, f.labels + lo, &loss, &err), err);
            if (k == 1 && i == 0) bert_trainer_gradients(t[k], NULL); /* every row read from then on */
            if (bert_trainer_step_due(t[k])) CHECK_OK(bert_trainer_apply(t[k], &err), err);
        }
    }
    if (t[0] && t[1]) {
        CHECK(bert_trainer_steps(t[0]) == 4 && bert_trainer_grad_norm(t[0]) == bert_trainer_grad_norm(t[1]));
        CHECK(bert_trainer_grad_norm(t[0]) > p.max_grad_norm);
        CHECK(same_training_state(t[0], t[1]));
        const train_tensor *w = &t[0]->tensors[t[0]->word_tensor];
        int fed = 0; /* rows with moments: fed in; the rest were skipped, yet decayed alike */
        for (int r = 0; r < w->rows; r++) fed += t[0]->m[w->offset + (size_t)r * w->cols] != 0.0f;
        CHECK(fed > 0 && fed < w->rows);
    }
    bert_trainer_free(t[0]);
    bert_trainer_free(t[1]);
    st_close(&f.g);
}

/* Each bad[k] at labels[at[k]] of a copy of gb's n labels is refused by
 * t's backward with BERT_ERR_INPUT and says[k]; gb's own labels then train
 * (a finite, positive loss). */
static void refuses_labels(bert_trainer *t, const golden_batch *gb, float *labels, size_t n, int count, const size_t *at,
                           const float *bad, const char *const *says) {
    bert_error err;
    double loss;
    for (int k = 0; k < count; k++) {
        memcpy(labels, gb->labels, sizeof(float) * n);
        labels[at[k]] = bad[k];
        CHECK_ERR(bert_trainer_backward(t, gb->seqs, gb->B, labels, &loss, &err), err, BERT_ERR_INPUT, says[k]);
    }
    CHECK_OK(bert_trainer_backward(t, gb->seqs, gb->B, gb->labels, &loss, &err), err);
    CHECK(isfinite(loss) && loss > 0);
}

/* Pre-training labels outside their heads are refused (BERT_ERR_INPUT,
 * naming them) on the CPU and, where it can run, with the heads on the
 * GPU: an NSP label of 2, an MLM label of NaN or of the vocabulary's size;
 * the trainer then takes the batch as it is. */
TEST(train_rejects_pretraining_labels_outside_their_heads) {
    golden_batch gb;
    bert_error err;
    if (!batch_ready("tests/fixtures/train/pretraining", &gb)) return;
    int N = 0;
    for (int s = 0; s < gb.B; s++) N += gb.seqs[s].n_tokens;
    float *labels = malloc(sizeof(float) * ((size_t)N + gb.B));
    CHECK(labels != NULL);
    for (int d = 0; labels && d < 2; d++) {
        if (d && bert_cuda_unavailable_reason()) break;
        bert_train_params p = golden_params(BERT_TASK_PRETRAINING, 0, 2, 1e-3, 4, BERT_COMPUTE_F32);
        p.device = d ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
        bert_trainer *t = NULL;
        CHECK_OK(bert_trainer_open("tests/fixtures/train/pretraining", &p, &t, NULL, &err), err);
        if (!t) continue;
        int row = -1; /* a labelled token */
        for (int i = 0; i < N && row < 0; i++) row = gb.labels[i] >= 0 ? i : -1;
        CHECK(row >= 0);
        const float bad[3] = {2.0f, NAN, (float)bert_model_config(t->model)->vocab_size};
        const char *says[3] = {"NSP label 2", "MLM label nan", "outside the vocabulary"};
        const size_t at[3] = {(size_t)N + 1, (size_t)row, (size_t)row};
        if (row >= 0) refuses_labels(t, &gb, labels, (size_t)N + gb.B, 3, at, bad, says);
        bert_trainer_free(t);
    }
    free(labels);
    batch_close(&gb);
}

/* A sequence classifier's label outside its classes (NaN too) is refused
 * before any head runs, on the CPU and on the GPU. */
TEST(train_rejects_sequence_labels_outside_the_classes) {
    golden_batch gb;
    bert_error err;
    if (!batch_ready("tests/fixtures/train/single-label", &gb)) return;
    float *labels = malloc(sizeof(float) * (size_t)gb.B);
    CHECK(labels != NULL);
    for (int d = 0; labels && d < 2; d++) {
        if (d && bert_cuda_unavailable_reason()) break;
        bert_train_params p = golden_params(BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 1e-3, 4, BERT_COMPUTE_F32);
        p.device = d ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
        bert_trainer *t = NULL;
        CHECK_OK(bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err), err);
        if (!t) continue;
        const float bad[3] = {NAN, -1.0f, (float)bert_model_config(t->model)->num_labels};
        const char *says[3] = {"is not a class id", "is not a class id", "is not a class id"};
        const size_t at[3] = {1, 1, 1};
        refuses_labels(t, &gb, labels, (size_t)gb.B, 3, at, bad, says);
        bert_trainer_free(t);
    }
    free(labels);
    batch_close(&gb);
}

/* Token-indexed labels outside their range are refused before any head
 * runs, on the CPU and on the GPU: a token classifier's tag and a joint
 * model's slot tag of NaN or the tags' count; a QA span's start of NaN or
 * past its sequence. */
TEST(train_rejects_token_labels_outside_their_range) {
    static const char *const dirs[3] = {"tests/fixtures/train/token", "tests/fixtures/train/dialogue",
                                        "tests/fixtures/train/qa"};
    static const bert_task tasks[3] = {BERT_TASK_TOKEN, BERT_TASK_DIALOGUE, BERT_TASK_QA};
    for (int k = 0; k < 3; k++) {
        golden_batch gb;
        bert_error err;
        if (!batch_ready(dirs[k], &gb)) return;
        int N = 0;
        for (int s = 0; s < gb.B; s++) N += gb.seqs[s].n_tokens;
        /* the labels: [N] tags; [B] intents, then [N] slot tags; [B x 2] spans */
        size_t n = k == 0 ? (size_t)N : k == 1 ? (size_t)gb.B + N : 2 * (size_t)gb.B;
        float *labels = malloc(sizeof(float) * n);
        CHECK(labels != NULL);
        for (int d = 0; labels && d < 2; d++) {
            if (d && bert_cuda_unavailable_reason()) break;
            bert_train_params p = golden_params(tasks[k], 0, k == 2 ? 2 : 3, 1e-3, 4, BERT_COMPUTE_F32);
            p.device = d ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
            p.num_intents = k == 1 ? 4 : 0;
            bert_trainer *t = NULL;
            CHECK_OK(bert_trainer_open(dirs[k], &p, &t, NULL, &err), err);
            if (!t) continue;
            size_t tag = k == 1 ? (size_t)gb.B + 1 : 1;
            const float bad[2] = {NAN, k == 2 ? (float)gb.seqs[0].n_tokens : (float)bert_model_num_labels(t->model)};
            const size_t at[2] = {k == 2 ? 0 : tag, k == 2 ? 0 : tag};
            const char *const says[2] = {k == 2 ? "outside its" : "is not a class id", k == 2 ? "outside its" : "is not a class id"};
            refuses_labels(t, &gb, labels, n, 2, at, bad, says);
            bert_trainer_free(t);
        }
        free(labels);
        batch_close(&gb);
    }
}

/* A dropout rate outside [0, 1) (NaN too) is refused at opening, naming it. */
TEST(train_rejects_dropout_rates_outside_0_1) {
    const double bad[] = {1.0, 1.5, NAN};
    for (int k = 0; k < 3; k++)
        for (int which = 0; which < 3; which++) {
            bert_train_params p = bert_train_default_params();
            p.num_labels = 3;
            double *r[3] = {&p.hidden_dropout, &p.attention_dropout, &p.classifier_dropout};
            *r[which] = bad[k];
            bert_trainer *t = NULL;
            bert_error err;
            CHECK_ERR(bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err), err, BERT_ERR_INPUT,
                      which == 0 ? "hidden dropout" : which == 1 ? "attention dropout" : "classifier dropout");
            CHECK(t == NULL);
        }
}

/* Fine-tuning a pre-training checkpoint creates the classifier (seeded). */
TEST(train_creates_missing_heads) {
    bert_train_params p = bert_train_default_params();
    p.num_labels = 4;
    bert_trainer *t = NULL, *u = NULL;
    unsigned created = 0;
    bert_error err;
    CHECK_OK(bert_trainer_open(FIXTURES "/bf16-mlm-gamma", &p, &t, &created, &err), err);
    CHECK(created == (BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER));
    CHECK_OK(bert_trainer_open(FIXTURES "/bf16-mlm-gamma", &p, &u, &created, &err), err);
    if (t && u) CHECK(memcmp(t->params, u->params, t->n_params * sizeof(float)) == 0); /* same seed, same init */
    bert_trainer_free(t);
    bert_trainer_free(u);
}

/* The cases above with the layers on the GPU (1e-4 against PyTorch, as on
 * the CPU); where the GPU path cannot run, the trainer is refused with
 * BERT_ERR_UNSUPPORTED naming why. */
TEST(train_cuda_matches_pytorch_or_is_refused) {
    const char *why = bert_cuda_unavailable_reason();
    bert_train_params p = golden_params(BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 1e-3, 4, BERT_COMPUTE_F32);
    p.device = BERT_DEVICE_CUDA;
    bert_trainer *t = NULL;
    bert_error err;
    if (why) {
        printf("  (no GPU path here: %s)\n", why);
        CHECK_ERR(bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err), err, BERT_ERR_UNSUPPORTED, why);
        CHECK(t == NULL);
        return;
    }
    p.device = (bert_device)7;
    CHECK(bert_trainer_open("tests/fixtures/train/single-label", &p, &t, NULL, &err) == BERT_ERR_INPUT && t == NULL);
    check_case("single-label", BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 0, 0, BERT_DEVICE_CUDA);
    check_case("regression", BERT_TASK_SEQUENCE, BERT_PROBLEM_REGRESSION, 1, 0, 0, BERT_DEVICE_CUDA);
    check_case("multi-label", BERT_TASK_SEQUENCE, BERT_PROBLEM_MULTI_LABEL, 4, 0, 0, BERT_DEVICE_CUDA);
    check_case("token", BERT_TASK_TOKEN, 0, 3, 0, 0, BERT_DEVICE_CUDA);
    check_case("qa", BERT_TASK_QA, 0, 2, 0, 0, BERT_DEVICE_CUDA);
    check_case("pretraining", BERT_TASK_PRETRAINING, 0, 2, 0, 0, BERT_DEVICE_CUDA);
    check_case("dialogue", BERT_TASK_DIALOGUE, 0, 3, 4, 0, BERT_DEVICE_CUDA);
    check_case("dialogue-multi", BERT_TASK_DIALOGUE, 0, 3, 3, 1, BERT_DEVICE_CUDA);
}

/* 1 when the GPU path can run here; else 0, the test skipped saying why
 * (the refusal itself is checked by train_cuda_matches_pytorch_or_is_refused;
 * tests/cuda_emu runs these tests on the emulated GPU everywhere). */
static int gpu_path(void) {
    const char *why = bert_cuda_unavailable_reason();
    if (why) test_skip("no GPU path here: %s", why);
    return why == NULL;
}

/* A GPU trainer and a CPU trainer of one seed and params p, over four
 * micro-batches of seqs (two AdamW steps): the losses agree to 1e-5
 * (relative) and every gradient and updated tensor to 1e-4 (relative
 * norm; an exactly-zero gradient, as at the top of the file, below 1e-6 on
 * both and its tensor not compared after the step). Then the GPU
 * trainer's backward without a forward is BERT_ERR_STATE, and it goes on.
 *
 * In bf16 (p.compute) both trainers round the dense products' operands,
 * and a sum that differs in its last f32 bit may round to a neighbouring
 * bf16 value: the losses agree to 1e-4, each gradient and updated tensor
 * to 2e-3, and over every tensor together the GPU's gradients are within a
 * tenth of the distance between the CPU's bf16 and f32 gradients (a third
 * trainer, in f32): the GPU does round where the CPU does. */
static void follow_cpu(const char *dir, bert_train_params p, const bert_sequence *seqs, int n, const float *labels) {
    bert_error err;
    int bf16 = p.compute == BERT_COMPUTE_BF16, n_t = bf16 ? 3 : 2;
    double tol = bf16 ? 2e-3 : 1e-4, loss_tol = bf16 ? 1e-4 : 1e-5;
    bert_trainer *t[3] = {NULL, NULL, NULL};
    char zero[256] = {0};
    for (int d = 0; d < n_t; d++) {
        p.device = d == 1 ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
        if (d == 2) p.compute = BERT_COMPUTE_F32;
        CHECK_OK(bert_trainer_open(dir, &p, &t[d], NULL, &err), err);
    }
    CHECK(!t[0] || t[0]->n_tensors <= 256);
    if (t[1] && !t[1]->gpu_heads) test_fail(__FILE__, __LINE__, "%s: the task's heads are not on the GPU", dir);
    for (int mb = 0; t[0] && t[1] && (!bf16 || t[2]) && t[0]->n_tensors <= 256 && mb < 4; mb++) {
        double loss[3];
        for (int d = 0; d < n_t; d++) CHECK_OK(bert_trainer_backward(t[d], seqs, n, labels, &loss[d], &err), err);
        if (!(fabs(loss[1] - loss[0]) <= loss_tol * (1 + fabs(loss[0]))))
            test_fail(__FILE__, __LINE__, "%s micro-batch %d: loss %.8f on the GPU, %.8f on the CPU", dir, mb, loss[1], loss[0]);
        int due = bert_trainer_step_due(t[0]);
        float *gg = due ? grads_of(t[1]) : NULL;
        double gpu_d2 = 0, f32_d2 = 0, worst = 0; /* bf16: squared distances from the CPU's, over every tensor */
        for (int k = 0; gg && k < t[0]->n_tensors; k++) {
            const train_tensor *x = &t[0]->tensors[k];
            size_t m = train_tensor_numel(x);
            double cpu = 0, gpu = 0;
            for (size_t i = 0; i < m; i++)
                cpu = fmax(cpu, fabs(t[0]->grads[x->offset + i])), gpu = fmax(gpu, fabs(gg[x->offset + i]));
            if (cpu < 1e-6) { /* an exactly-zero gradient (the key bias): see the top of the file */
                zero[k] = 1;
                if (!(gpu < 1e-6)) test_fail(__FILE__, __LINE__, "%s: %s gradient should be ~0: %.3g", dir, x->name, gpu);
                continue;
            }
            double e = rel_err(gg + x->offset, t[0]->grads + x->offset, m);
            worst = fmax(worst, e);
            if (!(e <= tol))
                test_fail(__FILE__, __LINE__, "%s micro-batch %d: gradient of %s: relative error %.3g", dir, mb, x->name, e);
            for (size_t i = 0; bf16 && i < m; i++) {
                double c = t[0]->grads[x->offset + i];
                gpu_d2 += (gg[x->offset + i] - c) * (gg[x->offset + i] - c);
                f32_d2 += (t[2]->grads[x->offset + i] - c) * (t[2]->grads[x->offset + i] - c);
            }
        }
        if (gg && bf16) {
            printf("  %s step: worst tensor %.3g; GPU bf16 %.3g from the CPU's bf16 gradients, f32 %.3g\n", dir, worst,
                   sqrt(gpu_d2), sqrt(f32_d2));
            if (!(sqrt(gpu_d2) <= 0.1 * sqrt(f32_d2)))
                test_fail(__FILE__, __LINE__, "%s micro-batch %d: the GPU's bf16 gradients are %.3g from the CPU's, "
                          "its f32 ones %.3g", dir, mb, sqrt(gpu_d2), sqrt(f32_d2));
        }
        free(gg);
        for (int d = 0; due && d < n_t; d++) CHECK_OK(bert_trainer_apply(t[d], &err), err);
        for (int k = 0; due && k < t[0]->n_tensors; k++) {
            const train_tensor *x = &t[0]->tensors[k];
            size_t m = train_tensor_numel(x);
            if (zero[k]) continue;
            double e = rel_err(t[1]->params + x->offset, t[0]->params + x->offset, m);
            if (!(e <= tol))
                test_fail(__FILE__, __LINE__, "%s after micro-batch %d: %s: relative error %.3g", dir, mb, x->name, e);
        }
    }
    if (t[1]) {
        float dx[1] = {0};
        CHECK_ERR(bert_cuda_train_backward(t[1]->gpu, dx, NULL, NULL, NULL, &err), err, BERT_ERR_STATE, "no forward");
        double loss;
        CHECK_OK(bert_trainer_backward(t[1], seqs, n, labels, &loss, &err), err);
        CHECK(isfinite(loss));
    }
    for (int d = 0; d < 3; d++) bert_trainer_free(t[d]);
}

/* With dropout (0.1 everywhere; the attention's too) the GPU trainer
 * draws the CPU trainer's masks and applies them alike (follow_cpu), in
 * compute type `compute`: on the pre-training golden batch (MLM + NSP),
 * and (attention dropout 0.25) on a sequence-task batch
 * of 156 tokens (the column sums' row blocks of 64 cut three ways), ragged
 * (lengths 1 to 32, three of 32 and two of 17 in one batched product each)
 * with padding keys masked but in one sequence, whose padding ids then
 * carry gradient that their word row must not get (padding_idx).
 *
 * Pre-training in bf16 steps at lr 1e-4, not 1e-3: AdamW's first step
 * moves each weight by about lr x sign(g), and where the two trainers'
 * bf16 gradients (the decoder's [vocab x C] above all, summed in other
 * orders) differ in sign for a near-zero element, their weights part by
 * 2 lr there; at 1e-3 that parting, not the rounding, dominated the next
 * step's comparison (0.124 from the CPU's bf16 gradients against f32's
 * 0.409; at 1e-4, 0.020 against 0.445). */
static void follow_cpu_with_dropout(bert_compute_dtype compute) {
    golden_batch gb;
    if (!batch_ready("tests/fixtures/train/pretraining", &gb)) return;
    bert_train_params p = golden_params(BERT_TASK_PRETRAINING, 0, 2, compute == BERT_COMPUTE_BF16 ? 1e-4 : 1e-3, 4, compute);
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = 0.1;
    p.grad_accum = 2;
    follow_cpu("tests/fixtures/train/pretraining", p, gb.seqs, gb.B, gb.labels);
    p.task = BERT_TASK_MLM; /* its MLM labels alone: the MLM head on the GPU without NSP */
    follow_cpu("tests/fixtures/train/pretraining", p, gb.seqs, gb.B, gb.labels);
    batch_close(&gb);
    enum { B = 8, T = 32 };
    static const int len[B] = {32, 17, 32, 5, 1, 32, 20, 17}, pad[B] = {0, 3, 0, 1, 0, 7, 0, 0};
    int32_t ids[B * T], types[B * T], mask[B * T];
    bert_sequence seqs[B];
    float labels[B];
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < len[b]; k++) {
            ids[b * T + k] = k == 0 ? 2 : k >= len[b] - pad[b] ? 0 : 5 + (b * 31 + k * 7) % 50;
            types[b * T + k] = k > len[b] / 2;
            mask[b * T + k] = k < len[b] - pad[b] || b == 1; /* sequence 1 attends to its padding */
        }
        seqs[b] = (bert_sequence){.input_ids = ids + b * T, .token_type_ids = types + b * T, .attention_mask = mask + b * T,
                                  .n_tokens = len[b]};
        labels[b] = (float)(b % 3);
    }
    p = golden_params(BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 1e-3, 4, compute);
    p.hidden_dropout = p.classifier_dropout = 0.1;
    p.attention_dropout = 0.25; /* a rate of its own: the two rates not swapped */
    p.grad_accum = 2;
    follow_cpu("tests/fixtures/train/single-label", p, seqs, B, labels);
    /* the heads that draw a mask on every token (and a pooled one: joint intent + slots), and QA's */
    static const char *const dirs[4] = {"tests/fixtures/train/token", "tests/fixtures/train/dialogue",
                                        "tests/fixtures/train/dialogue-multi", "tests/fixtures/train/qa"};
    static const bert_task tasks[4] = {BERT_TASK_TOKEN, BERT_TASK_DIALOGUE, BERT_TASK_DIALOGUE, BERT_TASK_QA};
    static const int intents[4] = {0, 4, 3, 0};
    for (int k = 0; k < 4; k++) {
        if (!batch_ready(dirs[k], &gb)) return;
        p = golden_params(tasks[k], 0, k == 3 ? 2 : 3, compute == BERT_COMPUTE_BF16 ? 1e-4 : 1e-3, 4, compute);
        p.hidden_dropout = p.attention_dropout = 0.1, p.classifier_dropout = 0.3;
        p.num_intents = intents[k], p.intent_multi_label = k == 2;
        p.grad_accum = 2;
        follow_cpu(dirs[k], p, gb.seqs, gb.B, gb.labels);
        batch_close(&gb);
    }
}

/* Which heads a GPU trainer holds, with the embeddings each time:
 * pre-training's (MLM + NSP) and the MLM task's (their decoder is the word
 * table); a sequence task's pooler and classifier, on a classifier's
 * checkpoint and on a pre-training one (whose MLM and NSP heads the task
 * leaves out); token classification's classifier and QA's qa_outputs (the
 * token head), on their checkpoints and on a pre-training one; joint
 * intent + slots' pooler and two classifiers. */
TEST(train_cuda_holds_the_heads) {
    if (!gpu_path()) return;
    enum { CASES = 9 };
    static const bert_task task[CASES] = {BERT_TASK_PRETRAINING, BERT_TASK_MLM, BERT_TASK_SEQUENCE,
                                          BERT_TASK_SEQUENCE,    BERT_TASK_TOKEN, BERT_TASK_TOKEN,
                                          BERT_TASK_QA,          BERT_TASK_QA,  BERT_TASK_DIALOGUE};
    static const char *const dir[CASES] = {"pretraining", "pretraining", "single-label", "pretraining", "token",
                                           "pretraining", "qa",          "pretraining",  "dialogue"};
    static const int want[CASES] = {2, 1, 3, 3, 4, 4, 4, 4, 5};
    for (int k = 0; k < CASES; k++) {
        bert_train_params p = golden_params(task[k], BERT_PROBLEM_SINGLE_LABEL, k < 2 || task[k] == BERT_TASK_QA ? 2 : 3,
                                            1e-3, 4, BERT_COMPUTE_F32);
        p.device = BERT_DEVICE_CUDA;
        p.num_intents = task[k] == BERT_TASK_DIALOGUE ? 4 : 0;
        bert_trainer *t = NULL;
        bert_error err;
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/train/%s", dir[k]);
        CHECK_OK(bert_trainer_open(path, &p, &t, NULL, &err), err);
        if (t && !(t->gpu_heads == want[k] && t->gpu_emb == 1))
            test_fail(__FILE__, __LINE__, "%s on %s: heads %d on the GPU (want %d), embeddings %d", dir[k],
                      task[k] == BERT_TASK_QA ? "QA" : "its task", t->gpu_heads, want[k], t->gpu_emb);
        bert_trainer_free(t);
    }
}

TEST(train_cuda_dropout_follows_the_cpu) {
    if (gpu_path()) follow_cpu_with_dropout(BERT_COMPUTE_F32);
}

/* Mixed precision with the layers on the GPU follows the CPU's bf16
 * trainer (follow_cpu's bf16 tolerances), dropout on, and resumes bit for
 * bit (the bf16 weights rounded again from the uploaded ones). Where the
 * CPU cannot run bf16 (sanitizer builds too), a sequence task and
 * pre-training (its heads on the GPU too) train on the GPU alone in bf16:
 * their gradients within cosine 0.999 of the CPU's f32 ones, and not
 * equal to them. */
TEST(train_cuda_bf16_follows_the_cpus_bf16) {
    if (!gpu_path()) return;
    const char *why = bert_bf16_unavailable_reason();
    if (why) {
        printf("  (bf16 unavailable on this CPU: %s)\n", why);
        static const char *const dirs[2] = {"tests/fixtures/train/single-label", "tests/fixtures/train/pretraining"};
        for (int k = 0; k < 2; k++) {
            bert_error err;
            golden_batch gb;
            bert_trainer *t[2] = {NULL, NULL};
            if (!batch_ready(dirs[k], &gb)) return;
            for (int d = 0; d < 2; d++) {
                bert_train_params p = k ? golden_params(BERT_TASK_PRETRAINING, 0, 2, 1e-3, 4, d ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32)
                                        : golden_params(BERT_TASK_SEQUENCE, BERT_PROBLEM_SINGLE_LABEL, 3, 1e-3, 4,
                                                        d ? BERT_COMPUTE_BF16 : BERT_COMPUTE_F32);
                p.device = d ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
                double loss;
                CHECK_OK(bert_trainer_open(dirs[k], &p, &t[d], NULL, &err), err);
                if (t[d]) CHECK_OK(bert_trainer_backward(t[d], gb.seqs, gb.B, gb.labels, &loss, &err), err);
            }
            float *g = t[0] && t[1] ? grads_of(t[1]) : NULL;
            if (g) {
                double dot = 0, a = 0, b = 0;
                for (size_t i = 0; i < t[0]->n_params; i++)
                    dot += (double)g[i] * t[0]->grads[i], a += (double)g[i] * g[i], b += (double)t[0]->grads[i] * t[0]->grads[i];
                double cos = dot / sqrt(a * b);
                printf("  %s: GPU bf16 against CPU f32: gradient cosine %.6f\n", dirs[k], cos);
                CHECK(cos >= 0.999 && memcmp(g, t[0]->grads, t[0]->n_params * sizeof *g) != 0);
            }
            free(g);
            bert_trainer_free(t[0]);
            bert_trainer_free(t[1]);
            batch_close(&gb);
        }
        return;
    }
    follow_cpu_with_dropout(BERT_COMPUTE_BF16);
    resume_check(BERT_DEVICE_CUDA, BERT_COMPUTE_BF16);
}

/* The N + resume + N == 2N check with the layers on the GPU: their AdamW
 * moments come back for the checkpoint and go over again on resuming. */
TEST(train_cuda_resume_is_bit_identical) {
    if (!gpu_path()) return;
    resume_check(BERT_DEVICE_CUDA, BERT_COMPUTE_F32);
}

/* The held tensors' AdamW on the GPU is the CPU's bit for bit: a GPU
 * trainer is handed the CPU trainer's gradients (through
 * bert_trainer_gradients, after which its gradients are kept on the host
 * and go over for each step) for two steps with weight decay, as AdamW and
 * as BertAdam: the same weights and moments bit for bit and the same norm
 * (to 1e-12: its sums run in other orders, so clipping is off). On a
 * sequence task (the layers and embeddings held) and on pre-training (its
 * heads held too: their weight matrices decay, their biases and LayerNorm
 * not). */
static void adamw_same(const char *dir, bert_train_params p, const bert_sequence *seqs, int B, const float *labels) {
    for (int bert_adam = 0; bert_adam < 2; bert_adam++) {
        p.weight_decay = 0.01, p.max_grad_norm = 0, p.bert_adam = bert_adam, p.grad_accum = 1;
        bert_trainer *t[2] = {NULL, NULL};
        bert_error err;
        for (int d = 0; d < 2; d++) {
            p.device = d ? BERT_DEVICE_CUDA : BERT_DEVICE_CPU;
            CHECK_OK(bert_trainer_open(dir, &p, &t[d], NULL, &err), err);
        }
        for (int step = 0; t[0] && t[1] && step < 2; step++) {
            double loss;
            for (int d = 0; d < 2; d++) CHECK_OK(bert_trainer_backward(t[d], seqs, B, labels, &loss, &err), err);
            size_t n = 0;
            float *g = bert_trainer_gradients(t[1], &n);
            CHECK(g && n == t[0]->n_params);
            if (!g || n != t[0]->n_params) break;
            memcpy(g, t[0]->grads, n * sizeof *g);
            for (int d = 0; d < 2; d++) CHECK_OK(bert_trainer_apply(t[d], &err), err);
            double a = bert_trainer_grad_norm(t[0]), b = bert_trainer_grad_norm(t[1]);
            CHECK(a > 0 && fabs(a - b) <= 1e-12 * a);
        }
        if (t[0] && t[1]) CHECK(same_training_state(t[0], t[1]));
        bert_trainer_free(t[0]);
        bert_trainer_free(t[1]);
    }
}

TEST(train_cuda_adamw_is_the_cpus_bit_for_bit) {
    if (!gpu_path()) return;
    resume_fixture f;
    if (!resume_open(&f)) return;
    adamw_same("tests/fixtures/train/single-label", resume_params(), f.seqs, f.B, f.labels);
    st_close(&f.g);
    golden_batch gb;
    if (!batch_ready("tests/fixtures/train/pretraining", &gb)) return;
    adamw_same("tests/fixtures/train/pretraining", golden_params(BERT_TASK_PRETRAINING, 0, 2, 1e-3, 4, BERT_COMPUTE_F32),
               gb.seqs, gb.B, gb.labels);
    batch_close(&gb);
}

/* Handing the gradient block out part-way (bert_trainer_gradients: the
 * GPU's sums come back, and are summed on the host from then on) changes
 * no step: two GPU trainers with dropout and two micro-batches a step, one
 * handed its block after the third micro-batch, which then holds the
 * other's GPU sums bit for bit; after three steps, the same norms, weights
 * and moments bit for bit. */
TEST(train_cuda_gradients_handed_out_change_nothing) {
    if (!gpu_path()) return;
    resume_fixture f;
    if (!resume_open(&f)) return;
    bert_train_params p = resume_params();
    p.device = BERT_DEVICE_CUDA;
    p.max_grad_norm = 0.05; /* clipped */
    bert_trainer *t[2] = {NULL, NULL};
    bert_error err;
    for (int d = 0; d < 2; d++) CHECK_OK(bert_trainer_open("tests/fixtures/train/single-label", &p, &t[d], NULL, &err), err);
    for (int mb = 0; t[0] && t[1] && mb < 6; mb++) {
        for (int d = 0; d < 2; d++) {
            double loss;
            int stepped;
            CHECK_OK(bert_trainer_step(t[d], f.seqs, f.B, f.labels, &loss, &stepped, &err), err);
        }
        if (mb == 2) {
            float *want = grads_of(t[0]), *got = bert_trainer_gradients(t[1], NULL);
            CHECK(want && got && t[1]->gpu_host_grads && !t[0]->gpu_host_grads);
            if (want && got) CHECK(memcmp(want, got, t[0]->n_params * sizeof *got) == 0);
            free(want);
        }
        CHECK(bert_trainer_grad_norm(t[0]) == bert_trainer_grad_norm(t[1]));
    }
    if (t[0] && t[1]) {
        CHECK(bert_trainer_steps(t[0]) == 3 && bert_trainer_grad_norm(t[0]) > p.max_grad_norm);
        CHECK(same_training_state(t[0], t[1]));
    }
    bert_trainer_free(t[0]);
    bert_trainer_free(t[1]);
    st_close(&f.g);
}
