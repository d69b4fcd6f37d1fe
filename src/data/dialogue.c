/* dialogue.c — dialogue turns for joint intent + slot filling: the SNIPS /
 * ATIS layout (seq.in, seq.out, label) and JSONL turns with character
 * slot spans and the dialogue so far (see bert.h, bert_dialogue_read). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert.h"
#include "io/gzip.h"
#include "util/error.h"

#define MAX_LINE (1L << 20)

static void turn_free(bert_dialogue_turn *t) {
    for (int j = 0; j < t->s.n; j++) free(t->s.words[j]), free(t->s.tags[j]);
    free(t->s.words), free(t->s.tags);
    for (int j = 0; j < t->n_history; j++) free(t->history[j]);
    free(t->history);
    free(t->intent), free(t->service), free(t->text);
    memset(t, 0, sizeof *t);
}

void bert_dialogue_free(bert_dialogue_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) turn_free(&d->v[i]);
    free(d->v);
    memset(d, 0, sizeof *d);
}

void bert_dialogue_keep(bert_dialogue_data *d, int n) {
    for (int i = n < 0 ? 0 : n; i < d->n; i++) turn_free(&d->v[i]);
    if (n >= 0 && n < d->n) d->n = n;
}

/* Move t to the end of d (t is then empty); 0 when out of memory. */
static int data_push(bert_dialogue_data *d, bert_dialogue_turn *t) {
    bert_dialogue_turn *v = realloc(d->v, sizeof *v * (size_t)(d->n + 1));
    if (!v) return 0;
    d->v = v;
    d->v[d->n++] = *t;
    memset(t, 0, sizeof *t);
    return 1;
}

/* Append word w[0..n) with tag to t's sentence; 0 when out of memory. */
static int push_word(bert_tagged_sentence *s, const char *w, size_t n, const char *tag) {
    char **a = realloc(s->words, sizeof *a * (size_t)(s->n + 1));
    if (a) s->words = a;
    char **b = a ? realloc(s->tags, sizeof *b * (size_t)(s->n + 1)) : NULL;
    if (!b) return 0;
    s->tags = b;
    char *wc = malloc(n + 1), *tc = strdup(tag);
    if (!wc || !tc) return free(wc), free(tc), 0;
    memcpy(wc, w, n), wc[n] = 0;
    s->words[s->n] = wc, s->tags[s->n++] = tc;
    return 1;
}

/* ---- SNIPS / ATIS: three line-aligned files --------------------------- */

/* The next line of f without its end, into *line (grown, never past
 * MAX_LINE + 1 bytes); its length + 1, 0 at the end, -1 for a line over
 * MAX_LINE or holding a NUL byte, -2 when out of memory. */
static long next_line(FILE *f, char **line, size_t *cap) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n >= (size_t)MAX_LINE || c == 0) return -1;
        if (n + 2 > *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            char *p = realloc(*line, nc);
            if (!p) return -2;
            *line = p, *cap = nc;
        }
        (*line)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return 0;
    if (!*line && !(*line = malloc(*cap = 16))) return -2;
    while (n > 0 && (*line)[n - 1] == '\r') n--;
    (*line)[n] = 0;
    return (long)n + 1;
}

/* One turn from its three lines (line number no). */
static bert_status layout_turn(char *in, char *out, const char *label, const char *dir, long no, bert_dialogue_turn *t,
                               bert_error *err) {
    char *s1 = NULL, *s2 = NULL;
    char *w = strtok_r(in, " \t", &s1), *g = strtok_r(out, " \t", &s2);
    t->s.line = no;
    for (; w && g; w = strtok_r(NULL, " \t", &s1), g = strtok_r(NULL, " \t", &s2))
        if (!push_word(&t->s, w, strlen(w), g)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (w || g) return bert_fail(err, BERT_ERR_FORMAT, "%s/seq.in:%ld: seq.in and seq.out hold different word counts", dir, no);
    if (t->s.n == 0) return bert_fail(err, BERT_ERR_FORMAT, "%s/seq.in:%ld: an empty turn", dir, no);
    if (!*label) return bert_fail(err, BERT_ERR_FORMAT, "%s/label:%ld: an empty intent", dir, no);
    if (!(t->intent = strdup(label))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    size_t len = 0;
    for (int k = 0; k < t->s.n; k++) len += strlen(t->s.words[k]) + 1;
    if (!(t->text = malloc(len + 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->text[0] = 0;
    for (int k = 0; k < t->s.n; k++) strcat(strcat(t->text, k ? " " : ""), t->s.words[k]);
    return BERT_OK;
}

static bert_status read_layout(const char *dir, bert_dialogue_data *d, bert_error *err) {
    static const char *const names[] = {"seq.in", "seq.out", "label"};
    FILE *f[3] = {NULL, NULL, NULL};
    char *line[3] = {NULL, NULL, NULL};
    size_t cap[3] = {0, 0, 0};
    bert_status rc = BERT_OK;
    for (int i = 0; i < 3 && rc == BERT_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!(f[i] = fopen(path, "r"))) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    for (long no = 1; rc == BERT_OK; no++) {
        long n[3];
        for (int i = 0; i < 3; i++) n[i] = next_line(f[i], &line[i], &cap[i]);
        if (n[0] == -2 || n[1] == -2 || n[2] == -2) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        else if (n[0] < 0 || n[1] < 0 || n[2] < 0) rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a line over 1 MiB or with a NUL byte", dir, no);
        else if (!n[0] && !n[1] && !n[2]) break;
        else if (!n[0] || !n[1] || !n[2])
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: seq.in, seq.out and label have different line counts (line %ld)", dir, no);
        if (rc != BERT_OK) break;
        bert_dialogue_turn t = {0};
        rc = layout_turn(line[0], line[1], line[2], dir, no, &t, err);
        if (rc == BERT_OK && !data_push(d, &t)) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        turn_free(&t);
    }
    for (int i = 0; i < 3; i++) {
        if (f[i]) fclose(f[i]);
        free(line[i]);
    }
    return rc;
}

/* ---- JSONL turns with character spans --------------------------------- */

/* Byte offset of code point cp in s (its length for cp == count); -1 past it. */
static long byte_of(const char *s, long cp) {
    long pos = 0, count = 0;
    while (s[pos] && count < cp) { /* a byte that is not a continuation starts a code point */
        pos++;
        while (s[pos] && ((unsigned char)s[pos] & 0xC0) == 0x80) pos++;
        count++;
    }
    return count == cp ? pos : -1;
}

/* Tag the words of t (starting at bytes ws[], ending at we[]) that span
 * [a, b) (bytes) touches as B-name, I-name ...; words tagged before are
 * left alone and so is the rest of the span. */
static void tag_span(bert_dialogue_turn *t, const long *ws, const long *we, long a, long b, const char *name, int *ok) {
    for (int w = 0; w < t->s.n; w++)
        if (!(we[w] <= a || ws[w] >= b) && strcmp(t->s.tags[w], "O") != 0) return; /* overlaps an earlier span */
    int first = 1;
    for (int w = 0; w < t->s.n && *ok; w++) {
        if (we[w] <= a || ws[w] >= b) continue;
        size_t n = strlen(name) + 3;
        char *tag = malloc(n);
        if (!tag) {
            *ok = 0;
            return;
        }
        snprintf(tag, n, "%s-%s", first ? "B" : "I", name);
        free(t->s.tags[w]);
        t->s.tags[w] = tag;
        first = 0;
    }
}

/* "history": strings or {"speaker", "text"} objects. */
static bert_status json_history(const cJSON *h, bert_dialogue_turn *t, const char *path, long no, bert_error *err) {
    int n = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0;
    if (h && !cJSON_IsNull(h) && !cJSON_IsArray(h))
        return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: \"history\" must be a list", path, no);
    if (n && !(t->history = calloc((size_t)n, sizeof *t->history))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (const cJSON *e = n ? h->child : NULL; e; e = e->next) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "speaker"), *tx = cJSON_GetObjectItemCaseSensitive(e, "text");
        char *s = NULL;
        if (cJSON_IsString(e)) s = strdup(e->valuestring);
        else if (cJSON_IsString(sp) && cJSON_IsString(tx) && (s = malloc(strlen(sp->valuestring) + strlen(tx->valuestring) + 3)))
            sprintf(s, "%s: %s", sp->valuestring, tx->valuestring);
        else if (!cJSON_IsString(sp) || !cJSON_IsString(tx))
            return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a history turn is a string or {\"speaker\", \"text\"}", path, no);
        if (!s) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        t->history[t->n_history++] = s;
    }
    return BERT_OK;
}

/* The words of text s (split on white space) into t, tagged O; their byte
 * ranges into ws/we (room for strlen(s) + 1 each). */
static bert_status split_words(const char *s, bert_dialogue_turn *t, long *ws, long *we, bert_error *err) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        size_t j = i;
        while (j < len && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
        if (j > i) {
            ws[t->s.n] = (long)i, we[t->s.n] = (long)j;
            if (!push_word(&t->s, s + i, j - i, "O")) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        }
        i = j;
    }
    return BERT_OK;
}

/* The [name, start, end] spans of `slots` (code points into s) as word tags. */
static bert_status apply_spans(const char *s, const cJSON *slots, bert_dialogue_turn *t, const long *ws, const long *we,
                               const char *path, long no, bert_error *err) {
    int ok = 1;
    for (const cJSON *e = slots ? slots->child : NULL; e && ok; e = e->next) {
        const cJSON *nm = cJSON_GetArrayItem(e, 0), *a = cJSON_GetArrayItem(e, 1), *b = cJSON_GetArrayItem(e, 2);
        long ba = cJSON_IsNumber(a) && a->valuedouble >= 0 && a->valuedouble < 1e9 ? byte_of(s, (long)a->valuedouble) : -1;
        long bb = cJSON_IsNumber(b) && b->valuedouble >= 0 && b->valuedouble < 1e9 ? byte_of(s, (long)b->valuedouble) : -1;
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 3 || !cJSON_IsString(nm) || !*nm->valuestring || ba < 0 || bb < 0 ||
            bb <= ba || a->valuedouble != (long)a->valuedouble || b->valuedouble != (long)b->valuedouble)
            return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a slot is [name, start, end] with 0 <= start < end <= the text's length", path, no);
        tag_span(t, ws, we, ba, bb, nm->valuestring, &ok);
    }
    return ok ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

/* Turn t from text s, its intent and its spans. */
static bert_status make_turn(const char *s, const char *intent, const cJSON *slots, bert_dialogue_turn *t, const char *path,
                             long no, bert_error *err) {
    size_t len = strlen(s);
    long *ws = malloc(sizeof *ws * (len + 1)), *we = malloc(sizeof *we * (len + 1));
    bert_status rc = ws && we ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->s.line = no;
    if (rc == BERT_OK) rc = split_words(s, t, ws, we, err);
    if (rc == BERT_OK && t->s.n == 0) rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: the text has no words", path, no);
    if (rc == BERT_OK) rc = apply_spans(s, slots, t, ws, we, path, no, err);
    if (rc == BERT_OK && (!(t->intent = strdup(intent)) || !(t->text = strdup(s)))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    free(ws), free(we);
    return rc;
}

/* One JSONL line into t: words by white space, their tags from the spans. */
static bert_status json_turn(const cJSON *o, const char *path, long no, bert_dialogue_turn *t, bert_error *err) {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text"), *intent = cJSON_GetObjectItemCaseSensitive(o, "intent"),
                *slots = cJSON_GetObjectItemCaseSensitive(o, "slots");
    if (!cJSON_IsObject(o) || !cJSON_IsString(text) || !cJSON_IsString(intent) || !*intent->valuestring)
        return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: needs \"text\" and a non-empty \"intent\"", path, no);
    if (slots && !cJSON_IsNull(slots) && !cJSON_IsArray(slots))
        return bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: \"slots\" must be a list of [name, start, end]", path, no);
    bert_status rc = make_turn(text->valuestring, intent->valuestring, cJSON_IsArray(slots) ? slots : NULL, t, path, no, err);
    return rc == BERT_OK ? json_history(cJSON_GetObjectItemCaseSensitive(o, "history"), t, path, no, err) : rc;
}

#define SGD_HISTORY 8 /* earlier turns an SGD turn keeps (the most recent) */

/* An SGD user turn's intent: the first frame's active_intent that is not
 * "NONE" ("NONE" when none is), and whether that frame's acts state it
 * (INFORM_INTENT). Its slots: every frame's spans. */
static const char *sgd_intent(const cJSON *frames, int *stated, const char **service) {
    *stated = 0;
    const cJSON *sv0 = frames && frames->child ? cJSON_GetObjectItemCaseSensitive(frames->child, "service") : NULL;
    *service = cJSON_IsString(sv0) ? sv0->valuestring : NULL;
    for (const cJSON *f = frames ? frames->child : NULL; f; f = f->next) {
        const cJSON *ai = cJSON_GetObjectItemCaseSensitive(f, "active_intent"), *sv = cJSON_GetObjectItemCaseSensitive(f, "service");
        if (!cJSON_IsString(ai) || strcmp(ai->valuestring, "NONE") == 0 || !*ai->valuestring) continue;
        if (cJSON_IsString(sv)) *service = sv->valuestring;
        for (const cJSON *a = cJSON_GetObjectItemCaseSensitive(f, "acts") ? cJSON_GetObjectItemCaseSensitive(f, "acts")->child : NULL; a; a = a->next) {
            const cJSON *act = cJSON_GetArrayItem(a, 0);
            if (cJSON_IsString(act) && strcmp(act->valuestring, "INFORM_INTENT") == 0) *stated = 1;
        }
        return ai->valuestring;
    }
    return "NONE";
}

/* One SGD dialogue (a line {"dialogue_id", "turns": [...]}): each user turn
 * with the earlier turns ("user: ..." / "system: ...") as its history. */
static bert_status sgd_dialogue(const cJSON *o, const char *path, long no, bert_dialogue_data *d, bert_error *err) {
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(o, "turns");
    char *hist[SGD_HISTORY] = {0};
    int nh = 0;
    bert_status rc = cJSON_IsArray(turns) ? BERT_OK : bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: \"turns\" must be a list", path, no);
    for (const cJSON *tn = rc == BERT_OK ? turns->child : NULL; tn && rc == BERT_OK; tn = tn->next) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(tn, "speaker"), *ut = cJSON_GetObjectItemCaseSensitive(tn, "utterance");
        if (!cJSON_IsString(sp) || !cJSON_IsString(ut)) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a turn needs \"speaker\" and \"utterance\"", path, no);
            break;
        }
        int user = strcmp(sp->valuestring, "USER") == 0;
        if (user && strspn(ut->valuestring, " \t\r\n") < strlen(ut->valuestring)) {
            const cJSON *frames = cJSON_GetObjectItemCaseSensitive(tn, "frames");
            bert_dialogue_turn t = {0};
            int stated;
            const char *service;
            const char *intent = sgd_intent(cJSON_IsArray(frames) ? frames : NULL, &stated, &service);
            t.intent_in_history = !stated && strcmp(intent, "NONE") != 0;
            if (service && !(t.service = strdup(service))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            cJSON *spans = cJSON_CreateArray(); /* every frame's spans, in frame order */
            for (const cJSON *f = cJSON_IsArray(frames) ? frames->child : NULL; spans && f; f = f->next) {
                const cJSON *sl = cJSON_GetObjectItemCaseSensitive(f, "slots");
                for (const cJSON *e = cJSON_IsArray(sl) ? sl->child : NULL; e; e = e->next)
                    cJSON_AddItemToArray(spans, cJSON_Duplicate(e, 1));
            }
            if (rc == BERT_OK)
                rc = spans ? make_turn(ut->valuestring, intent, spans, &t, path, no, err) : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            cJSON_Delete(spans);
            if (rc == BERT_OK && (t.history = calloc(SGD_HISTORY, sizeof *t.history)) == NULL) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            for (int h = 0; rc == BERT_OK && h < nh; h++)
                if (!(t.history[t.n_history++] = strdup(hist[h]))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            if (rc == BERT_OK && !data_push(d, &t)) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            turn_free(&t);
        }
        /* the turn joins the history, the oldest leaving past SGD_HISTORY */
        char *line = malloc(strlen(ut->valuestring) + 9);
        if (!line) {
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            break;
        }
        sprintf(line, "%s: %s", user ? "user" : "system", ut->valuestring);
        if (nh == SGD_HISTORY) free(hist[0]), memmove(hist, hist + 1, sizeof *hist * (SGD_HISTORY - 1)), nh--;
        hist[nh++] = line;
    }
    for (int h = 0; h < nh; h++) free(hist[h]);
    return rc;
}

/* JSONL (or gzip JSONL): one turn a line, or one SGD dialogue a line. */
static bert_status read_jsonl(const char *path, bert_dialogue_data *d, bert_error *err) {
    char *text = NULL;
    size_t len = 0;
    bert_status rc = bert_file_read_gz(path, (size_t)1 << 30, &text, &len, err);
    long no = 0;
    for (char *line = text, *next; rc == BERT_OK && line && line < text + len; line = next) {
        next = memchr(line, '\n', (size_t)(text + len - line));
        next = next ? (*next = 0, next + 1) : text + len;
        no++;
        if ((long)strlen(line) > MAX_LINE) rc = bert_fail(err, BERT_ERR_FORMAT, "%s:%ld: a line over 1 MiB", path, no);
        if (rc != BERT_OK || strspn(line, " \t\r") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        if (cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "turns")) {
            rc = sgd_dialogue(o, path, no, d, err);
        } else {
            bert_dialogue_turn t = {0};
            rc = json_turn(o, path, no, &t, err);
            if (rc == BERT_OK && !data_push(d, &t)) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            turn_free(&t);
        }
        cJSON_Delete(o);
    }
    free(text);
    return rc;
}

bert_status bert_dialogue_read(const char *path, bert_dialogue_data *out, bert_error *err) {
    bert_error_clear(err);
    if (!path || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_dialogue_read: path and out are required");
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return bert_fail(err, BERT_ERR_IO, "%s: %s", path, strerror(errno));
    bert_status rc = S_ISDIR(st.st_mode) ? read_layout(path, out, err) : read_jsonl(path, out, err);
    if (rc == BERT_OK && out->n == 0) rc = bert_fail(err, BERT_ERR_INPUT, "%s: no turns", path);
    if (rc != BERT_OK) bert_dialogue_free(out);
    return rc;
}

void bert_slot_spans_free(bert_slot_span *s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i].slot);
    free(s);
}

/* Code points in s[0..bytes). */
static int cp_count(const char *s, long bytes) {
    int n = 0;
    for (long i = 0; i < bytes; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

bert_status bert_dialogue_turn_spans(const bert_dialogue_turn *t, bert_slot_span **out, int *n, bert_error *err) {
    bert_error_clear(err);
    *out = NULL, *n = 0;
    if (!t || !t->text) return bert_fail(err, BERT_ERR_INPUT, "bert_dialogue_turn_spans: a turn with its text is needed");
    size_t len = strlen(t->text);
    long *ws = malloc(sizeof *ws * (len + 1)), *we = malloc(sizeof *we * (len + 1));
    bert_dialogue_turn words = {0};
    bert_status rc = ws && we ? split_words(t->text, &words, ws, we, err) : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK && words.s.n != t->s.n) rc = bert_fail(err, BERT_ERR_INPUT, "the turn's text has %d words, its tags %d", words.s.n, t->s.n);
    bert_slot_span *v = rc == BERT_OK ? calloc((size_t)t->s.n + 1, sizeof *v) : NULL;
    if (rc == BERT_OK && !v) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int w = 0; rc == BERT_OK && w < t->s.n;) {
        const char *tag = t->s.tags[w];
        if (strlen(tag) < 3 || tag[1] != '-' || (tag[0] != 'B' && tag[0] != 'I')) {
            w++;
            continue;
        }
        int e = w + 1;
        while (e < t->s.n && t->s.tags[e][0] == 'I' && t->s.tags[e][1] == '-' && strcmp(t->s.tags[e] + 2, tag + 2) == 0) e++;
        v[*n].start = cp_count(t->text, ws[w]), v[*n].end = cp_count(t->text, we[e - 1]);
        if (!(v[(*n)++].slot = strdup(tag + 2))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        w = e;
    }
    turn_free(&words);
    free(ws), free(we);
    if (rc != BERT_OK) return bert_slot_spans_free(v, *n), *n = 0, rc;
    *out = v;
    return BERT_OK;
}
