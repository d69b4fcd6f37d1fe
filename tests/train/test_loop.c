/* test_loop.c — bert_train_loop over shuffled epochs of a synthetic task:
 * steps, log lines, evaluation and the best model, checkpoint rotation,
 * bit-identical resume (mid-epoch and at an epoch's end), the interrupt,
 * the before-step seam, early stopping and a metric the task lacks. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test.h"
#include "train/epochs.h"

#define N_ITEMS 10
#define LEN 6

/* Ten fixed sequences of ids < 60, label = parity of the first id. */
typedef struct {
    int32_t ids[N_ITEMS][LEN];
    float label[N_ITEMS];
    int evals;
    double constant_metric; /* >= 0: evaluate reports this instead */
} toy;

static void toy_init(toy *d) {
    memset(d, 0, sizeof *d);
    for (int i = 0; i < N_ITEMS; i++) {
        for (int k = 0; k < LEN; k++) d->ids[i][k] = k == 0 ? 2 : k == LEN - 1 ? 3 : 5 + (i * 7 + k * 3) % 50;
        d->label[i] = (float)(d->ids[i][1] % 2);
    }
    d->constant_metric = -1;
}

static int toy_n(void *s) { (void)s; return N_ITEMS; }
static int toy_lf(void *s) { (void)s; return 1; }

static bert_status toy_fill(void *s, const int *idx, int n, bert_sequence *seqs, float *labels, long *tokens,
                            bert_error *err) {
    toy *d = s;
    (void)err;
    for (int k = 0; k < n; k++) {
        seqs[k] = (bert_sequence){.input_ids = d->ids[idx[k]], .n_tokens = LEN};
        labels[k] = d->label[idx[k]];
        *tokens += LEN;
    }
    return BERT_OK;
}

static bert_status toy_eval(void *s, bert_trainer *t, bert_metrics *out, bert_error *err) {
    toy *d = s;
    bert_sequence seqs[N_ITEMS];
    float logits[N_ITEMS * 2];
    double loss;
    for (int i = 0; i < N_ITEMS; i++) seqs[i] = (bert_sequence){.input_ids = d->ids[i], .n_tokens = LEN};
    bert_status rc = bert_trainer_eval(t, seqs, N_ITEMS, d->label, &loss, logits, err);
    if (rc != BERT_OK) return rc;
    d->evals++;
    bert_metrics_set(out, "loss", loss);
    bert_metrics_set(out, "accuracy", d->constant_metric >= 0 ? d->constant_metric : 1.0 / (1.0 + loss));
    return BERT_OK;
}

static const train_task_ops toy_ops = {.name = "toy", .n_train = toy_n, .label_floats = toy_lf, .fill = toy_fill,
                                       .evaluate = toy_eval};

static bert_train_params toy_params(long total) {
    bert_train_params p = bert_train_default_params();
    p.num_labels = 2;
    p.lr = 1e-3;
    p.total_steps = total;
    p.seed = 3;
    p.n_threads = 1;
    return p;
}

static int count_checkpoints(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strncmp(e->d_name, "checkpoint-", 11) == 0;
    if (d) closedir(d);
    return n;
}

static int count_lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    if (f) fclose(f);
    return n;
}

static int same_file(const char *a, const char *b) {
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    for (int c, d; same && ((c = getc(x)) != EOF) | ((d = getc(y)) != EOF);) same = c == d;
    if (x) fclose(x);
    if (y) fclose(y);
    return same;
}

/* Run the toy task for 3 epochs (batch 3 -> 4 micro-batches an epoch) with
 * grad_accum `accum` into dir; resume from `resume` when non-NULL. */
static bert_status run_accum(const char *dir, const char *resume, int accum, long total, bert_loop_params lp, toy *d,
                             bert_loop_result *r, bert_error *err) {
    bert_train_params tp = toy_params(total);
    tp.grad_accum = accum;
    train_epochs ep;
    bert_status rc = train_epochs_init(&ep, &toy_ops, d, 3, 3, err);
    if (rc != BERT_OK) return rc;
    bert_trainer *t = NULL;
    char *extra = NULL;
    rc = resume ? bert_trainer_resume(resume, &tp, &t, &extra, err)
                : bert_trainer_open("tests/fixtures/train/single-label", &tp, &t, NULL, err);
    if (rc == BERT_OK) {
        bert_train_source src = train_epochs_source(&ep);
        lp.output_dir = dir;
        lp.resume_state = extra;
        rc = bert_train_loop(t, &src, &lp, r, err);
    }
    free(extra);
    bert_trainer_free(t);
    train_epochs_free(&ep);
    return rc;
}

/* grad_accum 2 -> 2 steps an epoch, 6 in all. */
static bert_status run(const char *dir, const char *resume, bert_loop_params lp, toy *d, bert_loop_result *r,
                       bert_error *err) {
    return run_accum(dir, resume, 2, 6, lp, d, r, err);
}

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", test_tmpdir(), name); }

TEST(loop_runs_evaluates_rotates_and_resumes_bit_identically) {
    char a[512], b[512], c[512], p1[700], p2[700];
    path_of(a, sizeof a, "loopA"), path_of(b, sizeof b, "loopB"), path_of(c, sizeof c, "loopC");
    bert_error err;
    bert_loop_result r;
    toy d;
    toy_init(&d);
    bert_loop_params lp = bert_loop_default_params();
    lp.metric = "accuracy", lp.log_steps = 1, lp.save_total_limit = 0, lp.save_steps = 1;
    CHECK_OK(run(a, NULL, lp, &d, &r, &err), err);
    CHECK(r.steps == 6);
    CHECK(d.evals == 3); /* one per epoch end; the last step is one of them */
    snprintf(p1, sizeof p1, "%s/log.jsonl", a);
    CHECK(count_lines(p1, "\"eval_accuracy\"") == 3);
    CHECK(count_lines(p1, "\"grad_norm\"") == 6);
    CHECK(count_checkpoints(a) == 6);
    CHECK(r.best_step >= 2 && r.best_step <= 6 && r.best > 0);
    snprintf(p1, sizeof p1, "%s/best/model.safetensors", a);
    struct stat st;
    CHECK(stat(p1, &st) == 0);
    /* resume mid-epoch (step 3) and at an epoch's end (step 4) */
    const char *from[2] = {"checkpoint-3", "checkpoint-4"};
    for (int k = 0; k < 2; k++) {
        char ck[700];
        snprintf(ck, sizeof ck, "%s/%s", a, from[k]);
        toy e;
        toy_init(&e);
        CHECK_OK(run(k ? c : b, ck, lp, &e, &r, &err), err);
        CHECK(r.steps == 6);
        snprintf(p1, sizeof p1, "%s/checkpoint-6/model.safetensors", a);
        snprintf(p2, sizeof p2, "%s/checkpoint-6/model.safetensors", k ? c : b);
        CHECK(same_file(p1, p2));
        snprintf(p1, sizeof p1, "%s/checkpoint-6/optimizer.safetensors", a);
        snprintf(p2, sizeof p2, "%s/checkpoint-6/optimizer.safetensors", k ? c : b);
        CHECK(same_file(p1, p2));
    }
    /* rotation keeps the newest two */
    lp.save_total_limit = 2;
    char rot[512];
    path_of(rot, sizeof rot, "loopRot");
    toy_init(&d);
    CHECK_OK(run(rot, NULL, lp, &d, &r, &err), err);
    CHECK(count_checkpoints(rot) == 2);
    snprintf(p1, sizeof p1, "%s/checkpoint-6", rot);
    CHECK(stat(p1, &st) == 0);
}

static int hook_calls;
static bert_status count_hook(void *user, bert_trainer *t, bert_error *err) {
    (void)user, (void)err;
    size_t n = 0;
    float *g = bert_trainer_gradients(t, &n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    if (n > 0 && s > 0) hook_calls++;
    return BERT_OK;
}

static volatile sig_atomic_t interrupt_flag;
static void interrupt_at_step_2(void *user, const bert_event *e) {
    (void)user;
    if (e->kind == BERT_EVENT_TRAIN && e->step == 2) interrupt_flag = 1;
}

TEST(loop_interrupt_checkpoints_and_the_before_step_seam_sees_gradients) {
    char a[512], ref[512], p1[700], p2[700];
    path_of(a, sizeof a, "loopInt"), path_of(ref, sizeof ref, "loopRef");
    bert_error err;
    bert_loop_result r;
    toy d;
    toy_init(&d);
    bert_loop_params lp = bert_loop_default_params();
    lp.log_steps = 1, lp.save_total_limit = 0;
    lp.before_step = count_hook;
    hook_calls = 0;
    CHECK_OK(run(ref, NULL, lp, &d, &r, &err), err);
    CHECK(hook_calls == 6);
    lp.before_step = NULL;
    lp.interrupt = &interrupt_flag;
    lp.on_event = interrupt_at_step_2;
    interrupt_flag = 0;
    toy_init(&d);
    CHECK(run(a, NULL, lp, &d, &r, &err) == BERT_ERR_INTERRUPTED);
    CHECK(r.interrupted && r.steps == 2 && strstr(r.checkpoint, "checkpoint-2") != NULL);
    CHECK(strstr(err.message, "checkpoint-2") != NULL);
    interrupt_flag = 0;
    lp.interrupt = NULL, lp.on_event = NULL;
    char ck[sizeof r.checkpoint];
    memcpy(ck, r.checkpoint, sizeof ck);
    toy_init(&d);
    CHECK_OK(run(a, ck, lp, &d, &r, &err), err);
    snprintf(p1, sizeof p1, "%s/checkpoint-6/model.safetensors", ref);
    snprintf(p2, sizeof p2, "%s/checkpoint-6/model.safetensors", a);
    CHECK(same_file(p1, p2));
}

TEST(loop_patience_stops_early_and_unknown_metric_is_an_error) {
    char a[512];
    path_of(a, sizeof a, "loopPat");
    bert_error err;
    bert_loop_result r;
    toy d;
    toy_init(&d);
    d.constant_metric = 0.5; /* never improves after the first evaluation */
    bert_loop_params lp = bert_loop_default_params();
    lp.metric = "accuracy", lp.patience = 1, lp.eval_steps = 1, lp.eval_at_epoch_end = 0;
    CHECK_OK(run(a, NULL, lp, &d, &r, &err), err);
    CHECK(r.stopped_early && r.steps == 2 && r.best_step == 1);
    lp.metric = "f1";
    toy_init(&d);
    CHECK(run(a, NULL, lp, &d, &r, &err) == BERT_ERR_INPUT);
    CHECK(strstr(err.message, "metric 'f1'") != NULL && strstr(err.message, "accuracy") != NULL);
}

TEST(loop_steps_at_each_epoch_end_when_accumulation_does_not_divide_it) {
    /* 4 micro-batches an epoch with grad_accum 3: a full step after the
     * third, a partial one at the epoch's end (as transformers' Trainer
     * does), so 2 steps an epoch and every epoch end evaluated and saved. */
    char a[512], p1[700];
    path_of(a, sizeof a, "loopAccum");
    bert_error err;
    bert_loop_result r;
    toy d;
    toy_init(&d);
    bert_loop_params lp = bert_loop_default_params();
    lp.metric = "accuracy", lp.save_total_limit = 0;
    CHECK_OK(run_accum(a, NULL, 3, 6, lp, &d, &r, &err), err);
    CHECK(r.steps == 6 && d.evals == 3 && count_checkpoints(a) == 3);
    struct stat st;
    snprintf(p1, sizeof p1, "%s/checkpoint-6", a);
    CHECK(stat(p1, &st) == 0);
    /* The data ends before total_steps (a schedule planned too long): the
     * last step is still evaluated and saved. */
    char b[512];
    path_of(b, sizeof b, "loopShort");
    toy_init(&d);
    lp.save_at_epoch_end = 0, lp.eval_at_epoch_end = 0, lp.save_steps = 100;
    CHECK_OK(run_accum(b, NULL, 3, 50, lp, &d, &r, &err), err);
    CHECK(r.steps == 6 && d.evals == 1 && count_checkpoints(b) == 1);
    snprintf(p1, sizeof p1, "%s/checkpoint-6", b);
    CHECK(stat(p1, &st) == 0);
}
