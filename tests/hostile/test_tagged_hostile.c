/* test_tagged_hostile.c — tagged sentences with empty and one-letter tags:
 * the scheme detection and the IOB2 rewrite read no byte past a tag, and
 * the readers refuse an empty tag with file:line (a tag in the middle of a
 * sentence leaks nothing on the error path; the sanitizer build checks). */
#include <stdlib.h>
#include <string.h>

#include "test.h"

TEST(hostile_tag_scheme_of_empty_and_short_tags) {
    char *words[] = {"a", "b", "c", "d", "e"};
    char t0[] = "", t1[] = "B", t2[] = "I", t3[] = "-", t4[] = "I-";
    char *tags[] = {t0, t1, t2, t3, t4};
    bert_tagged_sentence s = {.words = words, .tags = tags, .n = 5, .line = 1};
    bert_tagged_data d = {.v = &s, .n = 1};
    bert_tag_scheme sc = bert_tag_scheme_detect(&d);
    CHECK(sc == BERT_TAGS_IO); /* "I-" starts an entity with no B- in sight */
    bert_tags_to_iob2(&d);
    CHECK(strcmp(t0, "") == 0 && strcmp(t1, "B") == 0 && strcmp(t3, "-") == 0 && strcmp(t4, "B-") == 0);
}

TEST(hostile_tagged_read_empty_tag_mid_file) {
    char path[600];
    snprintf(path, sizeof path, "%s/empty_tag.jsonl", test_tmpdir());
    const char *text = "{\"tokens\":[\"Alice\"],\"tags\":[\"B-PER\"]}\n{\"tokens\":[\"Bob\",\"x\"],\"tags\":[\"B-PER\",\"\"]}\n";
    test_write_file(path, text, strlen(text));
    bert_tagged_data d;
    bert_error err;
    CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_FORMAT, "empty_tag.jsonl:2: tag 2 is empty");
    CHECK(d.n == 0 && d.v == NULL);
    snprintf(path, sizeof path, "%s/mid.conll", test_tmpdir());
    text = "Alice B-PER\nSmith I-PER\nlikes\n";
    test_write_file(path, text, strlen(text));
    CHECK_ERR(bert_tagged_read(path, &d, &err), err, BERT_ERR_FORMAT, "mid.conll:3: a token line needs a word and a tag");
    CHECK(d.n == 0 && d.v == NULL);
}
