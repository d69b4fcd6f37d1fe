/* unicode.c — see unicode.h.
 *
 * Why some classes differ from Python's BertTokenizer: Hugging Face's Rust
 * tokenizer (what AutoTokenizer loads) calls a character "control" when
 * its category is any of Cc, Cf, Cn, Co, Cs (Python: only Cc, Cf), and
 * "whitespace" when it has the Unicode White_Space property (Python: Zs
 * plus \t \n \r). We follow Rust; ../shared/docs/bert-reference.md §1.1
 * lists the differences. The Unicode tables Rust uses are older than
 * utf8proc's; tools/unicode_oracle.py + tools/unicode_diff.c find the code
 * points where that matters and unicode_exceptions.h records them. */
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include "tokenizer/unicode_exceptions.h"

long bert_utf8_decode(const char *s, size_t len, uint32_t *cps, size_t *bad_byte) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    long n = 0;
    while (i < len) {
        unsigned c = p[i];
        uint32_t cp;
        int extra;
        if (c < 0x80) {
            cps[n++] = c;
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            cp = c & 0x1F, extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            cp = c & 0x0F, extra = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            cp = c & 0x07, extra = 3;
        } else {
            *bad_byte = i;
            return -1;
        }
        if (i + (size_t)extra >= len) {
            *bad_byte = i;
            return -1;
        }
        for (int k = 1; k <= extra; k++) {
            unsigned cc = p[i + (size_t)k];
            if ((cc & 0xC0) != 0x80) {
                *bad_byte = i;
                return -1;
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad_byte = i;
            return -1;
        }
        cps[n++] = cp;
        i += (size_t)extra + 1;
    }
    return n;
}

int bert_utf8_encode(uint32_t cp, char *buf) {
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int bert_is_whitespace(uint32_t cp) {
    /* The White_Space property (PropList.txt), which Rust's
     * char::is_whitespace implements; stable since Unicode 6.3. */
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

#define N_RANGES(r) (sizeof(r) / sizeof((r)[0]))

static int category(uint32_t cp) { return utf8proc_category((utf8proc_int32_t)cp); }

int bert_is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    int other;
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
        other = 1;
        break;
    default:
        other = 0;
    }
    return other ^ in_ranges(cp, bert_flip_control, N_RANGES(bert_flip_control));
}

int bert_is_chinese_char(uint32_t cp) {
    /* The Rust tokenizer's ranges; Python's has 0x2B820 where Rust has
     * 0x2B920 (a typo upstream), so U+2B820..U+2B91F differ. */
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

int bert_is_punctuation(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    int p;
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
        p = 1;
        break;
    default:
        p = 0;
    }
    return p ^ in_ranges(cp, bert_flip_punct, N_RANGES(bert_flip_punct));
}

int bert_nfd_decompose(uint32_t cp, uint32_t *out) {
    utf8proc_int32_t buf[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 32, UTF8PROC_DECOMPOSE, &last);
    if (n < 1 || n > 32 || in_ranges(cp, bert_no_nfd, N_RANGES(bert_no_nfd))) {
        out[0] = cp;
        return 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) out[i] = (uint32_t)buf[i];
    return (int)n;
}

int bert_nfd_strip_marks(uint32_t cp, uint32_t *out) {
    uint32_t d[32];
    int n = bert_nfd_decompose(cp, d), k = 0;
    for (int i = 0; i < n; i++) {
        int mn = (category(d[i]) == UTF8PROC_CATEGORY_MN) ^ in_ranges(d[i], bert_flip_mn, N_RANGES(bert_flip_mn));
        if (!mn) out[k++] = d[i];
    }
    return k;
}

int bert_lowercase(uint32_t cp, uint32_t *out) {
    /* The one unconditional one-to-many lowercase mapping (SpecialCasing.txt). */
    if (cp == 0x130) {
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    if (out[0] == cp) { /* mappings added after utf8proc's Unicode version */
        size_t lo = 0, hi = N_RANGES(bert_extra_lower);
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (bert_extra_lower[mid][0] == cp) {
                out[0] = bert_extra_lower[mid][1];
                break;
            }
            if (bert_extra_lower[mid][0] < cp) lo = mid + 1;
            else hi = mid;
        }
    }
    return 1;
}
