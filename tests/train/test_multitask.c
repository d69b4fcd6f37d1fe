/* test_multitask.c — task sampling (each strategy's formula, the annealing
 * schedule, draw frequencies by a chi-squared test, round-robin order, one
 * task drawing nothing) and the tasks file (what it accepts, every key
 * refused with its name). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "train/sampler.h"
#include "train/task_list.h"

static const long sizes[3] = {100, 400, 1600};

static double worst_diff(const double *a, const double *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

TEST(sampler_probabilities_follow_each_formula) {
    bert_error err;
    double p[3];
    bert_sampler_params sp = {BERT_SAMPLING_PROPORTIONAL, 2.0, 0.2};
    CHECK_OK(bert_sampler_probabilities(&sp, sizes, 3, 0, 100, p, &err), err);
    CHECK(worst_diff(p, (double[]){1 / 21.0, 4 / 21.0, 16 / 21.0}, 3) < 1e-12);
    sp.strategy = BERT_SAMPLING_UNIFORM;
    CHECK_OK(bert_sampler_probabilities(&sp, sizes, 3, 50, 100, p, &err), err);
    CHECK(worst_diff(p, (double[]){1 / 3.0, 1 / 3.0, 1 / 3.0}, 3) < 1e-12);
    sp.strategy = BERT_SAMPLING_TEMPERATURE; /* T = 2: sqrt(size) = 10, 20, 40 */
    CHECK_OK(bert_sampler_probabilities(&sp, sizes, 3, 0, 100, p, &err), err);
    CHECK(worst_diff(p, (double[]){10 / 70.0, 20 / 70.0, 40 / 70.0}, 3) < 1e-12);
    sp.strategy = BERT_SAMPLING_ROUND_ROBIN;
    CHECK_OK(bert_sampler_probabilities(&sp, sizes, 3, 7, 100, p, &err), err);
    CHECK(worst_diff(p, (double[]){1 / 3.0, 1 / 3.0, 1 / 3.0}, 3) < 1e-12);
}

/* alpha = 1 - (1 - floor) * step / (total - 1): 1 at the first step, the
 * floor at the last, linear between. */
TEST(sampler_annealing_schedule) {
    bert_error err;
    bert_sampler_params sp = {BERT_SAMPLING_ANNEALED, 2.0, 0.2};
    struct { long step; double alpha; } at[] = {{0, 1.0}, {50, 0.6}, {100, 0.2}, {25, 0.8}, {500, 0.2}};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        double p[3], want[3], sum = 0;
        CHECK_OK(bert_sampler_probabilities(&sp, sizes, 3, at[i].step, 101, p, &err), err);
        for (int k = 0; k < 3; k++) sum += want[k] = pow((double)sizes[k], at[i].alpha);
        for (int k = 0; k < 3; k++) want[k] /= sum;
        CHECK(worst_diff(p, want, 3) < 1e-12);
    }
    sp.anneal_floor = 1.5;
    double p[3];
    CHECK_ERR(bert_sampler_probabilities(&sp, sizes, 3, 0, 10, p, &err), err, BERT_ERR_INPUT, "annealing floor");
    sp = (bert_sampler_params){BERT_SAMPLING_TEMPERATURE, 0.0, 0.2};
    CHECK_ERR(bert_sampler_probabilities(&sp, sizes, 3, 0, 10, p, &err), err, BERT_ERR_INPUT, "temperature");
    sp.temperature = 2;
    CHECK_ERR(bert_sampler_probabilities(&sp, (long[]){5, 0}, 2, 0, 10, p, &err), err, BERT_ERR_INPUT, "no training examples");
    CHECK_ERR(bert_sampler_probabilities(&sp, sizes, 0, 0, 10, p, &err), err, BERT_ERR_INPUT, "1..16 tasks");
}

/* 30,000 draws: Pearson's chi-squared against the formula's counts stays
 * under 13.82, the 0.999 quantile with 2 degrees of freedom. */
static double chi2(bert_sampling s, long step, long total) {
    bert_error err;
    bert_sampler_params sp = {s, 2.0, 0.2};
    train_sampler smp;
    double p[3], n = 30000, x = 0;
    long count[3] = {0};
    if (train_sampler_init(&smp, &sp, sizes, 3, 1234, &err) != BERT_OK) return 1e9;
    bert_sampler_probabilities(&sp, sizes, 3, step, total, p, &err);
    for (int i = 0; i < (int)n; i++) count[train_sampler_next(&smp, step, total)]++;
    for (int k = 0; k < 3; k++) x += (count[k] - n * p[k]) * (count[k] - n * p[k]) / (n * p[k]);
    return x;
}

TEST(sampler_draws_match_the_probabilities) {
    double x[] = {chi2(BERT_SAMPLING_PROPORTIONAL, 0, 10), chi2(BERT_SAMPLING_UNIFORM, 0, 10),
                  chi2(BERT_SAMPLING_TEMPERATURE, 0, 10), chi2(BERT_SAMPLING_ANNEALED, 5, 11)};
    for (int i = 0; i < 4; i++) {
        CHECK(x[i] < 13.82);
        if (x[i] >= 13.82) printf("  strategy %d: chi2 %.2f\n", i, x[i]);
    }
}

TEST(sampler_round_robin_and_one_task) {
    bert_error err;
    bert_sampler_params sp = {BERT_SAMPLING_ROUND_ROBIN, 2.0, 0.2};
    train_sampler s;
    CHECK_OK(train_sampler_init(&s, &sp, sizes, 3, 1, &err), err);
    int ok = 1;
    for (int i = 0; i < 9; i++) ok &= train_sampler_next(&s, i, 9) == i % 3;
    CHECK(ok);
    sp.strategy = BERT_SAMPLING_PROPORTIONAL;
    CHECK_OK(train_sampler_init(&s, &sp, sizes, 1, 1, &err), err);
    bert_rng before = s.rng;
    for (int i = 0; i < 5; i++) ok &= train_sampler_next(&s, i, 9) == 0;
    CHECK(ok && s.rng.state == before.state);
}

static bert_status parse(const char *text, bert_task_list **l, bert_error *err) {
    bert_finetune_params d = bert_finetune_default_params(BERT_TASK_SEQUENCE);
    return train_task_list_parse(text, "tasks.json", "cfg", &d, l, err);
}

TEST(task_list_reads_presets_and_files) {
    bert_error err;
    bert_task_list *l = NULL;
    CHECK_OK(parse("{\"tasks\": [{\"preset\": \"rte\", \"max_train\": 50, \"loss_weight\": 2},"
                   " {\"name\": \"intent\", \"type\": \"sequence\", \"train\": \"a.tsv\", \"dev\": \"/abs/b.tsv\","
                   "  \"text_column\": \"utterance\", \"labels\": [\"x\", \"y\"], \"problem\": \"multi_label\", \"batch_size\": 8},"
                   " {\"name\": \"tags\", \"type\": \"token\", \"train\": \"t.conll\", \"dev\": \"d.conll\", \"tag_scheme\": \"iob2\","
                   "  \"label_all_tokens\": true, \"metric\": \"precision\"}]}", &l, &err), err);
    CHECK(bert_task_list_count(l) == 3);
    const bert_multitask_task *t = bert_task_list_tasks(l);
    if (l && bert_task_list_count(l) == 3) {
        CHECK(!strcmp(t[0].data.preset, "rte") && t[0].data.max_train == 50 && t[0].loss_weight == 2 && !t[0].name);
        CHECK(!strcmp(t[1].name, "intent") && !strcmp(t[1].data.train_file, "cfg/a.tsv") && !strcmp(t[1].data.dev_file, "/abs/b.tsv"));
        CHECK(!strcmp(t[1].data.labels, "x,y") && t[1].data.train.problem == BERT_PROBLEM_MULTI_LABEL && t[1].data.problem_given);
        CHECK(t[1].data.batch_size == 8 && t[1].data.max_seq_len == 128 && !strcmp(t[1].data.text_column, "utterance"));
        CHECK(t[2].data.task == BERT_TASK_TOKEN && t[2].data.tag_scheme_iob2 && t[2].data.label_all_tokens);
        CHECK(!strcmp(t[2].data.loop.metric, "precision"));
    }
    bert_task_list_free(l);
}

TEST(task_list_refuses_bad_keys_by_name) {
    bert_error err;
    bert_task_list *l = NULL;
    struct { const char *text, *want; } bad[] = {
        {"[{\"preset\": \"rte\", \"colour\": 1}]", "task 1: key \"colour\": unknown key"},
        {"[{\"preset\": \"rte\", \"batch_size\": 0}]", "key \"batch_size\""},
        {"[{\"preset\": \"rte\", \"batch_size\": 2.5}]", "key \"batch_size\""},
        {"[{\"preset\": \"rte\", \"max_seq_len\": 4}]", "key \"max_seq_len\""},
        {"[{\"preset\": \"rte\", \"type\": \"qa\"}]", "key \"type\""},
        {"[{\"preset\": \"rte\", \"labels\": [\"a,b\"]}]", "key \"labels\""},
        {"[{\"preset\": \"rte\", \"labels\": []}]", "key \"labels\""},
        {"[{\"preset\": \"rte\", \"loss_weight\": -1}]", "key \"loss_weight\""},
        {"[{\"preset\": \"rte\", \"no_header\": 1}]", "key \"no_header\""},
        {"[{\"preset\": \"\"}]", "key \"preset\""},
        {"[{\"name\": \"x\", \"train\": \"a.tsv\"}]", "task 1 needs \"preset\", or \"train\" and \"dev\""},
        {"[{\"train\": \"a.tsv\", \"dev\": \"b.tsv\"}]", "task 1 needs a \"name\""},
        {"[{\"preset\": \"rte\"}, 5]", "task 2 is not an object"},
        {"[]", "1..16 tasks"},
        {"{\"task\": []}", "1..16 tasks"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_ERR(parse(bad[i].text, &l, &err), err, BERT_ERR_INPUT, bad[i].want);
        CHECK(l == NULL);
    }
    CHECK_ERR(parse("[{\"preset\": \"rte\"}", &l, &err), err, BERT_ERR_FORMAT, "tasks.json: malformed JSON");
    char many[2048] = "[";
    for (int k = 0; k < 17; k++) strcat(many, k ? ",{\"preset\":\"rte\"}" : "{\"preset\":\"rte\"}");
    strcat(many, "]");
    CHECK_ERR(parse(many, &l, &err), err, BERT_ERR_INPUT, "1..16 tasks");
}

/* bert_multitask's result names its metrics TASK/METRIC in storage of the
 * result itself: they are readable after the call (ASan would see a read
 * of the run's freed copies). */
TEST(multitask_result_names_outlive_the_run) {
    bert_error err;
    bert_multitask_task tasks[2];
    const char *names[2] = {"alpha", "beta"};
    for (int k = 0; k < 2; k++) {
        tasks[k] = (bert_multitask_task){.name = names[k], .data = bert_finetune_default_params(BERT_TASK_SEQUENCE), .loss_weight = 1};
        tasks[k].data.train_file = "tests/fixtures/finetune/train.tsv", tasks[k].data.dev_file = "tests/fixtures/finetune/dev.tsv";
        tasks[k].data.text_column = "sentence", tasks[k].data.batch_size = 8;
    }
    bert_multitask_params p = bert_multitask_default_params();
    char out[600];
    snprintf(out, sizeof out, "%s/mt-run", test_tmpdir());
    p.model_dir = "tests/fixtures/tasks/mlm", p.output_dir = out, p.tasks = tasks, p.n_tasks = 2, p.epochs = 1;
    p.train.n_threads = 1;
    bert_loop_result r;
    CHECK_OK(bert_multitask(&p, &r, &err), err);
    double v;
    CHECK(bert_metrics_get(&r.best_metrics, "alpha/accuracy", &v) && bert_metrics_get(&r.best_metrics, "beta/loss", &v));
    CHECK(bert_metrics_get(&r.last_metrics, "score", &v) && r.best_step > 0);
}
