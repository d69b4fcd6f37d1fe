/* cmd_pretrain.c — `bert pretrain MODEL_DIR --corpus FILE... --output-dir OUT`:
 * masked-LM + next-sentence pre-training (or continued pre-training of an
 * existing model on a domain corpus), the recipe of Google's
 * create_pretraining_data.py with dynamic masking (RoBERTa):
 *
 *  - corpus: text files, one sentence or paragraph per line, blank lines
 *    between documents; each line tokenized once. Lines that are not valid
 *    UTF-8 are skipped and counted (the first one is reported);
 *  - pairs: segments of a document accumulated up to a target length
 *    (max_seq_len - 3, or with probability 0.1 a random shorter one), cut
 *    into A and B at a random segment boundary; B is replaced by text from
 *    another document half of the time (NSP label 1 = random, 0 = IsNext);
 *    the longer side is trimmed from a random end until the pair fits;
 *  - masking, drawn afresh every time a sequence is fed: 15 % of the
 *    non-special tokens (at least 1, at most --max-predictions), 80 % ->
 *    [MASK], 10 % -> a random token, 10 % unchanged; --whole-word masks
 *    all pieces of a word together;
 *  - held-out documents give the MLM loss, accuracy and perplexity on a
 *    fixed masking at every evaluation. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"

typedef struct {
    int32_t *ids;
    int n;
} segment;

typedef struct {
    segment *seg;
    int n;
} document;

typedef struct {
    document *doc;
    int n;
} corpus;

typedef struct { /* a prepared pair, masked when fed */
    int32_t *ids, *types;
    int n, nsp;
} instance;

/* Data preparation's own generator (training draws from the trainer's RNG). */
static uint32_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}
static double rnd01(uint64_t *s) { return rnd(s) / 2147483648.0; }

static int read_corpus(const bert_tokenizer *tok, const char *path, corpus *c, long *bad, char *first_bad, size_t cap,
                       char *msg, size_t mcap) {
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(msg, mcap, "%s: cannot open: %s", path, strerror(errno)), 0;
    char *line = NULL;
    size_t lc = 0;
    ssize_t len;
    long no = 0;
    bert_encode_params ep = bert_encode_default_params();
    (void)msg, (void)mcap;
    ep.add_special_tokens = 0;
    document cur = {0};
    while ((len = getline(&line, &lc, f)) != -1) {
        no++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len) { /* blank: a document ends */
            if (cur.n) {
                c->doc = realloc(c->doc, sizeof *c->doc * (size_t)(c->n + 1));
                c->doc[c->n++] = cur;
                memset(&cur, 0, sizeof cur);
            }
            continue;
        }
        bert_encodings es;
        bert_error err;
        if (bert_tokenize(tok, line, len, NULL, 0, &ep, &es, &err) != BERT_OK) { /* invalid UTF-8 */
            if ((*bad)++ == 0) snprintf(first_bad, cap, "%s:%ld (%s)", path, no, err.message);
            continue;
        }
        const bert_encoding *e = &es.encodings[0];
        if (e->n_tokens > 0) {
            cur.seg = realloc(cur.seg, sizeof *cur.seg * (size_t)(cur.n + 1));
            segment *s = &cur.seg[cur.n++];
            s->n = e->n_tokens;
            s->ids = malloc(sizeof *s->ids * (size_t)s->n);
            memcpy(s->ids, e->input_ids, sizeof *s->ids * (size_t)s->n);
        }
        bert_encodings_free(&es);
    }
    if (cur.n) {
        c->doc = realloc(c->doc, sizeof *c->doc * (size_t)(c->n + 1));
        c->doc[c->n++] = cur;
    }
    free(line);
    fclose(f);
    return 1;
}

/* Google's create_instances_from_document, one document. */
static void make_instances(const corpus *c, int d, int max_seq, int cls, int sep, instance **out, int *n, int *cap,
                           uint64_t *rs) {
    const document *doc = &c->doc[d];
    int max_tokens = max_seq - 3, target = max_tokens;
    if (rnd01(rs) < 0.1) target = 2 + (int)(rnd(rs) % (uint32_t)(max_tokens - 1));
    int start = 0, len = 0;
    for (int i = 0; i < doc->n; i++) {
        len += doc->seg[i].n;
        if (i != doc->n - 1 && len < target) continue;
        int count = i - start + 1; /* segments start..i */
        int a_end = count >= 2 ? start + 1 + (int)(rnd(rs) % (uint32_t)(count - 1)) : start + 1;
        int32_t *a = malloc(sizeof *a * (size_t)(len + 1)), *b = malloc(sizeof *b * (size_t)(max_seq * 4 + 1));
        int na = 0, nb = 0, nsp = 0;
        for (int k = start; k < a_end; k++) memcpy(a + na, doc->seg[k].ids, sizeof *a * (size_t)doc->seg[k].n), na += doc->seg[k].n;
        if (count == 1 || (c->n > 1 && rnd01(rs) < 0.5)) { /* random next: text from another document */
            nsp = 1;
            int other = d;
            for (int tries = 0; tries < 10 && other == d; tries++) other = (int)(rnd(rs) % (uint32_t)c->n);
            const document *od = &c->doc[other];
            int target_b = target - na;
            /* at least one segment, then until B reaches its target length (Google's loop) */
            for (int k = (int)(rnd(rs) % (uint32_t)od->n); k < od->n && (nb == 0 || (nb < target_b && nb < max_seq * 3)); k++) {
                int take = od->seg[k].n < max_seq * 4 - nb ? od->seg[k].n : max_seq * 4 - nb;
                memcpy(b + nb, od->seg[k].ids, sizeof *b * (size_t)take), nb += take;
            }
            i = a_end - 1; /* the unused segments go back (Google: num_unused_segments) */
        } else {
            for (int k = a_end; k <= i && nb < max_seq * 3; k++) {
                int take = doc->seg[k].n < max_seq * 4 - nb ? doc->seg[k].n : max_seq * 4 - nb;
                memcpy(b + nb, doc->seg[k].ids, sizeof *b * (size_t)take), nb += take;
            }
        }
        /* truncate_seq_pair: trim the longer side at a random end */
        int a0 = 0, b0 = 0;
        while (na + nb > max_tokens) {
            if (na >= nb) {
                if (rnd01(rs) < 0.5) a0++;
                na--;
            } else {
                if (rnd01(rs) < 0.5) b0++;
                nb--;
            }
        }
        if (na >= 1 && nb >= 1) {
            if (*n == *cap) *out = realloc(*out, sizeof **out * (size_t)(*cap = *cap ? 2 * *cap : 1024));
            instance *x = &(*out)[(*n)++];
            x->n = na + nb + 3;
            x->ids = malloc(sizeof *x->ids * (size_t)x->n);
            x->types = malloc(sizeof *x->types * (size_t)x->n);
            int p = 0;
            x->ids[p] = cls, x->types[p++] = 0;
            for (int k = 0; k < na; k++) x->ids[p] = a[a0 + k], x->types[p++] = 0;
            x->ids[p] = sep, x->types[p++] = 0;
            for (int k = 0; k < nb; k++) x->ids[p] = b[b0 + k], x->types[p++] = 1;
            x->ids[p] = sep, x->types[p++] = 1;
            x->nsp = nsp;
        }
        free(a), free(b);
        start = i + 1, len = 0;
    }
}

/* Mask instance x into ids (copy) and labels; r: random numbers in [0,1) and ints. */
static void mask_instance(const instance *x, int32_t *ids, float *labels, const bert_tokenizer *tok, int max_pred,
                          int whole_word, uint32_t (*next)(void *), void *st) {
    int cls = bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS), sep = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP);
    int mask = bert_tokenizer_special_id(tok, BERT_SPECIAL_MASK), V = bert_tokenizer_vocab_size(tok);
    memcpy(ids, x->ids, sizeof *ids * (size_t)x->n);
    for (int i = 0; i < x->n; i++) labels[i] = -100;
    /* candidate units: a token, or with whole_word a token and its "##" pieces */
    int *start = malloc(sizeof *start * (size_t)x->n), *len = malloc(sizeof *len * (size_t)x->n), nu = 0, ntok = 0;
    for (int i = 0; i < x->n; i++) {
        if (x->ids[i] == cls || x->ids[i] == sep) continue;
        ntok++;
        const char *t = bert_tokenizer_id_to_token(tok, x->ids[i]);
        if (whole_word && nu > 0 && t && strncmp(t, "##", 2) == 0 && start[nu - 1] + len[nu - 1] == i) {
            len[nu - 1]++;
            continue;
        }
        start[nu] = i, len[nu++] = 1;
    }
    for (int i = nu - 1; i > 0; i--) { /* shuffle units */
        int j = (int)(next(st) % (uint32_t)(i + 1)), a = start[i], b = len[i];
        start[i] = start[j], len[i] = len[j], start[j] = a, len[j] = b;
    }
    int want = (int)lround(ntok * 0.15), done = 0;
    if (want < 1) want = 1;
    if (want > max_pred) want = max_pred;
    for (int u = 0; u < nu && done < want; u++) {
        if (done + len[u] > want) continue; /* a whole word that would exceed the budget is skipped */
        for (int k = start[u]; k < start[u] + len[u]; k++) {
            labels[k] = (float)x->ids[k];
            double r = (next(st) >> 8) / 16777216.0;
            if (r < 0.8) ids[k] = mask;
            else if (r < 0.9) ids[k] = (int32_t)(next(st) % (uint32_t)V);
            done++;
        }
    }
    free(start), free(len);
}

static uint32_t trainer_next(void *t) { return bert_trainer_random(t); }
static uint32_t fixed_next(void *st) {
    uint64_t *s = st;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MLM loss / accuracy on the held-out instances with a fixed masking. */
static void evaluate(const bert_model *m, const bert_tokenizer *tok, const instance *ev, int n, int max_pred,
                     int whole_word, double *loss, double *acc) {
    bert_context *ctx;
    bert_error err;
    *loss = *acc = NAN;
    if (bert_context_create(m, NULL, &ctx, &err) != BERT_OK || n == 0) return;
    uint64_t st = 12345;
    double lsum = 0;
    long count = 0, right = 0;
    int V = bert_model_config(m)->vocab_size;
    for (int i = 0; i < n; i++) {
        int32_t *ids = malloc(sizeof *ids * (size_t)ev[i].n);
        float *lab = malloc(sizeof *lab * (size_t)ev[i].n);
        mask_instance(&ev[i], ids, lab, tok, max_pred, whole_word, fixed_next, &st);
        bert_sequence s = {.input_ids = ids, .token_type_ids = ev[i].types, .n_tokens = ev[i].n};
        if (bert_forward(ctx, &s, 1, BERT_OUTPUT_MLM, &err) == BERT_OK) {
            const float *z = bert_output_mlm_logits(ctx, 0);
            for (int k = 0; k < ev[i].n; k++) {
                if (lab[k] < 0) continue;
                const float *r = z + (size_t)k * V;
                double mx = r[0], sum = 0;
                int best = 0;
                for (int j = 1; j < V; j++) if (r[j] > mx) mx = r[j], best = j;
                for (int j = 0; j < V; j++) sum += exp(r[j] - mx);
                lsum += -(r[(int)lab[k]] - mx - log(sum));
                right += best == (int)lab[k];
                count++;
            }
        }
        free(ids), free(lab);
    }
    bert_context_free(ctx);
    if (count) *loss = lsum / count, *acc = (double)right / count;
}

int cmd_pretrain(int argc, char **argv) {
    static const char *usage =
        "usage: bert pretrain MODEL_DIR --output-dir OUT --corpus FILE [--corpus FILE ...]\n"
        "       [--max-seq-len 128] [--max-predictions 20] [--whole-word] [--no-nsp] [--epochs 1] [--max-steps N]\n"
        "       [--batch-size 32] [--lr 1e-4] [--warmup-ratio 0.01] [--eval-steps 500] [--heldout-docs 50]\n"
        "       [--seed 42] [--threads N]\n";
    const char *model = NULL, *out = NULL, *files[64];
    int nfiles = 0, max_seq = 128, max_pred = 20, whole_word = 0, no_nsp = 0, epochs = 1, batch = 32, eval_steps = 500, heldout = 50;
    long max_steps = 0;
    bert_train_params tp = bert_train_default_params();
    tp.task = BERT_TASK_PRETRAINING;
    tp.lr = 1e-4;
    tp.warmup_ratio = 0.01;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--output-dir") == 0 && v) out = v, i++;
        else if (strcmp(a, "--corpus") == 0 && v && nfiles < 64) files[nfiles++] = v, i++;
        else if (strcmp(a, "--max-seq-len") == 0 && v) max_seq = atoi(v), i++;
        else if (strcmp(a, "--max-predictions") == 0 && v) max_pred = atoi(v), i++;
        else if (strcmp(a, "--epochs") == 0 && v) epochs = atoi(v), i++;
        else if (strcmp(a, "--max-steps") == 0 && v) max_steps = atol(v), i++;
        else if (strcmp(a, "--batch-size") == 0 && v) batch = atoi(v), i++;
        else if (strcmp(a, "--eval-steps") == 0 && v) eval_steps = atoi(v), i++;
        else if (strcmp(a, "--heldout-docs") == 0 && v) heldout = atoi(v), i++;
        else if (cli_train_flag(a, v, &tp)) i++;
        else if (strcmp(a, "--whole-word") == 0) whole_word = 1;
        else if (strcmp(a, "--no-nsp") == 0) no_nsp = 1;
        else if (a[0] != '-' && !model) model = a;
        else return fprintf(stderr, "bert pretrain: unexpected argument '%s'\n%s", a, usage), CLI_USAGE;
    }
    if (!model || !out || !nfiles || max_seq < 8 || batch < 1 || epochs < 1) return fputs(usage, stderr), CLI_USAGE;
    if (no_nsp) tp.task = BERT_TASK_MLM;
    uint64_t rs = tp.seed * 2654435761ULL + 1;
    char msg[2048], first_bad[1100] = "";
    bert_error err;
    bert_tokenizer *tok = NULL;
    corpus c = {0};
    long bad = 0;
    int ok = bert_tokenizer_load(model, &tok, &err) == BERT_OK;
    if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
    for (int f = 0; ok && f < nfiles; f++) ok = read_corpus(tok, files[f], &c, &bad, first_bad, sizeof first_bad, msg, sizeof msg);
    if (ok && bad) fprintf(stderr, "bert pretrain: %ld line(s) skipped: not valid UTF-8 (first: %s)\n", bad, first_bad);
    if (ok && c.n < 2) snprintf(msg, sizeof msg, "the corpus has %d document(s); NSP needs at least 2 (blank lines separate documents)", c.n), ok = 0;
    /* held-out documents: the last ones */
    int n_eval_docs = ok ? (heldout < c.n / 2 ? heldout : c.n / 2) : 0, n_train_docs = c.n - n_eval_docs;
    instance *tr = NULL, *ev = NULL;
    int ntr = 0, captr = 0, nev = 0, capev = 0;
    int cls = ok ? bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS) : 0, sep = ok ? bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP) : 0;
    corpus train_c = {c.doc, n_train_docs}, eval_c = {c.doc + n_train_docs, n_eval_docs};
    for (int d = 0; ok && d < train_c.n; d++) make_instances(&train_c, d, max_seq, cls, sep, &tr, &ntr, &captr, &rs);
    for (int d = 0; ok && d < eval_c.n; d++) make_instances(&eval_c, d, max_seq, cls, sep, &ev, &nev, &capev, &rs);
    if (ok) fprintf(stderr, "bert pretrain: %d documents, %d training pairs, %d held-out pairs\n", c.n, ntr, nev);
    long steps_per_epoch = (ntr + batch - 1) / batch;
    tp.total_steps = max_steps > 0 ? max_steps : steps_per_epoch * epochs;
    bert_trainer *t = NULL;
    if (ok) {
        mkdir(out, 0755);
        if (bert_trainer_open(model, &tp, &t, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    FILE *log = ok ? fopen(path, "w") : NULL;
    double l0, a0;
    if (ok) {
        evaluate(bert_trainer_model(t), tok, ev, nev, max_pred, whole_word, &l0, &a0);
        fprintf(stderr, "held-out MLM before: loss %.4f perplexity %.1f accuracy %.4f\n", l0, exp(l0), a0);
        fprintf(log, "{\"step\":0,\"eval_mlm_loss\":%.6f,\"eval_perplexity\":%.4f,\"eval_mlm_accuracy\":%.6f}\n", l0, exp(l0), a0);
    }
    int *order = malloc(sizeof *order * (size_t)(ntr ? ntr : 1));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    int32_t **mids = calloc((size_t)batch, sizeof *mids);
    float *lab = malloc(sizeof *lab * ((size_t)batch * (size_t)max_seq + (size_t)batch));
    double t0 = now_s(), tokens = 0, last_loss = NAN, last_acc = NAN;
    int stop = 0;
    for (int k = 0; k < batch; k++) mids[k] = malloc(sizeof **mids * (size_t)max_seq);
    for (int epoch = 0; ok && !stop && epoch < epochs; epoch++) {
        cli_shuffle(t, order, ntr);
        double lsum = 0;
        int lcount = 0;
        for (int pos = 0; ok && !stop && pos < ntr; pos += batch) {
            int n = ntr - pos < batch ? ntr - pos : batch, off = 0;
            for (int k = 0; k < n; k++) { /* dynamic masking: a fresh mask every time */
                const instance *x = &tr[order[pos + k]];
                mask_instance(x, mids[k], lab + off, tok, max_pred, whole_word, trainer_next, t);
                seqs[k] = (bert_sequence){.input_ids = mids[k], .token_type_ids = x->types, .n_tokens = x->n};
                off += x->n;
                tokens += x->n;
            }
            for (int k = 0; k < n && !no_nsp; k++) lab[off + k] = (float)tr[order[pos + k]].nsp;
            double loss;
            int stepped;
            if (bert_trainer_step(t, seqs, n, lab, &loss, &stepped, &err) != BERT_OK) {
                snprintf(msg, sizeof msg, "%s", err.message);
                ok = 0;
                break;
            }
            lsum += loss, lcount++;
            long step = bert_trainer_steps(t);
            if (step % 100 == 0) {
                fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e %.0f tok/s\n", step, tp.total_steps, lsum / lcount, bert_trainer_lr(t), tokens / (now_s() - t0));
                fprintf(log, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g,\"tokens_per_s\":%.0f}\n", step, lsum / lcount, bert_trainer_lr(t), tokens / (now_s() - t0));
                fflush(log);
                lsum = 0, lcount = 0;
            }
            if ((eval_steps && step % eval_steps == 0) || step >= tp.total_steps) {
                evaluate(bert_trainer_model(t), tok, ev, nev, max_pred, whole_word, &last_loss, &last_acc);
                fprintf(stderr, "step %ld: held-out MLM loss %.4f perplexity %.1f accuracy %.4f\n", step, last_loss, exp(last_loss), last_acc);
                fprintf(log, "{\"step\":%ld,\"eval_mlm_loss\":%.6f,\"eval_perplexity\":%.4f,\"eval_mlm_accuracy\":%.6f}\n", step, last_loss, exp(last_loss), last_acc);
                fflush(log);
                snprintf(path, sizeof path, "%s/model", out);
                if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
            }
            if (step >= tp.total_steps) stop = 1;
        }
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/model", out);
        if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    }
    if (ok) {
        evaluate(bert_trainer_model(t), tok, ev, nev, max_pred, whole_word, &last_loss, &last_acc);
        snprintf(path, sizeof path, "%s/report.json", out);
        cli_output ro;
        if (cli_output_open("pretrain", path, &ro)) {
            fprintf(ro.fp, "{\"documents\": %d, \"train_pairs\": %d, \"heldout_pairs\": %d, \"steps\": %ld, \"seconds\": %.1f, "
                           "\"tokens_per_s\": %.0f, \"heldout_before\": {\"mlm_loss\": %.4f, \"perplexity\": %.2f, \"accuracy\": %.4f}, "
                           "\"heldout_after\": {\"mlm_loss\": %.4f, \"perplexity\": %.2f, \"accuracy\": %.4f}, \"model\": \"%s/model\"}\n",
                    c.n, ntr, nev, bert_trainer_steps(t), now_s() - t0, tokens / (now_s() - t0), l0, exp(l0), a0, last_loss,
                    exp(last_loss), last_acc, out);
            ok = cli_output_close("pretrain", &ro, 1);
        }
        fprintf(stderr, "done: held-out perplexity %.1f -> %.1f, MLM accuracy %.4f -> %.4f; model in %s/model\n", exp(l0),
                exp(last_loss), a0, last_acc, out);
    } else {
        cli_error("pretrain", "%s", msg);
    }
    if (log) fclose(log);
    for (int k = 0; k < batch; k++) free(mids[k]);
    free(mids), free(order), free(seqs), free(lab);
    for (int i = 0; i < ntr; i++) free(tr[i].ids), free(tr[i].types);
    for (int i = 0; i < nev; i++) free(ev[i].ids), free(ev[i].types);
    free(tr), free(ev);
    for (int d = 0; d < c.n; d++) {
        for (int s = 0; s < c.doc[d].n; s++) free(c.doc[d].seg[s].ids);
        free(c.doc[d].seg);
    }
    free(c.doc);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
