/* Token classification as a task type (train_task_token): labels and
 * features from the fixture data, the batches, dev scoring with the loss,
 * notices through the callback, report.json and the test predictions. */
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test.h"
#include "train/task.h"

#define MLM "tests/fixtures/tasks/mlm"
#define NER_TRAIN "tests/fixtures/finetune/ner_train.jsonl"
#define NER_DEV "tests/fixtures/finetune/ner_dev.conll"

typedef struct {
    char text[8][512];
    int n;
} notices;

static void on_event(void *user, const bert_event *e) {
    notices *ns = user;
    if (e->kind == BERT_EVENT_NOTICE && ns->n < 8) snprintf(ns->text[ns->n++], sizeof ns->text[0], "%s", e->text);
}

static int has_notice(const notices *ns, const char *needle) {
    for (int i = 0; i < ns->n; i++)
        if (strstr(ns->text[i], needle)) return 1;
    return 0;
}

static bert_finetune_params params(notices *ns, const char *out_name) {
    static char out[8][1024];
    static int k;
    bert_finetune_params p = bert_finetune_default_params(BERT_TASK_TOKEN);
    p.model_dir = MLM;
    snprintf(out[k % 8], sizeof out[0], "%s/%s", test_tmpdir(), out_name);
    p.output_dir = out[k++ % 8];
    p.train_file = NER_TRAIN, p.dev_file = NER_DEV;
    p.batch_size = 4;
    p.max_seq_len = 32;
    p.train.n_threads = 1;
    p.train.seed = 3;
    p.loop.on_event = on_event, p.loop.on_event_user = ns;
    return p;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

TEST(token_task_labels_features_and_batches) {
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok1");
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (!st) return bert_tokenizer_free(tok);
    CHECK(metric && strcmp(metric, "f1") == 0 && gib == 1);
    CHECK(tp.task == BERT_TASK_TOKEN && tp.num_labels == 4);
    const char *want[] = {"B-LOC", "B-PER", "I-PER", "O"};
    for (int i = 0; i < 4 && i < tp.num_labels; i++) CHECK(strcmp(tp.labels[i], want[i]) == 0);
    CHECK(train_task_token.n_train(st) == 30 && train_task_token.label_floats(st) == 32);
    CHECK(has_notice(&ns, "tag scheme of " NER_TRAIN ": IOB2") && !has_notice(&ns, "converted"));
    CHECK(!has_notice(&ns, "never occurs in training"));
    /* Item 0 is "Bob Smith likes Lima" (B-PER I-PER O B-LOC): [CLS] and [SEP] and
     * every piece after a word's first are -100; the first pieces carry the tags. */
    int idx[2] = {0, 1};
    bert_sequence seqs[2];
    float labels[64];
    long tokens = 0;
    CHECK_OK(train_task_token.fill(st, idx, 2, seqs, labels, &tokens, &err), err);
    CHECK(tokens == seqs[0].n_tokens + seqs[1].n_tokens);
    const char *words[] = {"Bob", "Smith", "likes", "Lima"};
    float tag[] = {1, 2, 3, 0};
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    int t = 1, continuation = 0;
    CHECK(labels[0] == -100);
    for (int w = 0; w < 4; w++) {
        bert_encodings es;
        CHECK_OK(bert_tokenize(tok, words[w], -1, NULL, 0, &ep, &es, &err), err);
        CHECK(labels[t] == tag[w]);
        for (int k = 1; k < es.encodings[0].n_tokens; k++) {
            CHECK(labels[t + k] == -100);
            continuation++;
        }
        t += es.encodings[0].n_tokens;
        bert_encodings_free(&es);
    }
    CHECK(continuation > 0); /* the fixture's words split into pieces in this vocabulary */
    CHECK(t + 1 == seqs[0].n_tokens && labels[t] == -100);
    int bad = 30;
    CHECK_ERR(train_task_token.fill(st, &bad, 1, seqs, labels, &tokens, &err), err, BERT_ERR_INPUT, "out of range");
    train_task_token.free(st);

    /* label_all_tokens: the pieces after B-PER's first carry I-PER */
    p.label_all_tokens = 1;
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        CHECK_OK(train_task_token.fill(st, idx, 1, seqs, labels, &tokens, &err), err);
        bert_encodings es;
        CHECK_OK(bert_tokenize(tok, "Bob", -1, NULL, 0, &ep, &es, &err), err);
        CHECK(labels[1] == 1);
        for (int k = 1; k < es.encodings[0].n_tokens; k++) CHECK(labels[1 + k] == 2);
        bert_encodings_free(&es);
        int scored = 0;
        for (int k = 0; k < seqs[0].n_tokens; k++) scored += labels[k] >= 0;
        CHECK(scored == seqs[0].n_tokens - 2);
        train_task_token.free(st);
    }
    /* truncation to max_seq_len */
    p.label_all_tokens = 0, p.max_seq_len = 8;
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        int all[30];
        bert_sequence s30[30];
        float *lab = malloc(sizeof *lab * 30 * 8);
        for (int i = 0; i < 30; i++) all[i] = i;
        CHECK_OK(train_task_token.fill(st, all, 30, s30, lab, &tokens, &err), err);
        for (int i = 0; i < 30; i++) CHECK(s30[i].n_tokens <= 8);
        free(lab);
        train_task_token.free(st);
    }
    bert_tokenizer_free(tok);
}

TEST(token_task_evaluates_dev_with_loss_and_writes_report) {
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok2");
    p.test_file = NER_DEV;
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    tp.total_steps = 10;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    bert_trainer *t = NULL;
    if (st) CHECK_OK(bert_trainer_open(MLM, &tp, &t, NULL, &err), err);
    if (!t) {
        if (st) train_task_token.free(st);
        return bert_tokenizer_free(tok);
    }
    bert_metrics m = {0};
    CHECK_OK(train_task_token.evaluate(st, t, &m, &err), err);
    const char *names[] = {"loss", "precision", "recall", "f1", "f1_strict", "macro_f1", "token_accuracy"};
    CHECK(m.n == 7);
    for (int i = 0; i < 7 && i < m.n; i++) CHECK(strcmp(m.name[i], names[i]) == 0);
    /* an untrained 4-way head: the mean token cross-entropy is near ln 4 */
    CHECK(m.n > 0 && isfinite(m.value[0]) && fabs(m.value[0] - log(4.0)) < 0.7);
    for (int i = 1; i < m.n; i++) CHECK(m.value[i] >= 0 && m.value[i] <= 1);

    char best[1100];
    snprintf(best, sizeof best, "%s/best", p.output_dir);
    mkdir(p.output_dir, 0755);
    CHECK_OK(bert_trainer_save(t, best, 0, NULL, &err), err);
    bert_loop_result r;
    memset(&r, 0, sizeof r);
    r.best_step = 16; /* 30 sentences in batches of 4: 8 steps an epoch, so epoch 2 */
    r.best_metrics = m;
    r.tokens = 1000;
    CHECK_OK(train_task_token.finish(st, &p, best, &r, &err), err);
    char path[1200];
    snprintf(path, sizeof path, "%s/report.json", p.output_dir);
    char *rep = read_all(path);
    CHECK(rep != NULL);
    if (rep) {
        CHECK(strstr(rep, "{\"task\": \"token\", \"tag_scheme\": \"IOB2\", \"converted_to_iob2\": false, \"labels\": 4, "
                          "\"train_sentences\": 30, \"best_epoch\": 2, \"best_step\": 16,\n \"dev\": {\"precision\": ") == rep);
        CHECK(strstr(rep, "\"token_accuracy\": ") && strstr(rep, "\"loss\": "));
        CHECK(strstr(rep, "\n \"test\": {\"precision\": ") && strstr(rep, "\"per_type\": {"));
        CHECK(strstr(rep, "\"seconds\": ") && strstr(rep, "\"tokens_per_s\": "));
    }
    free(rep);
    snprintf(path, sizeof path, "%s/test_predictions.conll", p.output_dir);
    char *pred = read_all(path);
    CHECK(pred && strncmp(pred, "yesterday O ", 12) == 0);
    int lines = 0;
    for (const char *c = pred; c && *c; c++) lines += *c == '\n' && c[1] != '\n' && c[1];
    free(pred);
    CHECK(lines > 40);

    /* without a test set there is no "test" object */
    train_task_token.free(st);
    p.test_file = NULL;
    snprintf(path, sizeof path, "%s/notest", test_tmpdir());
    p.output_dir = path;
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        CHECK_OK(train_task_token.finish(st, &p, NULL, &r, &err), err);
        char rp[1300];
        snprintf(rp, sizeof rp, "%s/report.json", path);
        rep = read_all(rp);
        CHECK(rep && strstr(rep, "\"dev\": {") && !strstr(rep, "\"test\""));
        free(rep);
        train_task_token.free(st);
    }
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
}

TEST(token_task_unseen_dev_tags_and_iob2_notice) {
    char dev[1024], train[1024];
    snprintf(dev, sizeof dev, "%s/unseen_dev.conll", test_tmpdir());
    snprintf(train, sizeof train, "%s/io_train.conll", test_tmpdir());
    const char *dv = "Bob I-PER\nlikes O\nAcme I-ORG\n";
    const char *tr = "Bob I-PER\nSmith I-PER\nlikes O\nLima I-LOC\n\nCarol I-PER\nflew O\n";
    CHECK(test_write_file(dev, dv, strlen(dv)) == 0 && test_write_file(train, tr, strlen(tr)) == 0);
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok3");
    p.train_file = train, p.dev_file = dev, p.tag_scheme_iob2 = 1;
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric = "unchanged";
    int gib = 0;
    void *st = NULL;
    p.loop.metric = "loss";
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    CHECK(strcmp(metric, "unchanged") == 0); /* the caller's metric stands */
    char want[1200];
    snprintf(want, sizeof want, "tag scheme of %s: IO (converted to IOB2)", train);
    CHECK(has_notice(&ns, want));
    CHECK(has_notice(&ns, "warning: dev tag 'B-ORG' never occurs in training; it cannot be predicted"));
    CHECK(tp.num_labels == 4 && strcmp(tp.labels[0], "B-LOC") == 0 && strcmp(tp.labels[1], "B-PER") == 0);
    if (st) train_task_token.free(st);
    bert_tokenizer_free(tok);
}

TEST(token_task_eval_only_needs_a_token_classifier) {
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok4");
    p.eval_only = 1;
    p.train_file = "does/not/exist.jsonl"; /* not read: eval_only scores dev only */
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    CHECK_ERR(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err, BERT_ERR_INPUT,
              MLM " has no token classifier");
    CHECK(st == NULL);
    p.preset = "nonesuch";
    CHECK_ERR(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err, BERT_ERR_INPUT, "unknown NER task 'nonesuch'");
    p.preset = NULL, p.dev_file = NULL;
    CHECK_ERR(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err, BERT_ERR_INPUT, "needs a dev file");
    bert_tokenizer_free(tok);
}

TEST(token_task_sec_preset_holds_out_dev) {
    char dir[1024], file[1200], text[8192] = "";
    snprintf(dir, sizeof dir, "%s/secdata/sec_filings_ner", test_tmpdir());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);
    for (int i = 0; i < 60; i++) snprintf(text + strlen(text), sizeof text - strlen(text), "Bob B-PER\nflew O\n\n");
    snprintf(file, sizeof file, "%s/FIN5.train.txt", dir);
    CHECK(test_write_file(file, text, strlen(text)) == 0);
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok5");
    char data[1100];
    snprintf(data, sizeof data, "%s/secdata", test_tmpdir());
    p.train_file = p.dev_file = NULL;
    p.preset = "sec", p.data_dir = data;
    p.max_train = 20;
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load(MLM, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    /* the preset's test file is missing: the error names it */
    CHECK_ERR(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err, BERT_ERR_IO, "FIN3.test.txt: cannot open");
    snprintf(file, sizeof file, "%s/FIN3.test.txt", dir);
    CHECK(test_write_file(file, text, 36) == 0);
    CHECK_OK(train_task_token.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) {
        CHECK(train_task_token.n_train(st) == 20);
        CHECK(tp.num_labels == 2);
        train_task_token.free(st);
    }
    bert_tokenizer_free(tok);
}

TEST(token_task_runs_through_bert_finetune_with_step_evaluation) {
    notices ns = {0};
    bert_finetune_params p = params(&ns, "tok6");
    p.test_file = NER_DEV;
    p.max_steps = 6, p.train.grad_accum = 2, p.train.lr = 3e-3;
    p.loop.eval_steps = 2, p.loop.eval_at_epoch_end = 0, p.loop.save_at_epoch_end = 0, p.loop.log_steps = 0;
    bert_loop_result r;
    bert_error err;
    CHECK_OK(bert_finetune(&p, &r, &err), err);
    CHECK(r.steps == 6 && (r.best_step == 2 || r.best_step == 4 || r.best_step == 6));
    double f1;
    CHECK(bert_metrics_get(&r.best_metrics, "f1", &f1) && f1 == r.best);
    CHECK(bert_metrics_get(&r.best_metrics, "loss", &f1));
    char path[1200], want[200];
    snprintf(path, sizeof path, "%s/report.json", p.output_dir);
    char *rep = read_all(path);
    /* 30 sentences, batches of 4, 2 micro-batches a step: 4 steps an epoch */
    snprintf(want, sizeof want, "\"best_epoch\": %ld, \"best_step\": %ld,", (r.best_step + 3) / 4, r.best_step);
    CHECK(rep && strstr(rep, want) && strstr(rep, "\"test\": {"));
    free(rep);
    snprintf(path, sizeof path, "%s/log.jsonl", p.output_dir);
    char *log = read_all(path);
    CHECK(log && strstr(log, "{\"step\":2,\"eval_loss\":") && strstr(log, "\"eval_f1_strict\":"));
    free(log);
}
