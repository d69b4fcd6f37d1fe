/* pytext.c — Python's str.lower() and float repr(), CPython 3.11's sum()
 * and numpy's pairwise sum, for scores that must equal the Python tools'
 * to the last digit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tasks/pytext.h"
#include "tokenizer/unicode.h"

/* A sorted list of inclusive ranges contains c. */
static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* Case_Ignorable beyond the general categories Mn Me Cf Lm Sk: the
 * Word_Break MidLetter / MidNumLet / Single_Quote characters. */
static const uint32_t ignorable_extra[][2] = {
    {0x27, 0x27},     {0x2E, 0x2E},     {0x3A, 0x3A},     {0xB7, 0xB7},     {0x387, 0x387},   {0x55F, 0x55F},
    {0x5F4, 0x5F4},   {0x2018, 0x2019}, {0x2024, 0x2024}, {0x2027, 0x2027}, {0xFE13, 0xFE13}, {0xFE52, 0xFE52},
    {0xFE55, 0xFE55}, {0xFF07, 0xFF07}, {0xFF0E, 0xFF0E}, {0xFF1A, 0xFF1A},
};

/* Cased beyond Lu Ll Lt: Other_Lowercase / Other_Uppercase characters
 * that are not case-ignorable themselves. */
static const uint32_t cased_extra[][2] = {
    {0xAA, 0xAA},       {0xBA, 0xBA},       {0x2160, 0x217F},   {0x24B6, 0x24E9},
    {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

#define N_RANGES(a) (sizeof(a) / sizeof((a)[0]))

/* Python's _PyUnicode_IsCaseIgnorable. */
static int case_ignorable(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK || in_ranges(ignorable_extra, N_RANGES(ignorable_extra), c);
}

/* Python's _PyUnicode_IsCased (for characters that are not case-ignorable). */
static int cased(uint32_t c) {
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
           in_ranges(cased_extra, N_RANGES(cased_extra), c);
}

/* CPython's handle_capital_sigma: 1 when the sigma at i is word-final. */
static int final_sigma(const uint32_t *s, long n, long i) {
    long j = i - 1;
    while (j >= 0 && case_ignorable(s[j])) j--;
    if (j < 0 || !cased(s[j])) return 0;
    j = i + 1;
    while (j < n && case_ignorable(s[j])) j++;
    return j == n || !cased(s[j]);
}

long py_lower(const uint32_t *in, long n, uint32_t *out) {
    long m = 0;
    for (long i = 0; i < n; i++) {
        if (in[i] == 0x3A3) {
            out[m++] = final_sigma(in, n, i) ? 0x3C2 : 0x3C3;
            continue;
        }
        m += bert_lowercase(in[i], out + m);
    }
    return m;
}

int py_float_repr(double x, char *buf, size_t cap) {
    if (isnan(x)) return snprintf(buf, cap, "nan");
    if (isinf(x)) return snprintf(buf, cap, x < 0 ? "-inf" : "inf");
    if (x == 0) return snprintf(buf, cap, signbit(x) ? "-0.0" : "0.0");
    /* the shortest %.*e that reads back as x: its digits and exponent */
    char e[40];
    for (int p = 0; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p, x);
        if (strtod(e, NULL) == x) break;
    }
    char digits[24];
    int nd = 0, neg = e[0] == '-';
    const char *c = e + neg;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') digits[nd++] = *c;
    digits[nd] = '\0';
    int exp10 = atoi(c + 1), decpt = exp10 + 1; /* x = 0.DIGITS x 10^decpt */
    char t[48];
    int k = 0;
    if (neg) t[k++] = '-';
    if (decpt <= -4 || decpt > 16) { /* repr's 'r' format switches to exponent notation */
        t[k++] = digits[0];
        if (nd > 1) t[k++] = '.', memcpy(t + k, digits + 1, (size_t)nd - 1), k += nd - 1;
        k += snprintf(t + k, sizeof t - (size_t)k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (decpt <= 0) { /* 0.000DIGITS */
        t[k++] = '0', t[k++] = '.';
        for (int z = 0; z < -decpt; z++) t[k++] = '0';
        memcpy(t + k, digits, (size_t)nd), k += nd;
    } else if (decpt >= nd) { /* DIGITS000.0 */
        memcpy(t + k, digits, (size_t)nd), k += nd;
        for (int z = 0; z < decpt - nd; z++) t[k++] = '0';
        t[k++] = '.', t[k++] = '0';
    } else { /* DIG.ITS */
        memcpy(t + k, digits, (size_t)decpt), k += decpt;
        t[k++] = '.';
        memcpy(t + k, digits + decpt, (size_t)(nd - decpt)), k += nd - decpt;
    }
    t[k] = '\0';
    return snprintf(buf, cap, "%s", t);
}

double py_sum(const double *v, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += v[i];
    return s;
}

double np_sum(const double *v, long n) {
    if (n < 8) {
        double r = -0.0;
        for (long i = 0; i < n; i++) r += v[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        long i;
        for (int k = 0; k < 8; k++) r[k] = v[k];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += v[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += v[i];
        return res;
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return np_sum(v, n2) + np_sum(v + n2, n - n2);
}
