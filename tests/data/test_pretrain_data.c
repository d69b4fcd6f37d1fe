/* Pre-training data: masking statistics, whole-word groups, NSP pairs,
 * the binary corpus file and the sentence splitter (src/data/corpus*.c,
 * src/data/pretrain_pairs.c). */
#include <stdlib.h>

#include "data/corpus.h"
#include "data/pretrain_pairs.h"
#include "io/file.h"
#include "test.h"

#define VOCAB_DIR "tests/fixtures/tasks/mlm"

static uint32_t lcg_next(void *st) { return pairs_rand(st); }

TEST(data_pretrain_masking_rates_are_15_80_10_10) {
    bert_tokenizer *tok;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(VOCAB_DIR, &tok, &err), err);
    pairs_masking m;
    CHECK(pairs_masking_init(&m, tok, 1000, 0, &err) == BERT_OK);
    enum { N = 202, REPS = 3000 };
    pairs_instance x = {.ids = malloc(sizeof(int32_t) * N), .types = calloc(N, sizeof(int32_t)), .n = N};
    int32_t ids[N];
    float lab[N];
    uint64_t rs = 7;
    long masked = 0, to_mask = 0, to_random = 0, unchanged = 0, special_hit = 0, wrong_label = 0, tokens = 0;
    for (int r = 0; r < REPS; r++) {
        x.ids[0] = m.cls, x.ids[N - 1] = m.sep, x.ids[N / 2] = m.sep;
        for (int i = 1; i < N - 1; i++)
            if (i != N / 2) x.ids[i] = 6 + (int32_t)(pairs_rand(&rs) % (uint32_t)(m.vocab - 6)); /* no specials */
        CHECK(pairs_mask(&m, &x, ids, lab, lcg_next, &rs, &err) == BERT_OK);
        for (int i = 0; i < N; i++) {
            int special = x.ids[i] == m.cls || x.ids[i] == m.sep;
            tokens += !special;
            if (lab[i] < 0) {
                if (ids[i] != x.ids[i]) wrong_label++; /* an unpredicted token is never changed */
                continue;
            }
            masked++;
            special_hit += special;
            wrong_label += (int)lab[i] != x.ids[i];
            if (ids[i] == m.mask) to_mask++;
            else if (ids[i] == x.ids[i]) unchanged++;
            else to_random++;
        }
    }
    double p_mask = (double)to_mask / masked, p_rand = (double)to_random / masked, p_same = (double)unchanged / masked;
    CHECK(special_hit == 0);
    CHECK(wrong_label == 0);
    CHECK(fabs((double)masked / tokens - 0.15) < 0.003); /* round(15 % of 199) = 30 per sequence */
    /* 89,550 predictions: one standard error of 80 % is 0.13 %, of 10 % 0.1 % */
    CHECK(fabs(p_mask - 0.80) < 0.01);
    CHECK(fabs(p_rand - 0.10 * (1 - 1.0 / m.vocab)) < 0.01); /* a random id can be the same one */
    CHECK(fabs(p_same - 0.10) < 0.01);
    if (fabs(p_mask - 0.8) >= 0.01 || fabs(p_same - 0.1) >= 0.01) printf("  mask %.4f random %.4f same %.4f\n", p_mask, p_rand, p_same);
    /* the cap on predictions per sequence */
    m.max_predictions = 5;
    CHECK(pairs_mask(&m, &x, ids, lab, lcg_next, &rs, &err) == BERT_OK);
    int n = 0;
    for (int i = 0; i < N; i++) n += lab[i] >= 0;
    CHECK(n == 5);
    free(x.ids), free(x.types);
    pairs_masking_free(&m);
    bert_tokenizer_free(tok);
}

TEST(data_pretrain_whole_word_masking_keeps_words_together) {
    bert_tokenizer *tok;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(VOCAB_DIR, &tok, &err), err);
    pairs_masking m;
    CHECK(pairs_masking_init(&m, tok, 1000, 1, &err) == BERT_OK);
    int piece = bert_tokenizer_token_to_id(tok, "##a"), word = bert_tokenizer_token_to_id(tok, "the");
    CHECK(piece > 0 && word > 0);
    enum { N = 122 };
    pairs_instance x = {.ids = malloc(sizeof(int32_t) * N), .types = calloc(N, sizeof(int32_t)), .n = N};
    int32_t ids[N];
    float lab[N];
    uint64_t rs = 3;
    long split = 0, masked_words = 0;
    for (int r = 0; r < 500; r++) {
        x.ids[0] = m.cls, x.ids[N - 1] = m.sep;
        /* words of 1-4 pieces: "the ##a ##a" ... */
        for (int i = 1; i < N - 1; i++) x.ids[i] = (i == 1 || pairs_rand(&rs) % 3 == 0) ? word : piece;
        CHECK(pairs_mask(&m, &x, ids, lab, lcg_next, &rs, &err) == BERT_OK);
        for (int i = 1; i < N - 1; i++) {
            if (x.ids[i] != word) continue;
            int j = i + 1, any = lab[i] >= 0, all = lab[i] >= 0;
            for (; j < N - 1 && x.ids[j] == piece; j++) any |= lab[j] >= 0, all &= lab[j] >= 0;
            split += any && !all;
            masked_words += all;
        }
    }
    CHECK(split == 0);
    CHECK(masked_words > 500);
    free(x.ids), free(x.types);
    pairs_masking_free(&m);
    bert_tokenizer_free(tok);
}

/* 40 documents of 30 segments of 5-14 tokens; a token's id tells its document. */
static void synthetic_corpus(corpus *c) {
    enum { D = 40, S = 30 };
    uint64_t rs = 11;
    static uint64_t docs[D + 1], segs[D * S + 1];
    static int32_t toks[D * S * 14];
    int64_t nt = 0;
    for (int d = 0; d < D; d++) {
        docs[d] = (uint64_t)(d * S);
        for (int s = 0; s < S; s++) {
            segs[d * S + s] = (uint64_t)nt;
            int len = 5 + (int)(pairs_rand(&rs) % 10);
            for (int k = 0; k < len; k++) toks[nt++] = 100 + d;
        }
    }
    docs[D] = D * S, segs[D * S] = (uint64_t)nt;
    memset(c, 0, sizeof *c);
    c->n_docs = D, c->n_segs = D * S, c->n_tokens = nt;
    c->doc_start = docs, c->seg_start = segs, c->tok32 = toks;
}

TEST(data_pretrain_nsp_pairs_half_random_and_within_documents) {
    corpus c;
    synthetic_corpus(&c);
    pairs_list xs = {0};
    uint64_t rs = 5;
    for (int rep = 0; rep < 10; rep++) CHECK(pairs_make(&c, 0, c.n_docs, 64, 1, 2, &rs, &xs, NULL) == BERT_OK);
    long random = 0, bad_layout = 0, bad_next = 0, cross = 0, short_ones = 0, forced = 0, forced_next = 0;
    for (int i = 0; i < xs.n; i++) {
        const pairs_instance *x = &xs.v[i];
        int sep1 = -1;
        for (int k = 1; k < x->n; k++)
            if (x->ids[k] == 2) {
                sep1 = k;
                break;
            }
        bad_layout += x->n > 64 || x->ids[0] != 1 || x->ids[x->n - 1] != 2 || sep1 < 2 || sep1 > x->n - 3;
        if (sep1 < 2) continue;
        for (int k = 0; k < x->n; k++) bad_layout += x->types[k] != (k > sep1); /* A and its [SEP] are type 0 */
        int doc_a = x->ids[1], doc_b = x->ids[sep1 + 1], b_mixed = 0;
        for (int k = 1; k < sep1; k++) bad_layout += x->ids[k] != doc_a; /* A lies in one document */
        for (int k = sep1 + 1; k < x->n - 1; k++) b_mixed |= x->ids[k] != doc_b;
        bad_layout += b_mixed;
        forced += x->forced_random;
        forced_next += x->forced_random && !x->nsp;
        random += x->nsp && !x->forced_random;
        if (x->nsp == 0) bad_next += doc_b != doc_a; /* IsNext: B continues A's document */
        else cross += doc_b != doc_a;
        short_ones += x->n < 40;
    }
    double p = (double)random / (xs.n - forced); /* the coin flips */
    CHECK(xs.n > 1000);
    CHECK(bad_layout == 0);
    CHECK(bad_next == 0);
    CHECK(fabs(p - 0.5) < 0.04); /* ~2,700 flips: one standard error is 1 % */
    CHECK(forced_next == 0 && forced < xs.n / 5);
    CHECK(cross > random * 95 / 100); /* random B comes from another document (10 tries) */
    CHECK(short_ones > 0);            /* the 10 % shorter targets */
    if (fabs(p - 0.5) >= 0.04) printf("  random-next share %.3f of %ld (forced %ld)\n", p, xs.n - forced, forced);
    pairs_list_free(&xs);
}

TEST(data_pretrain_corpus_binary_round_trip_and_damage) {
    bert_tokenizer *tok, *other;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(VOCAB_DIR, &tok, &err), err);
    CHECK_OK(bert_tokenizer_load("models/random-tiny-uncased", &other, &err), err);
    char text[512], bin[512];
    snprintf(text, sizeof text, "%s/corpus.txt", test_tmpdir());
    snprintf(bin, sizeof bin, "%s/corpus.bin", test_tmpdir());
    const char *doc = "the cat sat. The dog ran!\nthe end\n\n\nsecond document here\n\xff bad line\n";
    CHECK(test_write_file(text, doc, strlen(doc)) == 0);
    corpus c = {0}, d;
    bert_corpus_read_params ro = {.split_sentences = 1};
    bert_corpus_stats st = {0};
    const char *files[] = {text};
    CHECK_OK(corpus_read_text(&c, tok, files, 1, &ro, &st, &err), err);
    CHECK(c.n_docs == 2 && c.n_segs == 4 && st.bad_lines == 1 && strstr(st.first_bad, "corpus.txt:6"));
    CHECK_OK(corpus_write(&c, tok, bin, &err), err);
    CHECK(corpus_is_binary(bin) && !corpus_is_binary(text));
    CHECK(bert_corpus_is_prepared(bin) && !bert_corpus_is_prepared(text));
    CHECK_OK(corpus_open(&d, tok, bin, &err), err);
    CHECK(d.n_docs == c.n_docs && d.n_segs == c.n_segs && d.n_tokens == c.n_tokens && d.tok16);
    int same = 1;
    for (int64_t i = 0; i < c.n_tokens; i++) same &= corpus_token(&c, i) == corpus_token(&d, i);
    for (int64_t i = 0; i <= c.n_segs; i++) same &= c.seg_start[i] == d.seg_start[i];
    CHECK(same);
    corpus_free(&d);
    CHECK_ERR(corpus_open(&d, other, bin, &err), err, BERT_ERR_FORMAT, "different vocabulary");
    /* cut the last byte off: refused, not read past the end */
    FILE *f = fopen(bin, "rb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(test_write_file(bin, buf, n - 1) == 0);
    CHECK_ERR(corpus_open(&d, tok, bin, &err), err, BERT_ERR_FORMAT, "truncated");
    buf[0] = 'X';
    CHECK(test_write_file(bin, buf, n) == 0);
    CHECK_ERR(corpus_open(&d, tok, bin, &err), err, BERT_ERR_FORMAT, "not a bert.c corpus");
    corpus_free(&c);
    bert_tokenizer_free(tok);
    bert_tokenizer_free(other);
}

TEST(data_pretrain_sentence_splitter) {
    struct {
        const char *text;
        int n;
        const char *first, *last;
    } cases[] = {
        {"Mr. Smith went to Washington. He stayed.", 2, "Mr. Smith went to Washington.", "He stayed."},
        {"It cost $3.50 in 1990. Prices rose (sharply). \"Why?\" she asked.", 3, "It cost $3.50 in 1990.", "\"Why?\" she asked."},
        {"J. R. R. Tolkien wrote it. See Fig. 3 for details.", 2, "J. R. R. Tolkien wrote it.", "See Fig. 3 for details."},
        {"no capital after. the split waits", 1, "no capital after. the split waits", "no capital after. the split waits"},
        {"Tumours (e.g. BRCA1) were seen. 12 patients died!", 2, "Tumours (e.g. BRCA1) were seen.", "12 patients died!"},
        {"  Trailing space.  ", 1, "Trailing space.", "Trailing space."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st[8], ln[8], n = corpus_split_sentences(cases[i].text, (int)strlen(cases[i].text), st, ln, 8);
        int ok = n == cases[i].n && (int)strlen(cases[i].first) == ln[0] && strncmp(cases[i].text + st[0], cases[i].first, (size_t)ln[0]) == 0 &&
                 (int)strlen(cases[i].last) == ln[n - 1] && strncmp(cases[i].text + st[n - 1], cases[i].last, (size_t)ln[n - 1]) == 0;
        CHECK(ok);
        if (!ok)
            for (int k = 0; k < n; k++) printf("  case %zu: [%.*s]\n", i, ln[k], cases[i].text + st[k]);
    }
}

TEST(data_pretrain_corpus_prose_files_are_documents_of_sentences) {
    bert_tokenizer *tok;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(VOCAB_DIR, &tok, &err), err);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/prose_a.txt", test_tmpdir());
    snprintf(b, sizeof b, "%s/prose_b.txt", test_tmpdir());
    /* hard-wrapped: the first paragraph's second sentence spans two lines */
    const char *ta = "The cat sat. The dog\nran to the mat.\n\nThe end.\n", *tb = "Paris is red.\n";
    CHECK(test_write_file(a, ta, strlen(ta)) == 0 && test_write_file(b, tb, strlen(tb)) == 0);
    corpus c = {0};
    bert_corpus_read_params ro = {.prose = 1, .split_sentences = 1};
    bert_corpus_stats st = {0};
    const char *files[] = {a, b};
    CHECK_OK(corpus_read_text(&c, tok, files, 2, &ro, &st, &err), err);
    CHECK(c.n_docs == 2);                                 /* a file is a document */
    CHECK(c.n_docs == 2 && corpus_doc_segs(&c, 0) == 3 && corpus_doc_segs(&c, 1) == 1); /* sentences, across line breaks */
    corpus_free(&c);
    bert_tokenizer_free(tok);
}

TEST(data_pretrain_corpus_prepare_writes_what_text_reads) {
    bert_tokenizer *tok;
    bert_error err;
    CHECK_OK(bert_tokenizer_load(VOCAB_DIR, &tok, &err), err);
    char text[512], bin[512], empty[512], again[512];
    snprintf(text, sizeof text, "%s/prep.txt", test_tmpdir());
    snprintf(bin, sizeof bin, "%s/prep.bin", test_tmpdir());
    snprintf(empty, sizeof empty, "%s/prep_empty.txt", test_tmpdir());
    snprintf(again, sizeof again, "%s/prep_again.bin", test_tmpdir());
    const char *doc = "the cat sat.\nthe dog ran\n\nsecond document\n", *blank = "\n\n";
    CHECK(test_write_file(text, doc, strlen(doc)) == 0 && test_write_file(empty, blank, strlen(blank)) == 0);
    const char *files[] = {text};
    bert_corpus_read_params rp = bert_corpus_read_default_params();
    bert_corpus_stats st;
    CHECK_OK(bert_corpus_prepare(tok, files, 1, &rp, bin, &st, &err), err);
    CHECK(st.documents == 2 && st.segments == 3 && st.tokens > 5 && st.bad_lines == 0);
    corpus c, d;
    CHECK_OK(corpus_load(&c, tok, files, 1, &rp, &st, &err), err);
    const char *bins[] = {bin};
    CHECK_OK(corpus_load(&d, tok, bins, 1, &rp, &st, &err), err);
    int same = c.n_tokens == d.n_tokens && c.n_segs == d.n_segs && c.n_docs == d.n_docs;
    for (int64_t i = 0; same && i < c.n_tokens; i++) same &= corpus_token(&c, i) == corpus_token(&d, i);
    CHECK(same);
    corpus_free(&c), corpus_free(&d);
    CHECK_ERR(bert_corpus_prepare(tok, bins, 1, &rp, again, NULL, &err), err, BERT_ERR_INPUT, "already a prepared corpus");
    const char *empties[] = {empty};
    CHECK_ERR(bert_corpus_prepare(tok, empties, 1, &rp, again, NULL, &err), err, BERT_ERR_INPUT, "holds no text");
    const char *mixed[] = {bin, text};
    CHECK_ERR(corpus_load(&c, tok, mixed, 2, &rp, &st, &err), err, BERT_ERR_INPUT, "must be the only --corpus");
    CHECK(!bert_file_exists(again));
    bert_tokenizer_free(tok);
}
