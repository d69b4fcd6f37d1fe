/* test_task_sequence.c — the sequence task type of bert_finetune: data,
 * labels, batches, metrics by problem type, eval_only and report.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "test.h"
#include "train/task.h"

#define FT "tests/fixtures/finetune"
#define MLM "tests/fixtures/tasks/mlm"

/* Fine-tuning params for the fixture model on train.tsv / dev.tsv. */
static bert_finetune_params fixture_params(const char *out) {
    bert_finetune_params p = bert_finetune_default_params(BERT_TASK_SEQUENCE);
    p.model_dir = MLM, p.output_dir = out;
    p.train_file = FT "/train.tsv", p.dev_file = FT "/dev.tsv";
    p.text_column = "sentence", p.label_column = "label";
    p.batch_size = 4;
    p.train.n_threads = 1, p.train.seed = 5;
    return p;
}

/* 1 when seq holds the ids and types bert_tokenize gives text (and pair)
 * under longest_first truncation to max_len. */
static int same_tokens(const bert_sequence *seq, const char *text, const char *pair, int max_len) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    if (!tok) return 0;
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_LONGEST_FIRST, ep.max_length = max_len;
    bert_encodings es;
    CHECK_OK(bert_tokenize(tok, text, -1, pair, -1, &ep, &es, &err), err);
    const bert_encoding *x = &es.encodings[0];
    int same = x->n_tokens == seq->n_tokens &&
               memcmp(x->input_ids, seq->input_ids, sizeof(int32_t) * (size_t)x->n_tokens) == 0 &&
               memcmp(x->token_type_ids, seq->token_type_ids, sizeof(int32_t) * (size_t)x->n_tokens) == 0;
    bert_encodings_free(&es);
    bert_tokenizer_free(tok);
    return same;
}

/* 1 when m holds exactly the names of `want` (NULL-terminated), in order. */
static int metrics_are(const bert_metrics *m, const char *const *want) {
    int n = 0;
    for (; want[n]; n++)
        if (n >= m->n || strcmp(m->name[n], want[n]) != 0) return 0;
    return n == m->n;
}

/* Prepare p, open a trainer with what prepare set, evaluate on dev. */
static void prepare_and_eval(const bert_finetune_params *p, const char *const *want_metrics, const char *want_metric,
                             int want_gib, void **state, bert_train_params *tp, bert_metrics *m) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(p->model_dir, &tok, &err), err);
    *tp = p->train;
    const char *metric = NULL;
    int gib = -1;
    *state = NULL;
    CHECK_OK(train_task_sequence.prepare(p, tok, tp, &metric, &gib, state, &err), err);
    bert_tokenizer_free(tok);
    if (!*state) return;
    CHECK(metric && strcmp(metric, want_metric) == 0 && gib == want_gib);
    bert_trainer *t = NULL;
    CHECK_OK(bert_trainer_open(p->model_dir, tp, &t, NULL, &err), err);
    memset(m, 0, sizeof *m);
    if (t) CHECK_OK(train_task_sequence.evaluate(*state, t, m, &err), err);
    CHECK(metrics_are(m, want_metrics));
    bert_trainer_free(t);
}

TEST(task_sequence_single_label_data_batches_and_metrics) {
    bert_finetune_params p = fixture_params(test_tmpdir());
    static const char *const want[] = {"loss", "accuracy", "f1", "mcc", NULL};
    void *st;
    bert_train_params tp;
    bert_metrics m;
    prepare_and_eval(&p, want, "accuracy", 1, &st, &tp, &m);
    if (!st) return;
    CHECK(tp.task == BERT_TASK_SEQUENCE && tp.problem == BERT_PROBLEM_SINGLE_LABEL && tp.num_labels == 2);
    CHECK(tp.labels && strcmp(tp.labels[0], "0") == 0 && strcmp(tp.labels[1], "1") == 0);
    CHECK(train_task_sequence.n_train(st) == 24 && train_task_sequence.label_floats(st) == 1);
    double v;
    CHECK(bert_metrics_get(&m, "accuracy", &v) && v >= 0 && v <= 1 && !bert_metrics_get(&m, "pearson", &v));
    /* items 1 and 0: "we had a bad time" (0), "brilliant work by the cast" (1) */
    int idx[2] = {1, 0};
    bert_sequence seqs[2];
    float labels[2];
    long tokens = 0;
    bert_error err;
    CHECK_OK(train_task_sequence.fill(st, idx, 2, seqs, labels, &tokens, &err), err);
    CHECK(labels[0] == 0.0f && labels[1] == 1.0f);
    CHECK(same_tokens(&seqs[0], "we had a bad time", NULL, 128) && same_tokens(&seqs[1], "brilliant work by the cast", NULL, 128));
    CHECK(tokens == seqs[0].n_tokens + seqs[1].n_tokens);
    int bad = 24;
    CHECK(train_task_sequence.fill(st, &bad, 1, seqs, labels, &tokens, &err) != BERT_OK);
    train_task_sequence.free(st);
}

TEST(task_sequence_truncates_longest_first) {
    char path[1024];
    snprintf(path, sizeof path, "%s/long.jsonl", test_tmpdir());
    const char *text = "{\"text\": \"the film the film the film the film the film the film\", \"text_pair\": \"a joy\", "
                       "\"label\": \"1\"}\n{\"text\": \"bad\", \"label\": \"0\"}\n";
    CHECK(test_write_file(path, text, strlen(text)) == 0);
    bert_finetune_params p = fixture_params(test_tmpdir());
    p.train_file = p.dev_file = path, p.text_column = "text", p.max_seq_len = 8;
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric;
    int gib;
    void *st = NULL;
    CHECK_OK(train_task_sequence.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        int idx[2] = {0, 1};
        bert_sequence s[2];
        float labels[2];
        long tokens = 0;
        CHECK_OK(train_task_sequence.fill(st, idx, 2, s, labels, &tokens, &err), err);
        /* the pair is cut to 8 tokens, both texts kept; a single text is not paired */
        CHECK(s[0].n_tokens == 8 && s[0].token_type_ids[7] == 1 && s[0].token_type_ids[1] == 0);
        CHECK(same_tokens(&s[0], "the film the film the film the film the film the film", "a joy", 8));
        CHECK(same_tokens(&s[1], "bad", NULL, 8) && s[1].token_type_ids[s[1].n_tokens - 1] == 0);
        CHECK(labels[0] == 1.0f && labels[1] == 0.0f);
        train_task_sequence.free(st);
    }
    bert_tokenizer_free(tok);
}

TEST(task_sequence_multi_label_and_regression_metrics) {
    bert_finetune_params p = fixture_params(test_tmpdir());
    p.train_file = FT "/multi_train.tsv", p.dev_file = FT "/multi_dev.tsv", p.label_column = "genres";
    p.train.problem = BERT_PROBLEM_MULTI_LABEL, p.problem_given = 1;
    static const char *const multi[] = {"loss", "accuracy", "f1", NULL};
    void *st;
    bert_train_params tp;
    bert_metrics m;
    prepare_and_eval(&p, multi, "accuracy", 1, &st, &tp, &m);
    if (st) {
        CHECK(tp.problem == BERT_PROBLEM_MULTI_LABEL && tp.num_labels == train_task_sequence.label_floats(st));
        CHECK(tp.num_labels >= 3 && strcmp(tp.labels[0], "action") == 0);
        train_task_sequence.free(st);
    }
    /* regression: the label is the target value */
    char path[1024];
    snprintf(path, sizeof path, "%s/scores.tsv", test_tmpdir());
    const char *text = "sentence\tlabel\na joy to watch\t4.5\nwe had a bad time\t0.5\nthe story is charming\t3.75\n";
    CHECK(test_write_file(path, text, strlen(text)) == 0);
    p = fixture_params(test_tmpdir());
    p.train_file = p.dev_file = path, p.train.problem = BERT_PROBLEM_REGRESSION, p.problem_given = 1;
    static const char *const regr[] = {"loss", "pearson", "spearman", NULL};
    prepare_and_eval(&p, regr, "pearson", 1, &st, &tp, &m);
    if (st) {
        CHECK(tp.problem == BERT_PROBLEM_REGRESSION && tp.num_labels == 1 && tp.labels == NULL);
        int idx = 2;
        bert_sequence s;
        float label;
        long tokens = 0;
        bert_error err;
        CHECK_OK(train_task_sequence.fill(st, &idx, 1, &s, &label, &tokens, &err), err);
        CHECK(label == 3.75f);
        train_task_sequence.free(st);
    }
}

/* prepare's error for p, with the message containing needle. */
static void check_prepare_error(const bert_finetune_params *p, bert_status code, const char *needle) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(p->model_dir, &tok, &err), err);
    bert_train_params tp = p->train;
    const char *metric;
    int gib;
    void *st = NULL;
    CHECK_ERR(train_task_sequence.prepare(p, tok, &tp, &metric, &gib, &st, &err), err, code, needle);
    CHECK(st == NULL);
    bert_tokenizer_free(tok);
}

TEST(task_sequence_errors_and_metric_choice) {
    bert_finetune_params p = fixture_params(test_tmpdir());
    p.dev_file = FT "/bad_label.tsv";
    check_prepare_error(&p, BERT_ERR_INPUT, "bad_label.tsv:3: unknown label 'maybe'");
    p = fixture_params(test_tmpdir());
    p.loop.metric = "pearson";
    check_prepare_error(&p, BERT_ERR_INPUT, "metric 'pearson' is not reported for single_label problems");
    char path[1024];
    snprintf(path, sizeof path, "%s/one_label.tsv", test_tmpdir());
    const char *text = "sentence\tlabel\na joy to watch\t1\nthe story is charming\t1\n";
    CHECK(test_write_file(path, text, strlen(text)) == 0);
    p.train_file = p.dev_file = path, p.loop.metric = NULL;
    check_prepare_error(&p, BERT_ERR_INPUT, "one_label.tsv: fewer than 2 distinct labels");
    p = fixture_params(test_tmpdir());
    p.train_file = NULL, p.dev_file = NULL, p.preset = "sst2", p.data_dir = "no/such/data";
    check_prepare_error(&p, BERT_ERR_IO, "no/such/data/glue/SST-2/train.tsv: no such file");
    check_prepare_error(&p, BERT_ERR_IO, "--data-dir");
    /* "loss": lower is better */
    p = fixture_params(test_tmpdir());
    p.loop.metric = "loss";
    static const char *const want[] = {"loss", "accuracy", "f1", "mcc", NULL};
    void *st;
    bert_train_params tp;
    bert_metrics m;
    prepare_and_eval(&p, want, "loss", 0, &st, &tp, &m);
    if (st) train_task_sequence.free(st);
}

/* The whole of a small file into buf. */
static void read_small(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

TEST(task_sequence_report_and_eval_only) {
    char out[1024], model[1100], report[1200], text[4096];
    snprintf(out, sizeof out, "%s/seq_run", test_tmpdir());
    snprintf(model, sizeof model, "%s/best", out);
    snprintf(report, sizeof report, "%s/report.json", out);
    CHECK(mkdir(out, 0755) == 0);
    bert_finetune_params p = fixture_params(out);
    void *st;
    bert_train_params tp;
    bert_metrics m;
    static const char *const want[] = {"loss", "accuracy", "f1", "mcc", NULL};
    prepare_and_eval(&p, want, "accuracy", 1, &st, &tp, &m);
    if (!st) return;
    /* a saved classifier, as the loop saves OUT/best */
    bert_trainer *t = NULL;
    bert_error err;
    CHECK_OK(bert_trainer_open(MLM, &tp, &t, NULL, &err), err);
    if (t) CHECK_OK(bert_trainer_save(t, model, 0, NULL, &err), err);
    bert_trainer_free(t);
    bert_loop_result r;
    memset(&r, 0, sizeof r);
    r.steps = 18, r.best = 0.75, r.best_step = 12, r.last_metrics = m, r.tokens = 1000, r.seconds = 2;
    CHECK_OK(train_task_sequence.finish(st, &p, model, &r, &err), err);
    train_task_sequence.free(st);
    read_small(report, text, sizeof text);
    CHECK(strstr(text, "{\"best_accuracy\": 0.750000, \"best_step\": 12, \"steps\": 18, \"final_eval_loss\": ") == text);
    CHECK(strstr(text, "\"final_mcc\": ") && !strstr(text, "pearson") && !strstr(text, "spearman"));
    CHECK(strstr(text, "\"train_examples\": 24, \"dev_examples\": 8, \"seconds\": 2.0, \"tokens_per_s\": 500"));
    CHECK(strstr(text, "\"best_model\": \"") && strstr(text, "/seq_run/best\"}\n"));
    /* eval_only: the training file is not read, the labels come from the model */
    char out2[1100], report2[1200];
    snprintf(out2, sizeof out2, "%s/seq_eval", test_tmpdir());
    snprintf(report2, sizeof report2, "%s/report.json", out2);
    p = fixture_params(out2);
    p.model_dir = model, p.eval_only = 1, p.train_file = "no/such/train.tsv";
    prepare_and_eval(&p, want, "accuracy", 1, &st, &tp, &m);
    if (!st) return;
    CHECK(train_task_sequence.n_train(st) == 0 && tp.num_labels == 2 && strcmp(tp.labels[1], "1") == 0);
    CHECK_OK(train_task_sequence.finish(st, &p, model, NULL, &err), err);
    train_task_sequence.free(st);
    read_small(report2, text, sizeof text);
    CHECK(strstr(text, "{\"best_accuracy\": ") == text && strstr(text, "\"best_step\": 0, \"steps\": 0"));
    CHECK(strstr(text, "\"dev_examples\": 8") && !strstr(text, "best_model"));
}

TEST(task_sequence_eval_only_needs_a_trained_classifier) {
    bert_finetune_params p = fixture_params(test_tmpdir());
    p.eval_only = 1, p.labels = "0,1";
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric;
    int gib;
    void *st = NULL;
    CHECK_OK(train_task_sequence.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        CHECK_ERR(train_task_sequence.finish(st, &p, NULL, NULL, &err), err, BERT_ERR_INPUT,
                  "has no trained classifier to evaluate");
        train_task_sequence.free(st);
    }
    bert_tokenizer_free(tok);
    /* without a label list, a model with no id2label cannot be scored */
    p.labels = NULL;
    check_prepare_error(&p, BERT_ERR_INPUT, "config.json has no labels (id2label)");
}

/* prepare on preset p->preset succeeds with n_train training examples. */
static void check_preset_prepares(const bert_finetune_params *p, int n_train) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(p->model_dir, &tok, &err), err);
    bert_train_params tp = p->train;
    const char *metric = NULL;
    int gib;
    void *st = NULL;
    CHECK_OK(train_task_sequence.prepare(p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        CHECK(train_task_sequence.n_train(st) == n_train && metric && strcmp(metric, "accuracy") == 0);
        train_task_sequence.free(st);
    }
    bert_tokenizer_free(tok);
}

TEST(task_sequence_preset_files_under_the_data_directory) {
    char root[1024], dir[1200], file[1300];
    snprintf(root, sizeof root, "%s/seq_data", test_tmpdir());
    snprintf(dir, sizeof dir, "%s/glue", root);
    CHECK(mkdir(root, 0755) == 0 && mkdir(dir, 0755) == 0);
    snprintf(dir, sizeof dir, "%s/glue/SST-2", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(file, sizeof file, "%s/train.tsv", dir);
    CHECK(test_copy_file(FT "/train.tsv", file) == 0);
    snprintf(file, sizeof file, "%s/dev.tsv", dir);
    CHECK(test_copy_file(FT "/dev.tsv", file) == 0);
    bert_finetune_params p = fixture_params(test_tmpdir());
    p.train_file = p.dev_file = NULL, p.preset = "sst2", p.data_dir = root;
    p.text_column = "text", p.label_column = "label"; /* the preset's columns apply */
    check_preset_prepares(&p, 24);
    /* a data directory that is the GLUE directory itself */
    snprintf(dir, sizeof dir, "%s/glue", root);
    p.data_dir = dir, p.max_train = 10;
    check_preset_prepares(&p, 10);
}
