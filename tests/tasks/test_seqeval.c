/* test_seqeval.c — entity metrics against seqeval's documented behaviour
 * and hand-computed cases. */
#include "test.h"

static void run(const char *const *g, const char *const *p, const int *lens, int n, int strict, bert_seqeval_result *r) {
    bert_error err;
    CHECK_OK(bert_seqeval(g, p, lens, n, strict, r, &err), err);
}

TEST(seqeval_documented_example) {
    /* seqeval README: MISC 0.00, PER 1.00, micro avg 0.50 */
    const char *g[] = {"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O", "B-PER", "I-PER", "O"};
    const char *p[] = {"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O", "B-PER", "I-PER", "O"};
    int lens[] = {7, 3};
    bert_seqeval_result r;
    run(g, p, lens, 2, 0, &r);
    CHECK(fabs(r.f1 - 0.5) < 1e-12 && fabs(r.precision - 0.5) < 1e-12 && fabs(r.recall - 0.5) < 1e-12);
    CHECK(r.n_types == 2 && strcmp(r.types[0], "MISC") == 0 && r.type_f1[0] == 0.0 && r.type_f1[1] == 1.0);
    CHECK(fabs(r.macro_f1 - 0.5) < 1e-12 && fabs(r.token_accuracy - 0.8) < 1e-12); /* tokens 2 and 3 differ */
    bert_seqeval_free(&r);
}

TEST(seqeval_i_tag_starts_an_entity_by_default_not_in_strict) {
    const char *g[] = {"I-PER", "I-PER", "O", "B-LOC"};
    int lens[] = {4};
    bert_seqeval_result r;
    run(g, g, lens, 1, 0, &r);
    CHECK(r.n_gold == 2 && r.f1 == 1.0); /* PER(0,1) and LOC(3,3) */
    bert_seqeval_free(&r);
    run(g, g, lens, 1, 1, &r);
    CHECK(r.n_gold == 1); /* strict IOB2: only B-LOC is an entity */
    bert_seqeval_free(&r);
    /* a type change inside I- tags splits the entity; B- after B- too */
    const char *g2[] = {"B-PER", "I-LOC", "B-ORG", "B-ORG", "I-ORG"};
    int l2[] = {5};
    run(g2, g2, l2, 1, 0, &r);
    CHECK(r.n_gold == 4);
    bert_seqeval_free(&r);
}

TEST(seqeval_entities_do_not_cross_sentences_and_partial_is_wrong) {
    const char *g[] = {"B-PER", "I-PER", "I-PER", "I-PER"};
    const char *p[] = {"B-PER", "I-PER", "B-PER", "I-PER"};
    int lens[] = {2, 2};
    bert_seqeval_result r;
    run(g, p, lens, 2, 0, &r); /* gold: two sentences -> PER(0,1) and PER(2,3) */
    CHECK(r.n_gold == 2 && r.n_correct == 2);
    bert_seqeval_free(&r);
    int one[] = {4};
    run(g, p, one, 1, 0, &r); /* one sentence: gold PER(0,3); predicted two halves: none right */
    CHECK(r.n_gold == 1 && r.n_pred == 2 && r.n_correct == 0 && r.f1 == 0.0);
    bert_seqeval_free(&r);
}

TEST(seqeval_bioes_strict) {
    const char *g[] = {"S-LOC", "O", "B-PER", "I-PER", "E-PER", "B-ORG", "O"};
    int lens[] = {7};
    bert_seqeval_result r;
    run(g, g, lens, 1, 1, &r);
    CHECK(r.n_gold == 2); /* B-ORG without E- is not an entity in strict BIOES */
    bert_seqeval_free(&r);
    run(g, g, lens, 1, 0, &r);
    CHECK(r.n_gold == 3);
    bert_seqeval_free(&r);
}
