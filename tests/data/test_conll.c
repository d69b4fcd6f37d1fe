/* Tagged sentences: the CoNLL and JSONL readers (errors name file:line),
 * tag-scheme detection, the IOB2 rewrite, the seeded dev split, presets. */
#include <stdlib.h>

#include "test.h"

/* Write text to a fresh file called name in the test directory; the path
 * goes into path. */
static void write_tmp(char *path, size_t cap, const char *name, const char *text) {
    snprintf(path, cap, "%s/%s", test_tmpdir(), name);
    CHECK(test_write_file(path, text, strlen(text)) == 0);
}

/* The tags of sentence s joined by spaces into buf. */
static const char *joined_tags(const bert_tagged_sentence *s, char *buf, size_t cap) {
    buf[0] = 0;
    for (int w = 0; w < s->n; w++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", w ? " " : "", s->tags[w]);
    }
    return buf;
}

/* Sentences of tags ("|" between sentences, spaces between tags). */
static void tags_data(const char *spec, bert_tagged_data *d) {
    memset(d, 0, sizeof *d);
    char *copy = strdup(spec), *save = NULL;
    for (char *sent = strtok_r(copy, "|", &save); sent; sent = strtok_r(NULL, "|", &save)) {
        d->v = realloc(d->v, sizeof *d->v * (size_t)(d->n + 1));
        bert_tagged_sentence *s = &d->v[d->n++];
        memset(s, 0, sizeof *s);
        char *save2 = NULL;
        for (char *t = strtok_r(sent, " ", &save2); t; t = strtok_r(NULL, " ", &save2)) {
            s->words = realloc(s->words, sizeof *s->words * (size_t)(s->n + 1));
            s->tags = realloc(s->tags, sizeof *s->tags * (size_t)(s->n + 1));
            s->words[s->n] = strdup("w");
            s->tags[s->n++] = strdup(t);
        }
    }
    free(copy);
}

TEST(conll_reads_columns_docstart_and_blank_lines) {
    char path[1024], buf[256];
    write_tmp(path, sizeof path, "a.conll",
              "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n"
              "Peter\tB-PER\nBlackburn  I-PER\r\n");
    bert_tagged_data d;
    bert_error err;
    CHECK_OK(bert_tagged_read(path, &d, &err), err);
    CHECK(d.n == 2);
    if (d.n == 2) {
        CHECK(d.v[0].n == 2 && strcmp(d.v[0].words[0], "EU") == 0 && strcmp(d.v[0].words[1], "rejects") == 0);
        CHECK(strcmp(joined_tags(&d.v[0], buf, sizeof buf), "B-ORG O") == 0);
        CHECK(strcmp(joined_tags(&d.v[1], buf, sizeof buf), "B-PER I-PER") == 0);
        CHECK(strcmp(d.v[1].words[1], "Blackburn") == 0);
        CHECK(d.v[0].line == 3 && d.v[1].line == 7);
    }
    bert_tagged_free(&d);
    CHECK(d.n == 0 && d.v == NULL);
}

TEST(conll_errors_name_file_and_line) {
    char path[1024], want[1100];
    bert_tagged_data d;
    bert_error err;
    write_tmp(path, sizeof path, "bad.conll", "a O\nb B-X\n\nlonely\n");
    snprintf(want, sizeof want, "%s:4: a token line needs a word and a tag", path);
    CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_FORMAT, want);
    CHECK(d.n == 0 && d.v == NULL);
    write_tmp(path, sizeof path, "empty.conll", "-DOCSTART- O\n\n\n");
    CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_INPUT, "no sentences");
    snprintf(path, sizeof path, "%s/missing.conll", test_tmpdir());
    CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_IO, "missing.conll: cannot open");
}

TEST(jsonl_reads_tokens_and_tags) {
    char path[1024], buf[256];
    write_tmp(path, sizeof path, "a.jsonl",
              "{\"tokens\": [\"Bob\", \"likes\", \"Lima\"], \"tags\": [\"B-PER\", \"O\", \"B-LOC\"]}\n\n"
              "{\"tokens\": [], \"tags\": []}\n{\"tokens\": [\"x\"], \"tags\": [\"O\"], \"id\": 3}\n");
    bert_tagged_data d;
    bert_error err;
    CHECK_OK(bert_tagged_read(path, &d, &err), err);
    CHECK(d.n == 2); /* the empty sentence is dropped */
    if (d.n == 2) {
        CHECK(strcmp(joined_tags(&d.v[0], buf, sizeof buf), "B-PER O B-LOC") == 0);
        CHECK(strcmp(d.v[0].words[2], "Lima") == 0 && d.v[0].line == 1 && d.v[1].line == 4);
    }
    bert_tagged_free(&d);
}

TEST(jsonl_errors_name_file_and_line) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": [\"a\"], \"tags\": [\"O\"]\n", ":2: not valid JSON"},
        {"{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n", ":1: needs \"tokens\" and \"tags\" lists of the same length"},
        {"\n{\"words\": [\"a\"], \"tags\": [\"O\"]}\n", ":2: needs \"tokens\" and \"tags\""},
        {"{\"tokens\": [\"a\", 5], \"tags\": [\"O\", \"O\"]}\n", ":1: tokens and tags must be strings"},
        {"{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\", \"\"]}\n", ":1: tag 2 is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024], want[1200];
        write_tmp(path, sizeof path, "bad.jsonl", cases[i].text);
        snprintf(want, sizeof want, "%s%s", path, cases[i].want);
        bert_tagged_data d;
        bert_error err;
        CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_FORMAT, want);
        CHECK(d.n == 0 && d.v == NULL);
    }
}

TEST(tag_scheme_detection) {
    static const struct {
        const char *tags;
        bert_tag_scheme want;
    } cases[] = {
        {"B-PER I-PER O B-LOC|O B-ORG", BERT_TAGS_IOB2},
        {"I-PER I-PER O I-LOC B-LOC", BERT_TAGS_IOB1},
        {"I-PER I-PER O I-LOC|I-ORG", BERT_TAGS_IO},
        {"I-PER E-PER O E-LOC", BERT_TAGS_IOE},
        {"B-PER E-PER O S-LOC", BERT_TAGS_BIOES},
        {"O S-LOC", BERT_TAGS_BIOES},
        {"B-PER I-PER|B-LOC E-LOC", BERT_TAGS_BIOES},
        {"O O|O", BERT_TAGS_IOB2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bert_tagged_data d;
        tags_data(cases[i].tags, &d);
        bert_tag_scheme s = bert_tag_scheme_detect(&d);
        if (s != cases[i].want) test_fail(__FILE__, __LINE__, "%s: got %s", cases[i].tags, bert_tag_scheme_name(s));
        bert_tagged_free(&d);
    }
    CHECK(strcmp(bert_tag_scheme_name(BERT_TAGS_IOB2), "IOB2") == 0 && strcmp(bert_tag_scheme_name(BERT_TAGS_IOB1), "IOB1") == 0);
    CHECK(strcmp(bert_tag_scheme_name(BERT_TAGS_IO), "IO") == 0 && strcmp(bert_tag_scheme_name(BERT_TAGS_IOE), "IOE") == 0);
    CHECK(strcmp(bert_tag_scheme_name(BERT_TAGS_BIOES), "BIOES") == 0);
}

TEST(tags_to_iob2_rewrites_every_scheme) {
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* IOE: entity ends become starts, incl. two adjacent entities of one type and one-word entities */
        {"I-PER E-PER O E-PER O E-LOC", "B-PER I-PER O B-PER O B-LOC"},
        {"I-ORG E-ORG I-ORG E-ORG", "B-ORG I-ORG B-ORG I-ORG"},
        /* IOB1: I- after O or another type starts an entity; B- splits two of a type */
        {"I-PER I-PER B-PER O I-LOC I-ORG", "B-PER I-PER B-PER O B-LOC B-ORG"},
        /* IO */
        {"I-PER I-PER O I-LOC", "B-PER I-PER O B-LOC"},
        /* BIOES */
        {"B-PER I-PER E-PER S-LOC S-LOC O B-ORG E-ORG", "B-PER I-PER I-PER B-LOC B-LOC O B-ORG I-ORG"},
        /* IOB2 is unchanged */
        {"B-PER I-PER O B-LOC B-LOC I-LOC", "B-PER I-PER O B-LOC B-LOC I-LOC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bert_tagged_data d;
        char buf[256];
        tags_data(cases[i].in, &d);
        bert_tags_to_iob2(&d);
        joined_tags(&d.v[0], buf, sizeof buf);
        if (strcmp(buf, cases[i].want) != 0) test_fail(__FILE__, __LINE__, "%s -> %s, want %s", cases[i].in, buf, cases[i].want);
        CHECK(bert_tag_scheme_detect(&d) == BERT_TAGS_IOB2);
        bert_tagged_free(&d);
    }
}

TEST(split_dev_is_seeded_and_keeps_order) {
    char spec[4096] = "";
    for (int i = 0; i < 200; i++) snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%sT%d", i ? "|" : "", i);
    bert_tagged_data a, b, dev_a = {0}, dev_b = {0};
    bert_error err;
    tags_data(spec, &a), tags_data(spec, &b);
    CHECK_OK(bert_tagged_split_dev(&a, 42, &dev_a, &err), err);
    CHECK_OK(bert_tagged_split_dev(&b, 42, &dev_b, &err), err);
    CHECK(a.n + dev_a.n == 200 && dev_a.n > 5 && dev_a.n < 40);
    CHECK(dev_a.n == dev_b.n);
    for (int i = 0; i < dev_a.n && i < dev_b.n; i++) CHECK(strcmp(dev_a.v[i].tags[0], dev_b.v[i].tags[0]) == 0);
    for (int i = 1; i < a.n; i++) CHECK(atoi(a.v[i - 1].tags[0] + 1) < atoi(a.v[i].tags[0] + 1));
    for (int i = 1; i < dev_a.n; i++) CHECK(atoi(dev_a.v[i - 1].tags[0] + 1) < atoi(dev_a.v[i].tags[0] + 1));
    bert_tagged_data c, dev_c = {0};
    tags_data(spec, &c);
    CHECK_OK(bert_tagged_split_dev(&c, 7, &dev_c, &err), err);
    int same = dev_c.n == dev_a.n;
    for (int i = 0; same && i < dev_c.n; i++) same = strcmp(dev_a.v[i].tags[0], dev_c.v[i].tags[0]) == 0;
    CHECK(!same); /* another seed, another split */
    bert_tagged_free(&a), bert_tagged_free(&b), bert_tagged_free(&c);
    bert_tagged_free(&dev_a), bert_tagged_free(&dev_b), bert_tagged_free(&dev_c);
}

TEST(ner_presets) {
    const bert_ner_preset *p = bert_ner_preset_find("conll2003");
    CHECK(p && strcmp(p->dir, "conll2003") == 0 && strcmp(p->train, "train.txt") == 0 && strcmp(p->dev, "valid.txt") == 0 &&
          strcmp(p->test, "test.txt") == 0);
    p = bert_ner_preset_find("ncbi");
    CHECK(p && strcmp(p->dir, "ncbi_disease") == 0 && strcmp(p->dev, "devel.tsv") == 0);
    p = bert_ner_preset_find("sec");
    CHECK(p && p->dev == NULL && strcmp(p->train, "FIN5.train.txt") == 0 && strcmp(p->test, "FIN3.test.txt") == 0);
    CHECK(bert_ner_preset_find("bc5cdr") != NULL);
    CHECK(bert_ner_preset_find("sst2") == NULL && bert_ner_preset_find(NULL) == NULL);
    int n = 0;
    for (const bert_ner_preset *q = bert_ner_presets(); q->name; q++) n++;
    CHECK(n == 4);
}
