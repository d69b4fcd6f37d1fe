/* finetune_seq.c — `bert finetune MODEL_DIR --output-dir OUT`: fine-tune a
 * sequence classifier or regressor on TSV/JSONL data, with validation,
 * early stopping, checkpoints that resume exactly, and a JSONL log.
 *
 * The loop, in the order things happen:
 *   read + tokenize train and dev; for each epoch: shuffle (a seed drawn
 *   from the trainer's RNG, saved in checkpoints); for each micro-batch:
 *   bert_trainer_step; after each optimizer step: log, maybe evaluate
 *   (best model, early stopping), maybe checkpoint; at epoch end: evaluate
 *   and checkpoint. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/finetune_data.h"

typedef struct {
    int n;
    int32_t **ids, **types;
    int *len;
    int L;         /* label floats per example: 1, or num_labels for multi-label */
    float *labels; /* [n x L]: class id, value, or 0/1 per label */
} ft_set;

typedef struct {
    const char *model, *out, *task, *data_dir, *train, *dev, *resume, *metric, *labels_csv;
    ft_columns cols;
    int epochs, batch, max_len, eval_steps, save_steps, keep, patience, log_steps, max_train, max_dev, problem_set, eval_only;
    long max_steps;
    bert_train_params tp;
} ft_opts;

static void set_free(ft_set *s) {
    for (int i = 0; i < s->n; i++) free(s->ids[i]), free(s->types[i]);
    free(s->ids), free(s->types), free(s->len), free(s->labels);
    memset(s, 0, sizeof *s);
}

/* Tokenize examples; map labels through `labels` (classification) or parse floats. */
static int build_set(const bert_tokenizer *tok, const ft_examples *ex, int limit, int max_len, const ft_opts *o,
                     char **labels, int n_labels, const char *path, ft_set *s, char *msg, size_t cap) {
    int n = limit > 0 && limit < ex->n ? limit : ex->n;
    s->n = n;
    s->ids = calloc((size_t)n, sizeof *s->ids);
    s->types = calloc((size_t)n, sizeof *s->types);
    s->len = calloc((size_t)n, sizeof *s->len);
    s->L = o->tp.problem == BERT_PROBLEM_MULTI_LABEL ? n_labels : 1;
    s->labels = calloc((size_t)n * (size_t)s->L, sizeof *s->labels);
    if (!s->ids || !s->types || !s->len || !s->labels) return snprintf(msg, cap, "out of memory"), 0;
    bert_encode_params ep = bert_encode_default_params();
    ep.truncation = BERT_TRUNCATE_LONGEST_FIRST;
    ep.max_length = max_len;
    for (int i = 0; i < n; i++) {
        const ft_example *e = &ex->v[i];
        if (o->tp.problem == BERT_PROBLEM_MULTI_LABEL) { /* "a,b": the example has labels a and b */
            char *copy = strdup(e->label);
            for (char *tk = copy ? strtok(copy, ",") : NULL; tk; tk = strtok(NULL, ",")) {
                int id = -1;
                for (int k = 0; k < n_labels; k++)
                    if (strcmp(labels[k], tk) == 0) id = k;
                if (id < 0) {
                    snprintf(msg, cap, "%s:%ld: unknown label '%s'", path, e->line, tk);
                    free(copy);
                    return 0;
                }
                s->labels[(size_t)i * s->L + id] = 1.0f;
            }
            free(copy);
        } else if (o->tp.problem == BERT_PROBLEM_REGRESSION) {
            char *end;
            s->labels[i] = strtof(e->label, &end);
            if (end == e->label || *end) return snprintf(msg, cap, "%s:%ld: label '%s' is not a number", path, e->line, e->label), 0;
        } else {
            int id = -1;
            for (int k = 0; k < n_labels; k++)
                if (strcmp(labels[k], e->label) == 0) id = k;
            if (id < 0) return snprintf(msg, cap, "%s:%ld: unknown label '%s'", path, e->line, e->label), 0;
            s->labels[i] = (float)id;
        }
        bert_encodings es;
        bert_error err;
        if (bert_tokenize(tok, e->text, -1, e->pair, -1, &ep, &es, &err) != BERT_OK)
            return snprintf(msg, cap, "%s:%ld: %s", path, e->line, err.message), 0;
        const bert_encoding *x = &es.encodings[0];
        s->len[i] = x->n_tokens;
        s->ids[i] = malloc(sizeof(int32_t) * (size_t)x->n_tokens);
        s->types[i] = malloc(sizeof(int32_t) * (size_t)x->n_tokens);
        if (s->ids[i] && s->types[i]) {
            memcpy(s->ids[i], x->input_ids, sizeof(int32_t) * (size_t)x->n_tokens);
            memcpy(s->types[i], x->token_type_ids, sizeof(int32_t) * (size_t)x->n_tokens);
        }
        bert_encodings_free(&es);
        if (!s->ids[i] || !s->types[i]) return snprintf(msg, cap, "out of memory"), 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The label list: --labels, else the sorted distinct train labels. */
static int collect_labels(const ft_opts *o, const ft_examples *train, char ***labels, int *n) {
    *n = 0;
    *labels = malloc(sizeof **labels * (size_t)(train->n + 1));
    if (!*labels) return 0;
    if (o->labels_csv) {
        char *copy = strdup(o->labels_csv);
        for (char *t = strtok(copy, ","); t; t = strtok(NULL, ",")) (*labels)[(*n)++] = strdup(t);
        free(copy);
        return 1;
    }
    int cap = train->n + 1;
    for (int i = 0; i < train->n; i++) {
        char *copy = strdup(train->v[i].label);
        for (char *tk = o->tp.problem == BERT_PROBLEM_MULTI_LABEL ? strtok(copy, ",") : copy; tk;
             tk = o->tp.problem == BERT_PROBLEM_MULTI_LABEL ? strtok(NULL, ",") : NULL) {
            int seen = 0;
            for (int k = 0; k < *n && !seen; k++) seen = strcmp((*labels)[k], tk) == 0;
            if (!seen && *n == cap) {
                char **g = realloc(*labels, sizeof *g * (size_t)(cap *= 2));
                if (!g) break;
                *labels = g;
            }
            if (!seen) (*labels)[(*n)++] = strdup(tk);
        }
        free(copy);
    }
    qsort(*labels, (size_t)*n, sizeof **labels, cmp_str);
    return 1;
}

typedef struct {
    double loss, accuracy, f1, mcc, pearson, spearman;
} ft_eval;

static int evaluate(bert_trainer *t, const ft_set *dev, int batch, bert_problem problem, int positive, ft_eval *r,
                    char *msg, size_t cap) {
    int L = bert_model_num_labels(bert_trainer_model(t));
    int *pred = malloc(sizeof *pred * (size_t)dev->n), *gold = malloc(sizeof *gold * (size_t)dev->n);
    double *px = malloc(sizeof *px * (size_t)dev->n), *gy = malloc(sizeof *gy * (size_t)dev->n);
    float *logits = malloc(sizeof *logits * (size_t)batch * (size_t)L);
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)batch);
    int ok = pred && gold && px && gy && logits && seqs;
    double loss_sum = 0;
    long tp = 0, fp = 0, fn = 0;
    for (int i = 0; ok && i < dev->n; i += batch) {
        int n = dev->n - i < batch ? dev->n - i : batch;
        for (int k = 0; k < n; k++)
            seqs[k] = (bert_sequence){.input_ids = dev->ids[i + k], .token_type_ids = dev->types[i + k], .n_tokens = dev->len[i + k]};
        double loss;
        bert_error err;
        if (bert_trainer_eval(t, seqs, n, dev->labels + (size_t)i * dev->L, &loss, logits, &err) != BERT_OK) {
            snprintf(msg, cap, "evaluation: %s", err.message);
            ok = 0;
            break;
        }
        loss_sum += loss * n;
        for (int k = 0; problem == BERT_PROBLEM_MULTI_LABEL && k < n; k++) {
            /* exact-match accuracy in pred/gold (1 = all labels right); micro counts below */
            int all = 1;
            for (int j = 0; j < L; j++) {
                int p = logits[(size_t)k * L + j] > 0, g = dev->labels[(size_t)(i + k) * L + j] > 0.5f;
                all &= p == g;
                tp += p && g, fp += p && !g, fn += !p && g;
            }
            pred[i + k] = all, gold[i + k] = 1;
        }
        for (int k = 0; problem != BERT_PROBLEM_MULTI_LABEL && k < n; k++) {
            const float *z = logits + (size_t)k * L;
            int best = 0;
            for (int j = 1; j < L; j++)
                if (z[j] > z[best]) best = j;
            pred[i + k] = best;
            gold[i + k] = (int)dev->labels[i + k];
            px[i + k] = z[0];
            gy[i + k] = dev->labels[i + k];
        }
    }
    if (ok) {
        memset(r, 0, sizeof *r);
        r->loss = loss_sum / dev->n;
        if (problem == BERT_PROBLEM_REGRESSION) {
            r->pearson = bert_metric_pearson(px, gy, dev->n);
            r->spearman = bert_metric_spearman(px, gy, dev->n);
        } else if (problem == BERT_PROBLEM_MULTI_LABEL) {
            r->accuracy = bert_metric_accuracy(pred, gold, dev->n); /* exact match */
            r->f1 = tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;     /* micro F1 */
        } else {
            r->accuracy = bert_metric_accuracy(pred, gold, dev->n);
            r->f1 = bert_metric_f1(pred, gold, dev->n, positive);
            r->mcc = bert_metric_mcc(pred, gold, dev->n);
        }
    }
    free(pred), free(gold), free(px), free(gy), free(logits), free(seqs);
    return ok;
}

static double metric_of(const ft_eval *e, const char *metric) {
    if (strcmp(metric, "f1") == 0) return e->f1;
    if (strcmp(metric, "mcc") == 0) return e->mcc;
    if (strcmp(metric, "pearson") == 0) return e->pearson;
    if (strcmp(metric, "spearman") == 0) return e->spearman;
    if (strcmp(metric, "loss") == 0) return -e->loss;
    return e->accuracy;
}

static void log_json(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void log_json(FILE *log, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

/* Fisher-Yates with a PCG-like LCG seeded per epoch (the seed is saved). */
static void shuffle(int *order, int n, uint32_t seed) {
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((s >> 33) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

static int parse_args(int argc, char **argv, ft_opts *o) {
    static const char *usage =
        "usage: bert finetune MODEL_DIR --output-dir OUT [--task sst2|cola|mrpc|rte|stsb|wnli] [--data-dir DIR]\n"
        "       [--train FILE --dev FILE] [--text-column C] [--pair-column C] [--label-column C] [--no-header]\n"
        "       [--problem single_label|multi_label|regression] [--labels a,b,...] (multi-label: \"a,b\" per example) [--epochs 3] [--max-steps N]\n"
        "       [--batch-size 32] [--grad-accum 1] [--max-seq-len 128] [--lr 2e-5] [--weight-decay 0.01]\n"
        "       [--warmup-ratio 0.1] [--warmup-steps N] [--schedule linear|constant|cosine] [--max-grad-norm 1]\n"
        "       [--bert-adam] [--dropout P] [--seed 42] [--threads N] [--dtype f32|bf16] [--eval-steps N] [--save-steps N]\n"
        "       [--save-total-limit 2] [--patience N] [--metric accuracy|f1|mcc|pearson|spearman|loss]\n"
        "       [--log-steps 10] [--resume CHECKPOINT] [--max-train N] [--max-dev N]\n";
    memset(o, 0, sizeof *o);
    o->tp = bert_train_default_params();
    o->data_dir = "../shared/data/glue";
    o->cols = (ft_columns){"text", "text_pair", "label", 1};
    o->epochs = 3, o->batch = 32, o->max_len = 128, o->keep = 2, o->log_steps = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR(flag, dst) if (strcmp(a, flag) == 0 && v) { dst = v; i++; continue; }
#define INT(flag, dst, min) if (strcmp(a, flag) == 0 && v) { if (!cli_parse_int("finetune", a, v, min, &dst)) return 0; i++; continue; }
#define DBL(flag, dst) if (strcmp(a, flag) == 0 && v) { char *e; dst = strtod(v, &e); if (*e || e == v) { fprintf(stderr, "bert finetune: %s needs a number\n", a); return 0; } i++; continue; }
        STR("--output-dir", o->out) STR("--task", o->task) STR("--data-dir", o->data_dir) STR("--train", o->train)
        STR("--dev", o->dev) STR("--resume", o->resume) STR("--metric", o->metric) STR("--labels", o->labels_csv)
        STR("--text-column", o->cols.text) STR("--pair-column", o->cols.pair) STR("--label-column", o->cols.label)
        INT("--epochs", o->epochs, 1) INT("--batch-size", o->batch, 1) INT("--max-seq-len", o->max_len, 8)
        INT("--grad-accum", o->tp.grad_accum, 1) INT("--eval-steps", o->eval_steps, 1) INT("--save-steps", o->save_steps, 1)
        INT("--save-total-limit", o->keep, 1) INT("--patience", o->patience, 1) INT("--log-steps", o->log_steps, 1)
        INT("--threads", o->tp.n_threads, 1) INT("--max-train", o->max_train, 1) INT("--max-dev", o->max_dev, 1)
        DBL("--lr", o->tp.lr) DBL("--weight-decay", o->tp.weight_decay) DBL("--warmup-ratio", o->tp.warmup_ratio)
        DBL("--max-grad-norm", o->tp.max_grad_norm)
#undef STR
#undef INT
#undef DBL
        if (strcmp(a, "--max-steps") == 0 && v) { o->max_steps = atol(v); i++; continue; }
        if (strcmp(a, "--warmup-steps") == 0 && v) { o->tp.warmup_steps = atol(v); i++; continue; }
        if (strcmp(a, "--seed") == 0 && v) { o->tp.seed = strtoull(v, NULL, 10); i++; continue; }
        if (strcmp(a, "--dropout") == 0 && v) { o->tp.hidden_dropout = o->tp.attention_dropout = o->tp.classifier_dropout = atof(v); i++; continue; }
        if (strcmp(a, "--dtype") == 0 && v) { if (!cli_parse_dtype("finetune", v, &o->tp.compute)) return 0; i++; continue; }
        if (strcmp(a, "--bert-adam") == 0) { o->tp.bert_adam = 1; o->tp.eps = 1e-6; continue; }
        if (strcmp(a, "--no-header") == 0) { o->cols.header = 0; continue; }
        if (strcmp(a, "--eval-only") == 0) { o->eval_only = 1; continue; }
        if (strcmp(a, "--problem") == 0 && v) {
            i++;
            o->problem_set = 1;
            if (strcmp(v, "single_label") == 0) o->tp.problem = BERT_PROBLEM_SINGLE_LABEL;
            else if (strcmp(v, "multi_label") == 0) o->tp.problem = BERT_PROBLEM_MULTI_LABEL;
            else if (strcmp(v, "regression") == 0) o->tp.problem = BERT_PROBLEM_REGRESSION;
            else return fprintf(stderr, "bert finetune: --problem must be single_label, multi_label or regression\n"), 0;
            continue;
        }
        if (strcmp(a, "--schedule") == 0 && v) {
            i++;
            if (strcmp(v, "linear") == 0) o->tp.schedule = BERT_SCHEDULE_LINEAR;
            else if (strcmp(v, "constant") == 0) o->tp.schedule = BERT_SCHEDULE_CONSTANT;
            else if (strcmp(v, "cosine") == 0) o->tp.schedule = BERT_SCHEDULE_COSINE;
            else return fprintf(stderr, "bert finetune: --schedule must be linear, constant or cosine\n"), 0;
            continue;
        }
        if (a[0] == '-' || o->model) return cli_help_if_asked(a, usage), fprintf(stderr, "bert finetune: unexpected argument \'%s\'\n%s", a, usage), 0;
        o->model = a;
    }
    if (!o->model || !o->out) return fputs(usage, stderr), 0;
    if (o->task) {
        const ft_preset *p = ft_preset_find(o->task);
        if (!p) return fprintf(stderr, "bert finetune: unknown --task '%s' (sst2, cola, mrpc, rte, stsb, wnli)\n", o->task), 0;
        static char train[1024], dev[1024];
        snprintf(train, sizeof train, "%s/%s/%s", o->data_dir, p->dir, p->train);
        snprintf(dev, sizeof dev, "%s/%s/%s", o->data_dir, p->dir, p->dev);
        if (!o->train) o->train = train;
        if (!o->dev) o->dev = dev;
        o->cols = p->cols;
        if (!o->problem_set) o->tp.problem = p->problem;
        if (!o->metric) o->metric = p->metric;
    }
    if (!o->train || !o->dev) return fprintf(stderr, "bert finetune: give --task or --train and --dev\n"), 0;
    if (!o->metric) o->metric = o->tp.problem == BERT_PROBLEM_REGRESSION ? "pearson" : "accuracy";
    if (o->cols.pair && strcmp(o->cols.pair, "text_pair") == 0 && !strstr(o->train, ".jsonl")) o->cols.pair = NULL;
    return 1;
}

/* Remove checkpoint directories beyond the newest `keep`. */
static void prune(const char *out, long *steps, int *n, int keep) {
    while (*n > keep) {
        char path[1100];
        snprintf(path, sizeof path, "%s/checkpoint-%ld", out, steps[0]);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
        if (system(cmd) != 0) fprintf(stderr, "bert finetune: could not remove %s\n", path);
        memmove(steps, steps + 1, sizeof *steps * (size_t)(*n - 1));
        (*n)--;
    }
}

int finetune_seq_main(int argc, char **argv) {
    ft_opts o;
    if (!parse_args(argc, argv, &o)) return CLI_USAGE;
    char msg[2048];
    ft_examples train = {0}, dev = {0};
    ft_columns dev_cols = o.cols;
    if (!ft_read(o.train, &o.cols, &train, msg, sizeof msg) || !ft_read(o.dev, &dev_cols, &dev, msg, sizeof msg)) {
        ft_free(&train);
        return cli_error("finetune", "%s", msg);
    }
    char **labels = NULL;
    int n_labels = 0;
    if (o.tp.problem != BERT_PROBLEM_REGRESSION) collect_labels(&o, &train, &labels, &n_labels);
    bert_error err;
    bert_tokenizer *tok = NULL;
    ft_set tr = {0}, dv = {0};
    int ok = bert_tokenizer_load(o.model, &tok, &err) == BERT_OK;
    if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
    if (ok) ok = build_set(tok, &train, o.max_train, o.max_len, &o, labels, n_labels, o.train, &tr, msg, sizeof msg) &&
                 build_set(tok, &dev, o.max_dev, o.max_len, &o, labels, n_labels, o.dev, &dv, msg, sizeof msg);
    if (ok && o.tp.problem != BERT_PROBLEM_REGRESSION && n_labels < 2)
        snprintf(msg, sizeof msg, "%s: fewer than 2 distinct labels", o.train), ok = 0;
    ft_free(&train);
    ft_free(&dev);
    long micro_per_epoch = (tr.n + o.batch - 1) / o.batch;
    long steps_per_epoch = (micro_per_epoch + o.tp.grad_accum - 1) / o.tp.grad_accum;
    o.tp.total_steps = o.max_steps > 0 ? o.max_steps : steps_per_epoch * o.epochs;
    o.tp.num_labels = o.tp.problem == BERT_PROBLEM_REGRESSION ? 1 : n_labels;
    o.tp.labels = (const char *const *)labels;
    bert_trainer *t = NULL;
    unsigned created = 0;
    char *extra = NULL;
    if (ok) {
        mkdir(o.out, 0755);
        if (o.resume) ok = bert_trainer_resume(o.resume, &o.tp, &t, &extra, &err) == BERT_OK;
        else ok = bert_trainer_open(o.model, &o.tp, &t, &created, &err) == BERT_OK;
        if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
    }
    if (ok && created)
        fprintf(stderr, "bert finetune: notice: %s has no trained %s%s%s; created from seed %llu\n", o.model,
                created & BERT_HEAD_POOLER ? "pooler" : "", created == (BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER) ? " and " : "",
                created & BERT_HEAD_CLASSIFIER ? "classifier" : "", (unsigned long long)o.tp.seed);
    char path[1100];
    snprintf(path, sizeof path, "%s/log.jsonl", o.out);
    FILE *log = ok ? fopen(path, o.resume ? "a" : "w") : NULL;
    if (ok && !log) snprintf(msg, sizeof msg, "%s: cannot create: %s", path, strerror(errno)), ok = 0;
    int positive = 1;
    for (int k = 0; k < n_labels; k++)
        if (strcmp(labels[k], "1") == 0) positive = k;
    /* Where to start: a resumed run continues its epoch at its position. */
    int epoch0 = 0, pos0 = 0;
    uint32_t shuffle_seed = 0;
    if (extra) {
        sscanf(strstr(extra, "\"epoch\":") ? strstr(extra, "\"epoch\":") + 8 : "0", "%d", &epoch0);
        sscanf(strstr(extra, "\"position\":") ? strstr(extra, "\"position\":") + 11 : "0", "%d", &pos0);
        sscanf(strstr(extra, "\"shuffle_seed\":") ? strstr(extra, "\"shuffle_seed\":") + 15 : "0", "%u", &shuffle_seed);
    }
    int *order = ok ? malloc(sizeof *order * (size_t)tr.n) : NULL;
    bert_sequence *seqs = ok ? malloc(sizeof *seqs * (size_t)o.batch) : NULL;
    float *lab = ok ? malloc(sizeof *lab * (size_t)o.batch * (size_t)tr.L) : NULL;
    long ckpts[64];
    int n_ckpt = 0, bad_evals = 0, stop = 0, tty = isatty(2);
    double best = -INFINITY, t0 = cli_now_s(), tokens = 0, loss_acc = 0;
    long best_step = -1, loss_n = 0;
    ft_eval last = {0};
    if (ok && o.eval_only) { /* `bert eval`: score the model as it is */
        if (created) snprintf(msg, sizeof msg, "%s has no trained classifier to evaluate", o.model), ok = 0;
        else if ((ok = evaluate(t, &dv, o.batch, o.tp.problem, positive, &last, msg, sizeof msg)))
            best = metric_of(&last, o.metric), best_step = 0;
        stop = 1;
    }
    for (int epoch = epoch0; ok && !stop && epoch < o.epochs; epoch++) {
        if (!(extra && epoch == epoch0)) shuffle_seed = bert_trainer_random(t);
        shuffle(order, tr.n, shuffle_seed);
        for (int pos = epoch == epoch0 ? pos0 : 0; ok && !stop && pos < tr.n; pos += o.batch) {
            int n = tr.n - pos < o.batch ? tr.n - pos : o.batch;
            for (int k = 0; k < n; k++) {
                int i = order[pos + k];
                seqs[k] = (bert_sequence){.input_ids = tr.ids[i], .token_type_ids = tr.types[i], .n_tokens = tr.len[i]};
                memcpy(lab + (size_t)k * tr.L, tr.labels + (size_t)i * tr.L, sizeof *lab * (size_t)tr.L);
                tokens += tr.len[i];
            }
            double loss;
            int stepped;
            if (bert_trainer_step(t, seqs, n, lab, &loss, &stepped, &err) != BERT_OK) {
                snprintf(msg, sizeof msg, "step %ld: %s (the last checkpoint is intact)", bert_trainer_steps(t), err.message);
                ok = 0;
                break;
            }
            loss_acc += loss, loss_n++;
            if (!stepped) continue;
            long step = bert_trainer_steps(t);
            double el = cli_now_s() - t0, tps = tokens / (el > 0 ? el : 1);
            double eta = (double)(o.tp.total_steps - step) * el / (double)step;
            if (step % o.log_steps == 0 || step == o.tp.total_steps) {
                log_json(log, "{\"step\":%ld,\"epoch\":%.3f,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.4f,\"tokens_per_s\":%.0f}",
                         step, epoch + (double)(pos + n) / tr.n, loss_acc / loss_n, bert_trainer_lr(t),
                         bert_trainer_grad_norm(t), tps);
                if (tty)
                    fprintf(stderr, "\rstep %ld/%ld  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %.0f s   ", step,
                            o.tp.total_steps, epoch + 1, loss_acc / loss_n, bert_trainer_lr(t), tps, eta);
                else
                    fprintf(stderr, "step %ld/%ld epoch %d loss %.4f lr %.2e %.0f tok/s\n", step, o.tp.total_steps,
                            epoch + 1, loss_acc / loss_n, bert_trainer_lr(t), tps);
                loss_acc = 0, loss_n = 0;
            }
            int end_of_epoch = pos + n >= tr.n;
            int do_eval = end_of_epoch || (o.eval_steps && step % o.eval_steps == 0) || step >= o.tp.total_steps;
            if (do_eval) {
                if (!(ok = evaluate(t, &dv, o.batch, o.tp.problem, positive, &last, msg, sizeof msg))) break;
                double mv = metric_of(&last, o.metric);
                log_json(log, "{\"step\":%ld,\"eval_loss\":%.6f,\"eval_accuracy\":%.6f,\"eval_f1\":%.6f,\"eval_mcc\":%.6f,"
                              "\"eval_pearson\":%.6f,\"eval_spearman\":%.6f}",
                         step, last.loss, last.accuracy, last.f1, last.mcc, last.pearson, last.spearman);
                fprintf(stderr, "%seval step %ld: loss %.4f %s %.4f\n", tty ? "\n" : "", step, last.loss, o.metric, mv);
                if (mv > best) {
                    best = mv, best_step = step, bad_evals = 0;
                    snprintf(path, sizeof path, "%s/best", o.out);
                    if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) {
                        snprintf(msg, sizeof msg, "%s", err.message);
                        ok = 0;
                    }
                } else if (o.patience && ++bad_evals >= o.patience) {
                    fprintf(stderr, "early stopping: %d evaluations without improvement\n", bad_evals);
                    stop = 1;
                }
            }
            if (ok && ((o.save_steps && step % o.save_steps == 0) || end_of_epoch)) {
                char extra_json[160];
                int next_epoch = end_of_epoch ? epoch + 1 : epoch, next_pos = end_of_epoch ? 0 : pos + n;
                snprintf(extra_json, sizeof extra_json, "{\"epoch\":%d,\"position\":%d,\"shuffle_seed\":%u}", next_epoch,
                         next_pos, end_of_epoch ? 0u : shuffle_seed);
                snprintf(path, sizeof path, "%s/checkpoint-%ld", o.out, step);
                if (bert_trainer_save(t, path, 1, extra_json, &err) != BERT_OK) {
                    snprintf(msg, sizeof msg, "%s", err.message);
                    ok = 0;
                } else if (n_ckpt < 64) {
                    ckpts[n_ckpt++] = step;
                    prune(o.out, ckpts, &n_ckpt, o.keep);
                }
            }
            if (step >= o.tp.total_steps) stop = 1;
        }
        extra = NULL; /* only the first (resumed) epoch starts mid-way */
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/report.json", o.out);
        char report[1024];
        double el = cli_now_s() - t0;
        int len = snprintf(report, sizeof report,
                           "{\"best_%s\": %.6f, \"best_step\": %ld, \"steps\": %ld, \"final_eval_loss\": %.6f, "
                           "\"final_accuracy\": %.6f, \"final_f1\": %.6f, \"final_mcc\": %.6f, \"final_pearson\": %.6f, "
                           "\"final_spearman\": %.6f, \"train_examples\": %d, \"dev_examples\": %d, \"seconds\": %.1f, "
                           "\"tokens_per_s\": %.0f, \"best_model\": \"%s/best\"}\n",
                           o.metric, best, best_step, bert_trainer_steps(t), last.loss, last.accuracy, last.f1, last.mcc,
                           last.pearson, last.spearman, tr.n, dv.n, el, tokens / (el > 0 ? el : 1), o.out);
        cli_output rep;
        if (cli_output_open("finetune", path, &rep)) {
            fwrite(report, 1, (size_t)len, rep.fp);
            ok = cli_output_close("finetune", &rep, 1);
        } else {
            ok = 0;
        }
        if (o.eval_only) fprintf(stderr, "dev %s %.4f (loss %.4f); report in %s/report.json\n", o.metric, best, last.loss, o.out);
        else fprintf(stderr, "%sdone: best %s %.4f at step %ld; model in %s/best\n", tty ? "\n" : "", o.metric, best, best_step, o.out);
    } else {
        cli_error("finetune", "%s", msg);
    }
    if (log) fclose(log);
    free(order), free(seqs), free(lab);
    for (int k = 0; k < n_labels; k++) free(labels[k]);
    free(labels);
    set_free(&tr);
    set_free(&dv);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
