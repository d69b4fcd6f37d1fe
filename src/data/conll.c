/* conll.c — tagged sentences for token classification: CoNLL column files
 * and JSONL {"tokens", "tags"}, the tag-scheme detection and the IOB2
 * rewrite, the seeded dev split and the NER presets. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "util/error.h"

/* Free every sentence of d and zero it (NULL is allowed). */
void bert_tagged_free(bert_tagged_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        for (int j = 0; j < d->v[i].n; j++) free(d->v[i].words[j]), free(d->v[i].tags[j]);
        free(d->v[i].words), free(d->v[i].tags);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* Free one sentence's strings and arrays and zero it. */
static void sentence_clear(bert_tagged_sentence *s) {
    for (int j = 0; j < s->n; j++) free(s->words[j]), free(s->tags[j]);
    free(s->words), free(s->tags);
    memset(s, 0, sizeof *s);
}

/* Append a copy of word w with tag t to s; 0 when out of memory (s stays
 * valid and owns what it held). */
static int sentence_push(bert_tagged_sentence *s, const char *w, const char *t) {
    char **a = realloc(s->words, sizeof *a * (size_t)(s->n + 1));
    if (!a) return 0;
    s->words = a;
    char **b = realloc(s->tags, sizeof *b * (size_t)(s->n + 1));
    if (!b) return 0;
    s->tags = b;
    char *wc = strdup(w), *tc = strdup(t);
    if (!wc || !tc) return free(wc), free(tc), 0;
    s->words[s->n] = wc, s->tags[s->n] = tc, s->n++;
    return 1;
}

/* Move sentence s (when it has words) to the end of d, leaving s empty; 0
 * when out of memory. */
static int data_push(bert_tagged_data *d, bert_tagged_sentence *s) {
    if (s->n == 0) {
        sentence_clear(s);
        return 1;
    }
    bert_tagged_sentence *v = realloc(d->v, sizeof *v * (size_t)(d->n + 1));
    if (!v) return 0;
    d->v = v;
    d->v[d->n++] = *s;
    memset(s, 0, sizeof *s);
    return 1;
}

/* CoNLL columns: the word first, the tag last; a blank line ends a
 * sentence. */
static bert_status read_conll(FILE *f, const char *path, bert_tagged_data *d, bert_error *err) {
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    bert_tagged_sentence s = {0};
    bert_status rc = BERT_OK;
    while (rc == BERT_OK && getline(&line, &cap, f) != -1) {
        no++;
        char *save = NULL, *first = strtok_r(line, " \t\r\n", &save), *last = first;
        int n = first != NULL;
        for (char *c = first ? strtok_r(NULL, " \t\r\n", &save) : NULL; c; c = strtok_r(NULL, " \t\r\n", &save)) last = c, n++;
        if (n == 0) {
            if (!data_push(d, &s)) rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
            continue;
        }
        if (strcmp(first, "-DOCSTART-") == 0) continue;
        if (n < 2) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a token line needs a word and a tag", path, no);
            break;
        }
        if (s.n == 0) s.line = no;
        if (!sentence_push(&s, first, last)) rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (rc == BERT_OK && !data_push(d, &s)) rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    sentence_clear(&s);
    free(line);
    return rc;
}

/* One JSONL line (line number no) into sentence s. */
static bert_status jsonl_sentence(const char *text, const char *path, long no, bert_tagged_sentence *s,
                                  bert_error *err) {
    cJSON *o = cJSON_Parse(text);
    if (!o) return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: not valid JSON", path, no);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "tokens"), *t = cJSON_GetObjectItemCaseSensitive(o, "tags");
    bert_status rc = BERT_OK;
    if (!cJSON_IsArray(w) || !cJSON_IsArray(t) || cJSON_GetArraySize(w) != cJSON_GetArraySize(t))
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: needs \"tokens\" and \"tags\" lists of the same length", path, no);
    s->line = no;
    for (const cJSON *a = rc == BERT_OK ? w->child : NULL, *b = rc == BERT_OK ? t->child : NULL; a; a = a->next, b = b->next) {
        if (!cJSON_IsString(a) || !cJSON_IsString(b)) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: tokens and tags must be strings", path, no);
            break;
        }
        if (!b->valuestring[0]) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: tag %d is empty", path, no, s->n + 1);
            break;
        }
        if (!sentence_push(s, a->valuestring, b->valuestring)) {
            rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* JSONL: one {"tokens", "tags"} object a line; blank lines are skipped. */
static bert_status read_jsonl(FILE *f, const char *path, bert_tagged_data *d, bert_error *err) {
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    bert_status rc = BERT_OK;
    while (rc == BERT_OK && getline(&line, &cap, f) != -1) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        bert_tagged_sentence s = {0};
        rc = jsonl_sentence(line, path, no, &s, err);
        if (rc == BERT_OK && !data_push(d, &s)) rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
        sentence_clear(&s);
    }
    free(line);
    return rc;
}

/* See bert.h: JSONL by the name's ".jsonl", else CoNLL columns. */
bert_status bert_tagged_read(const char *path, bert_tagged_data *out, bert_error *err) {
    if (!path || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_tagged_read: path and out are required");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = strlen(path);
    bert_status rc = n > 6 && strcmp(path + n - 6, ".jsonl") == 0 ? read_jsonl(f, path, out, err)
                                                                  : read_conll(f, path, out, err);
    if (rc == BERT_OK && ferror(f)) rc = bert_fail(err, BERT_ERR_IO, "%s: read error", path);
    fclose(f);
    if (rc == BERT_OK && out->n == 0) rc = bert_fail(err, BERT_ERR_INPUT, "%s: no sentences", path);
    if (rc != BERT_OK) bert_tagged_free(out);
    return rc;
}

/* See bert.h: the generator is the 64-bit LCG (Knuth's MMIX constants)
 * seeded from `seed`; a sentence goes to dev when bits 33.. of the next
 * state are 0 mod 10. */
bert_status bert_tagged_split_dev(bert_tagged_data *train, uint64_t seed, bert_tagged_data *dev, bert_error *err) {
    uint64_t s = seed * 2862933555777941757ULL + 3037000493ULL;
    bert_tagged_data keep = {0};
    for (int i = 0; i < train->n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if (!data_push(((s >> 33) % 10 == 0) ? dev : &keep, &train->v[i])) {
            /* the sentences not moved yet go back to keep, so nothing leaks */
            for (int j = i; j < train->n; j++)
                if (train->v[j].n && !data_push(&keep, &train->v[j])) sentence_clear(&train->v[j]);
            free(train->v);
            *train = keep;
            return bert_fail(err, BERT_ERR_NOMEM, "out of memory splitting the dev set");
        }
    }
    free(train->v);
    *train = keep;
    return BERT_OK;
}

/* "B-X" style: a one-letter prefix and a dash. */
static int has_prefix(const char *t) { return t[0] && t[1] == '-'; }

/* 1 when tag t (I-X / E-X) continues the entity of the tag before it, prev
 * (B-X or I-X of the same type). */
static int continues(const char *prev, const char *t) {
    return prev && (prev[0] == 'B' || prev[0] == 'I') && prev[1] == '-' && strcmp(prev + 2, t + 2) == 0;
}

/* See bert.h; an I- tag "starts" an entity when the tag before it is not
 * B- or I- of the same type. */
bert_tag_scheme bert_tag_scheme_detect(const bert_tagged_data *d) {
    int has_b = 0, has_s = 0, has_e = 0, i_starts = 0;
    for (int i = 0; i < d->n; i++)
        for (int w = 0; w < d->v[i].n; w++) {
            const char *t = d->v[i].tags[w], *prev = w ? d->v[i].tags[w - 1] : NULL;
            if (!has_prefix(t)) continue;
            has_s |= t[0] == 'S', has_e |= t[0] == 'E', has_b |= t[0] == 'B';
            if (t[0] == 'I' && !continues(prev, t)) i_starts = 1;
        }
    if (has_s || (has_b && has_e)) return BERT_TAGS_BIOES;
    if (has_e) return BERT_TAGS_IOE;
    return !i_starts ? BERT_TAGS_IOB2 : has_b ? BERT_TAGS_IOB1 : BERT_TAGS_IO;
}

/* The scheme's usual name. */
const char *bert_tag_scheme_name(bert_tag_scheme s) {
    switch (s) {
    case BERT_TAGS_IOB2: return "IOB2";
    case BERT_TAGS_IOB1: return "IOB1";
    case BERT_TAGS_IO: return "IO";
    case BERT_TAGS_IOE: return "IOE";
    case BERT_TAGS_BIOES: return "BIOES";
    }
    return "?";
}

/* See bert.h. */
void bert_tags_to_iob2(bert_tagged_data *d) {
    for (int i = 0; i < d->n; i++) {
        /* Only a tag's first letter changes, so the original tag before is
         * its (saved) first letter plus the unchanged rest. */
        char prev_first = 'O';
        const char *prev = NULL;
        for (int w = 0; w < d->v[i].n; w++) {
            char *t = d->v[i].tags[w], first = t[0];
            if (has_prefix(t) && t[0] != 'B') {
                int cont = prev && (prev_first == 'B' || prev_first == 'I') && prev[1] == '-' && strcmp(prev + 2, t + 2) == 0;
                t[0] = t[0] == 'S' || !cont ? 'B' : 'I';
            }
            prev_first = first, prev = t;
        }
    }
}

static const bert_ner_preset presets[] = {
    {"ncbi", "ncbi_disease", "train.tsv", "devel.tsv", "test.tsv"},
    {"bc5cdr", "bc5cdr", "train.tsv", "devel.tsv", "test.tsv"},
    {"conll2003", "conll2003", "train.txt", "valid.txt", "test.txt"},
    {"sec", "sec_filings_ner", "FIN5.train.txt", NULL, "FIN3.test.txt"},
    {NULL, NULL, NULL, NULL, NULL},
};

/* The preset table (ends with a NULL name). */
const bert_ner_preset *bert_ner_presets(void) { return presets; }

/* Look a preset up by name. */
const bert_ner_preset *bert_ner_preset_find(const char *name) {
    for (const bert_ner_preset *p = presets; name && p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}
