/* seqeval_schemes.c — seqeval's entity extraction, rule for rule:
 * get_entities (default mode: conlleval's chunk boundaries on the first
 * letter of each tag, the type after the first '-' of the rest, "_" when
 * empty) and scheme.py (mode='strict': per-scheme start / inside / end
 * patterns of prefix pairs and same / different type, the type being the
 * tag after its first letter stripped of '-', "_" when empty), and
 * auto_detect. Suffix tags (PER-B) are not supported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/seqeval_schemes.h"
#include "util/error.h"

/* ------------------------------------------------------------------ */
/* Default mode (seqeval.metrics.sequence_labeling.get_entities).      */

/* The chunk letter and type of a tag: tag[0], and tag[1:] after its first
 * '-' (all of it without one), "_" when that is empty. */
static void default_split(const char *tag, char *letter, const char **type, int *len) {
    *letter = tag[0];
    const char *rest = tag + 1, *dash = strchr(rest, '-');
    *type = dash ? dash + 1 : rest;
    *len = (int)strlen(*type);
    if (*len == 0) *type = "_", *len = 1;
}

/* Two types (bytes and lengths) are equal. */
static int same_type(const char *a, int la, const char *b, int lb) { return la == lb && memcmp(a, b, (size_t)la) == 0; }

/* sequence_labeling.end_of_chunk. */
static int end_of_chunk(char prev, char tag, const char *pt, int pl, const char *t, int tl) {
    if (prev == 'E' || prev == 'S') return 1;
    if ((prev == 'B' || prev == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) return 1;
    return prev != 'O' && prev != '.' && !same_type(pt, pl, t, tl);
}

/* sequence_labeling.start_of_chunk. */
static int start_of_chunk(char prev, char tag, const char *pt, int pl, const char *t, int tl) {
    if (tag == 'B' || tag == 'S') return 1;
    if ((prev == 'E' || prev == 'S' || prev == 'O') && (tag == 'E' || tag == 'I')) return 1;
    return tag != 'O' && tag != '.' && !same_type(pt, pl, t, tl);
}

/* The running state of get_entities. */
typedef struct {
    long k, begin, pos;
    char prev;
    const char *pt;
    int pl;
} chunker;

/* get_entities' loop body for the tag at c->pos. */
static void chunk_step(chunker *c, const char *tag, seq_chunk *out) {
    char letter;
    const char *t;
    int tl;
    default_split(tag, &letter, &t, &tl);
    if (end_of_chunk(c->prev, letter, c->pt, c->pl, t, tl)) out[c->k++] = (seq_chunk){c->pt, c->pl, c->begin, c->pos - 1};
    if (start_of_chunk(c->prev, letter, c->pt, c->pl, t, tl)) c->begin = c->pos;
    c->prev = letter, c->pt = t, c->pl = tl, c->pos++;
}

long seq_default_chunks(const char *const *tags, const int *sent_len, int n_sent, seq_chunk *out, const char *side,
                        bert_error *err) {
    chunker c = {.prev = 'O', .pt = "_", .pl = 1};
    long off = 0;
    /* every sentence's tags then one "O", and one more "O" at the end */
    for (int s = 0; s < n_sent; s++) {
        for (int i = 0; i < sent_len[s]; i++) {
            if (!*tags[off + i]) {
                bert_fail(err, BERT_ERR_INPUT, "%s sentence %d, tag %d: an empty tag", side, s, i);
                return -1;
            }
            chunk_step(&c, tags[off + i], out);
        }
        chunk_step(&c, "O", out);
        off += sent_len[s];
    }
    chunk_step(&c, "O", out);
    return c.k;
}

/* ------------------------------------------------------------------ */
/* Strict mode (seqeval.scheme).                                       */

enum { P_I = 1, P_O = 2, P_B = 4, P_E = 8, P_S = 16, P_U = 32, P_L = 64, P_ANY = 127 };
enum { T_SAME = 1, T_DIFF = 2, T_ANY = 3 };

typedef struct {
    unsigned char prev, cur, tag;
} pattern;

typedef struct {
    const char *name;
    int allowed;
    pattern start[8], inside[8], end[8]; /* each ends with a zero entry */
} scheme_def;

static const scheme_def schemes[] = {
    {"IOB1", P_I | P_O | P_B,
     {{P_O, P_I, T_ANY}, {P_I, P_I, T_DIFF}, {P_B, P_I, T_ANY}, {P_I, P_B, T_SAME}, {P_B, P_B, T_SAME}},
     {{P_B, P_I, T_SAME}, {P_I, P_I, T_SAME}},
     {{P_I, P_I, T_DIFF}, {P_I, P_O, T_ANY}, {P_I, P_B, T_ANY}, {P_B, P_O, T_ANY}, {P_B, P_I, T_DIFF}, {P_B, P_B, T_SAME}}},
    {"IOB2", P_I | P_O | P_B,
     {{P_ANY, P_B, T_ANY}},
     {{P_B, P_I, T_SAME}, {P_I, P_I, T_SAME}},
     {{P_I, P_O, T_ANY}, {P_I, P_I, T_DIFF}, {P_I, P_B, T_ANY}, {P_B, P_O, T_ANY}, {P_B, P_I, T_DIFF}, {P_B, P_B, T_ANY}}},
    {"IOE1", P_I | P_O | P_E,
     {{P_O, P_I, T_ANY}, {P_I, P_I, T_DIFF}, {P_E, P_I, T_ANY}, {P_E, P_E, T_SAME}},
     {{P_I, P_I, T_SAME}, {P_I, P_E, T_SAME}},
     {{P_I, P_I, T_DIFF}, {P_I, P_O, T_ANY}, {P_I, P_E, T_DIFF}, {P_E, P_I, T_SAME}, {P_E, P_E, T_SAME}}},
    {"IOE2", P_I | P_O | P_E,
     {{P_O, P_I, T_ANY}, {P_O, P_E, T_ANY}, {P_E, P_I, T_ANY}, {P_E, P_E, T_ANY}, {P_I, P_I, T_DIFF}, {P_I, P_E, T_DIFF}},
     {{P_I, P_E, T_SAME}, {P_I, P_I, T_SAME}},
     {{P_E, P_ANY, T_ANY}}},
    {"IOBES", P_I | P_O | P_B | P_E | P_S,
     {{P_ANY, P_B, T_ANY}, {P_ANY, P_S, T_ANY}},
     {{P_B, P_I, T_SAME}, {P_B, P_E, T_SAME}, {P_I, P_I, T_SAME}, {P_I, P_E, T_SAME}},
     {{P_S, P_ANY, T_ANY}, {P_E, P_ANY, T_ANY}}},
    {"BILOU", P_B | P_I | P_L | P_O | P_U,
     {{P_ANY, P_B, T_ANY}, {P_ANY, P_U, T_ANY}},
     {{P_B, P_I, T_SAME}, {P_B, P_L, T_SAME}, {P_I, P_I, T_SAME}, {P_I, P_L, T_SAME}},
     {{P_U, P_ANY, T_ANY}, {P_L, P_ANY, T_ANY}}},
};

const char *seq_scheme_name(int scheme) {
    int i = scheme - BERT_SEQEVAL_IOB1;
    return i >= 0 && i < (int)(sizeof schemes / sizeof schemes[0]) ? schemes[i].name : "";
}

/* One token as scheme.Token reads it. */
typedef struct {
    int prefix;
    const char *tag;
    int tag_len;
} stoken;

/* The prefix bit of a tag's first letter, 0 for none. */
static int prefix_bit(char c) {
    switch (c) {
    case 'I': return P_I;
    case 'O': return P_O;
    case 'B': return P_B;
    case 'E': return P_E;
    case 'S': return P_S;
    case 'U': return P_U;
    case 'L': return P_L;
    default: return 0;
    }
}

/* Token(tag): prefix tag[0], type tag[1:].strip('-') or "_"; 0 when the
 * first letter is no prefix (or the tag is empty). */
static int read_token(const char *tag, stoken *t) {
    t->prefix = prefix_bit(tag[0]);
    if (!t->prefix) return 0;
    const char *a = tag + 1, *b = a + strlen(a);
    while (a < b && *a == '-') a++;
    while (b > a && b[-1] == '-') b--;
    t->tag = a, t->tag_len = (int)(b - a);
    if (!t->tag_len) t->tag = "_", t->tag_len = 1;
    return 1;
}

/* Token.check_patterns. */
static int matches(const pattern *ps, const stoken *prev, const stoken *cur) {
    for (; ps->prev; ps++) {
        if (!(prev->prefix & ps->prev) || !(cur->prefix & ps->cur)) continue;
        int same = same_type(prev->tag, prev->tag_len, cur->tag, cur->tag_len);
        if (ps->tag == T_ANY || (same && ps->tag == T_SAME) || (!same && ps->tag == T_DIFF)) return 1;
    }
    return 0;
}

/* The allowed prefixes of a scheme as seqeval's message writes them. */
static void allowed_text(int allowed, char *buf, size_t cap) {
    static const char letters[] = "IOBESUL";
    size_t n = 0;
    for (int b = 0; b < 7 && n + 2 < cap; b++)
        if (allowed & (1 << b)) n += (size_t)snprintf(buf + n, cap - n, "%s%c", n ? "|" : "", letters[b]);
}

/* Tokens.entities of one sentence of n tokens (t, then the outside token). */
static long sentence_entities(const stoken *t, int n, const scheme_def *sd, long off, seq_chunk *out) {
    static const stoken outside = {P_O, "_", 1};
#define EXT(j) ((j) < n ? &t[(j)] : &outside)
    long k = 0;
    int i = 0;
    const stoken *prev = &outside;
    while (i < n + 1) {
        const stoken *tok = EXT(i);
        if (matches(sd->start, prev, tok)) {
            const stoken *p = tok;
            int end = n - 1, j;
            for (j = i + 1; j < n + 1; j++) { /* _forward */
                if (matches(sd->inside, p, EXT(j))) p = EXT(j);
                else break;
            }
            if (j < n + 1) end = j;
            if (matches(sd->end, EXT(end - 1), EXT(end))) out[k++] = (seq_chunk){tok->tag, tok->tag_len, off + i, off + end - 1};
            i = end;
        } else {
            i++;
        }
        prev = EXT(i - 1);
    }
#undef EXT
    return k;
}

long seq_strict_chunks(const char *const *tags, const int *sent_len, int n_sent, int scheme, seq_chunk *out,
                       const char *side, bert_error *err) {
    const scheme_def *sd = &schemes[scheme - BERT_SEQEVAL_IOB1];
    long k = 0, off = 0;
    int longest = 0;
    for (int s = 0; s < n_sent; s++) longest = sent_len[s] > longest ? sent_len[s] : longest;
    stoken *t = malloc(sizeof *t * (size_t)(longest ? longest : 1));
    if (!t) {
        bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int s = 0; s < n_sent; s++) {
        for (int i = 0; i < sent_len[s]; i++) {
            const char *tag = tags[off + i];
            if (!read_token(tag, &t[i])) {
                bert_fail(err, BERT_ERR_INPUT, "%s sentence %d, tag %d: '%.40s' has no prefix I, O, B, E, S, U or L", side, s, i, tag);
                free(t);
                return -1;
            }
            if (!(t[i].prefix & sd->allowed)) {
                char allowed[32];
                allowed_text(sd->allowed, allowed, sizeof allowed);
                bert_fail(err, BERT_ERR_INPUT, "%s sentence %d, tag %d: invalid token '%.40s' for %s (allowed prefixes %s)", side, s, i,
                          tag, sd->name, allowed);
                free(t);
                return -1;
            }
        }
        k += sentence_entities(t, sent_len[s], sd, off + s, out + k);
        off += sent_len[s];
    }
    free(t);
    return k;
}

int seq_auto_detect(const char *const *tags, long total, bert_error *err) {
    int seen = 0;
    for (long i = 0; i < total; i++) {
        int b = prefix_bit(tags[i][0]);
        if (!b) {
            bert_fail(err, BERT_ERR_INPUT, "gold tag %ld: '%.40s': this scheme is not supported (no prefix I, O, B, E, S, U or L)", i,
                      tags[i]);
            return -1;
        }
        seen |= b;
    }
    static const int iob2[] = {P_I | P_O | P_B, P_I | P_B, P_B | P_O, P_B};
    static const int ioe2[] = {P_I | P_O | P_E, P_I | P_E, P_E | P_O, P_E};
    static const int iobes[] = {P_I | P_O | P_B | P_E | P_S, P_I | P_B | P_E | P_S, P_I | P_O | P_B | P_E,
                                P_O | P_B | P_E | P_S,       P_I | P_B | P_E,       P_B | P_E | P_S,
                                P_O | P_B | P_E,             P_B | P_E,             P_S};
    static const int bilou[] = {P_I | P_O | P_B | P_L | P_U, P_I | P_B | P_L | P_U, P_I | P_O | P_B | P_L,
                                P_O | P_B | P_L | P_U,       P_I | P_B | P_L,       P_B | P_L | P_U,
                                P_O | P_B | P_L,             P_B | P_L,             P_U};
    for (size_t i = 0; i < sizeof iob2 / sizeof iob2[0]; i++)
        if (seen == iob2[i]) return BERT_SEQEVAL_IOB2;
    for (size_t i = 0; i < sizeof ioe2 / sizeof ioe2[0]; i++)
        if (seen == ioe2[i]) return BERT_SEQEVAL_IOE2;
    for (size_t i = 0; i < sizeof iobes / sizeof iobes[0]; i++)
        if (seen == iobes[i]) return BERT_SEQEVAL_IOBES;
    for (size_t i = 0; i < sizeof bilou / sizeof bilou[0]; i++)
        if (seen == bilou[i]) return BERT_SEQEVAL_BILOU;
    char got[32];
    allowed_text(seen, got, sizeof got);
    bert_fail(err, BERT_ERR_INPUT, "the gold tags' prefixes {%s} match no scheme seqeval detects (IOB2, IOE2, IOBES, BILOU): "
                                   "name the scheme", got);
    return -1;
}

int seq_token_relation(int scheme, const char *prev, const char *cur, int *start, int *inside, int *end) {
    stoken p, c;
    if (scheme < BERT_SEQEVAL_IOB1 || scheme > BERT_SEQEVAL_BILOU || !read_token(prev, &p) || !read_token(cur, &c)) return 0;
    const scheme_def *sd = &schemes[scheme - BERT_SEQEVAL_IOB1];
    *start = matches(sd->start, &p, &c), *inside = matches(sd->inside, &p, &c), *end = matches(sd->end, &p, &c);
    return 1;
}
