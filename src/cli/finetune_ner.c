/* finetune_ner.c — `bert finetune MODEL_DIR --task ncbi|bc5cdr|conll2003|sec`
 * (or --task-type token with --train/--dev/--test): fine-tune token
 * classification on CoNLL-style files or JSONL {"tokens", "tags"}, scored
 * with seqeval's entity-level metrics.
 *
 * Words are tokenized one by one; the first piece of a word carries its
 * tag, the other pieces are not scored (-100), unless --label-all-tokens
 * (then they carry the word's tag with B- turned into I-, as transformers'
 * run_ner.py does). Predictions are read back at each word's first piece. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

typedef struct {
    char **words, **tags;
    int n;
} ner_sent;

typedef struct {
    ner_sent *v;
    int n;
} ner_data;

typedef struct {
    int32_t *ids;
    int n_tokens;
    float *labels;     /* [n_tokens]: tag id or -100 */
    int *first_piece;  /* [n_words]: token index of each word's first piece, -1 when truncated away */
} ner_feat;

static void data_free(ner_data *d) {
    for (int i = 0; i < d->n; i++) {
        for (int j = 0; j < d->v[i].n; j++) free(d->v[i].words[j]), free(d->v[i].tags[j]);
        free(d->v[i].words), free(d->v[i].tags);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

static int sent_push(ner_sent *s, const char *w, const char *t) {
    char **a = realloc(s->words, sizeof *a * (size_t)(s->n + 1)), **b = a ? realloc(s->tags, sizeof *b * (size_t)(s->n + 1)) : NULL;
    if (a) s->words = a;
    if (!b) return 0;
    s->tags = b;
    s->words[s->n] = strdup(w);
    s->tags[s->n] = strdup(t);
    return s->words[s->n++] != NULL;
}

static int data_push(ner_data *d, ner_sent *s) {
    if (s->n == 0) return 1;
    ner_sent *v = realloc(d->v, sizeof *v * (size_t)(d->n + 1));
    if (!v) return 0;
    d->v = v;
    d->v[d->n++] = *s;
    memset(s, 0, sizeof *s);
    return 1;
}

/* CoNLL: one token per line, columns split on spaces or tabs, the tag is the
 * last column; blank lines end sentences; -DOCSTART- lines are skipped. */
static int read_conll(const char *path, ner_data *d, char *msg, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno)), 0;
    char *line = NULL;
    size_t lc = 0;
    long no = 0;
    ner_sent s = {0};
    int ok = 1;
    while (ok && getline(&line, &lc, f) != -1) {
        no++;
        char *cols[16];
        int n = 0;
        for (char *t = strtok(line, " \t\r\n"); t && n < 16; t = strtok(NULL, " \t\r\n")) cols[n++] = t;
        if (n == 0) {
            ok = data_push(d, &s);
            continue;
        }
        if (strcmp(cols[0], "-DOCSTART-") == 0) continue;
        if (n < 2) {
            snprintf(msg, cap, "%s:%ld: a token line needs a word and a tag", path, no);
            ok = 0;
            break;
        }
        ok = sent_push(&s, cols[0], cols[n - 1]);
    }
    if (ok) ok = data_push(d, &s);
    free(line);
    fclose(f);
    if (ok && d->n == 0) snprintf(msg, cap, "%s: no sentences", path), ok = 0;
    return ok;
}

static int read_jsonl(const char *path, ner_data *d, char *msg, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno)), 0;
    char *line = NULL;
    size_t lc = 0;
    long no = 0;
    int ok = 1;
    while (ok && getline(&line, &lc, f) != -1) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *w = o ? cJSON_GetObjectItemCaseSensitive(o, "tokens") : NULL, *t = o ? cJSON_GetObjectItemCaseSensitive(o, "tags") : NULL;
        if (!cJSON_IsArray(w) || !cJSON_IsArray(t) || cJSON_GetArraySize(w) != cJSON_GetArraySize(t)) {
            snprintf(msg, cap, "%s:%ld: needs \"tokens\" and \"tags\" lists of the same length", path, no);
            ok = 0;
        }
        ner_sent s = {0};
        for (const cJSON *a = ok ? w->child : NULL, *b = ok ? t->child : NULL; ok && a; a = a->next, b = b->next) {
            if (!cJSON_IsString(a) || !cJSON_IsString(b)) {
                snprintf(msg, cap, "%s:%ld: tokens and tags must be strings", path, no);
                ok = 0;
            } else {
                ok = sent_push(&s, a->valuestring, b->valuestring);
            }
        }
        if (ok) ok = data_push(d, &s);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    if (ok && d->n == 0) snprintf(msg, cap, "%s: no sentences", path), ok = 0;
    return ok;
}

static int read_any(const char *path, ner_data *d, char *msg, size_t cap) {
    size_t n = strlen(path);
    return n > 6 && strcmp(path + n - 6, ".jsonl") == 0 ? read_jsonl(path, d, msg, cap) : read_conll(path, d, msg, cap);
}

/* The tagging scheme of the data: BIOES/IOBES when S- occurs or B- and E-
 * both do, IOE when E- marks entity ends without B-, IOB2 when every entity
 * starts with B-, IOB1 when an I- tag starts one but B- occurs too, IO when
 * there is no B- at all. */
static const char *detect_scheme(const ner_data *d) {
    int has_b = 0, has_s = 0, has_e = 0, i_starts = 0;
    for (int i = 0; i < d->n; i++)
        for (int w = 0; w < d->v[i].n; w++) {
            const char *t = d->v[i].tags[w], *prev = w ? d->v[i].tags[w - 1] : "O";
            if (t[1] != '-') continue;
            has_s |= t[0] == 'S', has_e |= t[0] == 'E', has_b |= t[0] == 'B';
            if (t[0] == 'I' && !((prev[0] == 'B' || prev[0] == 'I') && prev[1] == '-' && strcmp(prev + 2, t + 2) == 0))
                i_starts = 1;
        }
    if (has_s || (has_b && has_e)) return "BIOES";
    if (has_e) return "IOE";
    return !i_starts ? "IOB2" : has_b ? "IOB1" : "IO";
}

/* Rewrite tags as IOB2, reading each tag against the ORIGINAL previous one
 * (op): B-X stays; S-X becomes B-X; I-X and E-X become B-X when they start
 * an entity — op is not B-X or I-X (so after O, another type, or an E-/S-
 * that closed the previous entity) — and I-X otherwise. Covers IOB1, IO,
 * IOE1/IOE2 and BIOES. */
static void to_iob2(ner_data *d) {
    char op[128];
    for (int i = 0; i < d->n; i++) {
        snprintf(op, sizeof op, "O");
        for (int w = 0; w < d->v[i].n; w++) {
            char *t = d->v[i].tags[w], cur[128];
            snprintf(cur, sizeof cur, "%s", t);
            if (t[1] == '-' && t[0] != 'B') {
                int continues = (op[0] == 'B' || op[0] == 'I') && op[1] == '-' && strcmp(op + 2, t + 2) == 0;
                t[0] = t[0] == 'S' || !continues ? 'B' : 'I';
            }
            snprintf(op, sizeof op, "%s", cur);
        }
    }
}

static int tag_id(char **labels, int n, const char *t) {
    for (int i = 0; i < n; i++)
        if (strcmp(labels[i], t) == 0) return i;
    return -1;
}

static int build_feat(const bert_tokenizer *tok, const ner_sent *s, char **labels, int n_labels, int max_len,
                      int label_all, ner_feat *f, char *msg, size_t cap) {
    int cap_tok = 2, cls = bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS), sep = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP);
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    f->ids = malloc(sizeof *f->ids * (size_t)max_len);
    f->labels = malloc(sizeof *f->labels * (size_t)max_len);
    f->first_piece = malloc(sizeof *f->first_piece * (size_t)(s->n + 1));
    if (!f->ids || !f->labels || !f->first_piece) return snprintf(msg, cap, "out of memory"), 0;
    int n = 0;
    f->ids[n] = cls, f->labels[n++] = -100;
    (void)cap_tok;
    for (int w = 0; w < s->n; w++) {
        f->first_piece[w] = -1;
        int tid = tag_id(labels, n_labels, s->tags[w]);
        if (tid < 0) return snprintf(msg, cap, "unknown tag '%s'", s->tags[w]), 0;
        bert_encodings es;
        bert_error err;
        if (bert_tokenize(tok, s->words[w], -1, NULL, 0, &ep, &es, &err) != BERT_OK) return snprintf(msg, cap, "%s", err.message), 0;
        const bert_encoding *e = &es.encodings[0];
        int inside = tid;
        if (label_all && strncmp(s->tags[w], "B-", 2) == 0) { /* the other pieces take the I- tag */
            char itag[128];
            snprintf(itag, sizeof itag, "I-%s", s->tags[w] + 2);
            int iid = tag_id(labels, n_labels, itag);
            if (iid >= 0) inside = iid;
        }
        for (int k = 0; k < e->n_tokens && n < max_len - 1; k++) {
            if (k == 0) f->first_piece[w] = n;
            f->ids[n] = e->input_ids[k];
            f->labels[n++] = k == 0 ? (float)tid : label_all ? (float)inside : -100.0f;
        }
        bert_encodings_free(&es);
    }
    f->ids[n] = sep, f->labels[n++] = -100;
    f->n_tokens = n;
    return 1;
}

/* cli_fill_batch for token classification: one label per token. */
static void fill_batch(const void *items, const int *idx, int n, bert_sequence *seqs, float *labels, double *tokens) {
    const ner_feat *feats = items;
    int nl = 0;
    for (int k = 0; k < n; k++) {
        const ner_feat *f = &feats[idx[k]];
        seqs[k] = (bert_sequence){.input_ids = f->ids, .n_tokens = f->n_tokens};
        memcpy(labels + nl, f->labels, sizeof *labels * (size_t)f->n_tokens);
        nl += f->n_tokens;
        *tokens += f->n_tokens;
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Predict tags for every word of data with model; pred[] are label strings. */
static int predict(const bert_model *m, const ner_data *d, const ner_feat *feats, int batch, const char ***pred_out,
                   char *msg, size_t cap) {
    long total = 0;
    for (int i = 0; i < d->n; i++) total += d->v[i].n;
    const char **pred = malloc(sizeof *pred * (size_t)(total ? total : 1));
    bert_context *ctx = NULL;
    bert_error err;
    int ok = pred && bert_context_create(m, NULL, &ctx, &err) == BERT_OK;
    if (!ok) snprintf(msg, cap, "%s", pred ? err.message : "out of memory");
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    int L = bert_model_num_labels(m);
    long off = 0;
    for (int i = 0; ok && i < d->n; i += batch) {
        int n = d->n - i < batch ? d->n - i : batch;
        for (int k = 0; k < n; k++) seqs[k] = (bert_sequence){.input_ids = feats[i + k].ids, .n_tokens = feats[i + k].n_tokens};
        if (bert_forward(ctx, seqs, n, BERT_OUTPUT_TOKEN_CLASSIFIER, &err) != BERT_OK) {
            snprintf(msg, cap, "%s", err.message);
            ok = 0;
            break;
        }
        for (int k = 0; k < n; k++) {
            const float *z = bert_output_token_classifier_logits(ctx, k);
            for (int w = 0; w < d->v[i + k].n; w++) {
                int t = feats[i + k].first_piece[w], best = 0;
                if (t < 0) {
                    pred[off++] = "O"; /* truncated away: predicted outside */
                    continue;
                }
                for (int j = 1; j < L; j++)
                    if (z[(size_t)t * L + j] > z[(size_t)t * L + best]) best = j;
                pred[off++] = bert_model_label(m, best);
            }
        }
    }
    free(seqs);
    bert_context_free(ctx);
    if (!ok) {
        free(pred);
        return 0;
    }
    *pred_out = pred;
    return 1;
}

typedef struct {
    bert_seqeval_result r, strict;
} ner_scores;

static int score(const ner_data *d, const char **pred, ner_scores *s, char *msg, size_t cap) {
    long total = 0;
    for (int i = 0; i < d->n; i++) total += d->v[i].n;
    const char **gold = malloc(sizeof *gold * (size_t)(total ? total : 1));
    int *lens = malloc(sizeof *lens * (size_t)d->n);
    long off = 0;
    for (int i = 0; gold && lens && i < d->n; i++) {
        lens[i] = d->v[i].n;
        for (int w = 0; w < d->v[i].n; w++) gold[off++] = d->v[i].tags[w];
    }
    bert_error err;
    int ok = gold && lens && bert_seqeval(gold, pred, lens, d->n, 0, &s->r, &err) == BERT_OK &&
             bert_seqeval(gold, pred, lens, d->n, 1, &s->strict, &err) == BERT_OK;
    if (!ok) snprintf(msg, cap, "seqeval: %s", err.message);
    free(gold);
    free(lens);
    return ok;
}

int cmd_finetune_ner(int argc, char **argv) {
    static const char *usage =
        "usage: bert finetune MODEL_DIR --output-dir OUT --task ncbi|bc5cdr|conll2003|sec [--data-dir ../shared/data]\n"
        "       | --task-type token --train F --dev F [--test F]     (CoNLL columns or JSONL {\"tokens\", \"tags\"})\n"
        "       [--epochs 3] [--batch-size 32] [--lr 5e-5] [--max-seq-len 128] [--label-all-tokens] [--seed 42]\n"
        "       [--tag-scheme keep|iob2]   (the scheme is detected and reported: IOB1, IOB2, IO, IOE, BIOES)\n"
        "       [--threads N] [--dtype f32|bf16] [--max-train N] [--dropout P]\n";
    const char *model = NULL, *out = NULL, *task = NULL, *data = "../shared/data", *train = NULL, *dev = NULL, *test = NULL;
    int epochs = 3, batch = 32, max_len = 128, label_all = 0, max_train = 0, eval_only = 0, convert = 0;
    const cli_task_flags shared = {&out, &task, &data, &train, &dev, &epochs, &batch, &max_len, &max_train};
    bert_train_params tp = bert_train_default_params();
    tp.task = BERT_TASK_TOKEN;
    tp.lr = 5e-5;
    for (int i = 1, flag; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_task_flag(a, v, &shared)) i++;
        else if (strcmp(a, "--test") == 0 && v) test = v, i++;
        else if ((flag = cli_train_flag("finetune", a, v, &tp)) != 0) {
            if (flag < 0) return CLI_USAGE;
            i++;
        }
        else if (strcmp(a, "--dropout") == 0 && v) tp.hidden_dropout = tp.attention_dropout = tp.classifier_dropout = atof(v), i++;
        else if (strcmp(a, "--label-all-tokens") == 0) label_all = 1;
        else if (strcmp(a, "--eval-only") == 0) eval_only = 1;
        else if (strcmp(a, "--tag-scheme") == 0 && v) {
            i++;
            if (strcmp(v, "iob2") == 0) convert = 1;
            else if (strcmp(v, "keep") != 0) return fprintf(stderr, "bert finetune: --tag-scheme must be keep or iob2\n"), CLI_USAGE;
        }
        else if (a[0] != '-' && !model) model = a;
        else return cli_help_if_asked(a, usage), fprintf(stderr, "bert finetune: unexpected argument \'%s\'\n%s", a, usage), CLI_USAGE;
    }
    if (!model || !out || epochs < 1 || batch < 1 || max_len < 8) return fputs(usage, stderr), CLI_USAGE;
    static char ptrain[1024], pdev[1024], ptest[1024];
    int carve_dev = 0;
    if (task) {
        const char *dir = NULL, *tr = NULL, *dv = NULL, *te = NULL;
        if (strcmp(task, "ncbi") == 0) dir = "ncbi_disease", tr = "train.tsv", dv = "devel.tsv", te = "test.tsv";
        else if (strcmp(task, "bc5cdr") == 0) dir = "bc5cdr", tr = "train.tsv", dv = "devel.tsv", te = "test.tsv";
        else if (strcmp(task, "conll2003") == 0) dir = "conll2003", tr = "train.txt", dv = "valid.txt", te = "test.txt";
        else if (strcmp(task, "sec") == 0) dir = "sec_filings_ner", tr = "FIN5.train.txt", dv = NULL, te = "FIN3.test.txt";
        else return fprintf(stderr, "bert finetune: unknown NER task '%s'\n", task), CLI_USAGE;
        snprintf(ptrain, sizeof ptrain, "%s/%s/%s", data, dir, tr);
        snprintf(ptest, sizeof ptest, "%s/%s/%s", data, dir, te);
        if (dv) snprintf(pdev, sizeof pdev, "%s/%s/%s", data, dir, dv);
        train = ptrain, test = ptest, dev = dv ? pdev : NULL, carve_dev = !dv;
    }
    if (!train || (!dev && !carve_dev)) return fprintf(stderr, "bert finetune: give --task or --train and --dev\n"), CLI_USAGE;
    char msg[2048];
    ner_data tr = {0}, dv = {0}, te = {0};
    int ok = read_any(train, &tr, msg, sizeof msg) && (!dev || read_any(dev, &dv, msg, sizeof msg)) &&
             (!test || read_any(test, &te, msg, sizeof msg));
    const char *scheme = ok ? detect_scheme(&tr) : "?";
    if (ok) fprintf(stderr, "bert finetune: tag scheme of %s: %s%s\n", train, scheme, convert && strcmp(scheme, "IOB2") ? " (converted to IOB2)" : "");
    if (ok && convert) to_iob2(&tr), to_iob2(&dv), to_iob2(&te);
    if (ok && carve_dev) { /* SEC filings has no dev split: a seeded 10 % of train */
        uint64_t s = tp.seed * 2862933555777941757ULL + 3037000493ULL;
        ner_data keep = {0};
        for (int i = 0; ok && i < tr.n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            ok = data_push(((s >> 33) % 10 == 0) ? &dv : &keep, &tr.v[i]);
        }
        free(tr.v);
        tr = keep;
    }
    if (ok && max_train > 0 && max_train < tr.n) {
        for (int i = max_train; i < tr.n; i++) {
            ner_data one = {&tr.v[i], 1};
            (void)one;
            for (int j = 0; j < tr.v[i].n; j++) free(tr.v[i].words[j]), free(tr.v[i].tags[j]);
            free(tr.v[i].words), free(tr.v[i].tags);
        }
        tr.n = max_train;
    }
    /* Labels: the sorted distinct training tags (transformers' run_ner.py). */
    char **labels = NULL;
    int n_labels = 0;
    for (int i = 0; ok && i < tr.n; i++)
        for (int w = 0; w < tr.v[i].n; w++) {
            if (tag_id(labels, n_labels, tr.v[i].tags[w]) >= 0) continue;
            labels = realloc(labels, sizeof *labels * (size_t)(n_labels + 1));
            labels[n_labels++] = tr.v[i].tags[w];
        }
    if (ok) qsort(labels, (size_t)n_labels, sizeof *labels, cmp_str);
    bert_error err;
    bert_tokenizer *tok = NULL;
    if (ok && bert_tokenizer_load(model, &tok, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    ner_feat *ftr = calloc((size_t)tr.n, sizeof *ftr), *fdv = calloc((size_t)(dv.n ? dv.n : 1), sizeof *fdv),
             *fte = calloc((size_t)(te.n ? te.n : 1), sizeof *fte);
    for (int i = 0; ok && i < tr.n; i++)
        if (!build_feat(tok, &tr.v[i], labels, n_labels, max_len, label_all, &ftr[i], msg, sizeof msg)) ok = 0;
    /* dev/test tags unseen in training are scored as gold but can't be predicted: map to O for features. */
    char **all = NULL;
    int n_all = 0;
    if (ok) {
        all = malloc(sizeof *all * (size_t)(n_labels + 1));
        memcpy(all, labels, sizeof *all * (size_t)n_labels);
        n_all = n_labels;
    }
    /* Dev/test tags never seen in training can't be predicted; they are still
     * scored (as misses). Say so once. */
    const char *unseen = NULL;
    for (int i = 0; ok && i < dv.n && !unseen; i++)
        for (int w = 0; w < dv.v[i].n && !unseen; w++)
            if (tag_id(all, n_all, dv.v[i].tags[w]) < 0) unseen = dv.v[i].tags[w];
    if (unseen) fprintf(stderr, "bert finetune: warning: dev tag '%s' never occurs in training; it cannot be predicted\n", unseen);
    ner_data *evals[2] = {&dv, &te};
    ner_feat *efeat[2] = {fdv, fte};
    for (int e = 0; ok && e < 2; e++)
        for (int i = 0; ok && i < evals[e]->n; i++) {
            /* features for prediction: labels unused (unknown test tags allowed) */
            ner_sent tmp = evals[e]->v[i];
            char **tags = malloc(sizeof *tags * (size_t)(tmp.n ? tmp.n : 1));
            for (int w = 0; w < tmp.n; w++) tags[w] = tag_id(labels, n_labels, tmp.tags[w]) >= 0 ? tmp.tags[w] : labels[0];
            tmp.tags = tags;
            if (!build_feat(tok, &tmp, labels, n_labels, max_len, 0, &efeat[e][i], msg, sizeof msg)) ok = 0;
            free(tags);
        }
    free(all);
    long micro = (tr.n + batch - 1) / batch;
    tp.total_steps = micro * epochs;
    tp.num_labels = n_labels;
    tp.labels = (const char *const *)labels;
    bert_trainer *t = NULL;
    unsigned created = 0;
    if (ok) mkdir(out, 0755);
    if (ok && !eval_only && bert_trainer_open(model, &tp, &t, &created, &err) != BERT_OK)
        snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    if (ok && created) fprintf(stderr, "bert finetune: notice: %s has no token classifier for these %d tags; created from seed %llu\n",
                               model, n_labels, (unsigned long long)tp.seed);
    char path[1100];
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    FILE *log = ok ? fopen(path, "w") : NULL;
    int *order = malloc(sizeof *order * (size_t)(tr.n ? tr.n : 1));
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    float *lab = malloc(sizeof *lab * (size_t)batch * (size_t)max_len);
    double best = -1, t0 = cli_now_s(), tokens = 0;
    int best_epoch = -1;
    ner_scores dsc = {0};
    double best_dev[6] = {0}; /* precision, recall, f1, f1_strict, macro_f1, token_accuracy of the best epoch */
    for (int epoch = 0; ok && epoch < (eval_only ? 0 : epochs); epoch++) {
        double mean_loss;
        if (!(ok = cli_train_epoch(t, order, tr.n, batch, seqs, lab, fill_batch, ftr, epoch, tp.total_steps, 50, t0, &tokens,
                                   &mean_loss, msg, sizeof msg)))
            break;
        if (!ok) break;
        const char **pred = NULL;
        bert_seqeval_free(&dsc.r), bert_seqeval_free(&dsc.strict);
        if (!predict(bert_trainer_model(t), &dv, fdv, batch, &pred, msg, sizeof msg) || !score(&dv, pred, &dsc, msg, sizeof msg)) {
            free(pred);
            ok = 0;
            break;
        }
        free(pred);
        fprintf(log, "{\"epoch\":%d,\"step\":%ld,\"loss\":%.6f,\"eval_precision\":%.6f,\"eval_recall\":%.6f,\"eval_f1\":%.6f,\"eval_f1_strict\":%.6f,\"eval_token_accuracy\":%.6f}\n",
                epoch + 1, bert_trainer_steps(t), mean_loss, dsc.r.precision, dsc.r.recall, dsc.r.f1, dsc.strict.f1, dsc.r.token_accuracy);
        fflush(log);
        fprintf(stderr, "epoch %d: dev entity F1 %.4f (strict %.4f), token accuracy %.4f\n", epoch + 1, dsc.r.f1, dsc.strict.f1, dsc.r.token_accuracy);
        if (dsc.r.f1 > best) {
            best = dsc.r.f1, best_epoch = epoch + 1;
            double v[6] = {dsc.r.precision, dsc.r.recall, dsc.r.f1, dsc.strict.f1, dsc.r.macro_f1, dsc.r.token_accuracy};
            memcpy(best_dev, v, sizeof v);
            snprintf(path, sizeof path, "%s/best", out);
            if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
        }
    }
    if (ok && eval_only) { /* `bert eval`: score the given model on dev */
        bert_model *bm = NULL;
        const char **pred = NULL;
        ok = bert_model_load(model, NULL, &bm, &err) == BERT_OK;
        if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
        if (ok && !(bert_model_heads(bm) & BERT_HEAD_CLASSIFIER)) snprintf(msg, sizeof msg, "%s has no token classifier", model), ok = 0;
        if (ok) ok = predict(bm, &dv, fdv, batch, &pred, msg, sizeof msg) && score(&dv, pred, &dsc, msg, sizeof msg);
        if (ok) {
            double v[6] = {dsc.r.precision, dsc.r.recall, dsc.r.f1, dsc.strict.f1, dsc.r.macro_f1, dsc.r.token_accuracy};
            memcpy(best_dev, v, sizeof v);
            best = dsc.r.f1, best_epoch = 0;
        }
        free(pred);
        bert_model_free(bm);
    }
    /* Test with the best model, and the predictions in CoNLL format. */
    ner_scores tsc = {0};
    if (ok && te.n) {
        if (eval_only) snprintf(path, sizeof path, "%s", model);
        else snprintf(path, sizeof path, "%s/best", out);
        bert_model *bm = NULL;
        const char **pred = NULL;
        ok = bert_model_load(path, NULL, &bm, &err) == BERT_OK;
        if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
        if (ok) ok = predict(bm, &te, fte, batch, &pred, msg, sizeof msg) && score(&te, pred, &tsc, msg, sizeof msg);
        snprintf(path, sizeof path, "%s/test_predictions.conll", out);
        cli_output po;
        if (ok && cli_output_open("finetune", path, &po)) {
            long off = 0;
            for (int i = 0; i < te.n; i++) {
                for (int w = 0; w < te.v[i].n; w++, off++) fprintf(po.fp, "%s %s %s\n", te.v[i].words[w], te.v[i].tags[w], pred[off]);
                fputc('\n', po.fp);
            }
            ok = cli_output_close("finetune", &po, 1);
        }
        free(pred);
        bert_model_free(bm);
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/report.json", out);
        cli_output ro;
        if (cli_output_open("finetune", path, &ro)) {
            fprintf(ro.fp, "{\"task\": \"%s\", \"tag_scheme\": \"%s\", \"converted_to_iob2\": %s, \"labels\": %d, \"train_sentences\": %d, \"best_epoch\": %d,\n",
                    task ? task : "token", scheme, convert ? "true" : "false", n_labels, tr.n, best_epoch);
            fprintf(ro.fp, " \"dev\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"f1_strict\": %.6f, \"macro_f1\": %.6f, \"token_accuracy\": %.6f},\n",
                    best_dev[0], best_dev[1], best_dev[2], best_dev[3], best_dev[4], best_dev[5]);
            fprintf(ro.fp, " \"test\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"f1_strict\": %.6f, \"macro_f1\": %.6f, \"token_accuracy\": %.6f, \"per_type\": {",
                    tsc.r.precision, tsc.r.recall, tsc.r.f1, tsc.strict.f1, tsc.r.macro_f1, tsc.r.token_accuracy);
            for (int k = 0; k < tsc.r.n_types; k++)
                fprintf(ro.fp, "%s\"%s\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %ld}", k ? ", " : "", tsc.r.types[k],
                        tsc.r.type_precision[k], tsc.r.type_recall[k], tsc.r.type_f1[k], tsc.r.type_support[k]);
            fprintf(ro.fp, "}},\n \"seconds\": %.1f, \"tokens_per_s\": %.0f}\n", cli_now_s() - t0, tokens / (cli_now_s() - t0));
            ok = cli_output_close("finetune", &ro, 1);
        }
        fprintf(stderr, "done: %s dev F1 %.4f (epoch %d), test F1 %.4f; report in %s/report.json\n", eval_only ? "" : "best", best,
                best_epoch, tsc.r.f1, out);
    } else {
        cli_error("finetune", "%s", msg);
    }
    if (log) fclose(log);
    bert_seqeval_free(&dsc.r), bert_seqeval_free(&dsc.strict), bert_seqeval_free(&tsc.r), bert_seqeval_free(&tsc.strict);
    ner_feat *fs[3] = {ftr, fdv, fte};
    int ns[3] = {tr.n, dv.n, te.n};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; fs[k] && i < ns[k]; i++) free(fs[k][i].ids), free(fs[k][i].labels), free(fs[k][i].first_piece);
        free(fs[k]);
    }
    free(order), free(seqs), free(lab), free(labels);
    data_free(&tr), data_free(&dv), data_free(&te);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
