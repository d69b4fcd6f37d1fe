/* test_squad.c — SQuAD answer normalisation, EM and F1, hand-computed. */
#include <stdlib.h>

#include "test.h"

TEST(squad_normalization_and_scores) {
    char *n = bert_squad_normalize("The  Quick, brown-fox!  an Apple a day");
    CHECK(n && strcmp(n, "quick brownfox apple day") == 0);
    free(n);
    n = bert_squad_normalize("Theatre, another a.b");
    CHECK(n && strcmp(n, "theatre another ab") == 0); /* articles only as whole words */
    free(n);
    CHECK(bert_squad_exact("the Denver Broncos", "Denver Broncos!") == 1.0);
    CHECK(bert_squad_exact("Denver", "Denver Broncos") == 0.0);
    CHECK(fabs(bert_squad_f1("Denver", "Denver Broncos") - 2.0 / 3.0) < 1e-12); /* p 1, r 1/2 */
    CHECK(fabs(bert_squad_f1("a b b c", "b c c d") - 4.0 / 7.0) < 1e-12); /* b b c vs b c c d: 2 common, p 2/3, r 1/2 */
    CHECK(bert_squad_f1("", "") == 1.0 && bert_squad_f1("x", "") == 0.0);
    CHECK(bert_squad_f1("The", "a") == 1.0); /* both normalise to empty */
    n = bert_squad_normalize("Ünïcode ÄND Ümlauts");
    CHECK(n && strcmp(n, "ünïcode änd ümlauts") == 0);
    free(n);
}
