/* pretrain_corpus.c — reading, writing and mapping tokenized corpora (see
 * pretrain_corpus.h for the binary layout). */
#include "cli/pretrain_corpus.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAGIC "BERTCRP1"
#define HEADER_BYTES 64

static uint64_t vocab_hash(const bert_tokenizer *tok) {
    uint64_t h = CLI_FNV_START;
    for (int i = 0; i < bert_tokenizer_vocab_size(tok); i++) {
        const char *t = bert_tokenizer_id_to_token(tok, i);
        h = cli_fnv1a(h, t ? t : "", t ? strlen(t) : 0);
        h = cli_fnv1a(h, "\n", 1);
    }
    return h;
}

/* ---- growing the in-memory corpus ---------------------------------------------------------- */

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 1;
    int64_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q) return 0;
    *p = q, *cap = n;
    return 1;
}

static int ensure_start(pt_corpus *c) { /* the arrays hold one more entry than items */
    if (c->own_docs) return 1;
    if (!grow((void **)&c->own_docs, &c->cap_docs, 1, sizeof(uint64_t)) ||
        !grow((void **)&c->own_segs, &c->cap_segs, 1, sizeof(uint64_t)))
        return 0;
    c->own_docs[0] = c->own_segs[0] = 0;
    c->doc_start = c->own_docs, c->seg_start = c->own_segs;
    return 1;
}

static int add_segment(pt_corpus *c, const int32_t *ids, int n) {
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
static int end_document(pt_corpus *c) {
    if (c->own_docs[c->n_docs] == (uint64_t)c->n_segs) return 1;
    if (!grow((void **)&c->own_docs, &c->cap_docs, c->n_docs + 2, sizeof(uint64_t))) return 0;
    c->own_docs[++c->n_docs] = (uint64_t)c->n_segs;
    c->doc_start = c->own_docs;
    return 1;
}

/* ---- sentence splitting ---------------------------------------------------------------------- */

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

static int is_closer(char ch) { return ch == '"' || ch == '\'' || ch == ')' || ch == ']'; }

int pt_split_sentences(const char *s, int n, int *starts, int *lens, int max) {
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
    pt_corpus *c;
    const bert_tokenizer *tok;
    const pt_read_options *o;
    bert_encode_params ep;
    int *starts, *lens, cap;
    long *bad;
    char *first_bad;
    size_t bad_cap;
} reader;

/* Tokenize one piece of text as segments (split into sentences or not). */
static int add_text(reader *r, const char *text, int n, const char *file, long line) {
    if (r->o->split_sentences && n > r->cap) {
        r->cap = n;
        r->starts = realloc(r->starts, sizeof *r->starts * (size_t)n);
        r->lens = realloc(r->lens, sizeof *r->lens * (size_t)n);
        if (!r->starts || !r->lens) return 0;
    }
    int one_start = 0, one_len = n;
    int k = r->o->split_sentences ? pt_split_sentences(text, n, r->starts, r->lens, r->cap) : 1;
    for (int i = 0; i < k; i++) {
        const char *p = text + (r->o->split_sentences ? r->starts[i] : one_start);
        int len = r->o->split_sentences ? r->lens[i] : one_len;
        bert_encodings es;
        bert_error err;
        if (bert_tokenize(r->tok, p, len, NULL, 0, &r->ep, &es, &err) != BERT_OK) { /* invalid UTF-8 */
            if ((*r->bad)++ == 0) snprintf(r->first_bad, r->bad_cap, "%s:%ld (%s)", file, line, err.message);
            return 1; /* the rest of the line goes */
        }
        int ok = es.encodings[0].n_tokens == 0 || add_segment(r->c, es.encodings[0].input_ids, es.encodings[0].n_tokens);
        bert_encodings_free(&es);
        if (!ok) return 0;
    }
    return 1;
}

int pt_corpus_read_text(pt_corpus *c, const bert_tokenizer *tok, const char *const *files, int n_files,
                        const pt_read_options *o, long *bad, char *first_bad, size_t bad_cap, char *msg, size_t cap) {
    if (!ensure_start(c)) return snprintf(msg, cap, "out of memory"), 0;
    reader r = {.c = c, .tok = tok, .o = o, .ep = bert_encode_default_params(), .bad = bad, .first_bad = first_bad,
                .bad_cap = bad_cap};
    r.ep.add_special_tokens = 0;
    double total = 0, done = 0, t0 = cli_now_s(), last = 0;
    for (int f = 0; f < n_files; f++) {
        struct stat st;
        if (stat(files[f], &st) == 0) total += (double)st.st_size;
    }
    int ok = 1;
    for (int f = 0; ok && f < n_files; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) {
            snprintf(msg, cap, "%s: cannot open: %s", files[f], strerror(errno));
            ok = 0;
            break;
        }
        char *line = NULL, *para = NULL;
        size_t lc = 0, pn = 0, pcap = 0;
        ssize_t len;
        long no = 0, para_line = 0;
        while (ok && (len = getline(&line, &lc, fp)) != -1) {
            no++;
            done += (double)len;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
            int blank = strspn(line, " \t") == (size_t)len;
            if (o->prose) { /* gather a paragraph; a blank line ends it */
                if (!blank) {
                    if (pn + (size_t)len + 2 > pcap && !(para = realloc(para, pcap = 2 * (pn + (size_t)len + 2)))) ok = 0;
                    if (!ok) break;
                    if (pn) para[pn++] = ' ';
                    else para_line = no;
                    memcpy(para + pn, line, (size_t)len), pn += (size_t)len;
                    para[pn] = '\0';
                } else if (pn) {
                    ok = add_text(&r, para, (int)pn, files[f], para_line);
                    pn = 0;
                }
            } else if (blank) {
                ok = end_document(c);
            } else {
                ok = add_text(&r, line, (int)len, files[f], no);
            }
            double t = cli_now_s();
            if (o->progress && t - last > 0.5) {
                last = t;
                fprintf(stderr, "\rreading: %.1f/%.1f MB, %.1f MB/s, %lld documents, %lld tokens   ", done / 1e6, total / 1e6,
                        done / 1e6 / (t - t0 + 1e-9), (long long)c->n_docs, (long long)c->n_tokens);
            }
        }
        if (ok && o->prose && pn) ok = add_text(&r, para, (int)pn, files[f], para_line);
        if (ok && o->prose) ok = end_document(c); /* a file is a document */
        if (ok) ok = end_document(c);             /* a file's end ends a document */
        if (!ok && !*msg) snprintf(msg, cap, "out of memory");
        free(line), free(para);
        fclose(fp);
    }
    if (o->progress && last > 0) fprintf(stderr, "\n");
    free(r.starts), free(r.lens);
    return ok;
}

/* ---- the binary file ------------------------------------------------------------------------- */

int pt_corpus_write(const pt_corpus *c, const bert_tokenizer *tok, const char *path, char *msg, size_t cap) {
    int V = bert_tokenizer_vocab_size(tok);
    uint32_t token_bytes = V <= 65536 ? 2 : 4;
    unsigned char h[HEADER_BYTES] = {0};
    uint32_t version = 1, vs = (uint32_t)V;
    uint64_t hash = vocab_hash(tok), nd = (uint64_t)c->n_docs, ns = (uint64_t)c->n_segs, nt = (uint64_t)c->n_tokens;
    memcpy(h, MAGIC, 8), memcpy(h + 8, &version, 4), memcpy(h + 12, &token_bytes, 4), memcpy(h + 16, &hash, 8);
    memcpy(h + 24, &nd, 8), memcpy(h + 32, &ns, 8), memcpy(h + 40, &nt, 8), memcpy(h + 48, &vs, 4);
    cli_output out;
    if (!cli_output_open("prepare", path, &out)) return snprintf(msg, cap, "%s: cannot write", path), 0;
    int ok = fwrite(h, 1, sizeof h, out.fp) == sizeof h &&
             fwrite(c->doc_start, 8, (size_t)nd + 1, out.fp) == nd + 1 &&
             fwrite(c->seg_start, 8, (size_t)ns + 1, out.fp) == ns + 1;
    if (token_bytes == 4) {
        for (int64_t i = 0; ok && i < c->n_tokens; i++) {
            int32_t v = pt_token(c, i);
            ok = fwrite(&v, 4, 1, out.fp) == 1;
        }
    } else {
        uint16_t buf[4096];
        for (int64_t i = 0; ok && i < c->n_tokens;) {
            int k = 0;
            for (; k < 4096 && i < c->n_tokens; k++, i++) buf[k] = (uint16_t)pt_token(c, i);
            ok = fwrite(buf, 2, (size_t)k, out.fp) == (size_t)k;
        }
    }
    if (!cli_output_close("prepare", &out, ok)) return snprintf(msg, cap, "%s: write failed", path), 0;
    return 1;
}

int pt_corpus_is_binary(const char *path) {
    char m[8];
    FILE *f = fopen(path, "rb");
    int yes = f && fread(m, 1, 8, f) == 8 && memcmp(m, MAGIC, 8) == 0;
    if (f) fclose(f);
    return yes;
}

int pt_corpus_open(pt_corpus *c, const bert_tokenizer *tok, const char *path, char *msg, size_t cap) {
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    void *map = size >= HEADER_BYTES ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED) return snprintf(msg, cap, "%s: too short for a corpus file (%zu bytes)", path, size), 0;
    c->map = map, c->map_size = size;
    const unsigned char *h = map;
    uint32_t version, token_bytes, vs;
    uint64_t hash, nd, ns, nt;
    memcpy(&version, h + 8, 4), memcpy(&token_bytes, h + 12, 4), memcpy(&hash, h + 16, 8);
    memcpy(&nd, h + 24, 8), memcpy(&ns, h + 32, 8), memcpy(&nt, h + 40, 8), memcpy(&vs, h + 48, 4);
    const char *why = NULL;
    if (memcmp(h, MAGIC, 8) != 0 || version != 1 || (token_bytes != 2 && token_bytes != 4)) why = "not a bert.c corpus file (version 1)";
    else if (vs != (uint32_t)bert_tokenizer_vocab_size(tok) || hash != vocab_hash(tok))
        why = "was prepared with a different vocabulary than this model's";
    else if (nd > size / 8 || ns > size / 8 || nt > size / 2 ||
             HEADER_BYTES + 8 * (nd + 1) + 8 * (ns + 1) + (uint64_t)token_bytes * nt != size)
        why = "is truncated or has trailing bytes (sizes in the header disagree with the file)";
    if (!why) {
        c->n_docs = (int64_t)nd, c->n_segs = (int64_t)ns, c->n_tokens = (int64_t)nt;
        c->doc_start = (const uint64_t *)(h + HEADER_BYTES);
        c->seg_start = c->doc_start + nd + 1;
        const void *toks = c->seg_start + ns + 1;
        if (token_bytes == 2) c->tok16 = toks;
        else c->tok32 = toks;
        if (c->doc_start[0] != 0 || c->doc_start[nd] != ns || c->seg_start[0] != 0 || c->seg_start[ns] != nt) why = "has offsets that do not span it";
        for (uint64_t i = 0; !why && i < nd; i++)
            if (c->doc_start[i + 1] <= c->doc_start[i]) why = "has an empty or backwards document";
        for (uint64_t i = 0; !why && i < ns; i++)
            if (c->seg_start[i + 1] <= c->seg_start[i]) why = "has an empty or backwards segment";
        for (int64_t i = 0; !why && i < c->n_tokens; i++)
            if (pt_token(c, i) < 0 || pt_token(c, i) >= (int32_t)vs) why = "holds a token id outside the vocabulary";
    }
    if (why) {
        snprintf(msg, cap, "%s: %s", path, why);
        pt_corpus_free(c);
        return 0;
    }
    return 1;
}

void pt_corpus_free(pt_corpus *c) {
    if (c->map) munmap(c->map, c->map_size);
    free(c->own_docs), free(c->own_segs), free(c->own_tokens);
    memset(c, 0, sizeof *c);
}
