/* test_squad_golden.c — bert_squad_evaluate against the official SQuAD
 * scripts (evaluate's squad / squad_v2 metric code, run by
 * tools/make_scoring_goldens.py): the printed JSON byte for byte on crafted
 * v1.1 and v2.0 files (gold "." answers, Greek final sigma, İ, duplicate
 * ids, integer no-answer probabilities, thresholds), and the refusals. */
#include <stdlib.h>

#include "tasks/pytext.h"
#include "test.h"

#define SC "tests/fixtures/conformance/scoring/"

/* The contents of a file (malloc'd), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) free(s), s = NULL;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* Score and compare with the golden text. */
static void expect_golden(const char *data, const char *preds, const char *na, double thresh, const char *golden) {
    bert_squad_eval_params p = bert_squad_eval_default_params();
    p.na_prob_file = na, p.na_prob_thresh = thresh;
    bert_squad_eval e;
    bert_error err;
    CHECK_OK(bert_squad_evaluate(data, preds, &p, &e, &err), err);
    char *want = slurp(golden);
    CHECK(want != NULL);
    if (want && e.json && strcmp(want, e.json) != 0) test_fail(__FILE__, __LINE__, "%s:\n%s\nvs bert.c:\n%s", golden, want, e.json);
    free(want);
    bert_squad_eval_free(&e);
}

TEST(squad_evaluate_matches_official_scripts) {
    expect_golden(SC "squad_v1.json", SC "squad_v1_predictions.json", NULL, 1.0, SC "squad_v1.expected.json");
    expect_golden(SC "squad_v2.json", SC "squad_v2_predictions.json", NULL, 1.0, SC "squad_v2.expected.json");
    expect_golden(SC "squad_v2.json", SC "squad_v2_predictions.json", SC "squad_v2_na_probs.json", 1.0, SC "squad_v2_na.expected.json");
    expect_golden(SC "squad_v2.json", SC "squad_v2_predictions.json", SC "squad_v2_na_probs.json", 0.5,
                  SC "squad_v2_na_t05.expected.json");
    expect_golden(SC "squad_v2.json", SC "squad_v2_predictions.json", SC "squad_v2_na_probs_int.json", 0.5,
                  SC "squad_v2_na_int.expected.json");
}

TEST(squad_evaluate_versions_and_missing_answers) {
    bert_squad_eval e;
    bert_error err;
    CHECK_OK(bert_squad_evaluate(SC "squad_v1.json", SC "squad_v1_predictions.json", NULL, &e, &err), err);
    CHECK(e.version == BERT_SQUAD_V1 && e.total == 18 && e.n_missing == 1 && strcmp(e.missing[0], "q13") == 0);
    CHECK(e.data_version && strcmp(e.data_version, "1.1") == 0);
    bert_squad_eval_free(&e);
    CHECK_OK(bert_squad_evaluate(SC "squad_v2.json", SC "squad_v2_predictions.json", NULL, &e, &err), err);
    CHECK(e.version == BERT_SQUAD_V2 && e.total == 11 && e.has_total == 7 && e.no_total == 4 && !e.has_best); /* h01 twice */
    bert_squad_eval_free(&e);
    /* v2.0 rules on v1.1 data: the three gold-"." questions become "" questions */
    bert_squad_eval_params p = bert_squad_eval_default_params();
    p.version = BERT_SQUAD_V2;
    CHECK_ERR(bert_squad_evaluate(SC "squad_v1.json", SC "squad_v1_predictions.json", &p, &e, &err), err, BERT_ERR_INPUT,
              "no prediction for question q13");
    p.version = BERT_SQUAD_V1;
    p.na_prob_file = SC "squad_v2_na_probs.json";
    CHECK_ERR(bert_squad_evaluate(SC "squad_v2.json", SC "squad_v2_predictions.json", &p, &e, &err), err, BERT_ERR_INPUT,
              "no no-answer probabilities");
    p.na_prob_file = NULL;
    CHECK_ERR(bert_squad_evaluate(SC "squad_v2.json", SC "squad_v2_predictions.json", &p, &e, &err), err, BERT_ERR_INPUT,
              "has no answers");
}

TEST(squad_evaluate_refuses_bad_files) {
    const char *dir = test_tmpdir();
    char data[512], preds[512], na[512];
    snprintf(data, sizeof data, "%s/sq_data.json", dir);
    snprintf(preds, sizeof preds, "%s/sq_preds.json", dir);
    snprintf(na, sizeof na, "%s/sq_na.json", dir);
    const char *d = "{\"version\": \"v2.0\", \"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"a\", \"answers\": []}]}]}]}";
    test_write_file(data, d, strlen(d));
    bert_squad_eval e;
    bert_error err;
    bert_squad_eval_params p = bert_squad_eval_default_params();
    test_write_file(preds, "{\"a\": 3}", 8);
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "must be a string");
    test_write_file(preds, "{\"a\": \"x\",\n", 11);
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "not valid JSON");
    test_write_file(preds, "[\"x\"]", 5);
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "not a JSON object");
    test_write_file(preds, "{\"a\": \"\"}", 9);
    test_write_file(na, "{\"b\": 0.5}", 10);
    p.na_prob_file = na;
    CHECK_ERR(bert_squad_evaluate(data, preds, &p, &e, &err), err, BERT_ERR_INPUT, "no no-answer probability for question a");
    test_write_file(na, "{\"a\": \"high\"}", 13);
    CHECK_ERR(bert_squad_evaluate(data, preds, &p, &e, &err), err, BERT_ERR_FORMAT, "must be a finite number");
    test_write_file(na, "{\"a\": 0.5}", 10);
    CHECK_OK(bert_squad_evaluate(data, preds, &p, &e, &err), err);
    CHECK(e.exact == 100.0 && e.no_total == 1 && e.has_best && e.best_exact == 100.0 && e.best_exact_thresh == 0.0);
    bert_squad_eval_free(&e);
    CHECK_ERR(bert_squad_evaluate(SC "nothing-here.json", preds, NULL, &e, &err), err, BERT_ERR_IO, "nothing-here.json");
    test_write_file(data, "{\"data\": {}}", 12);
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "no \"data\" list");
    test_write_file(data, "{\"data\": []}", 12);
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_INPUT, "no questions");
    d = "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": 7, \"answers\": []}]}]}]}";
    test_write_file(data, d, strlen(d));
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "data[0].paragraphs[0].qas[0]");
    d = "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"a\", \"answers\": [{\"answer_start\": 0}]}]}]}]}";
    test_write_file(data, d, strlen(d));
    CHECK_ERR(bert_squad_evaluate(data, preds, NULL, &e, &err), err, BERT_ERR_FORMAT, "answers[0]: no \"text\"");
}

TEST(squad_normalizes_as_python_lower) {
    static const char *const cases[][2] = {
        {"ΟΔΟΣ", "οδος"},          /* final sigma at the end */
        {"ΟΔΟΣ ΚΑΙ ΣΑ", "οδος και σα"}, /* word end, word start */
        {"Σ", "σ"},                  /* no cased letter before: not final */
        {"ΑΣ'Β", "ασβ"},           /* an apostrophe is case-ignorable: Β follows */
        {"ΑΣ.", "ας"},               /* '.' is case-ignorable, then the end */
        {"ΑΣ\xcc\x81", "ας\xcc\x81"},  /* a combining accent is skipped */
        {"İstanbul", "i\xcc\x87stanbul"}, /* U+0130: i + U+0307 */
        {"Straße MAẞE", "straße maße"},
        {"The  A an", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *n = bert_squad_normalize(cases[i][0]);
        if (!n || strcmp(n, cases[i][1]) != 0) test_fail(__FILE__, __LINE__, "'%s' -> '%s', want '%s'", cases[i][0], n ? n : "(null)", cases[i][1]);
        free(n);
    }
    CHECK(bert_squad_exact("ΟΔΟΣ", "οδος") == 1.0 && bert_squad_exact("ΟΔΟΣ", "οδοσ") == 0.0);
}

TEST(squad_v1_and_v2_rules_differ_where_the_scripts_do) {
    CHECK(bert_squad_exact(".", ".") == 1.0);
    CHECK(bert_squad_f1(".", ".") == 1.0 && bert_squad_f1_v1(".", ".") == 0.0); /* v1.1: no shared token */
    CHECK(fabs(bert_squad_f1_v1("Denver", "Denver Broncos") - 2.0 / 3.0) < 1e-15);
    const char *golds[] = {".", "Paris"};
    double x, y;
    bert_squad_score_question("Paris", golds, 2, BERT_SQUAD_V2, &x, &y);
    CHECK(x == 1.0 && y == 1.0);
    bert_squad_score_question("", golds, 1, BERT_SQUAD_V2, &x, &y); /* "." dropped: "" is right */
    CHECK(x == 1.0 && y == 1.0);
    bert_squad_score_question(".", golds, 1, BERT_SQUAD_V1, &x, &y);
    CHECK(x == 1.0 && y == 0.0);
    bert_squad_score_question("Lyon", golds, 2, BERT_SQUAD_V1, &x, &y);
    CHECK(x == 0.0 && y == 0.0);
    bert_squad_score_question("x", NULL, 0, BERT_SQUAD_V2, &x, &y); /* unanswerable */
    CHECK(x == 0.0 && y == 0.0);
}

TEST(squad_json_numbers_are_python_reprs) {
    static const struct {
        double x;
        const char *repr;
    } cases[] = {
        {0.1, "0.1"},       {100.0, "100.0"}, {1e16, "1e+16"}, {1e-5, "1e-05"}, {123456789012345680.0, "1.2345678901234568e+17"},
        {0.0001, "0.0001"}, {1.0 / 3, "0.3333333333333333"}, {200.0 / 3, "66.66666666666667"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {-0.5, "-0.5"}, {1e15, "1000000000000000.0"},
        {9999999999999998.0, "9999999999999998.0"}, {0.00012345, "0.00012345"}, {1.5e-7, "1.5e-07"}, {0.0, "0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        py_float_repr(cases[i].x, buf, sizeof buf);
        if (strcmp(buf, cases[i].repr) != 0) test_fail(__FILE__, __LINE__, "%.17g: '%s', Python '%s'", cases[i].x, buf, cases[i].repr);
    }
    double v[] = {1e16, 1.0, 1.0, -1e16}, w[11] = {1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1e16};
    CHECK(py_sum(v, 4) == 0.0 && np_sum(v, 4) == 0.0); /* in order from 0, as Python 3.11 and numpy below 8 */
    CHECK(np_sum(w, 11) == 8.0);                      /* numpy's 8 partial sums (np.sum gives 8.0) */
}
