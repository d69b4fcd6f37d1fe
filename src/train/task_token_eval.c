/* task_token_eval.c — scoring token classification (seqeval's entity-level
 * metrics and the token cross-entropy), the test predictions
 * (OUT/test_predictions.conll) and OUT/report.json. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist/dist.h"
#include "util/clock.h"
#include "train/notice.h"
#include "io/file.h"
#include "train/task_token.h"
#include "util/error.h"

/* Release what token_score filled, and zero it. */
void token_scores_free(token_scores *sc) {
    bert_seqeval_free(&sc->r), bert_seqeval_free(&sc->strict);
    free(sc->pred);
    memset(sc, 0, sizeof *sc);
}

/* Add the cross-entropy of the scored tokens of one sequence (logits z
 * [n_tokens x L]) to sc. */
static void add_loss(const token_feat *f, const float *z, int L, token_scores *sc) {
    for (int t = 0; t < f->n_tokens; t++) {
        int y = (int)f->labels[t];
        if (f->labels[t] < 0 || y >= L) continue;
        const float *row = z + (size_t)t * L;
        double mx = row[0], sum = 0;
        for (int j = 1; j < L; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < L; j++) sum += exp(row[j] - mx);
        sc->loss_sum += mx + log(sum) - row[y];
        sc->loss_count++;
    }
}

/* seqeval, default and strict, of the predictions against the split's tags. */
static bert_status seqeval_split(const token_split *s, token_scores *out, long total, bert_error *err) {
    const char **gold = malloc(sizeof *gold * (size_t)(total ? total : 1));
    int *lens = malloc(sizeof *lens * (size_t)(s->data.n ? s->data.n : 1));
    bert_status rc = gold && lens ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    long off = 0;
    for (int i = 0; rc == BERT_OK && i < s->data.n; i++) {
        lens[i] = s->data.v[i].n;
        for (int w = 0; w < s->data.v[i].n; w++) gold[off++] = s->data.v[i].tags[w];
    }
    if (rc == BERT_OK) rc = bert_seqeval(gold, out->pred, lens, s->data.n, BERT_SEQEVAL_DEFAULT, &out->r, err);
    /* strict: the scheme seqeval detects, else IOB2, else IOBES; none fits: no strict scores */
    static const int strict[] = {BERT_SEQEVAL_STRICT, BERT_SEQEVAL_IOB2, BERT_SEQEVAL_IOBES};
    for (size_t k = 0; rc == BERT_OK && k < sizeof strict / sizeof strict[0]; k++) {
        bert_status st = bert_seqeval(gold, out->pred, lens, s->data.n, strict[k], &out->strict, err);
        if (st != BERT_ERR_INPUT) rc = st;
        if (st != BERT_ERR_INPUT) break;
        bert_error_clear(err);
    }
    if (rc != BERT_OK && rc != BERT_ERR_NOMEM) bert_error_prefix(err, "seqeval");
    free(gold), free(lens);
    return rc;
}

/* The predicted tag of every word of sentence i as an index into the
 * state's labels, -1 for "O" (a word truncation cut off, or a class past
 * the labels), into idx. */
static void word_tag_ids(const token_state *st, const token_feat *f, int n_words, const float *z, int L, float *idx) {
    for (int w = 0; w < n_words; w++) {
        int t = f->first_piece[w], best = 0;
        if (t < 0) {
            idx[w] = -1;
            continue;
        }
        for (int j = 1; j < L; j++)
            if (z[(size_t)t * L + j] > z[(size_t)t * L + best]) best = j;
        idx[w] = best < st->n_labels ? (float)best : -1.0f;
    }
}

/* Sentences [lo, hi) of s through model m: their words' tag indices into
 * idx (from idx[0]), their loss into out. */
static bert_status predict(const token_state *st, const bert_model *m, const token_split *s, int lo, int hi, float *idx,
                           token_scores *out, bert_error *err) {
    bert_sequence *seqs = malloc(sizeof *seqs * (size_t)st->batch);
    if (!seqs) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_context_params cp = bert_context_default_params();
    cp.n_threads = st->n_threads;
    bert_context *ctx = NULL;
    bert_status rc = hi > lo ? bert_context_create(m, &cp, &ctx, err) : BERT_OK;
    int L = bert_model_num_labels(m);
    long off = 0;
    for (int i = lo; rc == BERT_OK && i < hi; i += st->batch) {
        int n = hi - i < st->batch ? hi - i : st->batch;
        for (int k = 0; k < n; k++) seqs[k] = (bert_sequence){.input_ids = s->feat[i + k].ids, .n_tokens = s->feat[i + k].n_tokens};
        if ((rc = bert_forward(ctx, seqs, n, BERT_OUTPUT_TOKEN_CLASSIFIER, err)) != BERT_OK) break;
        for (int k = 0; k < n; k++) {
            const float *z = bert_output_token_classifier_logits(ctx, k);
            add_loss(&s->feat[i + k], z, L, out);
            word_tag_ids(st, &s->feat[i + k], s->data.v[i + k].n, z, L, idx + off);
            off += s->data.v[i + k].n;
        }
    }
    bert_context_free(ctx);
    free(seqs);
    return rc;
}

/* Every rank's tag indices (words of its share, dist_share_of) into all,
 * and the loss summed; the ranks agree first whether one failed. */
static bert_status gather_shares(const token_split *s, bert_dist *d, const float *mine, float *all, token_scores *out,
                                 bert_status rc, bert_error *err) {
    int N = bert_dist_size(d), *counts = malloc(sizeof *counts * 2 * (size_t)N);
    double x[3] = {rc != BERT_OK, out->loss_sum, (double)out->loss_count};
    bert_error agree;
    bert_status arc = counts ? bert_dist_sum(d, x, 3, &agree) : bert_fail(&agree, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK && arc != BERT_OK) rc = arc, *err = agree;
    if (rc == BERT_OK && x[0] > 0) rc = bert_fail(err, BERT_ERR_STATE, "the evaluation failed on another rank");
    if (rc == BERT_OK) {
        int *displs = counts + N;
        for (int r = 0, at = 0; r < N; r++) {
            int a, b;
            dist_share_of(d, r, s->data.n, &a, &b);
            counts[r] = 0;
            for (int i = a; i < b; i++) counts[r] += s->data.v[i].n;
            displs[r] = at, at += counts[r];
        }
        rc = dist_allgatherv(d, mine, counts[bert_dist_rank(d)], all, counts, displs, err);
        out->loss_sum = x[1], out->loss_count = (long)x[2];
    }
    free(counts);
    return rc;
}

/* See task_token.h: one context (the run's thread count) for the whole
 * split (or this rank's share), batches of the run's batch size. */
bert_status token_score(const token_state *st, const bert_model *m, const token_split *s, bert_dist *d,
                        token_scores *out, bert_error *err) {
    memset(out, 0, sizeof *out);
    long total = 0, before = 0;
    int lo, hi;
    dist_share(d, s->data.n, &lo, &hi);
    for (int i = 0; i < s->data.n; i++) total += s->data.v[i].n, before += i < lo ? s->data.v[i].n : 0;
    out->pred = malloc(sizeof *out->pred * (size_t)(total ? total : 1));
    float *idx = malloc(sizeof *idx * (size_t)(total ? total : 1));
    bert_status rc = out->pred && idx ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = predict(st, m, s, lo, hi, idx + before, out, err);
    if (bert_dist_size(d) > 1) rc = gather_shares(s, d, idx + before, idx, out, rc, err);
    for (long w = 0; rc == BERT_OK && w < total; w++) out->pred[w] = idx[w] >= 0 ? st->labels[(int)idx[w]] : "O";
    free(idx);
    if (rc == BERT_OK) rc = seqeval_split(s, out, total, err);
    if (rc != BERT_OK) token_scores_free(out);
    return rc;
}

/* See task_token.h. */
void token_scores_metrics(const token_scores *sc, bert_metrics *m) {
    if (sc->loss_count > 0) bert_metrics_set(m, "loss", sc->loss_sum / (double)sc->loss_count);
    bert_metrics_set(m, "precision", sc->r.precision);
    bert_metrics_set(m, "recall", sc->r.recall);
    bert_metrics_set(m, "f1", sc->r.f1);
    bert_metrics_set(m, "f1_strict", sc->strict.f1);
    bert_metrics_set(m, "macro_f1", sc->r.macro_f1);
    bert_metrics_set(m, "token_accuracy", sc->r.token_accuracy);
}

/* train_task_token's evaluate: the trainer's current model on dev. */
bert_status token_evaluate(void *state, bert_trainer *t, bert_metrics *out, bert_error *err) {
    const token_state *st = state;
    token_scores sc;
    bert_status rc = token_score(st, bert_trainer_model(t), &st->dev, st->dist, &sc, err);
    if (rc != BERT_OK) return rc;
    token_scores_metrics(&sc, out);
    token_scores_free(&sc);
    return BERT_OK;
}


/* The scores of m as one JSON object's fields (the keys of the report's
 * "dev" / "test" objects): precision .. token_accuracy, then loss. */
static void json_scores(FILE *f, const bert_metrics *m) {
    static const char *const keys[] = {"precision", "recall", "f1", "f1_strict", "macro_f1", "token_accuracy", "loss"};
    int first = 1;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        double v;
        if (!bert_metrics_get(m, keys[k], &v) || !isfinite(v)) continue;
        fprintf(f, "%s\"%s\": %.6f", first ? "" : ", ", keys[k], v);
        first = 0;
    }
}

/* seqeval's classification_report(output_dict=True) of the default mode
 * and of strict mode (with the scheme it used) as report fields. */
static void write_classification_reports(FILE *f, const token_scores *sc) {
    char *def = bert_seqeval_report_json(&sc->r), *strict = sc->strict.scheme ? bert_seqeval_report_json(&sc->strict) : NULL;
    if (def) fprintf(f, ",\n  \"classification_report\": %s", def);
    if (strict) fprintf(f, ",\n  \"strict_scheme\": \"%s\", \"classification_report_strict\": %s", bert_seqeval_scheme_name(sc->strict.scheme),
                        strict);
    free(def), free(strict);
}

/* Write OUT/test_predictions.conll: "word gold predicted" a line, a blank
 * line after each sentence. */
static bert_status write_predictions(const token_split *s, const token_scores *sc, const char *out_dir, bert_error *err) {
    char path[4096];
    bert_atomic_file af;
    bert_status rc = bert_path_join(path, sizeof path, out_dir, "test_predictions.conll", err);
    if (rc == BERT_OK) rc = bert_atomic_open(path, &af, err);
    if (rc != BERT_OK) return rc;
    long off = 0;
    for (int i = 0; i < s->data.n; i++) {
        for (int w = 0; w < s->data.v[i].n; w++, off++)
            fprintf(af.fp, "%s %s %s\n", s->data.v[i].words[w], s->data.v[i].tags[w], sc->pred[off]);
        fputc('\n', af.fp);
    }
    return bert_atomic_commit(&af, err);
}

/* best_step as the (1-based) epoch it falls in: optimizer steps per epoch
 * are the training batches of an epoch over grad_accum. 0 for step 0, -1
 * for no best step. */
static int epoch_of_step(const token_state *st, long step) {
    if (step <= 0) return step < 0 ? -1 : 0;
    double batches = (double)((st->train.data.n + st->batch - 1) / st->batch);
    double per_epoch = batches / st->grad_accum;
    return per_epoch > 0 ? (int)ceil((double)step / per_epoch - 1e-9) : 0;
}

/* Write OUT/report.json: the run's settings, the best dev scores (dev may
 * be NULL), the test scores with per-type results (test may be NULL: no
 * "test" object), the time and throughput. */
static bert_status write_report(const token_state *st, const char *out_dir, long best_step, const bert_metrics *dev,
                                const token_scores *test, long tokens, bert_error *err) {
    char path[4096];
    bert_atomic_file af;
    bert_status rc = bert_path_join(path, sizeof path, out_dir, "report.json", err);
    if (rc == BERT_OK) rc = bert_atomic_open(path, &af, err);
    if (rc != BERT_OK) return rc;
    FILE *f = af.fp;
    fputs("{\"task\": ", f);
    train_json_string(f, st->task_name);
    fprintf(f, ", \"tag_scheme\": \"%s\", \"converted_to_iob2\": %s, \"labels\": %d, \"train_sentences\": %d, \"best_epoch\": %d, \"best_step\": %ld",
            bert_tag_scheme_name(st->scheme), st->converted ? "true" : "false", st->n_labels, st->train.data.n,
            st->eval_only ? 0 : epoch_of_step(st, best_step), best_step);
    if (dev) fputs(",\n \"dev\": {", f), json_scores(f, dev), fputc('}', f);
    if (test) {
        bert_metrics tm = {0};
        token_scores_metrics(test, &tm);
        fputs(",\n \"test\": {", f);
        json_scores(f, &tm);
        fputs(", \"per_type\": {", f);
        for (int k = 0; k < test->r.n_types; k++) {
            fputs(k ? ", " : "", f);
            train_json_string(f, test->r.types[k]);
            fprintf(f, ": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %ld}", test->r.type_precision[k],
                    test->r.type_recall[k], test->r.type_f1[k], test->r.type_support[k]);
        }
        fputc('}', f);
        write_classification_reports(f, test);
        fputc('}', f);
    }
    double secs = bert_now_s() - st->t0;
    fprintf(f, ",\n \"seconds\": %.1f, \"tokens_per_s\": %.0f}\n", secs, secs > 0 ? (double)tokens / secs : 0.0);
    return bert_atomic_commit(&af, err);
}

/* train_task_token's finish (task.h): the dev scores are the loop's best
 * evaluation (else its last, else best_dir scored now), the test scores and
 * predictions are best_dir's (the model scored, with eval_only); then
 * report.json. Without best_dir nothing is scored on test. */
bert_status token_finish(void *state, const bert_finetune_params *p, const char *best_dir, const bert_loop_result *r,
                         bert_error *err) {
    token_state *st = state;
    if (!p->output_dir) return bert_fail(err, BERT_ERR_INPUT, "no output directory");
    if (mkdir(p->output_dir, 0755) != 0 && errno != EEXIST)
        return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", p->output_dir, strerror(errno));
    bert_metrics dev = {0};
    const bert_metrics *devp = NULL;
    long best_step = st->eval_only ? 0 : r ? r->best_step : -1;
    int have_dev = r && ((r->best_step >= 0 && r->best_metrics.n) || r->last_metrics.n);
    bert_model *loaded = NULL;
    const bert_model *m = st->model;
    bert_status rc = BERT_OK;
    if (!m && best_dir && (st->test.data.n || !have_dev)) {
        rc = bert_model_load(best_dir, NULL, &loaded, err);
        m = loaded;
    }
    if (have_dev) devp = r->best_step >= 0 && r->best_metrics.n ? &r->best_metrics : &r->last_metrics;
    else if (rc == BERT_OK && m) { /* nothing was scored during the run: score the model now */
        token_scores sc;
        if ((rc = token_score(st, m, &st->dev, NULL, &sc, err)) == BERT_OK) {
            token_scores_metrics(&sc, &dev);
            devp = &dev;
            token_scores_free(&sc);
        }
    }
    token_scores test;
    int have_test = 0;
    if (rc == BERT_OK && m && st->test.data.n) {
        if ((rc = token_score(st, m, &st->test, NULL, &test, err)) == BERT_OK) have_test = 1;
        if (rc == BERT_OK) rc = write_predictions(&st->test, &test, p->output_dir, err);
    }
    if (rc == BERT_OK) rc = write_report(st, p->output_dir, best_step, devp, have_test ? &test : NULL, r ? r->tokens : 0, err);
    if (have_test) token_scores_free(&test);
    bert_model_free(loaded);
    return rc;
}
