/* test_squad.c — QA data: the SQuAD JSON and SubjQA CSV readers (gzip,
 * malformed input, answer alignment), the context-level dev split, the
 * presets, the training windows, and the QA task's scoring. */
#include <stdlib.h>
#include <zlib.h>

#include "data/qa_data.h"
#include "io/file.h"
#include "test.h"
#include "train/task.h"

#define QA_TRAIN "tests/fixtures/finetune/qa_train.json"
#define QA_DEV "tests/fixtures/finetune/qa_dev.json"
#define QA_MODEL "tests/fixtures/tasks/qa"

static void write_text(const char *path, const char *text) { CHECK(test_write_file(path, text, strlen(text)) == 0); }

TEST(qa_data_reads_squad_json_and_gzip) {
    bert_qa_data d = {0};
    bert_error err;
    CHECK_OK(bert_qa_data_read(QA_TRAIN, 0, &d, &err), err);
    CHECK(d.n == 8 && d.moved == 0 && d.unaligned == 0);
    CHECK(d.n > 0 && strcmp(d.v[0].id, "train-0-0") == 0 && strcmp(d.v[0].question, "Where did the cat sit?") == 0);
    CHECK(d.n > 0 && d.v[0].n_answers == 1 && strcmp(d.v[0].answers[0], "on the mat") == 0 && d.v[0].starts[0] == 12);
    CHECK(d.n > 0 && !d.v[0].is_impossible);
    /* the same file gzipped */
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(bert_file_read_text(QA_TRAIN, &text, &len, &err), err);
    char gz[1024];
    snprintf(gz, sizeof gz, "%s/train.json.gz", test_tmpdir());
    gzFile f = gzopen(gz, "wb");
    CHECK(f && text && gzwrite(f, text, (unsigned)len) == (int)len);
    if (f) gzclose(f);
    free(text);
    bert_qa_data g = {0};
    CHECK_OK(bert_qa_data_read(gz, 3, &g, &err), err); /* limit: the first 3 questions */
    CHECK(g.n == 3 && strcmp(g.v[2].id, d.v[2].id) == 0 && strcmp(g.v[2].context, d.v[2].context) == 0);
    bert_qa_data_free(&g);
    bert_qa_data_free(&d);
}

TEST(qa_data_malformed_input_names_file_and_item) {
    char path[1024];
    bert_qa_data d = {0};
    bert_error err;
    snprintf(path, sizeof path, "%s/noq.json", test_tmpdir());
    write_text(path, "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [\n"
                     "{\"id\": \"a\", \"question\": \"q?\", \"answers\": []},\n"
                     "{\"id\": \"b\", \"answers\": []}]}]}]}");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_FORMAT,
              "noq.json: data[0].paragraphs[0].qas[1] (id b): no \"question\" string");
    bert_qa_data_free(&d);
    snprintf(path, sizeof path, "%s/broken.json", test_tmpdir());
    write_text(path, "{\"data\": [\n{\"paragraphs\": [\n{\"context\": \"c\", \"qas\": [}\n]}]}");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_FORMAT, "broken.json:3: not valid JSON");
    bert_qa_data_free(&d);
    snprintf(path, sizeof path, "%s/nodata.json", test_tmpdir());
    write_text(path, "{\"version\": \"1.1\"}");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_FORMAT, "nodata.json: not SQuAD JSON (no \"data\" list)");
    bert_qa_data_free(&d);
    snprintf(path, sizeof path, "%s/noctx.json", test_tmpdir());
    write_text(path, "{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_FORMAT, "noctx.json: data[0].paragraphs[0]: no \"context\"");
    bert_qa_data_free(&d);
    snprintf(path, sizeof path, "%s/empty.json", test_tmpdir());
    write_text(path, "{\"data\": []}");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_INPUT, "empty.json: no questions");
    bert_qa_data_free(&d);
    snprintf(path, sizeof path, "%s/bad.csv", test_tmpdir());
    write_text(path, "a,b\n1,2\n");
    CHECK_ERR(bert_qa_data_read(path, 0, &d, &err), err, BERT_ERR_FORMAT, "bad.csv:1: not SubjQA CSV");
    bert_qa_data_free(&d);
    CHECK_ERR(bert_qa_data_read("tests/fixtures/finetune/none.json", 0, &d, &err), err, BERT_ERR_IO, "none.json: cannot open");
}

TEST(qa_data_aligns_answers_and_splits_by_context) {
    char path[1024];
    snprintf(path, sizeof path, "%s/onefile.json", test_tmpdir());
    write_text(path,
               "{\"data\": [{\"title\": \"a\", \"paragraphs\": [\n"
               " {\"context\": \"The cat sat on the mat. The mat was red.\", \"qas\": [{\"id\": 1, \"question\": \"Where did the cat sit?\", \"answers\": [{\"text\": \" on the mat\", \"answer_start\": 12}]}]},\n"
               " {\"context\": \"Paris is the capital of France.\", \"qas\": [{\"id\": 2, \"question\": \"What is the capital?\", \"answers\": [{\"text\": \"Paris\", \"answer_start\": 3}]}]},\n"
               " {\"context\": \"The dog ran to the park.\", \"qas\": [{\"id\": 3, \"question\": \"Where did the dog run?\", \"answers\": [{\"text\": \"the park\", \"answer_start\": 15}]}]},\n"
               " {\"context\": \"The sun is hot.\", \"qas\": [{\"id\": 4, \"question\": \"What is hot?\", \"answers\": [{\"text\": \"The sun\", \"answer_start\": 0}], \"is_impossible\": false},\n"
               "   {\"id\": 5, \"question\": \"Who?\", \"answers\": [], \"is_impossible\": true}]}]}]}");
    bert_qa_data d = {0}, dev = {0};
    bert_error err;
    CHECK_OK(bert_qa_data_read(path, 0, &d, &err), err);
    CHECK(d.n == 5 && d.moved == 2 && d.unaligned == 0);
    if (d.n == 5) {
        CHECK(strcmp(d.v[0].id, "1") == 0 && strcmp(d.v[0].answers[0], "on the mat") == 0 && d.v[0].starts[0] == 12);
        CHECK(strcmp(d.v[1].answers[0], "Paris") == 0 && d.v[1].starts[0] == 0);
        CHECK(d.v[2].starts[0] == 15 && !d.v[3].is_impossible && d.v[4].is_impossible && d.v[4].n_answers == 0);
    }
    CHECK_ERR(bert_qa_data_split(&d, 1.0, 42, &dev, &err), err, BERT_ERR_INPUT, "(0, 1)");
    CHECK_OK(bert_qa_data_split(&d, 0.5, 42, &dev, &err), err);
    CHECK(d.n + dev.n == 5);
    for (int i = 0; i < d.n; i++)
        for (int k = 0; k < dev.n; k++) CHECK(strcmp(d.v[i].context, dev.v[k].context) != 0);
    /* the same seed splits the same way */
    bert_qa_data d2 = {0}, dev2 = {0};
    CHECK_OK(bert_qa_data_read(path, 0, &d2, &err), err);
    CHECK_OK(bert_qa_data_split(&d2, 0.5, 42, &dev2, &err), err);
    CHECK(dev2.n == dev.n);
    for (int k = 0; k < dev.n && k < dev2.n; k++) CHECK(strcmp(dev.v[k].id, dev2.v[k].id) == 0);
    bert_qa_data_free(&d), bert_qa_data_free(&dev), bert_qa_data_free(&d2), bert_qa_data_free(&dev2);
}

TEST(qa_data_reads_subjqa_csv) {
    char path[1024];
    snprintf(path, sizeof path, "%s/subj.csv", test_tmpdir());
    write_text(path,
               "item_id,domain,q_review_id,question,review,human_ans_spans,human_ans_indices\n"
               "i1,electronics,q1,\"How is the sound?\",\"The sound is great, really \"\"clear\"\". ANSWERNOTFOUND\",The sound is great,\"(0, 18)\"\n"
               "i1,electronics,q1,\"How is the sound?\",\"The sound is great, really \"\"clear\"\". ANSWERNOTFOUND\",really,\"(20, 26)\"\n"
               "i1,electronics,q1,\"How is the sound?\",\"The sound is great, really \"\"clear\"\". ANSWERNOTFOUND\",really,\"(20, 26)\"\n"
               "i2,electronics,q2,What about the battery?,\"Battery died\nafter a week. ANSWERNOTFOUND\",ANSWERNOTFOUND,\"(31, 45)\"\n"
               "i3,electronics,q3,Is the screen good?,\"The screen is bright. ANSWERNOTFOUND\",bright,\"(14, 20)\"\n");
    bert_qa_data d = {0};
    bert_error err;
    CHECK_OK(bert_qa_data_read(path, 0, &d, &err), err);
    CHECK(d.n == 3);
    if (d.n == 3) {
        CHECK(strcmp(d.v[0].context, "The sound is great, really \"clear\".") == 0);
        CHECK(d.v[0].n_answers == 2 && strcmp(d.v[0].answers[1], "really") == 0 && d.v[0].starts[1] == 20);
        CHECK(d.v[1].n_answers == 0 && d.v[1].is_impossible && strcmp(d.v[1].context, "Battery died\nafter a week.") == 0);
        CHECK(d.v[2].n_answers == 1 && strcmp(d.v[2].answers[0], "bright") == 0 && !d.v[2].is_impossible);
    }
    bert_qa_data_free(&d);
    CHECK_OK(bert_qa_data_read(path, 2, &d, &err), err);
    CHECK(d.n == 2);
    bert_qa_data_free(&d);
}

TEST(qa_presets_resolve_under_data_dir) {
    const bert_qa_preset *p = bert_qa_preset_find("subjqa");
    char buf[256];
    bert_error err;
    CHECK(p && p->train && p->dev && !p->golden);
    if (p) CHECK_OK(bert_qa_preset_path("data", p->train, "grocery", buf, sizeof buf, &err), err);
    CHECK(strcmp(buf, "data/subjqa/grocery/train.csv") == 0);
    p = bert_qa_preset_find("squad");
    if (p) CHECK_OK(bert_qa_preset_path("../d", p->dev, NULL, buf, sizeof buf, &err), err);
    CHECK(p && strcmp(buf, "../d/squad_v1.1/dev-v1.1.json.gz") == 0);
    p = bert_qa_preset_find("covid_qa");
    CHECK(p && p->train && !p->dev && p->dev_split > 0);
    p = bert_qa_preset_find("xquad");
    CHECK(p && !p->train && p->dev);
    p = bert_qa_preset_find("bioasq");
    CHECK(p && p->golden && strstr(p->golden, "7B_golden.json"));
    CHECK(bert_qa_preset_find("sst2") == NULL);
    int n = 0;
    for (const bert_qa_preset *q = bert_qa_presets(); q->name; q++) n++;
    CHECK(n == 6);
    CHECK_ERR(bert_qa_preset_path("data", "squad_v1.1/train-v1.1.json.gz", NULL, buf, 10, &err), err, BERT_ERR_INPUT, "too long");
}

/* Every window's label: the answer's first and last context tokens, or [CLS]. */
static void check_windows(const bert_tokenizer *tok, const bert_qa_data *d, const bert_qa_features *fs, int max_len,
                          int stride, int *n_answer, int *n_cls) {
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_ONLY_SECOND, ep.max_length = max_len, ep.stride = stride, ep.return_overflowing = 1;
    int fi = 0;
    *n_answer = *n_cls = 0;
    for (int i = 0; i < d->n; i++) {
        bert_encodings w;
        bert_error err;
        CHECK_OK(bert_tokenize(tok, d->v[i].question, -1, d->v[i].context, -1, &ep, &w, &err), err);
        const bert_qa_example *e = &d->v[i];
        int a0 = e->starts[0], a1 = a0 + (int)strlen(e->answers[0]); /* ASCII fixtures */
        for (int k = 0; k < w.n; k++, fi++) {
            CHECK(fi < fs->n);
            if (fi >= fs->n) break;
            const bert_qa_feature *f = &fs->v[fi];
            const bert_encoding *x = &w.encodings[k];
            CHECK(f->example == i && f->n_tokens == x->n_tokens && memcmp(f->ids, x->input_ids, sizeof *f->ids * (size_t)f->n_tokens) == 0);
            int s = (int)f->label[0], t = (int)f->label[1];
            if (s == 0 && t == 0) {
                (*n_cls)++;
                continue;
            }
            (*n_answer)++;
            CHECK(s > 0 && s <= t && t < x->n_tokens && x->token_type_ids[s] == 1 && x->token_type_ids[t] == 1);
            CHECK(x->offsets[2 * s] <= a0 && a0 < x->offsets[2 * s + 1]);
            CHECK(x->offsets[2 * t] < a1 && a1 <= x->offsets[2 * t + 1]);
        }
        bert_encodings_free(&w);
    }
    CHECK(fi == fs->n);
}

TEST(qa_features_label_answers_and_cls) {
    bert_tokenizer *tok = NULL;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(QA_MODEL, &tok, &err), err);
    bert_qa_data d = {0};
    CHECK_OK(bert_qa_data_read(QA_TRAIN, 0, &d, &err), err);
    bert_qa_features fs = {0};
    int na, ncls;
    CHECK_OK(bert_qa_featurize(tok, &d, 64, 16, 0, &fs, &err), err);
    check_windows(tok, &d, &fs, 64, 16, &na, &ncls);
    CHECK(na == d.n && ncls == 0 && fs.skipped == 0); /* short contexts: one window each, answer inside */
    bert_qa_features_free(&fs);
    /* a long context in windows of 24 tokens: the answer in some, [CLS] in the others */
    char path[1024], json[4096], ctx[2048] = "";
    for (int i = 0; i < 30; i++) strcat(ctx, "the cat sat on the mat . ");
    strcat(ctx, "paris is red .");
    snprintf(path, sizeof path, "%s/long.json", test_tmpdir());
    snprintf(json, sizeof json, "{\"data\": [{\"paragraphs\": [{\"context\": \"%s\", \"qas\": [{\"id\": \"x\", \"question\": \"what is red ?\", "
             "\"answers\": [{\"text\": \"paris\", \"answer_start\": %d}]}]}]}]}", ctx, (int)strlen(ctx) - 14);
    write_text(path, json);
    bert_qa_data_free(&d);
    CHECK_OK(bert_qa_data_read(path, 0, &d, &err), err);
    CHECK_OK(bert_qa_featurize(tok, &d, 24, 4, 0, &fs, &err), err);
    check_windows(tok, &d, &fs, 24, 4, &na, &ncls);
    CHECK(na >= 1 && ncls >= 5);
    int all = fs.n;
    bert_qa_features_free(&fs);
    CHECK_OK(bert_qa_featurize(tok, &d, 24, 4, 1, &fs, &err), err); /* drop windows without the answer */
    CHECK(fs.n == na && fs.n < all);
    for (int i = 0; i < fs.n; i++) CHECK(fs.v[i].label[0] > 0);
    bert_qa_features_free(&fs);
    bert_qa_data_free(&d);
    bert_tokenizer_free(tok);
}

/* The QA task's ops on the fixtures: prepare, evaluate a trainer, finish. */
TEST(qa_task_scores_dev_and_writes_report) {
    char out[1024], path[1200];
    snprintf(out, sizeof out, "%s/qa_task", test_tmpdir());
    bert_finetune_params p = bert_finetune_default_params(BERT_TASK_QA);
    p.model_dir = QA_MODEL, p.output_dir = out, p.train_file = QA_TRAIN, p.dev_file = QA_DEV;
    p.max_seq_len = 64, p.doc_stride = 16, p.batch_size = 4;
    p.train.n_threads = 1;
    bert_tokenizer *tok = NULL;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(QA_MODEL, &tok, &err), err);
    bert_train_params tp = p.train;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    CHECK_OK(train_task_qa.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    CHECK(metric && strcmp(metric, "f1") == 0 && gib == 1 && tp.task == BERT_TASK_QA);
    CHECK(st && train_task_qa.n_train(st) == 8 && train_task_qa.label_floats(st) == 2);
    bert_trainer *t = NULL;
    if (st) CHECK_OK(bert_trainer_open(QA_MODEL, &tp, &t, NULL, &err), err);
    bert_metrics m = {0};
    if (t) CHECK_OK(train_task_qa.evaluate(st, t, &m, &err), err);
    double em = -1, f1 = -1;
    CHECK(bert_metrics_get(&m, "exact_match", &em) && bert_metrics_get(&m, "f1", &f1));
    CHECK(em >= 0 && em <= 100 && f1 >= em && f1 <= 100);
    snprintf(path, sizeof path, "%s/dev_predictions.json", out);
    char *text = NULL;
    CHECK_OK(bert_file_read_text(path, &text, NULL, &err), err);
    CHECK(text && strstr(text, "\"dev-1-1\""));
    free(text);
    bert_loop_result r = {.best_step = 2, .best_metrics = m, .last_metrics = m, .tokens = 1000, .seconds = 2};
    if (st) CHECK_OK(train_task_qa.finish(st, &p, NULL, &r, &err), err);
    snprintf(path, sizeof path, "%s/report.json", out);
    CHECK_OK(bert_file_read_text(path, &text, NULL, &err), err);
    char want[128];
    snprintf(want, sizeof want, "\"dev_exact_match\": %.4f, \"dev_f1\": %.4f}", em, f1);
    CHECK(text && strstr(text, "\"task\": \"qa\", \"train_questions\": 8, \"train_windows\": 8, \"dev_questions\": 4, \"best_epoch\": 1"));
    CHECK(text && strstr(text, want));
    free(text);
    if (st) train_task_qa.free(st);
    /* evaluation only: the same numbers from the model directory */
    p.eval_only = 1, p.train_file = NULL;
    st = NULL;
    CHECK_OK(train_task_qa.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    CHECK(st && train_task_qa.n_train(st) == 0);
    bert_loop_result none = {.best_step = -1};
    if (st) CHECK_OK(train_task_qa.finish(st, &p, QA_MODEL, &none, &err), err);
    CHECK_OK(bert_file_read_text(path, &text, NULL, &err), err);
    CHECK(text && strstr(text, "\"task\": \"qa\", \"model\": \"" QA_MODEL "\", \"dev_questions\": 4") && strstr(text, want));
    free(text);
    if (st) train_task_qa.free(st);
    /* a model without a QA head is refused */
    st = NULL;
    CHECK_OK(train_task_qa.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (st) CHECK_ERR(train_task_qa.finish(st, &p, "tests/fixtures/tasks/mlm", &none, &err), err, BERT_ERR_UNSUPPORTED,
                      "has no question-answering head");
    if (st) train_task_qa.free(st);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
}
