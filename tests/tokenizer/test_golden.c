/* test_golden.c — the tokenizer against Hugging Face's own (Rust
 * `tokenizers`), on every case of tests/fixtures/tokenizer/golden.jsonl.gz
 * (tools/make_tokenizer_golden.py): ~2,800 texts and pairs of real text
 * and hard cases, for the uncased tokenizer (loaded from vocab.txt +
 * tokenizer_config.json) and a cased one (from tokenizer.json), plain,
 * truncated with overflowing windows and strides, padded in batches, and
 * decoded. Required: 100 % identical ids, token types, offsets, word ids,
 * special-token and attention masks; errors where Hugging Face errors. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "test.h"

#define GOLDEN "tests/fixtures/tokenizer/golden.jsonl.gz"

typedef struct {
    long cases, mismatches, errors_expected;
    int shown;
} tally;

static int int_field(const cJSON *o, const char *k, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : def;
}

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The value of string field `key` as raw JSON decoded with its length:
 * cJSON stops at "\u0000", and the corpus has a text with a NUL in it. */
static char *raw_string(const char *line, const char *key, long *len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p) return NULL;
    p += strlen(pat);
    char *out = malloc(strlen(p) + 1);
    long n = 0;
    while (*p && *p != '"') {
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        if (c == 'u') {
            unsigned cp = (unsigned)strtoul((char[]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (cp < 0x80) out[n++] = (char)cp;
            else if (cp < 0x800) out[n++] = (char)(0xC0 | (cp >> 6)), out[n++] = (char)(0x80 | (cp & 0x3F));
            else if (cp < 0x10000)
                out[n++] = (char)(0xE0 | (cp >> 12)), out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                out[n++] = (char)(0x80 | (cp & 0x3F));
            else
                out[n++] = (char)(0xF0 | (cp >> 18)), out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static bert_encode_params params_of(const cJSON *p) {
    bert_encode_params e = bert_encode_default_params();
    const char *t = str_field(p, "truncation");
    e.max_length = int_field(p, "max_length", 0);
    if (t) e.truncation = strcmp(t, "only_first") == 0    ? BERT_TRUNCATE_ONLY_FIRST
                          : strcmp(t, "only_second") == 0 ? BERT_TRUNCATE_ONLY_SECOND
                                                          : BERT_TRUNCATE_LONGEST_FIRST;
    e.stride = int_field(p, "stride", 0);
    e.truncate_left = str_field(p, "side") && strcmp(str_field(p, "side"), "left") == 0;
    e.return_overflowing = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "overflow"));
    e.add_special_tokens = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "special"));
    const char *pad = str_field(p, "padding");
    if (pad) e.padding = strcmp(pad, "max_length") == 0 ? BERT_PAD_MAX_LENGTH : BERT_PAD_LONGEST;
    e.pad_to_multiple_of = int_field(p, "multiple", 0);
    e.pad_left = str_field(p, "pad_side") && strcmp(str_field(p, "pad_side"), "left") == 0;
    return e;
}

/* Compare one int array field; returns 1 when equal. */
static int same_ints(const cJSON *want, const int32_t *got, int n) {
    if (cJSON_GetArraySize(want) != n) return 0;
    int i = 0;
    for (const cJSON *v = want->child; v; v = v->next, i++)
        if ((int)v->valuedouble != got[i]) return 0;
    return 1;
}

/* Compare our encodings with the expected windows; names the first field that differs. */
static const char *compare(const cJSON *expect, const bert_encodings *got) {
    if (cJSON_GetArraySize(expect) != got->n) return "number of windows";
    int k = 0;
    for (const cJSON *w = expect->child; w; w = w->next, k++) {
        const bert_encoding *e = &got->encodings[k];
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "ids"), e->input_ids, e->n_tokens)) return "input_ids";
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "types"), e->token_type_ids, e->n_tokens)) return "token_type_ids";
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "offsets"), e->offsets, 2 * e->n_tokens)) return "offsets";
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "words"), e->word_ids, e->n_tokens)) return "word_ids";
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "special"), e->special_tokens_mask, e->n_tokens))
            return "special_tokens_mask";
        if (!same_ints(cJSON_GetObjectItemCaseSensitive(w, "mask"), e->attention_mask, e->n_tokens)) return "attention_mask";
    }
    return NULL;
}

static void report(tally *t, const char *line, const char *what) {
    t->mismatches++;
    if (t->shown++ < 8) fprintf(stderr, "  mismatch (%s): %.300s\n", what, line);
}

static void run_case(const bert_tokenizer *tok, const cJSON *c, const char *line, tally *t) {
    bert_error err;
    bert_encode_params p = params_of(cJSON_GetObjectItemCaseSensitive(c, "params"));
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(c, "batch");
    const cJSON *decode = cJSON_GetObjectItemCaseSensitive(c, "decode");
    t->cases++;
    if (decode) {
        int n = cJSON_GetArraySize(decode), i = 0;
        int32_t *ids = malloc(sizeof *ids * (size_t)(n + 1));
        for (const cJSON *v = decode->child; v; v = v->next) ids[i++] = (int32_t)v->valuedouble;
        char *text = NULL;
        int skip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "skip_special"));
        if (bert_detokenize(tok, ids, n, skip, &text, &err) != BERT_OK) report(t, line, err.message);
        else if (strcmp(text, str_field(c, "expect_text")) != 0) report(t, line, text);
        free(text);
        free(ids);
        return;
    }
    if (batch) {
        int n = cJSON_GetArraySize(batch), i = 0;
        const char **texts = malloc(sizeof *texts * (size_t)n);
        bert_encodings *res = calloc((size_t)n, sizeof *res);
        for (const cJSON *b = batch->child; b; b = b->next) texts[i++] = str_field(b, "text");
        if (bert_tokenize_batch(tok, texts, NULL, n, &p, res, &err) != BERT_OK) {
            report(t, line, err.message);
        } else {
            i = 0;
            for (const cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "expect")->child; w; w = w->next, i++) {
                const char *bad = compare(w, &res[i]);
                if (bad) {
                    report(t, line, bad);
                    break;
                }
            }
        }
        for (i = 0; i < n; i++) bert_encodings_free(&res[i]);
        free(res);
        free(texts);
        return;
    }
    bert_encodings got;
    long text_len = 0, pair_len = 0;
    char *text = raw_string(line, "text", &text_len), *pair = raw_string(line, "text_pair", &pair_len);
    bert_status rc = bert_tokenize(tok, text, text_len, pair, pair_len, &p, &got, &err);
    free(text);
    free(pair);
    const char *hf_error = str_field(c, "error");
    if (hf_error) {
        t->errors_expected++;
        if (rc == BERT_OK) report(t, line, "Hugging Face refused this input, bert.c accepted it");
        bert_encodings_free(&got);
        return;
    }
    if (rc != BERT_OK) {
        report(t, line, err.message);
        return;
    }
    const char *bad = compare(cJSON_GetObjectItemCaseSensitive(c, "expect"), &got);
    if (bad) report(t, line, bad);
    bert_encodings_free(&got);
}

TEST(tokenizer_matches_hugging_face_on_golden_corpus) {
    bert_error err;
    bert_tokenizer *uncased = NULL, *cased = NULL;
    CHECK_OK(bert_tokenizer_load("tests/fixtures/tokenizer/uncased", &uncased, &err), err);
    CHECK_OK(bert_tokenizer_load("tests/fixtures/tokenizer/cased", &cased, &err), err);
    if (!uncased || !cased) return;
    FILE *f = popen("gzip -dc " GOLDEN, "r");
    CHECK(f != NULL);
    if (!f) return;
    tally t = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) != -1) {
        cJSON *c = cJSON_Parse(line);
        if (!c) {
            report(&t, line, "unparsable golden line");
            continue;
        }
        const char *which = str_field(c, "tok");
        run_case(which && strcmp(which, "cased") == 0 ? cased : uncased, c, line, &t);
        cJSON_Delete(c);
    }
    free(line);
    CHECK(pclose(f) == 0);
    fprintf(stderr, "  golden tokenizer cases: %ld (%ld where Hugging Face errors), mismatches: %ld\n", t.cases,
            t.errors_expected, t.mismatches);
    CHECK(t.cases > 10000);
    CHECK(t.mismatches == 0);
    bert_tokenizer_free(uncased);
    bert_tokenizer_free(cased);
}
