/* test_seqeval_schemes.c — seqeval's own test cases (tests/test_scheme.py
 * and tests/test_v1.py of chakki-works/seqeval 1.2.2) written in C: every
 * scheme's start / inside / end relation of two tokens, the entities of
 * short token lists with and without types, auto_detect, the prefixes a
 * scheme refuses, and classification_report's numbers. */
#include <stdlib.h>

#include "tasks/seqeval_schemes.h"
#include "test.h"

/* scheme, previous token, token, is_start, is_inside, is_end */
static const struct {
    const char *scheme, *prev, *tok;
    int start, inside, end;
} relations[] = {
    {"IOB1", "O", "O", 0, 0, 0},
    {"IOB1", "O", "I-PER", 1, 0, 0},
    {"IOB1", "O", "B-PER", 0, 0, 0},
    {"IOB1", "I-PER", "O", 0, 0, 1},
    {"IOB1", "I-PER", "I-PER", 0, 1, 0},
    {"IOB1", "I-PER", "I-ORG", 1, 0, 1},
    {"IOB1", "I-PER", "B-PER", 1, 0, 1},
    {"IOB1", "I-PER", "B-ORG", 0, 0, 1},
    {"IOB1", "B-PER", "O", 0, 0, 1},
    {"IOB1", "B-PER", "I-PER", 1, 1, 0},
    {"IOB1", "B-PER", "I-ORG", 1, 0, 1},
    {"IOB1", "B-PER", "B-PER", 1, 0, 1},
    {"IOB1", "B-PER", "B-ORG", 0, 0, 0},
    {"IOB2", "O", "O", 0, 0, 0},
    {"IOB2", "O", "I-PER", 0, 0, 0},
    {"IOB2", "O", "B-PER", 1, 0, 0},
    {"IOB2", "I-PER", "O", 0, 0, 1},
    {"IOB2", "I-PER", "I-PER", 0, 1, 0},
    {"IOB2", "I-PER", "I-ORG", 0, 0, 1},
    {"IOB2", "I-PER", "B-PER", 1, 0, 1},
    {"IOB2", "I-PER", "B-ORG", 1, 0, 1},
    {"IOB2", "B-PER", "O", 0, 0, 1},
    {"IOB2", "B-PER", "I-PER", 0, 1, 0},
    {"IOB2", "B-PER", "I-ORG", 0, 0, 1},
    {"IOB2", "B-PER", "B-PER", 1, 0, 1},
    {"IOB2", "B-PER", "B-ORG", 1, 0, 1},
    {"IOE1", "O", "O", 0, 0, 0},
    {"IOE1", "O", "I-PER", 1, 0, 0},
    {"IOE1", "O", "E-PER", 0, 0, 0},
    {"IOE1", "I-PER", "O", 0, 0, 1},
    {"IOE1", "I-PER", "I-PER", 0, 1, 0},
    {"IOE1", "I-PER", "I-ORG", 1, 0, 1},
    {"IOE1", "I-PER", "E-PER", 0, 1, 0},
    {"IOE1", "I-PER", "E-ORG", 0, 0, 1},
    {"IOE1", "E-PER", "O", 0, 0, 0},
    {"IOE1", "E-PER", "I-PER", 1, 0, 1},
    {"IOE1", "E-PER", "I-ORG", 1, 0, 0},
    {"IOE1", "E-PER", "E-PER", 1, 0, 1},
    {"IOE1", "E-PER", "E-ORG", 0, 0, 0},
    {"IOE2", "O", "O", 0, 0, 0},
    {"IOE2", "O", "I-PER", 1, 0, 0},
    {"IOE2", "O", "E-PER", 1, 0, 0},
    {"IOE2", "I-PER", "O", 0, 0, 0},
    {"IOE2", "I-PER", "I-PER", 0, 1, 0},
    {"IOE2", "I-PER", "I-ORG", 1, 0, 0},
    {"IOE2", "I-PER", "E-PER", 0, 1, 0},
    {"IOE2", "I-PER", "E-ORG", 1, 0, 0},
    {"IOE2", "E-PER", "O", 0, 0, 1},
    {"IOE2", "E-PER", "I-PER", 1, 0, 1},
    {"IOE2", "E-PER", "I-ORG", 1, 0, 1},
    {"IOE2", "E-PER", "E-PER", 1, 0, 1},
    {"IOE2", "E-PER", "E-ORG", 1, 0, 1},
    {"IOBES", "O", "O", 0, 0, 0},
    {"IOBES", "O", "I-PER", 0, 0, 0},
    {"IOBES", "O", "B-PER", 1, 0, 0},
    {"IOBES", "O", "E-PER", 0, 0, 0},
    {"IOBES", "O", "S-PER", 1, 0, 0},
    {"IOBES", "I-PER", "O", 0, 0, 0},
    {"IOBES", "I-PER", "I-PER", 0, 1, 0},
    {"IOBES", "I-PER", "I-ORG", 0, 0, 0},
    {"IOBES", "I-PER", "B-PER", 1, 0, 0},
    {"IOBES", "I-PER", "E-PER", 0, 1, 0},
    {"IOBES", "I-PER", "E-ORG", 0, 0, 0},
    {"IOBES", "I-PER", "S-PER", 1, 0, 0},
    {"IOBES", "B-PER", "O", 0, 0, 0},
    {"IOBES", "B-PER", "I-PER", 0, 1, 0},
    {"IOBES", "B-PER", "I-ORG", 0, 0, 0},
    {"IOBES", "B-PER", "E-PER", 0, 1, 0},
    {"IOBES", "B-PER", "E-ORG", 0, 0, 0},
    {"IOBES", "B-PER", "S-PER", 1, 0, 0},
    {"IOBES", "E-PER", "O", 0, 0, 1},
    {"IOBES", "E-PER", "I-PER", 0, 0, 1},
    {"IOBES", "E-PER", "B-PER", 1, 0, 1},
    {"IOBES", "E-PER", "E-PER", 0, 0, 1},
    {"IOBES", "E-PER", "S-PER", 1, 0, 1},
    {"IOBES", "S-PER", "O", 0, 0, 1},
    {"IOBES", "S-PER", "I-PER", 0, 0, 1},
    {"IOBES", "S-PER", "B-PER", 1, 0, 1},
    {"IOBES", "S-PER", "E-PER", 0, 0, 1},
    {"IOBES", "S-PER", "S-PER", 1, 0, 1},
    {"BILOU", "O", "O", 0, 0, 0},
    {"BILOU", "O", "I-PER", 0, 0, 0},
    {"BILOU", "O", "B-PER", 1, 0, 0},
    {"BILOU", "O", "L-PER", 0, 0, 0},
    {"BILOU", "O", "U-PER", 1, 0, 0},
    {"BILOU", "I-PER", "O", 0, 0, 0},
    {"BILOU", "I-PER", "I-PER", 0, 1, 0},
    {"BILOU", "I-PER", "I-ORG", 0, 0, 0},
    {"BILOU", "I-PER", "B-PER", 1, 0, 0},
    {"BILOU", "I-PER", "L-PER", 0, 1, 0},
    {"BILOU", "I-PER", "L-ORG", 0, 0, 0},
    {"BILOU", "I-PER", "U-PER", 1, 0, 0},
    {"BILOU", "B-PER", "O", 0, 0, 0},
    {"BILOU", "B-PER", "I-PER", 0, 1, 0},
    {"BILOU", "B-PER", "I-ORG", 0, 0, 0},
    {"BILOU", "B-PER", "L-PER", 0, 1, 0},
    {"BILOU", "B-PER", "L-ORG", 0, 0, 0},
    {"BILOU", "B-PER", "U-PER", 1, 0, 0},
    {"BILOU", "L-PER", "O", 0, 0, 1},
    {"BILOU", "L-PER", "I-PER", 0, 0, 1},
    {"BILOU", "L-PER", "B-PER", 1, 0, 1},
    {"BILOU", "L-PER", "L-PER", 0, 0, 1},
    {"BILOU", "L-PER", "U-PER", 1, 0, 1},
    {"BILOU", "U-PER", "O", 0, 0, 1},
    {"BILOU", "U-PER", "I-PER", 0, 0, 1},
    {"BILOU", "U-PER", "B-PER", 1, 0, 1},
    {"BILOU", "U-PER", "L-PER", 0, 0, 1},
    {"BILOU", "U-PER", "U-PER", 1, 0, 1},
};

/* scheme, tokens (space-separated), entities "TYPE,start,end_exclusive ..." */
static const struct {
    const char *scheme, *tokens, *entities;
} entity_cases[] = {
    {"IOB1", "", ""},
    {"IOB1", "B-PER", ""},
    {"IOB1", "I-PER", "PER,0,1"},
    {"IOB1", "O", ""},
    {"IOB1", "O I-PER", "PER,1,2"},
    {"IOB1", "O B-PER", ""},
    {"IOB1", "I-PER O", "PER,0,1"},
    {"IOB1", "I-PER I-PER", "PER,0,2"},
    {"IOB1", "I-PER I-ORG", "PER,0,1 ORG,1,2"},
    {"IOB1", "I-PER B-PER", "PER,0,1 PER,1,2"},
    {"IOB1", "I-PER B-ORG", "PER,0,1"},
    {"IOB1", "B-PER O", ""},
    {"IOB1", "B-PER I-PER", "PER,1,2"},
    {"IOB1", "B-PER I-ORG", "ORG,1,2"},
    {"IOB1", "B-PER B-PER", "PER,1,2"},
    {"IOB1", "B-PER B-ORG", ""},
    {"IOB1", "", ""},
    {"IOB1", "B", ""},
    {"IOB1", "I", "_,0,1"},
    {"IOB1", "O", ""},
    {"IOB1", "O O", ""},
    {"IOB1", "O I", "_,1,2"},
    {"IOB1", "O B", ""},
    {"IOB1", "I O", "_,0,1"},
    {"IOB1", "I I", "_,0,2"},
    {"IOB1", "I B", "_,0,1 _,1,2"},
    {"IOB1", "B O", ""},
    {"IOB1", "B I", "_,1,2"},
    {"IOB1", "B B", "_,1,2"},
    {"IOB2", "", ""},
    {"IOB2", "B-PER", "PER,0,1"},
    {"IOB2", "I-PER", ""},
    {"IOB2", "O", ""},
    {"IOB2", "O I-PER", ""},
    {"IOB2", "O B-PER", "PER,1,2"},
    {"IOB2", "I-PER O", ""},
    {"IOB2", "I-PER I-PER", ""},
    {"IOB2", "I-PER I-ORG", ""},
    {"IOB2", "I-PER B-PER", "PER,1,2"},
    {"IOB2", "I-PER B-ORG", "ORG,1,2"},
    {"IOB2", "B-PER O", "PER,0,1"},
    {"IOB2", "B-PER I-PER", "PER,0,2"},
    {"IOB2", "B-PER I-ORG", "PER,0,1"},
    {"IOB2", "B-PER B-PER", "PER,0,1 PER,1,2"},
    {"IOB2", "B-PER B-ORG", "PER,0,1 ORG,1,2"},
    {"IOB2", "", ""},
    {"IOB2", "B", "_,0,1"},
    {"IOB2", "I", ""},
    {"IOB2", "O", ""},
    {"IOB2", "O O", ""},
    {"IOB2", "O I", ""},
    {"IOB2", "O B", "_,1,2"},
    {"IOB2", "I O", ""},
    {"IOB2", "I I", ""},
    {"IOB2", "I B", "_,1,2"},
    {"IOB2", "B O", "_,0,1"},
    {"IOB2", "B I", "_,0,2"},
    {"IOB2", "B B", "_,0,1 _,1,2"},
    {"IOE1", "", ""},
    {"IOE1", "E-PER", ""},
    {"IOE1", "I-PER", "PER,0,1"},
    {"IOE1", "O", ""},
    {"IOE1", "O I-PER", "PER,1,2"},
    {"IOE1", "O E-PER", ""},
    {"IOE1", "I-PER O", "PER,0,1"},
    {"IOE1", "I-PER I-PER", "PER,0,2"},
    {"IOE1", "I-PER I-ORG", "PER,0,1 ORG,1,2"},
    {"IOE1", "I-PER E-ORG", "PER,0,1"},
    {"IOE1", "E-PER O", ""},
    {"IOE1", "E-PER I-PER", "PER,1,2"},
    {"IOE1", "E-PER I-ORG", "ORG,1,2"},
    {"IOE1", "E-PER E-PER", ""},
    {"IOE1", "E-PER E-ORG", ""},
    {"IOE1", "", ""},
    {"IOE1", "E", ""},
    {"IOE1", "I", "_,0,1"},
    {"IOE1", "O", ""},
    {"IOE1", "O O", ""},
    {"IOE1", "O I", "_,1,2"},
    {"IOE1", "O E", ""},
    {"IOE1", "I O", "_,0,1"},
    {"IOE1", "I I", "_,0,2"},
    {"IOE1", "E O", ""},
    {"IOE1", "E I", "_,1,2"},
    {"IOE1", "E E", ""},
    {"IOE2", "", ""},
    {"IOE2", "E-PER", "PER,0,1"},
    {"IOE2", "I-PER", ""},
    {"IOE2", "O", ""},
    {"IOE2", "O I-PER", ""},
    {"IOE2", "O E-PER", "PER,1,2"},
    {"IOE2", "I-PER O", ""},
    {"IOE2", "I-PER I-PER", ""},
    {"IOE2", "I-PER I-ORG", ""},
    {"IOE2", "I-PER E-PER", "PER,0,2"},
    {"IOE2", "I-PER E-ORG", "ORG,1,2"},
    {"IOE2", "E-PER O", "PER,0,1"},
    {"IOE2", "E-PER I-PER", "PER,0,1"},
    {"IOE2", "E-PER I-ORG", "PER,0,1"},
    {"IOE2", "E-PER E-PER", "PER,0,1 PER,1,2"},
    {"IOE2", "E-PER E-ORG", "PER,0,1 ORG,1,2"},
    {"IOE2", "", ""},
    {"IOE2", "E", "_,0,1"},
    {"IOE2", "I", ""},
    {"IOE2", "O", ""},
    {"IOE2", "O O", ""},
    {"IOE2", "O I", ""},
    {"IOE2", "O E", "_,1,2"},
    {"IOE2", "I O", ""},
    {"IOE2", "I I", ""},
    {"IOE2", "I E", "_,0,2"},
    {"IOE2", "E O", "_,0,1"},
    {"IOE2", "E I", "_,0,1"},
    {"IOE2", "E E", "_,0,1 _,1,2"},
    {"IOBES", "O", ""},
    {"IOBES", "I-PER", ""},
    {"IOBES", "B-PER", ""},
    {"IOBES", "E-PER", ""},
    {"IOBES", "S-PER", "PER,0,1"},
    {"IOBES", "O O", ""},
    {"IOBES", "O I-PER", ""},
    {"IOBES", "O B-PER", ""},
    {"IOBES", "O E-PER", ""},
    {"IOBES", "O S-PER", "PER,1,2"},
    {"IOBES", "I-PER O", ""},
    {"IOBES", "I-PER I-PER", ""},
    {"IOBES", "I-PER I-ORG", ""},
    {"IOBES", "I-PER B-PER", ""},
    {"IOBES", "I-PER E-PER", ""},
    {"IOBES", "I-PER E-ORG", ""},
    {"IOBES", "I-PER S-PER", "PER,1,2"},
    {"IOBES", "B-PER O", ""},
    {"IOBES", "B-PER I-PER", ""},
    {"IOBES", "B-PER I-ORG", ""},
    {"IOBES", "B-PER B-PER", ""},
    {"IOBES", "B-PER E-PER", "PER,0,2"},
    {"IOBES", "B-PER E-ORG", ""},
    {"IOBES", "B-PER S-PER", "PER,1,2"},
    {"IOBES", "E-PER O", ""},
    {"IOBES", "E-PER I-PER", ""},
    {"IOBES", "E-PER B-PER", ""},
    {"IOBES", "E-PER E-PER", ""},
    {"IOBES", "E-PER S-PER", "PER,1,2"},
    {"IOBES", "S-PER O", "PER,0,1"},
    {"IOBES", "S-PER I-PER", "PER,0,1"},
    {"IOBES", "S-PER B-PER", "PER,0,1"},
    {"IOBES", "S-PER E-PER", "PER,0,1"},
    {"IOBES", "S-PER S-PER", "PER,0,1 PER,1,2"},
    {"IOBES", "O", ""},
    {"IOBES", "I", ""},
    {"IOBES", "B", ""},
    {"IOBES", "E", ""},
    {"IOBES", "S", "_,0,1"},
    {"IOBES", "O O", ""},
    {"IOBES", "O I", ""},
    {"IOBES", "O B", ""},
    {"IOBES", "O E", ""},
    {"IOBES", "O S", "_,1,2"},
    {"IOBES", "I O", ""},
    {"IOBES", "I I", ""},
    {"IOBES", "I B", ""},
    {"IOBES", "I E", ""},
    {"IOBES", "I S", "_,1,2"},
    {"IOBES", "B O", ""},
    {"IOBES", "B I", ""},
    {"IOBES", "B B", ""},
    {"IOBES", "B E", "_,0,2"},
    {"IOBES", "B S", "_,1,2"},
    {"IOBES", "E O", ""},
    {"IOBES", "E I", ""},
    {"IOBES", "E B", ""},
    {"IOBES", "E E", ""},
    {"IOBES", "E S", "_,1,2"},
    {"IOBES", "S O", "_,0,1"},
    {"IOBES", "S I", "_,0,1"},
    {"IOBES", "S B", "_,0,1"},
    {"IOBES", "S E", "_,0,1"},
    {"IOBES", "S S", "_,0,1 _,1,2"},
    {"BILOU", "O", ""},
    {"BILOU", "I-PER", ""},
    {"BILOU", "B-PER", ""},
    {"BILOU", "L-PER", ""},
    {"BILOU", "U-PER", "PER,0,1"},
    {"BILOU", "O O", ""},
    {"BILOU", "O I-PER", ""},
    {"BILOU", "O B-PER", ""},
    {"BILOU", "O L-PER", ""},
    {"BILOU", "O U-PER", "PER,1,2"},
    {"BILOU", "I-PER O", ""},
    {"BILOU", "I-PER I-PER", ""},
    {"BILOU", "I-PER I-ORG", ""},
    {"BILOU", "I-PER B-PER", ""},
    {"BILOU", "I-PER L-PER", ""},
    {"BILOU", "I-PER L-ORG", ""},
    {"BILOU", "I-PER U-PER", "PER,1,2"},
    {"BILOU", "B-PER O", ""},
    {"BILOU", "B-PER I-PER", ""},
    {"BILOU", "B-PER I-ORG", ""},
    {"BILOU", "B-PER B-PER", ""},
    {"BILOU", "B-PER L-PER", "PER,0,2"},
    {"BILOU", "B-PER L-ORG", ""},
    {"BILOU", "B-PER U-PER", "PER,1,2"},
    {"BILOU", "L-PER O", ""},
    {"BILOU", "L-PER I-PER", ""},
    {"BILOU", "L-PER B-PER", ""},
    {"BILOU", "L-PER L-PER", ""},
    {"BILOU", "L-PER U-PER", "PER,1,2"},
    {"BILOU", "U-PER O", "PER,0,1"},
    {"BILOU", "U-PER I-PER", "PER,0,1"},
    {"BILOU", "U-PER B-PER", "PER,0,1"},
    {"BILOU", "U-PER L-PER", "PER,0,1"},
    {"BILOU", "U-PER U-PER", "PER,0,1 PER,1,2"},
    {"BILOU", "O", ""},
    {"BILOU", "I", ""},
    {"BILOU", "B", ""},
    {"BILOU", "L", ""},
    {"BILOU", "U", "_,0,1"},
    {"BILOU", "O O", ""},
    {"BILOU", "O I", ""},
    {"BILOU", "O B", ""},
    {"BILOU", "O L", ""},
    {"BILOU", "O U", "_,1,2"},
    {"BILOU", "I O", ""},
    {"BILOU", "I I", ""},
    {"BILOU", "I B", ""},
    {"BILOU", "I L", ""},
    {"BILOU", "I U", "_,1,2"},
    {"BILOU", "B O", ""},
    {"BILOU", "B I", ""},
    {"BILOU", "B B", ""},
    {"BILOU", "B L", "_,0,2"},
    {"BILOU", "B U", "_,1,2"},
    {"BILOU", "L O", ""},
    {"BILOU", "L I", ""},
    {"BILOU", "L B", ""},
    {"BILOU", "L L", ""},
    {"BILOU", "L U", "_,1,2"},
    {"BILOU", "U O", "_,0,1"},
    {"BILOU", "U I", "_,0,1"},
    {"BILOU", "U B", "_,0,1"},
    {"BILOU", "U L", "_,0,1"},
    {"BILOU", "U U", "_,0,1 _,1,2"},
};

TEST(seqeval_scheme_token_relations) {
    for (size_t i = 0; i < sizeof relations / sizeof relations[0]; i++) {
        int s, in, e, m = bert_seqeval_scheme_from_name(relations[i].scheme);
        CHECK(seq_token_relation(m, relations[i].prev, relations[i].tok, &s, &in, &e));
        if (s != relations[i].start || in != relations[i].inside || e != relations[i].end)
            test_fail(__FILE__, __LINE__, "%s %s -> %s: start/inside/end %d%d%d, seqeval %d%d%d", relations[i].scheme, relations[i].prev,
                      relations[i].tok, s, in, e, relations[i].start, relations[i].inside, relations[i].end);
    }
}

TEST(seqeval_scheme_entities_of_tokens) {
    for (size_t i = 0; i < sizeof entity_cases / sizeof entity_cases[0]; i++) {
        char buf[128], got[256] = "";
        const char *tags[16];
        int n = 0;
        snprintf(buf, sizeof buf, "%s", entity_cases[i].tokens);
        for (char *t = strtok(buf, " "); t && n < 16; t = strtok(NULL, " ")) tags[n++] = t;
        seq_chunk out[32];
        bert_error err;
        int m = bert_seqeval_scheme_from_name(entity_cases[i].scheme);
        long k = seq_strict_chunks(tags, &n, 1, m, out, "gold", &err);
        CHECK(k >= 0);
        size_t used = 0;
        for (long j = 0; j < k && used < sizeof got; j++)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%.*s,%ld,%ld", j ? " " : "", out[j].type_len, out[j].type,
                                     out[j].start, out[j].end + 1);
        if (strcmp(got, entity_cases[i].entities) != 0)
            test_fail(__FILE__, __LINE__, "%s [%s]: '%s', seqeval '%s'", entity_cases[i].scheme, entity_cases[i].tokens, got,
                      entity_cases[i].entities);
    }
}

TEST(seqeval_auto_detect_as_seqeval) {
    static const struct {
        const char *tags, *scheme; /* NULL: seqeval raises ValueError */
    } cases[] = {
        {"B I O", "IOB2"},   {"B I", "IOB2"},     {"B O", "IOB2"},    {"B", "IOB2"},       {"I O E", "IOE2"},
        {"I E", "IOE2"},     {"E O", "IOE2"},     {"E", "IOE2"},      {"I O B E S", "IOBES"}, {"I B E S", "IOBES"},
        {"I O B E", "IOBES"}, {"O B E S", "IOBES"}, {"I B E", "IOBES"}, {"B E S", "IOBES"},  {"O B E", "IOBES"},
        {"B E", "IOBES"},    {"S", "IOBES"},      {"I O B L U", "BILOU"}, {"I B L U", "BILOU"}, {"I O B L", "BILOU"},
        {"O B L U", "BILOU"}, {"I B L", "BILOU"},  {"B L U", "BILOU"},  {"O B L", "BILOU"},  {"B L", "BILOU"},
        {"U", "BILOU"},      {"I O", NULL},       {"H", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        const char *tags[8];
        int n = 0;
        snprintf(buf, sizeof buf, "%s", cases[i].tags);
        for (char *t = strtok(buf, " "); t && n < 8; t = strtok(NULL, " ")) tags[n++] = t;
        bert_error err;
        int s = seq_auto_detect(tags, n, &err);
        const char *got = s < 0 ? NULL : bert_seqeval_scheme_name(s);
        if (cases[i].scheme ? !got || strcmp(got, cases[i].scheme) != 0 : s >= 0)
            test_fail(__FILE__, __LINE__, "[%s]: %s, seqeval %s", cases[i].tags, got ? got : "error", cases[i].scheme ? cases[i].scheme : "error");
    }
}

TEST(seqeval_scheme_refuses_prefixes_it_does_not_allow) {
    static const struct {
        const char *tag, *scheme;
    } bad[] = {{"E", "IOB1"}, {"S", "IOB1"}, {"E", "IOB2"}, {"S", "IOB2"}, {"B", "IOE1"}, {"S", "IOE1"}, {"B", "IOE2"}, {"S", "IOE2"}};
    bert_seqeval_result r;
    bert_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = 1;
        CHECK_ERR(bert_seqeval(&bad[i].tag, &bad[i].tag, &n, 1, bert_seqeval_scheme_from_name(bad[i].scheme), &r, &err), err,
                  BERT_ERR_INPUT, "invalid token");
    }
    /* TestTokens: IOBES tokens with the IOB2 scheme */
    const char *iobes[] = {"B-PER", "E-PER", "S-PER"};
    int n = 3;
    CHECK_ERR(bert_seqeval(iobes, iobes, &n, 1, BERT_SEQEVAL_IOB2, &r, &err), err, BERT_ERR_INPUT, "invalid token 'E-PER'");
    const char *unknown[] = {"T-PER"}, *empty[] = {""};
    n = 1;
    CHECK_ERR(bert_seqeval(unknown, unknown, &n, 1, BERT_SEQEVAL_IOB2, &r, &err), err, BERT_ERR_INPUT, "no prefix");
    CHECK_ERR(bert_seqeval(empty, empty, &n, 1, BERT_SEQEVAL_DEFAULT, &r, &err), err, BERT_ERR_INPUT, "an empty tag");
    CHECK_ERR(bert_seqeval(iobes, iobes, &n, 1, 99, &r, &err), err, BERT_ERR_INPUT, "unknown seqeval mode");
}

TEST(seqeval_classification_report_of_test_v1) {
    const char *g[] = {"B-A", "B-B", "O", "B-A"}, *p[] = {"O", "B-B", "B-C", "B-A"};
    int n = 4;
    bert_seqeval_result r;
    bert_error err;
    CHECK_OK(bert_seqeval(g, p, &n, 1, BERT_SEQEVAL_DEFAULT, &r, &err), err);
    CHECK(r.n_types == 3 && strcmp(r.types[2], "C") == 0 && r.type_support[0] == 2 && r.type_support[2] == 0);
    CHECK(r.type_precision[0] == 1.0 && r.type_recall[0] == 0.5 && r.type_f1[0] == 0.6666666666666666);
    CHECK(r.macro_precision == 0.6666666666666666 && r.macro_recall == 0.5 && r.macro_f1 == 0.5555555555555555);
    CHECK(r.precision == 0.6666666666666666 && r.recall == 0.6666666666666666 && r.f1 == 0.6666666666666666);
    CHECK(r.weighted_precision == 1.0 && r.weighted_recall == 0.6666666666666666 && r.weighted_f1 == 0.7777777777777777);
    char *json = bert_seqeval_report_json(&r);
    CHECK(json && strstr(json, "\"weighted avg\":{\"precision\":1,") && strstr(json, "\"C\":{\"precision\":0,"));
    free(json);
    bert_seqeval_free(&r);
    /* test_weighted_true_sum_zero: no gold entity gives 0, 0, 0, 0 */
    const char *o[] = {"O"};
    n = 1;
    CHECK_OK(bert_seqeval(o, o, &n, 1, BERT_SEQEVAL_IOB2, &r, &err), err);
    CHECK(r.n_types == 0 && r.weighted_precision == 0 && r.weighted_f1 == 0 && r.n_gold == 0);
    bert_seqeval_free(&r);
}

/* The default-mode entities of one sentence as "TYPE,start,end ..." (inclusive ends). */
static void default_entities(const char *const *tags, int n, char *got, size_t cap) {
    seq_chunk out[32];
    bert_error err;
    long k = seq_default_chunks(tags, &n, 1, out, "gold", &err);
    size_t used = 0;
    got[0] = '\0';
    for (long j = 0; j < k && used < cap; j++)
        used += (size_t)snprintf(got + used, cap - used, "%s%.*s,%ld,%ld", j ? " " : "", out[j].type_len, out[j].type, out[j].start,
                                 out[j].end);
}

TEST(seqeval_default_mode_cases_of_test_metrics) {
    char got[256];
    const char *a[] = {"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O", "B-PER", "I-PER"};
    default_entities(a, 9, got, sizeof got);
    CHECK(strcmp(got, "MISC,3,5 PER,7,8") == 0); /* test_get_entities */
    const char *b[] = {"O", "O", "O", "MISC", "MISC", "MISC", "O", "PER", "PER"};
    default_entities(b, 9, got, sizeof got); /* non-NE tags: seqeval warns and reads M / P as prefixes */
    CHECK(strcmp(got, "ISC,3,5 ER,7,8") == 0);
    /* test_get_entities_with_only_IOB: untyped tags are type "_" (the sentences joined with an O) */
    const char *c[] = {"O", "O", "O", "B", "I", "I", "O", "B", "I", "O"};
    int lens[] = {7, 3};
    seq_chunk out[32];
    bert_error err;
    CHECK(seq_default_chunks(c, lens, 2, out, "gold", &err) == 2 && out[0].start == 3 && out[0].end == 5 && out[1].start == 8 &&
          out[1].end == 9 && out[1].type_len == 1 && out[1].type[0] == '_');
    /* test_conll_f1score / test_strict_f1score: I-ORG I-ORG is ORG(0,1) by default, nothing in strict IOB2 */
    const char *g[] = {"B-ORG", "I-ORG"}, *p[] = {"I-ORG", "I-ORG"};
    int n = 2;
    bert_seqeval_result r;
    CHECK_OK(bert_seqeval(g, p, &n, 1, BERT_SEQEVAL_DEFAULT, &r, &err), err);
    CHECK(r.f1 == 1 && r.macro_f1 == 1 && r.weighted_f1 == 1 && r.n_types == 1 && r.type_f1[0] == 1);
    bert_seqeval_free(&r);
    CHECK_OK(bert_seqeval(g, p, &n, 1, BERT_SEQEVAL_IOB2, &r, &err), err);
    CHECK(r.f1 == 0 && r.macro_f1 == 0 && r.weighted_f1 == 0 && r.n_types == 1 && r.type_f1[0] == 0);
    bert_seqeval_free(&r);
}
