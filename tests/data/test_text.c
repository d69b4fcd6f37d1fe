/* test_text.c — reading text classification examples (TSV, JSONL) and the
 * GLUE presets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define FT "tests/fixtures/finetune"

/* Write text to test_tmpdir()/name; path gets the file's path. */
static void temp_file(char *path, size_t cap, const char *name, const char *text) {
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    CHECK(test_write_file(path, text, strlen(text)) == 0);
}

TEST(text_reads_tsv_by_header_name) {
    bert_text_columns c = {"sentence", NULL, "label", 1};
    bert_text_examples ex;
    bert_error err;
    CHECK_OK(bert_text_examples_read(FT "/train.tsv", &c, &ex, &err), err);
    CHECK(ex.n == 24);
    CHECK(strcmp(ex.v[0].text, "brilliant work by the cast") == 0);
    CHECK(strcmp(ex.v[0].label, "1") == 0 && ex.v[0].pair == NULL && ex.v[0].line == 2);
    CHECK(strcmp(ex.v[1].label, "0") == 0 && ex.v[1].line == 3);
    bert_text_examples_free(&ex);
    CHECK(ex.n == 0 && ex.v == NULL);
}

TEST(text_reads_tsv_by_column_number_with_bom_and_pairs) {
    char path[1024];
    temp_file(path, sizeof path, "pairs.tsv", "\xEF\xBB\xBFq\tid\ta\tb\nyes\t7\tfirst text\tsecond \"text\"\r\n\nno\t8\tx\ty\n");
    bert_text_columns c = {"a", "3", "0", 1};
    bert_text_examples ex;
    bert_error err;
    CHECK_OK(bert_text_examples_read(path, &c, &ex, &err), err);
    CHECK(ex.n == 2);
    if (ex.n == 2) {
        CHECK(strcmp(ex.v[0].text, "first text") == 0 && strcmp(ex.v[0].pair, "second \"text\"") == 0);
        CHECK(strcmp(ex.v[0].label, "yes") == 0 && ex.v[1].line == 4 && strcmp(ex.v[1].label, "no") == 0);
    }
    bert_text_examples_free(&ex);
    /* no header: the first line is an example */
    bert_text_columns n = {"2", NULL, "0", 0};
    CHECK_OK(bert_text_examples_read(path, &n, &ex, &err), err);
    CHECK(ex.n == 3 && strcmp(ex.v[0].text, "a") == 0 && strcmp(ex.v[0].label, "q") == 0);
    bert_text_examples_free(&ex);
}

TEST(text_tsv_errors_name_file_and_line) {
    bert_text_columns c = {"sentence", NULL, "label", 1};
    bert_text_examples ex;
    bert_error err;
    CHECK_ERR(bert_text_examples_read(FT "/bad_columns.tsv", &c, &ex, &err), err, BERT_ERR_FORMAT,
              "bad_columns.tsv:3: 1 columns, need at least 2");
    CHECK(ex.n == 0 && ex.v == NULL);
    CHECK_ERR(bert_text_examples_read(FT "/train.tsv", NULL, &ex, &err), err, BERT_ERR_FORMAT,
              "train.tsv: no column 'text'");
    bert_text_columns pair = {"sentence", "sentence2", "label", 1};
    CHECK_ERR(bert_text_examples_read(FT "/train.tsv", &pair, &ex, &err), err, BERT_ERR_FORMAT, "no column 'sentence2'");
    CHECK_ERR(bert_text_examples_read(FT "/no_such_file.tsv", &c, &ex, &err), err, BERT_ERR_IO,
              "no_such_file.tsv: cannot open");
    char path[1024];
    temp_file(path, sizeof path, "header_only.tsv", "sentence\tlabel\n");
    CHECK_ERR(bert_text_examples_read(path, &c, &ex, &err), err, BERT_ERR_INPUT, "header_only.tsv: no examples");
}

TEST(text_jsonl_pair_is_optional_by_default) {
    char path[1024];
    temp_file(path, sizeof path, "mixed.jsonl",
              "{\"text\": \"one\", \"label\": \"pos\"}\n\n{\"text\": \"two\", \"text_pair\": \"three\", \"label\": 1}\n"
              "{\"text\": \"four\", \"text_pair\": null, \"label\": 2.5}\n");
    bert_text_examples ex;
    bert_error err;
    CHECK_OK(bert_text_examples_read(path, NULL, &ex, &err), err);
    CHECK(ex.n == 3);
    if (ex.n == 3) {
        CHECK(strcmp(ex.v[0].text, "one") == 0 && ex.v[0].pair == NULL && strcmp(ex.v[0].label, "pos") == 0);
        CHECK(strcmp(ex.v[1].pair, "three") == 0 && strcmp(ex.v[1].label, "1") == 0 && ex.v[1].line == 3);
        CHECK(ex.v[2].pair == NULL && strcmp(ex.v[2].label, "2.5") == 0);
    }
    bert_text_examples_free(&ex);
    /* a pair field named by the caller is required */
    bert_text_columns c = {"text", "text_pair", "label", 1};
    CHECK_ERR(bert_text_examples_read(path, &c, &ex, &err), err, BERT_ERR_FORMAT,
              "mixed.jsonl:1: needs string \"text\", \"text_pair\" and a \"label\"");
}

TEST(text_jsonl_errors_name_file_and_line) {
    char path[1024];
    temp_file(path, sizeof path, "bad.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n[1, 2]\n");
    bert_text_examples ex;
    bert_error err;
    CHECK_ERR(bert_text_examples_read(path, NULL, &ex, &err), err, BERT_ERR_FORMAT, "bad.jsonl:2: not a JSON object");
    CHECK(ex.n == 0);
    temp_file(path, sizeof path, "nolabel.jsonl", "{\"text\": \"a\"}\n");
    CHECK_ERR(bert_text_examples_read(path, NULL, &ex, &err), err, BERT_ERR_FORMAT,
              "nolabel.jsonl:1: needs string \"text\" and a \"label\"");
    temp_file(path, sizeof path, "badpair.jsonl", "{\"text\": \"a\", \"text_pair\": 3, \"label\": \"x\"}\n");
    CHECK_ERR(bert_text_examples_read(path, NULL, &ex, &err), err, BERT_ERR_FORMAT,
              "badpair.jsonl:1: \"text_pair\" must be a string");
}

TEST(text_glue_presets) {
    const bert_glue_preset *p = bert_glue_preset_find("sst2");
    CHECK(p && strcmp(p->dir, "glue/SST-2") == 0 && strcmp(p->train, "train.tsv") == 0);
    CHECK(p && strcmp(p->cols.text, "sentence") == 0 && !p->cols.pair && strcmp(p->metric, "accuracy") == 0);
    p = bert_glue_preset_find("stsb");
    CHECK(p && p->problem == BERT_PROBLEM_REGRESSION && strcmp(p->metric, "pearson") == 0);
    p = bert_glue_preset_find("cola");
    CHECK(p && !p->cols.header && strcmp(p->metric, "mcc") == 0);
    p = bert_glue_preset_find("mrpc");
    CHECK(p && p->cols.pair && strcmp(p->metric, "f1") == 0);
    CHECK(bert_glue_preset_find("squad") == NULL && bert_glue_preset_find(NULL) == NULL);
    int n = 0;
    for (const bert_glue_preset *q = bert_glue_presets(); q->name; q++) n++;
    CHECK(n == 6);
}
