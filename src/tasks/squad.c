/* squad.c — the official SQuAD evaluation's answer comparison
 * (evaluate-v1.1.py / evaluate-v2.0.py): normalise (Python's str.lower(),
 * drop ASCII punctuation, drop the words a / an / the, collapse
 * whitespace), then exact match and token-overlap F1 with each script's
 * rules. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bert.h"
#include "tasks/pytext.h"
#include "tokenizer/unicode.h"

/* Python's str.isspace (what str.split() splits on). */
static int py_space(uint32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python re's \w for str patterns: alphanumeric or underscore. */
static int py_word(uint32_t c) {
    if (c == '_') return 1;
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

char *bert_squad_normalize(const char *s) {
    size_t len = strlen(s), bad;
    uint32_t *cp = malloc(sizeof *cp * (len * 2 + 1)), *out = malloc(sizeof *out * (len * 2 + 1));
    char *res = malloc(len * 4 + 2);
    if (!cp || !out || !res) {
        free(cp), free(out), free(res);
        return NULL;
    }
    long n = bert_utf8_decode(s, len, cp, &bad);
    if (n < 0) n = 0;
    /* str.lower(), then drop string.punctuation */
    long lo = py_lower(cp, n, out), m = 0;
    for (long i = 0; i < lo; i++) {
        uint32_t c = out[i];
        if (c < 128 && ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)))
            continue;
        out[m++] = c;
    }
    /* \b(a|an|the)\b -> ' ' */
    long w = 0;
    for (long i = 0; i < m;) {
        int matched = 0;
        static const char *const art[] = {"the", "an", "a"};
        if (i == 0 || !py_word(out[i - 1])) {
            for (int a = 0; a < 3 && !matched; a++) {
                long l = (long)strlen(art[a]), k = 0;
                while (k < l && i + k < m && out[i + k] == (uint32_t)art[a][k]) k++;
                if (k == l && (i + l == m || !py_word(out[i + l]))) {
                    cp[w++] = ' ';
                    i += l;
                    matched = 1;
                }
            }
        }
        if (!matched) cp[w++] = out[i++];
    }
    /* ' '.join(text.split()) */
    size_t b = 0;
    int pending = 0;
    for (long i = 0; i < w; i++) {
        if (py_space(cp[i])) {
            pending = b > 0;
            continue;
        }
        if (pending) res[b++] = ' ', pending = 0;
        b += (size_t)bert_utf8_encode(cp[i], res + b);
    }
    res[b] = '\0';
    free(cp), free(out);
    return res;
}

double bert_squad_exact(const char *pred, const char *gold) {
    char *a = bert_squad_normalize(pred), *b = bert_squad_normalize(gold);
    double r = a && b && strcmp(a, b) == 0;
    free(a), free(b);
    return r;
}

/* Split a normalised string on single spaces, in place. */
static int tokens(char *s, char **t, int cap) {
    int n = 0;
    for (char *p = strtok(s, " "); p && n < cap; p = strtok(NULL, " ")) t[n++] = p;
    return n;
}

/* Token-overlap F1 of two answers: v2 = evaluate-v2.0's compute_f1 (an
 * answer without tokens scores 1 against another without, else 0), v2 = 0
 * evaluate-v1.1's f1_score (0 whenever no token is shared). */
static double f1_rules(const char *pred, const char *gold, int v2) {
    char *a = bert_squad_normalize(pred), *b = bert_squad_normalize(gold);
    if (!a || !b) {
        free(a), free(b);
        return 0;
    }
    int cap = (int)(strlen(a) + strlen(b)) / 2 + 2;
    char **ta = malloc(sizeof *ta * (size_t)cap), **tb = malloc(sizeof *tb * (size_t)cap);
    int na = ta ? tokens(a, ta, cap) : 0, nb = tb ? tokens(b, tb, cap) : 0;
    double f1 = 0;
    if (na == 0 || nb == 0) {
        f1 = v2 && na == nb;
    } else {
        /* multiset intersection: each gold token used once */
        char *used = calloc((size_t)nb, 1);
        int same = 0;
        for (int i = 0; used && i < na; i++)
            for (int j = 0; j < nb; j++)
                if (!used[j] && strcmp(ta[i], tb[j]) == 0) {
                    used[j] = 1, same++;
                    break;
                }
        free(used);
        if (same) {
            double p = 1.0 * same / na, r = 1.0 * same / nb;
            f1 = 2 * p * r / (p + r);
        }
    }
    free(ta), free(tb), free(a), free(b);
    return f1;
}

double bert_squad_f1(const char *pred, const char *gold) { return f1_rules(pred, gold, 1); }

double bert_squad_f1_v1(const char *pred, const char *gold) { return f1_rules(pred, gold, 0); }

void bert_squad_score_question(const char *pred, const char *const *golds, int n_golds, int version, double *exact,
                               double *f1) {
    int v2 = version == BERT_SQUAD_V2, used = 0;
    *exact = 0, *f1 = 0;
    for (int k = 0; k < n_golds; k++) {
        if (v2) { /* golds that normalise to "" are dropped */
            char *g = bert_squad_normalize(golds[k]);
            int empty = !g || !*g;
            free(g);
            if (empty) continue;
        }
        double x = bert_squad_exact(pred, golds[k]), y = f1_rules(pred, golds[k], v2);
        *exact = x > *exact || !used ? x : *exact, *f1 = y > *f1 || !used ? y : *f1;
        used = 1;
    }
    if (v2 && !used) *exact = bert_squad_exact(pred, ""), *f1 = f1_rules(pred, "", 1); /* unanswerable: "" is right */
}
