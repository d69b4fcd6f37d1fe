/* unicode_diff.c — compare bert.c's character classes with Hugging Face's
 * (tools/unicode_oracle.py output) for every code point, and write the
 * exceptions as C ranges.
 *
 *   build/unicode_diff build/unicode_oracle.txt > src/tokenizer/unicode_exceptions.h
 *
 * Built by `make build/unicode_diff` against the library's internals. The
 * lists it writes are complete (not increments): a code point is listed
 * when utf8proc's answer, before any exception, differs from Hugging
 * Face's. With --check it prints the remaining differences and exits 1 if
 * there are any. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/unicode.h"
#include "tokenizer/unicode_exceptions.h" /* the lists the library was built with */

static int listed(uint32_t cp, const uint32_t (*r)[2], size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i][0] && cp <= r[i][1]) return 1;
    return 0;
}
#define LISTED(cp, r) listed(cp, r, sizeof(r) / sizeof((r)[0]))

#define N_CP 0x110000

typedef struct {
    unsigned char control, ws, punct, prews;
    char strip[64], lower[64];
} props;

static void hexes(const uint32_t *v, int n, char *out) {
    if (n == 0) {
        strcpy(out, "empty");
        return;
    }
    out[0] = '\0';
    for (int i = 0; i < n; i++) sprintf(out + strlen(out), "%s%x", i ? "," : "", v[i]);
}

/* Print ranges of cps with flag set. */
static void ranges(const char *name, const unsigned char *flag) {
    printf("static const uint32_t %s[][2] = {\n", name);
    int count = 0;
    for (uint32_t cp = 0; cp < N_CP; cp++) {
        if (!flag[cp]) continue;
        uint32_t end = cp;
        while (end + 1 < N_CP && flag[end + 1]) end++;
        printf("    {0x%X, 0x%X},\n", cp, end);
        count++;
        cp = end;
    }
    if (!count) printf("    {0x110000, 0x110000}, /* none */\n");
    printf("};\n");
}

int main(int argc, char **argv) {
    int check = argc > 2 && strcmp(argv[2], "--check") == 0;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    props *want = calloc(N_CP, sizeof *want);
    unsigned char *flip_control = calloc(N_CP, 1), *flip_punct = calloc(N_CP, 1), *flip_ws = calloc(N_CP, 1);
    unsigned char *flip_mn = calloc(N_CP, 1), *no_nfd = calloc(N_CP, 1);
    uint32_t *extra_lower = calloc(N_CP, sizeof *extra_lower);
    for (uint32_t cp = 0; cp < N_CP; cp++) strcpy(want[cp].strip, "-"), strcpy(want[cp].lower, "-");
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned cp;
        props p;
        int c, w, pu, pw;
        if (sscanf(line, "%x %d %d %d %63s %63s %d", &cp, &c, &w, &pu, p.strip, p.lower, &pw) != 7) continue;
        p.control = (unsigned char)c, p.ws = (unsigned char)w, p.punct = (unsigned char)pu, p.prews = (unsigned char)pw;
        want[cp] = p;
    }
    fclose(f);
    long diffs[6] = {0};
    for (uint32_t cp = 0; cp < N_CP; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        props *p = &want[cp];
        int control = cp == 0 || cp == 0xFFFD || bert_is_control(cp);
        int ws = !control && bert_is_whitespace(cp);
        int prews = bert_is_whitespace(cp);
        int punct = !prews && bert_is_punctuation(cp);
        uint32_t out[64];
        char s[64], l[64];
        int n = bert_nfd_strip_marks(cp, out);
        if (n == 1 && out[0] == cp) strcpy(s, "-");
        else hexes(out, n, s);
        n = bert_lowercase(cp, out);
        if (n == 1 && out[0] == cp) strcpy(l, "-");
        else hexes(out, n, l);
        /* Lists are complete: XOR the current exception back out. */
        if (control != p->control) diffs[0]++;
        flip_control[cp] = (control != p->control) ^ LISTED(cp, bert_flip_control);
        if (ws != p->ws || prews != p->prews) flip_ws[cp] = 1, diffs[1]++;
        if (punct != p->punct) diffs[2]++;
        flip_punct[cp] = (punct != p->punct) ^ LISTED(cp, bert_flip_punct);
        flip_mn[cp] = LISTED(cp, bert_flip_mn);
        no_nfd[cp] = LISTED(cp, bert_no_nfd);
        for (size_t k = 0; k < sizeof bert_extra_lower / sizeof bert_extra_lower[0]; k++)
            if (bert_extra_lower[k][0] == cp) extra_lower[cp] = bert_extra_lower[k][1];
        if (strcmp(s, p->strip) != 0) {
            /* A character without a decomposition: Rust either strips it
             * (a nonspacing mark to its tables) or keeps it. */
            uint32_t one[64];
            if (bert_nfd_decompose(cp, one) == 1 && one[0] == cp) flip_mn[cp] ^= 1;
            /* A decomposition newer than the Rust normalization tables. */
            else if (strcmp(p->strip, "-") == 0) no_nfd[cp] ^= 1;
            diffs[3]++;
            if (check || diffs[3] <= 20) fprintf(stderr, "strip U+%04X: bert.c %s, HF %s\n", cp, s, p->strip);
        }
        if (strcmp(l, p->lower) != 0) {
            unsigned single;
            char rest;
            if (sscanf(p->lower, "%x%c", &single, &rest) == 1) extra_lower[cp] = single;
            diffs[4]++;
            if (check || diffs[4] <= 20) fprintf(stderr, "lower U+%04X: bert.c %s, HF %s\n", cp, l, p->lower);
        }
        if (check && (control != p->control || flip_ws[cp] || punct != p->punct))
            fprintf(stderr, "U+%04X: control %d/%d ws %d/%d split-space %d/%d punct %d/%d (bert.c/HF)\n", cp, control,
                    p->control, ws, p->ws, prews, p->prews, punct, p->punct);
    }
    fprintf(stderr, "differences: control %ld, whitespace %ld, punctuation %ld, strip-accents %ld, lowercase %ld\n",
            diffs[0], diffs[1], diffs[2], diffs[3], diffs[4]);
    long total = diffs[0] + diffs[1] + diffs[2] + diffs[3] + diffs[4];
    if (check) {
        free(want), free(flip_control), free(flip_punct), free(flip_ws), free(flip_mn), free(no_nfd), free(extra_lower);
        return total ? 1 : 0;
    }
    printf("/* unicode_exceptions.h — GENERATED by tools/unicode_diff.c from tools/unicode_oracle.py\n"
           " * (Hugging Face tokenizers' own answers for every code point). Do not edit.\n"
           " *\n"
           " * Code points where the classes bert.c derives from utf8proc differ from\n"
           " * those of the Rust tokenizer, whose category tables (the unicode_categories\n"
           " * crate) predate recent Unicode versions: characters assigned since then are\n"
           " * 'unassigned' (Cn, hence control) there, and some changed category. */\n");
    ranges("bert_flip_control", flip_control);
    ranges("bert_flip_punct", flip_punct);
    ranges("bert_flip_mn", flip_mn);
    ranges("bert_no_nfd", no_nfd);
    printf("/* Lowercase mappings newer than utf8proc's tables: {code point, lowercase}. */\n");
    printf("static const uint32_t bert_extra_lower[][2] = {\n");
    int nl = 0;
    for (uint32_t cp = 0; cp < N_CP; cp++)
        if (extra_lower[cp]) printf("    {0x%X, 0x%X},\n", cp, extra_lower[cp]), nl++;
    if (!nl) printf("    {0x110000, 0x110000}, /* none */\n");
    printf("};\n");
    free(want), free(flip_control), free(flip_punct), free(flip_ws), free(flip_mn), free(no_nfd), free(extra_lower);
    return 0;
}
