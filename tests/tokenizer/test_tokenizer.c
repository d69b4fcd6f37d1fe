/* test_tokenizer.c — loading, special tokens by string, invalid UTF-8,
 * bad options, decoding: the cases the golden corpus cannot show. */
#include <stdlib.h>
#include <sys/stat.h>

#include "test.h"
#include "tokenizer/unicode.h"

#define UNCASED "tests/fixtures/tokenizer/uncased"

static const char *tmp_model(const char *name, const char *vocab, const char *config, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", test_tmpdir(), name);
    mkdir(buf, 0755);
    char path[1024];
    if (vocab) {
        snprintf(path, sizeof path, "%s/vocab.txt", buf);
        test_write_file(path, vocab, strlen(vocab));
    }
    if (config) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", buf);
        test_write_file(path, config, strlen(config));
    }
    return buf;
}

TEST(tokenizer_special_ids_are_looked_up_by_string) {
    char dir[512];
    bert_error err;
    bert_tokenizer *t = NULL;
    /* A vocabulary with the special tokens in unusual places and custom names. */
    tmp_model("custom", "hello\n<mask>\n[UNK]\n[SEP]\n[CLS]\n<pad>\nworld\n##s\n",
              "{\"mask_token\": \"<mask>\", \"pad_token\": {\"content\": \"<pad>\"}}", dir, sizeof dir);
    CHECK_OK(bert_tokenizer_load(dir, &t, &err), err);
    if (!t) return;
    CHECK(bert_tokenizer_special_id(t, BERT_SPECIAL_MASK) == 1);
    CHECK(bert_tokenizer_special_id(t, BERT_SPECIAL_UNK) == 2);
    CHECK(bert_tokenizer_special_id(t, BERT_SPECIAL_SEP) == 3);
    CHECK(bert_tokenizer_special_id(t, BERT_SPECIAL_CLS) == 4);
    CHECK(bert_tokenizer_special_id(t, BERT_SPECIAL_PAD) == 5);
    CHECK(bert_tokenizer_vocab_size(t) == 8 && bert_tokenizer_token_to_id(t, "##s") == 7);
    CHECK(strcmp(bert_tokenizer_id_to_token(t, 6), "world") == 0 && bert_tokenizer_id_to_token(t, 8) == NULL);
    bert_encodings es;
    CHECK_OK(bert_tokenize(t, "Hello <mask> worlds xyz", -1, NULL, 0, NULL, &es, &err), err);
    int want[] = {4, 0, 1, 6, 7, 2, 3};
    CHECK(es.n == 1 && es.encodings[0].n_tokens == 7);
    for (int i = 0; es.n == 1 && i < 7 && i < es.encodings[0].n_tokens; i++) CHECK(es.encodings[0].input_ids[i] == want[i]);
    bert_encodings_free(&es);
    bert_tokenizer_free(t);
}

TEST(tokenizer_load_errors) {
    char dir[512];
    bert_error err;
    bert_tokenizer *t = NULL;
    CHECK_ERR(bert_tokenizer_load("/no/such/dir", &t, &err), err, BERT_ERR_IO, "no such model directory");
    tmp_model("novocab", NULL, NULL, dir, sizeof dir);
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_IO, "no tokenizer.json or vocab.txt");
    tmp_model("nounk", "[CLS]\n[SEP]\nhello\n", NULL, dir, sizeof dir);
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_FORMAT, "unknown token '[UNK]' is not in the vocabulary");
    tmp_model("badconfig", "[UNK]\n[CLS]\n[SEP]\n", "{\"do_lower_case\": tru}", dir, sizeof dir);
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_FORMAT, "tokenizer_config.json: malformed JSON at line 1");
    tmp_model("badjson", NULL, NULL, dir, sizeof dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    const char *sp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"normalizer\": {\"type\": \"NFKC\"},"
                     "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
    test_write_file(path, sp, strlen(sp));
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_UNSUPPORTED, "normalizer 'NFKC' is not supported");
    const char *bpe = "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}";
    test_write_file(path, bpe, strlen(bpe));
    CHECK_ERR(bert_tokenizer_load(dir, &t, &err), err, BERT_ERR_UNSUPPORTED, "not WordPiece");
    CHECK(t == NULL);
}

TEST(tokenizer_rejects_invalid_utf8_with_byte_position) {
    bert_error err;
    bert_tokenizer *t = NULL;
    CHECK_OK(bert_tokenizer_load(UNCASED, &t, &err), err);
    if (!t) return;
    struct {
        const char *bytes;
        const char *want;
    } cases[] = {
        {"ok \xff", "invalid UTF-8 at byte 3 of the text"},        /* never valid */
        {"ab\xc0\x80", "invalid UTF-8 at byte 2 of the text"},     /* overlong NUL */
        {"\xe0\x80\xaf", "invalid UTF-8 at byte 0 of the text"},   /* overlong '/' */
        {"x\xed\xa0\x80y", "invalid UTF-8 at byte 1 of the text"}, /* surrogate */
        {"\xf4\x90\x80\x80", "invalid UTF-8 at byte 0 of the text"}, /* above U+10FFFF */
        {"abc\xe4\xb8", "invalid UTF-8 at byte 3 of the text"},    /* cut short */
        {"\x80 lone", "invalid UTF-8 at byte 0 of the text"},      /* stray continuation */
    };
    bert_encodings es;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_ERR(bert_tokenize(t, cases[i].bytes, -1, NULL, 0, NULL, &es, &err), err, BERT_ERR_INPUT, cases[i].want);
    CHECK_ERR(bert_tokenize(t, "fine", -1, "bad\xfe", -1, NULL, &es, &err), err, BERT_ERR_INPUT,
              "invalid UTF-8 at byte 3 of the second text");
    /* Explicit lengths: a NUL inside the text is a character (removed by clean-up). */
    CHECK_OK(bert_tokenize(t, "a\0b", 3, NULL, 0, NULL, &es, &err), err);
    CHECK(es.n == 1 && es.encodings[0].n_tokens == 3 && es.encodings[0].offsets[2] == 0 && es.encodings[0].offsets[3] == 3);
    bert_encodings_free(&es);
    bert_tokenizer_free(t);
}

TEST(tokenizer_rejects_impossible_options) {
    bert_error err;
    bert_tokenizer *t = NULL;
    CHECK_OK(bert_tokenizer_load(UNCASED, &t, &err), err);
    if (!t) return;
    bert_encodings es;
    bert_encode_params p = bert_encode_default_params();
    p.truncation = BERT_TRUNCATE_LONGEST_FIRST;
    p.max_length = 6;
    p.stride = 4;
    p.return_overflowing = 1;
    CHECK_ERR(bert_tokenize(t, "one two three four five six seven", -1, NULL, 0, &p, &es, &err), err, BERT_ERR_INPUT,
              "stride 4 must be less than the truncated length (4)");
    p.stride = 0;
    p.truncation = BERT_TRUNCATE_ONLY_SECOND;
    CHECK_ERR(bert_tokenize(t, "one two three four five six seven", -1, NULL, 0, &p, &es, &err), err, BERT_ERR_INPUT,
              "only_second needs a second text");
    p.truncation = BERT_TRUNCATE_LONGEST_FIRST;
    p.max_length = 2;
    CHECK_ERR(bert_tokenize(t, "a", -1, "b", -1, &p, &es, &err), err, BERT_ERR_INPUT, "leaves no room for the 3 special");
    p = bert_encode_default_params();
    p.padding = BERT_PAD_MAX_LENGTH;
    p.max_length = 8;
    CHECK_OK(bert_tokenize(t, "a b", -1, NULL, 0, &p, &es, &err), err);
    CHECK(es.encodings[0].n_tokens == 8 && es.encodings[0].attention_mask[7] == 0 && es.encodings[0].input_ids[7] == 0);
    bert_encodings_free(&es);
    bert_tokenizer_free(t);
}

TEST(tokenizer_decode) {
    bert_error err;
    bert_tokenizer *t = NULL;
    CHECK_OK(bert_tokenizer_load(UNCASED, &t, &err), err);
    if (!t) return;
    int32_t ids[] = {101, 7592, 1010, 2088, 999, 102};
    char *s = NULL;
    CHECK_OK(bert_detokenize(t, ids, 6, 1, &s, &err), err);
    CHECK(s && strcmp(s, "hello, world!") == 0);
    free(s);
    CHECK_OK(bert_detokenize(t, ids, 6, 0, &s, &err), err);
    CHECK(s && strcmp(s, "[CLS] hello, world! [SEP]") == 0);
    free(s);
    int32_t pieces[] = {2015, 7592, 2015}; /* "##s hello ##s": a leading piece keeps its "##" */
    CHECK_OK(bert_detokenize(t, pieces, 3, 1, &s, &err), err);
    CHECK(s && strcmp(s, "##s hellos") == 0);
    free(s);
    int32_t bad[] = {5, 999999};
    CHECK_ERR(bert_detokenize(t, bad, 2, 1, &s, &err), err, BERT_ERR_INPUT, "id 999999 at position 1");
    bert_tokenizer_free(t);
}

TEST(unicode_classes_spot_checks) {
    CHECK(bert_is_whitespace(0x3000) && bert_is_whitespace(0x85) && !bert_is_whitespace(0x200B));
    CHECK(bert_is_control(0x200B) && bert_is_control(0x85) && !bert_is_control('\t') && !bert_is_control('a'));
    CHECK(bert_is_punctuation('$') && bert_is_punctuation(0x3001) && !bert_is_punctuation(0x20AC));
    CHECK(bert_is_chinese_char(0x4E2D) && !bert_is_chinese_char(0x3042) && !bert_is_chinese_char(0x2B820) &&
          bert_is_chinese_char(0x2B920));
    uint32_t out[32];
    CHECK(bert_nfd_strip_marks(0xE9, out) == 1 && out[0] == 'e');
    CHECK(bert_lowercase(0x130, out) == 2 && out[0] == 'i' && out[1] == 0x307);
    char buf[4];
    uint32_t cps[4];
    size_t bad;
    CHECK(bert_utf8_encode(0x1F600, buf) == 4 && bert_utf8_decode(buf, 4, cps, &bad) == 1 && cps[0] == 0x1F600);
}
