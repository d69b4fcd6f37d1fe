/* corpus.c — reading pre-training text into a tokenized corpus: documents,
 * segments, sentence splitting (see corpus.h; the binary file is
 * corpus_file.c). */
#include "util/clock.h"
#include "data/corpus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/error.h"

/* ---- growing the in-memory corpus ---------------------------------------------------------- */

/* Grow *p (of *cap elements of elem bytes) to hold need; 0 when out of memory. */
static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 1;
    int64_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q) return 0;
    *p = q, *cap = n;
    return 1;
}

/* The offset arrays hold one more entry than items: make the first. */
static int ensure_start(corpus *c) {
    if (c->own_docs) return 1;
    if (!grow((void **)&c->own_docs, &c->cap_docs, 1, sizeof(uint64_t)) ||
        !grow((void **)&c->own_segs, &c->cap_segs, 1, sizeof(uint64_t)))
        return 0;
    c->own_docs[0] = c->own_segs[0] = 0;
    c->doc_start = c->own_docs, c->seg_start = c->own_segs;
    return 1;
}

/* Append one segment of n ids to the current document. */
static int add_segment(corpus *c, const int32_t *ids, int n) {
    if (!grow((void **)&c->own_tokens, &c->cap_tokens, c->n_tokens + n, sizeof(int32_t)) ||
        !grow((void **)&c->own_segs, &c->cap_segs, c->n_segs + 2, sizeof(uint64_t)))
        return 0;
    memcpy(c->own_tokens + c->n_tokens, ids, sizeof *ids * (size_t)n);
    c->n_tokens += n;
    c->own_segs[++c->n_segs] = (uint64_t)c->n_tokens;
    c->tok32 = c->own_tokens, c->seg_start = c->own_segs;
    return 1;
}

/* Close the current document if it has segments. */
static int end_document(corpus *c) {
    if (c->own_docs[c->n_docs] == (uint64_t)c->n_segs) return 1;
    if (!grow((void **)&c->own_docs, &c->cap_docs, c->n_docs + 2, sizeof(uint64_t))) return 0;
    c->own_docs[++c->n_docs] = (uint64_t)c->n_segs;
    c->doc_start = c->own_docs;
    return 1;
}

/* ---- sentence splitting ---------------------------------------------------------------------- */

/* 1 when the word w[0..n) before a period is an abbreviation or an initial. */
static int is_abbreviation(const char *w, int n) {
    static const char *const abbr[] = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e",
                                       "fig", "figs", "al", "no", "nos", "inc", "ltd", "co", "corp", "u.s", "u.k", "gen",
                                       "col", "lt", "sgt", "capt", "rev", "hon", "mt", "jan", "feb", "mar", "apr", "jun",
                                       "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "ca", "cf", "vol", "pp"};
    if (n == 1 && isalpha((unsigned char)w[0])) return 1; /* an initial: "J. Smith" */
    for (size_t i = 0; i < sizeof abbr / sizeof abbr[0]; i++)
        if ((int)strlen(abbr[i]) == n && strncasecmp(abbr[i], w, (size_t)n) == 0) return 1;
    return 0;
}

/* A closing quote or bracket that belongs to the sentence before it. */
static int is_closer(char ch) { return ch == '"' || ch == '\'' || ch == ')' || ch == ']'; }

int corpus_split_sentences(const char *s, int n, int *starts, int *lens, int max) {
    int count = 0, start = 0;
    while (start < n && isspace((unsigned char)s[start])) start++;
    for (int i = start; i < n && count < max; i++) {
        if (s[i] != '.' && s[i] != '!' && s[i] != '?') continue;
        int end = i + 1;
        while (end < n && (is_closer(s[end]) || s[end] == '.' || s[end] == '!' || s[end] == '?')) end++;
        /* a closing curly quote (U+201D, U+2019) belongs to the sentence too */
        while (end + 2 < n && (unsigned char)s[end] == 0xE2 && (unsigned char)s[end + 1] == 0x80 &&
               ((unsigned char)s[end + 2] == 0x9D || (unsigned char)s[end + 2] == 0x99))
            end += 3;
        if (end >= n || !isspace((unsigned char)s[end])) continue;
        int next = end;
        while (next < n && isspace((unsigned char)s[next])) next++;
        if (next >= n) break;
        unsigned char c = (unsigned char)s[next];
        if (!(isupper(c) || isdigit(c) || c == '"' || c == '\'' || c == '(' || c == '[' || c >= 0xC0)) continue;
        if (s[i] == '.') { /* the word before the period */
            int w = i;
            while (w > start && !isspace((unsigned char)s[w - 1]) && s[w - 1] != '(' && s[w - 1] != '"') w--;
            if (is_abbreviation(s + w, i - w)) continue;
        }
        starts[count] = start, lens[count++] = end - start;
        start = next, i = next - 1;
    }
    if (count < max && start < n) {
        int e = n;
        while (e > start && isspace((unsigned char)s[e - 1])) e--;
        if (e > start) starts[count] = start, lens[count++] = e - start;
    }
    return count;
}

/* ---- reading text ---------------------------------------------------------------------------- */

typedef struct {
    corpus *c;
    const bert_tokenizer *tok;
    const bert_corpus_read_params *p;
    int split;                 /* split_sentences or prose */
    bert_encode_params ep;
    int *starts, *lens, cap;   /* sentence bounds of the current text */
    bert_corpus_stats *stats;
    double done, total, last; /* bytes read, bytes in all, the last progress call */
} reader;


/* Tokenize one piece of text as segments (split into sentences or not);
 * text that is not valid UTF-8 is counted and skipped. 0 when out of memory. */
static int add_text(reader *r, const char *text, int n, const char *file, long line) {
    if (r->split && n > r->cap) {
        int *s = realloc(r->starts, sizeof *s * (size_t)n);
        if (s) r->starts = s;
        int *l = realloc(r->lens, sizeof *l * (size_t)n);
        if (l) r->lens = l;
        if (!s || !l) return 0;
        r->cap = n;
    }
    int k = r->split ? corpus_split_sentences(text, n, r->starts, r->lens, r->cap) : 1;
    for (int i = 0; i < k; i++) {
        const char *p = text + (r->split ? r->starts[i] : 0);
        int len = r->split ? r->lens[i] : n;
        bert_encodings es;
        bert_error err;
        if (bert_tokenize(r->tok, p, len, NULL, 0, &r->ep, &es, &err) != BERT_OK) { /* invalid UTF-8 */
            if (r->stats->bad_lines++ == 0)
                snprintf(r->stats->first_bad, sizeof r->stats->first_bad, "%s:%ld (%s)", file, line, err.message);
            return 1; /* the rest of the line goes */
        }
        int ok = es.encodings[0].n_tokens == 0 || add_segment(r->c, es.encodings[0].input_ids, es.encodings[0].n_tokens);
        bert_encodings_free(&es);
        if (!ok) return 0;
    }
    return 1;
}

/* Append line[0..len) to the paragraph being gathered (prose). */
static int gather(char **para, size_t *pn, size_t *pcap, const char *line, size_t len) {
    if (*pn + len + 2 > *pcap) {
        size_t cap = 2 * (*pn + len + 2);
        char *q = realloc(*para, cap);
        if (!q) return 0;
        *para = q, *pcap = cap;
    }
    if (*pn) (*para)[(*pn)++] = ' ';
    memcpy(*para + *pn, line, len), *pn += len;
    (*para)[*pn] = '\0';
    return 1;
}

/* Read one text file into r's corpus. */
static bert_status read_file(reader *r, const char *path, bert_error *err) {
    FILE *fp = fopen(path, "r");
    if (!fp) return bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL, *para = NULL;
    size_t lc = 0, pn = 0, pcap = 0;
    ssize_t len;
    long no = 0, para_line = 0;
    int ok = 1;
    while (ok && (len = getline(&line, &lc, fp)) != -1) {
        no++;
        r->done += (double)len;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        int blank = strspn(line, " \t") == (size_t)len;
        if (r->p->prose) { /* gather a paragraph; a blank line ends it */
            if (!blank) {
                if (!pn) para_line = no;
                ok = gather(&para, &pn, &pcap, line, (size_t)len);
            } else if (pn) {
                ok = add_text(r, para, (int)pn, path, para_line);
                pn = 0;
            }
        } else if (blank) {
            ok = end_document(r->c);
        } else {
            ok = add_text(r, line, (int)len, path, no);
        }
        double t = bert_now_s();
        if (r->p->progress && t - r->last > 0.5) {
            r->last = t;
            r->p->progress(r->p->progress_user, r->done, r->total, (long long)r->c->n_docs, (long long)r->c->n_tokens);
        }
    }
    if (ok && r->p->prose && pn) ok = add_text(r, para, (int)pn, path, para_line);
    if (ok && r->p->prose) ok = end_document(r->c); /* a file is a document */
    if (ok) ok = end_document(r->c);                /* a file's end ends a document */
    free(line), free(para);
    fclose(fp);
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory reading the corpus", path);
}

bert_status corpus_read_text(corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                             const bert_corpus_read_params *p, bert_corpus_stats *stats, bert_error *err) {
    if (!ensure_start(c)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    reader r = {.c = c, .tok = tok, .p = p, .split = p->split_sentences || p->prose, .ep = bert_encode_default_params(),
                .stats = stats};
    r.ep.add_special_tokens = 0;
    for (int f = 0; f < n_files; f++) {
        struct stat st;
        if (stat(files[f], &st) == 0) r.total += (double)st.st_size;
    }
    bert_status rc = BERT_OK;
    for (int f = 0; rc == BERT_OK && f < n_files; f++) rc = read_file(&r, files[f], err);
    free(r.starts), free(r.lens);
    return rc;
}

bert_corpus_read_params bert_corpus_read_default_params(void) {
    bert_corpus_read_params p = {0};
    return p;
}
