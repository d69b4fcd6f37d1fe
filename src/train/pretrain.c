/* pretrain.c — bert_pretrain: masked-LM (+ NSP) pre-training, or continued
 * pre-training of an existing model on a domain corpus, as a data source of
 * bert_train_loop (the recipe of Google's create_pretraining_data.py /
 * run_pretraining.py):
 *
 *  - the corpus (src/data/corpus.c): text files or one prepared binary file;
 *  - pairs for NSP and their masking (src/data/pretrain_pairs.c). Pairs are
 *    drawn again every epoch and phase from a seed that depends on both.
 *    Masking is dynamic (a fresh mask every time a sequence is fed, from the
 *    trainer's RNG) or static with dupe_factor N: epoch e sees the pairs and
 *    masks of copy e mod N, as if N masked copies had been written out;
 *  - phases of sequence length by step; max_predictions is for the first
 *    phase's length and grows in proportion (20 at 128 -> 80 at 512);
 *  - held-out documents (the last ones), paired once at the first phase's
 *    length, give the MLM loss, accuracy and perplexity on a fixed masking;
 *  - the data position (epoch, pair, phase) and the first held-out figures
 *    travel in checkpoints, so a resumed run gives the same weights as one
 *    that never stopped. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/notice.h"
#include "util/clock.h"
#include "bert.h"
#include "data/corpus.h"
#include "data/pretrain_pairs.h"
#include "dist/dist.h"
#include "train/data_parallel.h"
#include "io/file.h"
#include "util/error.h"

#define MAX_PHASES 4

/* One run: its data, the data position and the held-out figures. */
typedef struct {
    const bert_pretrain_params *p;
    bert_trainer *t;
    bert_tokenizer *tok;
    corpus c;
    bert_corpus_stats stats;
    pairs_masking mk;
    pairs_list tr, ev; /* this epoch's training pairs; the held-out pairs */
    int cls, sep, train_pairs_epoch0, max_seq_all;
    int64_t n_train_docs;
    long total_steps, phase_end[MAX_PHASES];
    long epoch, built_epoch;     /* the data position, and the epoch tr holds */
    int pos, phase, built_phase; /* the next pair of order; the phase tr holds */
    int *order;                  /* tr's shuffled order (NULL: not made yet) */
    double before_loss, before_acc, last_loss, last_acc;
    int have_before;
    long last_eval_step, tokens;
    bert_sequence *seqs;
    int32_t *mids;
    float *lab;
} pretrain_run;

/* splitmix64 of a combined key. */
static uint64_t mix(uint64_t a, uint64_t b) {
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
        int j = (int)(pairs_rand(&seed) % (uint32_t)(i + 1)), x = order[i];
        order[i] = order[j], order[j] = x;
    }
    return order;
}

/* 32 random bits from the trainer's RNG (dynamic masking), or from a
 * fixed generator state (static and held-out masking). */
static uint32_t trainer_next(void *t) { return bert_trainer_random(t); }
static uint32_t fixed_next(void *st) { return pairs_rand(st); }

/* MLM loss and accuracy of the model on the held-out pairs, masked with a
 * fixed seed and the first phase's cap (evaluations stay comparable). NaN
 * when there are no held-out pairs. */
static bert_status heldout_eval(const pretrain_run *r, const bert_model *m, double *loss, double *acc, bert_error *err) {
    pairs_masking mk = r->mk;
    mk.max_predictions = r->p->max_predictions;
    *loss = *acc = NAN;
    if (r->ev.n == 0) return BERT_OK;
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = r->p->train.n_threads;
    bert_context *ctx;
    bert_status rc = bert_context_create(m, &cp, &ctx, err);
    if (rc != BERT_OK) return rc;
    int V = bert_model_config(m)->vocab_size;
    int32_t *ids = malloc(sizeof *ids * (size_t)r->max_seq_all);
    float *lab = malloc(sizeof *lab * (size_t)r->max_seq_all);
    if (!ids || !lab) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    uint64_t st = 12345;
    double lsum = 0;
    long count = 0, right = 0;
    int lo, hi; /* data-parallel: this rank's share of the pairs (every pair's mask is still drawn, in order) */
    dist_share(r->p->train.dist, r->ev.n, &lo, &hi);
    for (int i = 0; rc == BERT_OK && i < r->ev.n; i++) {
        const pairs_instance *x = &r->ev.v[i];
        if ((rc = pairs_mask(&mk, x, ids, lab, fixed_next, &st, err)) != BERT_OK) break;
        if (i < lo || i >= hi) continue;
        bert_sequence s = {.input_ids = ids, .token_type_ids = x->types, .n_tokens = x->n};
        if ((rc = bert_forward(ctx, &s, 1, BERT_OUTPUT_MLM, err)) != BERT_OK) break;
        const float *z = bert_output_mlm_logits(ctx, 0);
        for (int k = 0; k < x->n; k++) {
            if (lab[k] < 0) continue;
            const float *row = z + (size_t)k * V;
            double mx = row[0], sum = 0;
            int best = 0;
            for (int j = 1; j < V; j++)
                if (row[j] > mx) mx = row[j], best = j;
            for (int j = 0; j < V; j++) sum += exp(row[j] - mx);
            lsum += -(row[(int)lab[k]] - mx - log(sum));
            right += best == (int)lab[k];
            count++;
        }
    }
    free(ids), free(lab);
    bert_context_free(ctx);
    double sums[3] = {lsum, (double)count, (double)right};
    if (rc == BERT_OK) rc = bert_dist_sum(r->p->train.dist, sums, 3, err); /* the ranks' shares */
    if (rc == BERT_OK && sums[1] > 0) *loss = sums[0] / sums[1], *acc = sums[2] / sums[1];
    return rc;
}

/* ---- the data source ------------------------------------------------------------------------ */

/* Make the pairs of (epoch, phase) and their order where tr holds others. */
static bert_status build_epoch(pretrain_run *r, int ph, uint64_t es, bert_error *err) {
    if (r->built_epoch != r->epoch || r->built_phase != ph) {
        pairs_list_free(&r->tr);
        uint64_t rs = es;
        bert_status rc = pairs_make(&r->c, 0, r->n_train_docs, r->p->seq_len[ph], r->cls, r->sep, &rs, &r->tr, err);
        if (rc != BERT_OK) return rc;
        if (r->tr.n == 0) return bert_fail(err, BERT_ERR_INPUT, "no training pairs at %d tokens", r->p->seq_len[ph]);
        if (ph != r->built_phase) train_notice(&r->p->loop, r->t ? bert_trainer_steps(r->t) : 0, r->total_steps, "phase %d: %d tokens, %d pairs", ph + 1, r->p->seq_len[ph], r->tr.n);
        r->built_epoch = r->epoch, r->built_phase = ph;
        free(r->order), r->order = NULL;
    }
    if (!r->order && !(r->order = shuffled(r->tr.n, mix(es, 0x5EED))))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    return BERT_OK;
}

/* The next batch of masked pairs: the phase of the trainer's step (a new
 * phase starts a new epoch), this epoch's pairs in their order. */
static bert_status src_next_batch(void *user, bert_trainer *t, bert_batch *b, bert_error *err) {
    pretrain_run *r = user;
    const bert_pretrain_params *p = r->p;
    memset(b, 0, sizeof *b);
    long step = bert_trainer_steps(t);
    if (step >= r->total_steps) return BERT_OK;
    int ph = 0;
    while (ph < p->n_phases - 1 && step >= r->phase_end[ph]) ph++;
    if (ph != r->phase && r->pos > 0) r->epoch++, r->pos = 0;
    r->phase = ph;
    uint64_t es = pair_seed(p->train.seed, p->dupe_factor, r->epoch, ph);
    bert_status rc = build_epoch(r, ph, es, err);
    if (rc != BERT_OK) return rc;
    if (r->pos >= r->tr.n) /* a resumed position this corpus does not have */
        return bert_fail(err, BERT_ERR_FORMAT, "the checkpoint's pair position %d is past this epoch's %d pairs (another corpus?)",
                         r->pos, r->tr.n);
    r->mk.max_predictions = (int)lround((double)p->max_predictions * p->seq_len[ph] / p->seq_len[0]);
    int n = r->tr.n - r->pos < p->batch_size ? r->tr.n - r->pos : p->batch_size, off = 0;
    for (int k = 0; k < n; k++) {
        int idx = r->order[r->pos + k];
        const pairs_instance *x = &r->tr.v[idx];
        int32_t *ids = r->mids + (size_t)k * r->max_seq_all;
        if (p->dupe_factor) { /* static: the mask of this copy of this pair, always the same */
            uint64_t ms = mix(es, 0x3A5C0000ULL + (uint64_t)idx);
            rc = pairs_mask(&r->mk, x, ids, r->lab + off, fixed_next, &ms, err);
        } else { /* dynamic: a fresh mask every time */
            rc = pairs_mask(&r->mk, x, ids, r->lab + off, trainer_next, t, err);
        }
        if (rc != BERT_OK) return rc;
        r->seqs[k] = (bert_sequence){.input_ids = ids, .token_type_ids = x->types, .n_tokens = x->n};
        off += x->n;
        b->tokens += x->n;
    }
    for (int k = 0; k < n && !p->no_nsp; k++) r->lab[off + k] = (float)r->tr.v[r->order[r->pos + k]].nsp;
    r->pos += n;
    b->end_of_epoch = r->pos >= r->tr.n;
    if (b->end_of_epoch) r->epoch++, r->pos = 0;
    r->tokens += b->tokens;
    b->seqs = r->seqs, b->n = n, b->labels = r->lab;
    b->epoch = (double)r->epoch + (double)r->pos / r->tr.n;
    return BERT_OK;
}

/* A double as JSON (null when not finite). */
static void json_number(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.17g", v);
    else snprintf(buf, cap, "null");
}

/* The data position after the last batch, and the first held-out figures. */
static int src_position(void *user, char *json, size_t cap) {
    const pretrain_run *r = user;
    char bl[40], ba[40];
    json_number(bl, sizeof bl, r->before_loss), json_number(ba, sizeof ba, r->before_acc);
    int n = snprintf(json, cap, "{\"epoch\": %ld, \"pos\": %d, \"phase\": %d, \"before_loss\": %s, \"before_acc\": %s}",
                     r->epoch, r->pos, r->phase, bl, ba);
    return n > 0 && (size_t)n < cap;
}

/* A JSON number, or NaN for null. */
static int json_double(const cJSON *o, const char *name, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsNull(x)) return *v = NAN, 1;
    return cJSON_IsNumber(x) ? (*v = x->valuedouble, 1) : 0;
}

/* Continue from what src_position wrote (a resumed run). */
static bert_status src_seek(void *user, const char *json, bert_error *err) {
    pretrain_run *r = user;
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    double e, pos, ph, bl, ba;
    int ok = json_double(o, "epoch", &e) && json_double(o, "pos", &pos) && json_double(o, "phase", &ph) &&
             json_double(o, "before_loss", &bl) && json_double(o, "before_acc", &ba);
    cJSON_Delete(o);
    /* integers in range; the held-out figures finite (or null) */
    ok = ok && e >= 0 && e <= 2147483647.0 && e == floor(e) && pos >= 0 && pos <= 2147483647.0 && pos == floor(pos) && ph >= 0 &&
         ph < r->p->n_phases && ph == floor(ph) && !isinf(bl) && !isinf(ba);
    if (!ok) return bert_fail(err, BERT_ERR_FORMAT, "%s: no pre-training data position in trainer_state.json",
                              r->p->resume_from ? r->p->resume_from : "the checkpoint");
    r->epoch = (long)e, r->pos = (int)pos, r->phase = (int)ph;
    r->before_loss = bl, r->before_acc = ba, r->have_before = 1;
    train_notice(&r->p->loop, r->t ? bert_trainer_steps(r->t) : 0, r->total_steps, "resuming at step %ld (epoch %ld, pair %d)", bert_trainer_steps(r->t), r->epoch, r->pos);
    return BERT_OK;
}

/* The held-out metrics; the first evaluation gives the "before" figures. */
static bert_status src_evaluate(void *user, bert_trainer *t, bert_metrics *out, bert_error *err) {
    pretrain_run *r = user;
    double loss, acc;
    bert_status rc = heldout_eval(r, bert_trainer_model(t), &loss, &acc, err);
    if (rc != BERT_OK) return rc;
    r->last_loss = loss, r->last_acc = acc, r->last_eval_step = bert_trainer_steps(t);
    if (!r->have_before) {
        r->before_loss = loss, r->before_acc = acc, r->have_before = 1;
        train_notice(&r->p->loop, r->t ? bert_trainer_steps(r->t) : 0, r->total_steps, "held-out MLM before: loss %.4f perplexity %.1f accuracy %.4f", loss, exp(loss), acc);
    }
    bert_metrics_set(out, "mlm_loss", loss);
    bert_metrics_set(out, "perplexity", exp(loss));
    bert_metrics_set(out, "mlm_accuracy", acc);
    return BERT_OK;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* The parameters' ranges: files, phases (shares adding up to 1), sizes. */
static bert_status check_params(const bert_pretrain_params *p, bert_error *err) {
    if (!p || !p->model_dir || !p->output_dir || !p->corpus_files || p->n_corpus_files < 1)
        return bert_fail(err, BERT_ERR_INPUT, "bert_pretrain needs a model directory, an output directory and corpus files");
    if (p->n_phases < 1 || p->n_phases > MAX_PHASES)
        return bert_fail(err, BERT_ERR_INPUT, "pre-training takes 1 to %d sequence-length phases, not %d", MAX_PHASES, p->n_phases);
    double sum = 0;
    for (int i = 0; i < p->n_phases; i++) {
        if (p->seq_len[i] < 8) return bert_fail(err, BERT_ERR_INPUT, "phase %d: sequences need at least 8 tokens, not %d", i + 1, p->seq_len[i]);
        if (!(p->seq_frac[i] > 0 && p->seq_frac[i] <= 1))
            return bert_fail(err, BERT_ERR_INPUT, "phase %d: the share of steps must be in (0, 1], not %g", i + 1, p->seq_frac[i]);
        sum += p->seq_frac[i];
    }
    if (fabs(sum - 1.0) >= 1e-6) return bert_fail(err, BERT_ERR_INPUT, "the phases' shares of the steps add up to %g, not 1", sum);
    if (p->batch_size < 1 || p->max_predictions < 1 || p->epochs < 1 || p->heldout_docs < 0 || p->dupe_factor < 0)
        return bert_fail(err, BERT_ERR_INPUT, "batch_size, max_predictions and epochs must be at least 1, "
                                              "heldout_docs and dupe_factor at least 0");
    return BERT_OK;
}

/* The corpus, the held-out and epoch-0 pairs, the step counts, the buffers. */
static bert_status prepare_data(pretrain_run *r, bert_error *err) {
    const bert_pretrain_params *p = r->p;
    bert_status rc = bert_tokenizer_load(p->model_dir, &r->tok, err);
    if (rc != BERT_OK) return rc;
    bert_corpus_read_params rp = {.split_sentences = p->split_sentences || p->prose, .prose = p->prose,
                                  .progress = p->read_progress, .progress_user = p->read_progress_user};
    if ((rc = corpus_load(&r->c, r->tok, p->corpus_files, p->n_corpus_files, &rp, &r->stats, err)) != BERT_OK) return rc;
    if (r->stats.bad_lines)
        train_notice(&r->p->loop, r->t ? bert_trainer_steps(r->t) : 0, r->total_steps, "%ld line(s) skipped: not valid UTF-8 (first: %s)", r->stats.bad_lines, r->stats.first_bad);
    if (r->c.n_docs < 2)
        return bert_fail(err, BERT_ERR_INPUT, "the corpus has %lld document(s); NSP needs at least 2 (blank lines separate documents)",
                         (long long)r->c.n_docs);
    if ((rc = pairs_masking_init(&r->mk, r->tok, p->max_predictions, p->whole_word, err)) != BERT_OK) return rc;
    r->cls = r->mk.cls, r->sep = r->mk.sep;
    /* held-out documents: the last ones, paired once at the first phase's length */
    int64_t n_eval = p->heldout_docs < r->c.n_docs / 2 ? p->heldout_docs : r->c.n_docs / 2;
    r->n_train_docs = r->c.n_docs - n_eval;
    uint64_t ers = mix(p->train.seed, 0xE7A1), rs = pair_seed(p->train.seed, p->dupe_factor, 0, 0);
    if ((rc = pairs_make(&r->c, r->n_train_docs, r->c.n_docs, p->seq_len[0], r->cls, r->sep, &ers, &r->ev, err)) != BERT_OK ||
        (rc = pairs_make(&r->c, 0, r->n_train_docs, p->seq_len[0], r->cls, r->sep, &rs, &r->tr, err)) != BERT_OK)
        return rc;
    if (r->tr.n == 0) return bert_fail(err, BERT_ERR_INPUT, "the corpus gives no training pairs");
    r->train_pairs_epoch0 = r->tr.n;
    train_notice(&r->p->loop, r->t ? bert_trainer_steps(r->t) : 0, r->total_steps, "%lld documents, %lld tokens, %d training pairs at %d tokens, %d held-out pairs", (long long)r->c.n_docs,
           (long long)r->c.n_tokens, r->tr.n, p->seq_len[0], r->ev.n);
    long batches = (r->tr.n + p->batch_size - 1) / p->batch_size, accum = p->train.grad_accum > 0 ? p->train.grad_accum : 1;
    r->total_steps = p->max_steps > 0 ? p->max_steps : (batches + accum - 1) / accum * p->epochs;
    double cum = 0;
    for (int i = 0; i < p->n_phases; i++) {
        cum += p->seq_frac[i];
        r->phase_end[i] = i == p->n_phases - 1 ? r->total_steps : lround(cum * r->total_steps);
        if (p->seq_len[i] > r->max_seq_all) r->max_seq_all = p->seq_len[i];
    }
    r->seqs = malloc(sizeof *r->seqs * (size_t)p->batch_size);
    r->mids = malloc(sizeof *r->mids * (size_t)p->batch_size * (size_t)r->max_seq_all);
    r->lab = malloc(sizeof *r->lab * ((size_t)p->batch_size * (size_t)r->max_seq_all + (size_t)p->batch_size));
    if (!r->seqs || !r->mids || !r->lab) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    return BERT_OK;
}

/* A figure for report.json: %.Nf, or null when not finite. */
static const char *fig(char *buf, size_t cap, const char *fmt, double v) {
    if (isfinite(v)) snprintf(buf, cap, fmt, v);
    else snprintf(buf, cap, "null");
    return buf;
}

/* OUT/report.json, atomically. */
static bert_status write_report(const pretrain_run *r, double seconds, bert_error *err) {
    const bert_pretrain_params *p = r->p;
    char path[4096], b[6][40];
    bert_status rc = bert_path_join(path, sizeof path, p->output_dir, "report.json", err);
    if (rc != BERT_OK) return rc;
    bert_atomic_file f;
    rc = bert_atomic_open(path, &f, err);
    if (rc != BERT_OK) return rc;
    fprintf(f.fp, "{\"documents\": %lld, \"corpus_tokens\": %lld, \"train_pairs_epoch0\": %d, \"heldout_pairs\": %d, "
                  "\"steps\": %ld, \"masking\": \"%s\", \"dupe_factor\": %d, \"whole_word\": %s, \"nsp\": %s, "
                  "\"resumed\": %s, \"dtype\": \"%s\", \"seconds\": %.1f, \"tokens_per_s\": %.0f, "
                  "\"heldout_before\": {\"mlm_loss\": %s, \"perplexity\": %s, \"accuracy\": %s}, "
                  "\"heldout_after\": {\"mlm_loss\": %s, \"perplexity\": %s, \"accuracy\": %s}, \"model\": \"%s/model\"}\n",
            (long long)r->c.n_docs, (long long)r->c.n_tokens, r->train_pairs_epoch0, r->ev.n, bert_trainer_steps(r->t),
            p->dupe_factor ? "static" : "dynamic", p->dupe_factor, p->whole_word ? "true" : "false",
            p->no_nsp ? "false" : "true", p->resume_from ? "true" : "false",
            p->train.compute == BERT_COMPUTE_BF16 ? "bf16" : "f32", seconds, r->tokens / (seconds > 0 ? seconds : 1),
            fig(b[0], 40, "%.4f", r->before_loss), fig(b[1], 40, "%.2f", exp(r->before_loss)), fig(b[2], 40, "%.4f", r->before_acc),
            fig(b[3], 40, "%.4f", r->last_loss), fig(b[4], 40, "%.2f", exp(r->last_loss)), fig(b[5], 40, "%.4f", r->last_acc),
            p->output_dir);
    return bert_atomic_commit(&f, err);
}

bert_pretrain_params bert_pretrain_default_params(void) {
    bert_pretrain_params p = {0};
    p.seq_len[0] = 128, p.seq_frac[0] = 1.0, p.n_phases = 1;
    p.max_predictions = 20, p.heldout_docs = 50, p.epochs = 1, p.batch_size = 32;
    p.train = bert_train_default_params();
    p.train.task = BERT_TASK_PRETRAINING;
    p.train.lr = 1e-4;
    p.train.warmup_ratio = 0.01;
    p.loop = bert_loop_default_params();
    p.loop.eval_steps = 500, p.loop.log_steps = 100;
    p.loop.eval_at_start = 1, p.loop.eval_at_epoch_end = 0, p.loop.save_at_epoch_end = 0;
    p.loop.model_dir = "model";
    return p;
}

/* Open the trainer (fresh or resumed) and run the loop over r's source. */
static bert_status run_loop(pretrain_run *r, bert_loop_result *res, bert_error *err) {
    const bert_pretrain_params *p = r->p;
    const char *metric = p->loop.metric && *p->loop.metric ? p->loop.metric : NULL;
    if (metric && strcmp(metric, "mlm_loss") != 0 && strcmp(metric, "perplexity") != 0 && strcmp(metric, "mlm_accuracy") != 0)
        return bert_fail(err, BERT_ERR_INPUT, "metric '%s': pre-training reports mlm_loss, perplexity, mlm_accuracy", metric);
    bert_train_params tp = p->train;
    tp.task = p->no_nsp ? BERT_TASK_MLM : BERT_TASK_PRETRAINING;
    tp.total_steps = r->total_steps;
    char *extra = NULL;
    bert_status rc = p->resume_from ? bert_trainer_resume(p->resume_from, &tp, &r->t, &extra, err)
                                    : bert_trainer_open(p->model_dir, &tp, &r->t, NULL, err);
    if (rc != BERT_OK) return rc;
    if (p->resume_from && !extra) {
        return bert_fail(err, BERT_ERR_FORMAT, "%s: no pre-training data position in trainer_state.json", p->resume_from);
    }
    bert_loop_params lp = p->loop;
    lp.output_dir = p->output_dir;
    lp.eval_at_start = 1, lp.eval_at_epoch_end = 0, lp.save_at_epoch_end = 0;
    lp.metric = metric, lp.greater_is_better = metric && strcmp(metric, "mlm_accuracy") == 0;
    lp.model_dir = "model";
    if (lp.log_steps <= 0) lp.log_steps = 100;
    lp.resume_state = extra;
    bert_train_source src = {.user = r, .next_batch = src_next_batch, .position = src_position, .seek = src_seek,
                             .evaluate = src_evaluate};
    rc = bert_train_loop(r->t, &src, &lp, res, err);
    free(extra);
    return rc;
}


bert_status bert_pretrain(const bert_pretrain_params *params, bert_loop_result *result, bert_error *err) {
    bert_error_clear(err);
    bert_status rc = check_params(params, err);
    if (rc != BERT_OK) return rc;
    bert_pretrain_params pp = *params; /* batch_size per rank -> the global batch */
    int writer = bert_dist_rank(pp.train.dist) == 0;
    if (!writer) pp.loop.on_event = NULL, pp.read_progress = NULL; /* rank 0 speaks for the job */
    if ((rc = train_dp_global_batch(pp.train.dist, &pp.batch_size, err)) != BERT_OK) return rc;
    params = &pp;
    pretrain_run r = {.p = params, .before_loss = NAN, .before_acc = NAN, .last_loss = NAN, .last_acc = NAN,
                      .last_eval_step = -1};
    bert_loop_result local;
    bert_loop_result *res = result ? result : &local;
    memset(res, 0, sizeof *res);
    rc = prepare_data(&r, err);
    if (rc == BERT_OK && writer && mkdir(params->output_dir, 0755) != 0 && errno != EEXIST)
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", params->output_dir, strerror(errno));
    double t0 = bert_now_s();
    if (rc == BERT_OK) rc = run_loop(&r, res, err);
    /* the figures after: the loop's last evaluation when it was at the last step */
    if (rc == BERT_OK && r.last_eval_step != bert_trainer_steps(r.t))
        rc = heldout_eval(&r, bert_trainer_model(r.t), &r.last_loss, &r.last_acc, err);
    if (writer && (rc == BERT_OK || (rc == BERT_ERR_INTERRUPTED && r.t))) {
        bert_error werr;
        bert_status wrc = write_report(&r, bert_now_s() - t0, &werr);
        if (wrc != BERT_OK && rc == BERT_OK) {
            rc = wrc;
            if (err) *err = werr;
        }
    }
    if (rc == BERT_OK)
        train_notice(&r.p->loop, bert_trainer_steps(r.t), r.total_steps, "done: held-out perplexity %.1f -> %.1f, MLM accuracy %.4f -> %.4f; model in %s/model", exp(r.before_loss),
               exp(r.last_loss), r.before_acc, r.last_acc, params->output_dir);
    free(r.seqs), free(r.mids), free(r.lab), free(r.order);
    pairs_list_free(&r.tr), pairs_list_free(&r.ev);
    pairs_masking_free(&r.mk);
    corpus_free(&r.c);
    bert_trainer_free(r.t);
    bert_tokenizer_free(r.tok);
    return rc;
}
