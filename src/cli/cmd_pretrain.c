/* cmd_pretrain.c — `bert pretrain MODEL_DIR --corpus FILE... --output-dir OUT`:
 * masked-LM + next-sentence pre-training (or continued pre-training of an
 * existing model on a domain corpus), the recipe of Google's
 * create_pretraining_data.py / run_pretraining.py:
 *
 *  - corpus: text files (one sentence or paragraph per line, blank lines
 *    between documents; --split-sentences, --prose) or one binary corpus
 *    from `bert prepare`, memory-mapped (pretrain_corpus.c);
 *  - pairs for NSP and the masking: pretrain_data.c. Pairs are drawn again
 *    every epoch from a seed that depends on the epoch. Masking is dynamic
 *    by default (a fresh mask every time a sequence is fed, from the
 *    trainer's RNG); --dupe-factor N is the original static masking: epoch e
 *    sees the pairs and masks of copy e mod N, as if N masked copies had
 *    been written out beforehand;
 *  - --seq-phases 128:0.9,512:0.1: most steps at 128 tokens, the rest at
 *    512 (the original recipe); --max-predictions is for the first phase's
 *    length and grows in proportion (20 at 128 -> 80 at 512);
 *  - held-out documents (the last ones) give the MLM loss, accuracy and
 *    perplexity on a fixed masking at every evaluation;
 *  - --save-steps N writes OUT/checkpoint with the optimizer state and the
 *    data position; --resume continues from it and, because pairs, order
 *    and the masking RNG are all restored, gives the same weights as an
 *    uninterrupted run. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/pretrain_corpus.h"
#include "cli/pretrain_data.h"
#include "cli/train_flags.h"

#define MAX_PHASES 4

typedef struct {
    int seq;
    double frac; /* of the total steps */
} phase;

static uint64_t mix(uint64_t a, uint64_t b) { /* splitmix64 of a combined key */
    uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The seed of the pairs of (epoch, phase); with static masking (dupe > 0)
 * epoch e reuses copy e mod dupe, and its masks derive from this seed too. */
static uint64_t pair_seed(uint64_t seed, int dupe, long epoch, int ph) {
    return mix(mix(seed, (uint64_t)(dupe ? epoch % dupe : epoch)), (uint64_t)ph);
}

/* 0..n-1 in a seeded random order (Fisher-Yates); NULL when out of memory. */
static int *shuffled(int n, uint64_t seed) {
    int *order = malloc(sizeof *order * (size_t)(n ? n : 1));
    for (int i = 0; order && i < n; i++) order[i] = i;
    for (int i = n - 1; order && i > 0; i--) {
        int j = (int)(pt_rand(&seed) % (uint32_t)(i + 1)), x = order[i];
        order[i] = order[j], order[j] = x;
    }
    return order;
}

static uint32_t trainer_next(void *t) { return bert_trainer_random(t); }
static uint32_t fixed_next(void *st) { return pt_rand(st); }

/* MLM loss / accuracy on the held-out instances with a fixed masking. */
static void evaluate(const bert_model *m, const pt_masking *phase_mk, int max_pred, const pt_instances *ev, double *loss,
                     double *acc) {
    pt_masking mk1 = *phase_mk, *mk = &mk1; /* always the first phase's cap: evaluations stay comparable */
    mk1.max_predictions = max_pred;
    bert_context *ctx;
    bert_error err;
    *loss = *acc = NAN;
    if (ev->n == 0 || bert_context_create(m, NULL, &ctx, &err) != BERT_OK) return;
    uint64_t st = 12345;
    double lsum = 0;
    long count = 0, right = 0;
    int V = bert_model_config(m)->vocab_size;
    for (int i = 0; i < ev->n; i++) {
        const pt_instance *x = &ev->v[i];
        int32_t *ids = malloc(sizeof *ids * (size_t)x->n);
        float *lab = malloc(sizeof *lab * (size_t)x->n);
        pt_mask(mk, x, ids, lab, fixed_next, &st);
        bert_sequence s = {.input_ids = ids, .token_type_ids = x->types, .n_tokens = x->n};
        if (bert_forward(ctx, &s, 1, BERT_OUTPUT_MLM, &err) == BERT_OK) {
            const float *z = bert_output_mlm_logits(ctx, 0);
            for (int k = 0; k < x->n; k++) {
                if (lab[k] < 0) continue;
                const float *r = z + (size_t)k * V;
                double mx = r[0], sum = 0;
                int best = 0;
                for (int j = 1; j < V; j++)
                    if (r[j] > mx) mx = r[j], best = j;
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

/* "128:0.9,512:0.1" -> phases; fractions must add up to 1. */
static int parse_phases(const char *s, phase *ph, int *n) {
    *n = 0;
    double sum = 0;
    while (*s && *n < MAX_PHASES) {
        char *end;
        long seq = strtol(s, &end, 10);
        if (*end != ':' || seq < 8) return 0;
        double f = strtod(end + 1, &end);
        if (!(f > 0 && f <= 1) || (*end && *end != ',')) return 0;
        ph[(*n)++] = (phase){(int)seq, f};
        sum += f;
        s = *end ? end + 1 : end;
    }
    return *n > 0 && !*s && fabs(sum - 1.0) < 1e-6;
}

typedef struct {
    const char *model, *out, *files[64];
    int nfiles, max_pred, whole_word, no_nsp, epochs, batch, eval_steps, heldout, save_steps, resume, dupe;
    long max_steps, stop_at;
    phase ph[MAX_PHASES];
    int nph;
    pt_read_options ro;
    bert_train_params tp;
} options;

static int parse_args(int argc, char **argv, options *o) {
    static const char *usage =
        "usage: bert pretrain MODEL_DIR --output-dir OUT --corpus FILE [--corpus FILE ...]\n"
        "       [--split-sentences] [--prose] [--max-seq-len 128 | --seq-phases 128:0.9,512:0.1]\n"
        "       [--max-predictions 20] [--whole-word] [--no-nsp] [--dupe-factor N (static masking)]\n"
        "       [--epochs 1] [--max-steps N] [--batch-size 32] [--lr 1e-4] [--warmup-ratio 0.01]\n"
        "       [--eval-steps 500] [--heldout-docs 50] [--save-steps N] [--resume] [--stop-at-step N]\n"
        "       [--seed 42] [--threads N] [--dtype f32|bf16 (mixed precision)]\n";
    memset(o, 0, sizeof *o);
    o->max_pred = 20, o->epochs = 1, o->batch = 32, o->eval_steps = 500, o->heldout = 50;
    o->ph[0] = (phase){128, 1.0}, o->nph = 1;
    o->tp = bert_train_default_params();
    o->tp.task = BERT_TASK_PRETRAINING;
    o->tp.lr = 1e-4;
    o->tp.warmup_ratio = 0.01;
    o->ro.progress = isatty(2);
    for (int i = 1, flag; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *ip = strcmp(a, "--max-predictions") == 0 ? &o->max_pred : strcmp(a, "--epochs") == 0 ? &o->epochs
                : strcmp(a, "--batch-size") == 0 ? &o->batch : strcmp(a, "--heldout-docs") == 0 ? &o->heldout
                : strcmp(a, "--dupe-factor") == 0 ? &o->dupe : NULL;
        int *zp = strcmp(a, "--eval-steps") == 0 ? &o->eval_steps : strcmp(a, "--save-steps") == 0 ? &o->save_steps : NULL;
        if ((ip || zp) && v) {
            if (!cli_parse_int("pretrain", a, v, ip ? 1 : 0, ip ? ip : zp)) return 0;
            i++;
        } else if (strcmp(a, "--output-dir") == 0 && v) o->out = v, i++;
        else if (strcmp(a, "--corpus") == 0 && v) {
            if (o->nfiles == 64) return cli_error("pretrain", "at most 64 --corpus files"), 0;
            o->files[o->nfiles++] = v, i++;
        } else if (strcmp(a, "--max-seq-len") == 0 && v) {
            if (!cli_parse_int("pretrain", a, v, 8, &o->ph[0].seq)) return 0;
            o->nph = 1, o->ph[0].frac = 1.0, i++;
        } else if (strcmp(a, "--seq-phases") == 0 && v) {
            if (!parse_phases(v, o->ph, &o->nph))
                return cli_error("pretrain", "--seq-phases wants LEN:FRACTION,... with fractions adding up to 1 "
                                             "(e.g. 128:0.9,512:0.1), not '%s'", v), 0;
            i++;
        } else if (strcmp(a, "--max-steps") == 0 && v) o->max_steps = atol(v), i++;
        else if (strcmp(a, "--stop-at-step") == 0 && v) o->stop_at = atol(v), i++;
        else if ((flag = cli_train_flag("pretrain", a, v, &o->tp)) != 0) {
            if (flag < 0) return 0;
            i++;
        }
        else if (strcmp(a, "--whole-word") == 0) o->whole_word = 1;
        else if (strcmp(a, "--no-nsp") == 0) o->no_nsp = 1;
        else if (strcmp(a, "--resume") == 0) o->resume = 1;
        else if (strcmp(a, "--split-sentences") == 0) o->ro.split_sentences = 1;
        else if (strcmp(a, "--prose") == 0) o->ro.prose = o->ro.split_sentences = 1;
        else if (a[0] != '-' && !o->model) o->model = a;
        else return cli_help_if_asked(a, usage), fprintf(stderr, "bert pretrain: unexpected argument \'%s\'\n%s", a, usage), 0;
    }
    if (!o->model || !o->out || !o->nfiles) return fputs(usage, stderr), 0;
    if (o->no_nsp) o->tp.task = BERT_TASK_MLM;
    return 1;
}

/* The corpus: one binary file from `bert prepare`, or text files. */
static int load_corpus(const options *o, const bert_tokenizer *tok, pt_corpus *c, char *msg, size_t cap) {
    memset(c, 0, sizeof *c);
    int binary = 0;
    for (int f = 0; f < o->nfiles; f++) binary += pt_corpus_is_binary(o->files[f]);
    if (binary) {
        if (o->nfiles != 1) return snprintf(msg, cap, "a prepared (binary) corpus must be the only --corpus"), 0;
        return pt_corpus_open(c, tok, o->files[0], msg, cap);
    }
    long bad = 0;
    char first_bad[1100] = "";
    if (!pt_corpus_read_text(c, tok, o->files, o->nfiles, &o->ro, &bad, first_bad, sizeof first_bad, msg, cap)) return 0;
    if (bad) fprintf(stderr, "bert pretrain: %ld line(s) skipped: not valid UTF-8 (first: %s)\n", bad, first_bad);
    return 1;
}

/* Training state that travels in a checkpoint's trainer_state.json "extra". */
typedef struct {
    long epoch;
    int pos, phase;
    double before_loss, before_acc; /* held-out figures of the run's start */
} data_position;

static int read_position(const char *json, data_position *p) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epoch"), *pos = cJSON_GetObjectItemCaseSensitive(o, "pos"),
                *ph = cJSON_GetObjectItemCaseSensitive(o, "phase");
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(o, "before_loss"), *ba = cJSON_GetObjectItemCaseSensitive(o, "before_acc");
    int ok = cJSON_IsNumber(e) && cJSON_IsNumber(pos) && cJSON_IsNumber(ph) && cJSON_IsNumber(bl) && cJSON_IsNumber(ba);
    if (ok) p->epoch = (long)e->valuedouble, p->pos = pos->valueint, p->phase = ph->valueint;
    if (ok) p->before_loss = bl->valuedouble, p->before_acc = ba->valuedouble;
    cJSON_Delete(o);
    return ok;
}

static int pretrain_run(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) return CLI_USAGE;
    bert_train_params tp = o.tp;
    char msg[8600] = "", path[8400];
    bert_error err;
    bert_tokenizer *tok = NULL;
    pt_corpus c = {0};
    pt_masking mk = {0};
    pt_instances tr = {0}, ev = {0};
    bert_trainer *t = NULL;
    FILE *log = NULL;
    int ok = bert_tokenizer_load(o.model, &tok, &err) == BERT_OK;
    if (!ok) snprintf(msg, sizeof msg, "%s", err.message);
    ok = ok && load_corpus(&o, tok, &c, msg, sizeof msg);
    if (ok && c.n_docs < 2)
        snprintf(msg, sizeof msg, "the corpus has %lld document(s); NSP needs at least 2 (blank lines separate documents)",
                 (long long)c.n_docs), ok = 0;
    ok = ok && pt_masking_init(&mk, tok, o.max_pred, o.whole_word);
    int cls = ok ? bert_tokenizer_special_id(tok, BERT_SPECIAL_CLS) : 0, sep = ok ? bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP) : 0;
    /* held-out documents: the last ones, paired once at the first phase's length */
    int64_t n_eval_docs = ok ? (o.heldout < c.n_docs / 2 ? o.heldout : c.n_docs / 2) : 0, n_train_docs = c.n_docs - n_eval_docs;
    uint64_t ers = mix(tp.seed, 0xE7A1);
    if (ok && !pt_make_instances(&c, n_train_docs, c.n_docs, o.ph[0].seq, cls, sep, &ers, &ev)) snprintf(msg, sizeof msg, "out of memory"), ok = 0;
    uint64_t rs = pair_seed(tp.seed, o.dupe, 0, 0);
    if (ok && !pt_make_instances(&c, 0, n_train_docs, o.ph[0].seq, cls, sep, &rs, &tr)) snprintf(msg, sizeof msg, "out of memory"), ok = 0;
    if (ok && tr.n == 0) snprintf(msg, sizeof msg, "the corpus gives no training pairs"), ok = 0;
    if (ok)
        fprintf(stderr, "bert pretrain: %lld documents, %lld tokens, %d training pairs at %d tokens, %d held-out pairs\n",
                (long long)c.n_docs, (long long)c.n_tokens, tr.n, o.ph[0].seq, ev.n);
    tp.total_steps = o.max_steps > 0 ? o.max_steps : (long)((tr.n + o.batch - 1) / o.batch) * o.epochs;
    long phase_end[MAX_PHASES];
    double cum = 0;
    for (int p = 0; p < o.nph; p++) cum += o.ph[p].frac, phase_end[p] = p == o.nph - 1 ? tp.total_steps : lround(cum * tp.total_steps);
    /* the trainer: fresh, or from OUT/checkpoint */
    data_position at = {0, 0, 0, 0, 0};
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", o.out);
    snprintf(path, sizeof path, "%s/trainer_state.json", ckpt);
    int resuming = o.resume && access(path, F_OK) == 0;
    if (ok) {
        mkdir(o.out, 0755);
        char *extra = NULL;
        if (resuming) {
            if (bert_trainer_resume(ckpt, &tp, &t, &extra, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
            else if (!read_position(extra, &at)) snprintf(msg, sizeof msg, "%s: no data position in trainer_state.json", ckpt), ok = 0;
            else fprintf(stderr, "bert pretrain: resuming at step %ld (epoch %ld, pair %d)\n", bert_trainer_steps(t), at.epoch, at.pos);
        } else if (o.resume) {
            fprintf(stderr, "bert pretrain: no checkpoint in %s; starting from the beginning\n", ckpt);
        }
        if (ok && !resuming && bert_trainer_open(o.model, &tp, &t, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
        free(extra);
    }
    snprintf(path, sizeof path, "%s/log.jsonl", o.out);
    if (ok && !(log = fopen(path, resuming ? "a" : "w"))) snprintf(msg, sizeof msg, "%s: cannot write", path), ok = 0;
    double l0 = at.before_loss, a0 = at.before_acc, last_loss = NAN, last_acc = NAN;
    if (ok && !resuming) {
        evaluate(bert_trainer_model(t), &mk, o.max_pred, &ev, &l0, &a0);
        fprintf(stderr, "held-out MLM before: loss %.4f perplexity %.1f accuracy %.4f\n", l0, exp(l0), a0);
        fprintf(log, "{\"step\":0,\"eval_mlm_loss\":%.6f,\"eval_perplexity\":%.4f,\"eval_mlm_accuracy\":%.6f}\n", l0, exp(l0), a0);
    }
    int max_seq_all = 0;
    for (int p = 0; p < o.nph; p++) max_seq_all = o.ph[p].seq > max_seq_all ? o.ph[p].seq : max_seq_all;
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)o.batch);
    int32_t *mids = malloc(sizeof *mids * (size_t)o.batch * (size_t)max_seq_all);
    float *lab = malloc(sizeof *lab * ((size_t)o.batch * (size_t)max_seq_all + (size_t)o.batch));
    int *order = NULL;
    double t0 = cli_now_s(), tokens = 0, lsum = 0;
    int lcount = 0, built_phase = 0;
    long built_epoch = 0;
    long first_step = ok ? bert_trainer_steps(t) : 0;
    if (!seqs || !mids || !lab) snprintf(msg, sizeof msg, "out of memory"), ok = 0;
    while (ok && bert_trainer_steps(t) < tp.total_steps) {
        int ph = 0;
        while (ph < o.nph - 1 && bert_trainer_steps(t) >= phase_end[ph]) ph++;
        if (ph != at.phase && at.pos > 0) at.epoch++, at.pos = 0; /* a new phase starts a new epoch */
        at.phase = ph;
        uint64_t es = pair_seed(tp.seed, o.dupe, at.epoch, ph);
        if (built_epoch != at.epoch || built_phase != ph) { /* this epoch's pairs (epoch 0's were made above) */
            pt_instances_free(&tr);
            rs = es;
            if (!pt_make_instances(&c, 0, n_train_docs, o.ph[ph].seq, cls, sep, &rs, &tr) || tr.n == 0) {
                snprintf(msg, sizeof msg, "no training pairs at %d tokens", o.ph[ph].seq), ok = 0;
                break;
            }
            if (ph != built_phase) fprintf(stderr, "bert pretrain: phase %d: %d tokens, %d pairs\n", ph + 1, o.ph[ph].seq, tr.n);
            built_epoch = at.epoch, built_phase = ph;
            free(order), order = NULL;
        }
        if (!order && !(order = shuffled(tr.n, mix(es, 0x5EED)))) { /* and their order */
            snprintf(msg, sizeof msg, "out of memory"), ok = 0;
            break;
        }
        mk.max_predictions = (int)lround((double)o.max_pred * o.ph[ph].seq / o.ph[0].seq);
        int n = tr.n - at.pos < o.batch ? tr.n - at.pos : o.batch, off = 0;
        for (int k = 0; k < n; k++) {
            const pt_instance *x = &tr.v[order[at.pos + k]];
            int32_t *ids = mids + (size_t)k * max_seq_all;
            if (o.dupe) { /* static: the mask of this copy of this pair, always the same */
                uint64_t ms = mix(es, 0x3A5C0000ULL + (uint64_t)order[at.pos + k]);
                pt_mask(&mk, x, ids, lab + off, fixed_next, &ms);
            } else { /* dynamic: a fresh mask every time */
                pt_mask(&mk, x, ids, lab + off, trainer_next, t);
            }
            seqs[k] = (bert_sequence){.input_ids = ids, .token_type_ids = x->types, .n_tokens = x->n};
            off += x->n;
            tokens += x->n;
        }
        for (int k = 0; k < n && !o.no_nsp; k++) lab[off + k] = (float)tr.v[order[at.pos + k]].nsp;
        double loss;
        if (bert_trainer_step(t, seqs, n, lab, &loss, NULL, &err) != BERT_OK) {
            snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
            break;
        }
        at.pos += n;
        if (at.pos >= tr.n) at.epoch++, at.pos = 0;
        lsum += loss, lcount++;
        long step = bert_trainer_steps(t);
        if (step % 100 == 0) {
            double rate = tokens / (cli_now_s() - t0);
            fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e %.0f tok/s, ETA %.0f s\n", step, tp.total_steps, lsum / lcount,
                    bert_trainer_lr(t), rate, (double)(tp.total_steps - step) * (cli_now_s() - t0) / (double)(step - first_step));
            fprintf(log, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g,\"tokens_per_s\":%.0f}\n", step, lsum / lcount, bert_trainer_lr(t), rate);
            fflush(log);
            lsum = 0, lcount = 0;
        }
        if ((o.eval_steps && step % o.eval_steps == 0) || step >= tp.total_steps) {
            evaluate(bert_trainer_model(t), &mk, o.max_pred, &ev, &last_loss, &last_acc);
            fprintf(stderr, "step %ld: held-out MLM loss %.4f perplexity %.1f accuracy %.4f\n", step, last_loss, exp(last_loss), last_acc);
            fprintf(log, "{\"step\":%ld,\"eval_mlm_loss\":%.6f,\"eval_perplexity\":%.4f,\"eval_mlm_accuracy\":%.6f}\n", step,
                    last_loss, exp(last_loss), last_acc);
            fflush(log);
            snprintf(path, sizeof path, "%s/model", o.out);
            if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
        }
        int stop_here = o.stop_at > 0 && step >= o.stop_at; /* a time slice ends: checkpoint and stop */
        if (ok && (stop_here || (o.save_steps && (step % o.save_steps == 0 || step >= tp.total_steps)))) {
            char extra[256];
            snprintf(extra, sizeof extra, "{\"epoch\": %ld, \"pos\": %d, \"phase\": %d, \"before_loss\": %.9g, \"before_acc\": %.9g}",
                     at.epoch, at.pos, at.phase, l0, a0);
            if (bert_trainer_save(t, ckpt, 1, extra, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
        }
        if (stop_here) {
            fprintf(stderr, "bert pretrain: stopped at step %ld; continue with --resume\n", step);
            break;
        }
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/model", o.out);
        if (bert_trainer_save(t, path, 0, NULL, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    }
    if (ok) {
        evaluate(bert_trainer_model(t), &mk, o.max_pred, &ev, &last_loss, &last_acc);
        snprintf(path, sizeof path, "%s/report.json", o.out);
        cli_output ro;
        if (cli_output_open("pretrain", path, &ro)) {
            fprintf(ro.fp, "{\"documents\": %lld, \"corpus_tokens\": %lld, \"train_pairs_epoch0\": %d, \"heldout_pairs\": %d, "
                           "\"steps\": %ld, \"masking\": \"%s\", \"dupe_factor\": %d, \"whole_word\": %s, \"nsp\": %s, "
                           "\"resumed\": %s, \"dtype\": \"%s\", \"seconds\": %.1f, \"tokens_per_s\": %.0f, "
                           "\"heldout_before\": {\"mlm_loss\": %.4f, \"perplexity\": %.2f, \"accuracy\": %.4f}, "
                           "\"heldout_after\": {\"mlm_loss\": %.4f, \"perplexity\": %.2f, \"accuracy\": %.4f}, \"model\": \"%s/model\"}\n",
                    (long long)c.n_docs, (long long)c.n_tokens, tr.n, ev.n, bert_trainer_steps(t), o.dupe ? "static" : "dynamic",
                    o.dupe, o.whole_word ? "true" : "false", o.no_nsp ? "false" : "true", resuming ? "true" : "false",
                    o.tp.compute == BERT_COMPUTE_BF16 ? "bf16" : "f32", cli_now_s() - t0, tokens / (cli_now_s() - t0), l0, exp(l0), a0, last_loss, exp(last_loss), last_acc, o.out);
            ok = cli_output_close("pretrain", &ro, 1);
        }
        fprintf(stderr, "done: held-out perplexity %.1f -> %.1f, MLM accuracy %.4f -> %.4f; model in %s/model\n", exp(l0),
                exp(last_loss), a0, last_acc, o.out);
    } else {
        cli_error("pretrain", "%s", msg);
    }
    if (log) fclose(log);
    free(mids), free(order), free(seqs), free(lab);
    pt_instances_free(&tr), pt_instances_free(&ev);
    pt_masking_free(&mk);
    pt_corpus_free(&c);
    bert_trainer_free(t);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}

int cmd_pretrain(int argc, char **argv) {
    cli_train_args a;
    if (!cli_train_parse(CLI_CMD_PRETRAIN, argc, argv, &a)) return CLI_USAGE;
    return pretrain_run(argc, argv);
}
