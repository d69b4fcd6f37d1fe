/* qa_eval.c — SQuAD / BioASQ scoring of a QA model on a data set.
 *
 * With unanswerable questions in the data (SQuAD 2.0) the null answer
 * competes (its score: min over windows of p_start[CLS] x p_end[CLS]) and
 * the official v2 extras are computed: HasAns / NoAns scores and the best
 * exact / F1 over no-answer thresholds (evaluate-v2.0.py's
 * find_best_thresh, with the null score as na_prob and the best non-null
 * answer as the prediction). BioASQ follows BioBERT: every snippet's
 * n-best answers pooled per question, ranked by probability, duplicates
 * (case-insensitive) removed, the top 5 kept; strict accuracy = the first
 * is a gold synonym, lenient = any of the 5 is, MRR = mean of 1 / rank of
 * the first correct one (0 when none). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "tasks/pipeline.h"
#include "train/qa_eval.h"
#include "util/error.h"

typedef struct {
    double na_prob, em, f1;
    int has_ans, nonempty;
} qa_row;

typedef struct {
    int q; /* index into the gold questions */
    double p;
    char *text;
} bio_cand;

/* What scoring one data set builds up. */
typedef struct {
    cJSON *preds, *nbest, *na_probs;
    qa_row *rows;
    bio_cand *cands;
    int n_cands, cap_cands;
} qa_run;

/* qsort order: ascending no-answer probability. */
static int by_na(const void *a, const void *b) {
    const qa_row *x = a, *y = b;
    return x->na_prob < y->na_prob ? -1 : x->na_prob > y->na_prob;
}

/* The best total exact (or F1) over no-answer thresholds, as a percentage:
 * evaluate-v2.0.py's find_best_thresh over rows sorted by na_prob. */
static double best_thresh(const qa_row *rows, int n, int use_f1) {
    int no_ans = 0;
    for (int i = 0; i < n; i++) no_ans += !rows[i].has_ans;
    double cur = no_ans, best = cur;
    for (int i = 0; i < n; i++) { /* rows sorted by na_prob */
        cur += rows[i].has_ans ? (use_f1 ? rows[i].f1 : rows[i].em) : (rows[i].nonempty ? -1.0 : 0.0);
        if (cur > best) best = cur;
    }
    return 100.0 * best / n;
}

/* qsort order: by gold question, then by falling probability. */
static int by_q_then_p(const void *a, const void *b) {
    const bio_cand *x = a, *y = b;
    if (x->q != y->q) return x->q - y->q;
    return x->p > y->p ? -1 : x->p < y->p;
}

/* BioASQ's factoid measures over the pooled candidates; {"qid": [top 5]}
 * into json. */
static void bioasq_score(const bert_bioasq_gold *g, bio_cand *c, int nc, bert_qa_scores *sc, cJSON *json) {
    qsort(c, (size_t)nc, sizeof *c, by_q_then_p);
    sc->bioasq = 1, sc->bio_n = g->n;
    for (int q = 0, i = 0; q < g->n; q++) {
        const char *top[5];
        int nt = 0, rank = 0;
        for (; i < nc && c[i].q == q; i++) {
            int dup = 0;
            for (int k = 0; k < nt; k++) dup |= strcmp(top[k], c[i].text) == 0;
            if (!dup && nt < 5) top[nt++] = c[i].text;
        }
        cJSON *list = cJSON_AddArrayToObject(json, g->qid[q]);
        for (int k = 0; k < nt; k++) {
            cJSON_AddItemToArray(list, cJSON_CreateString(top[k]));
            for (int s = 0; !rank && s < g->n_syn[q]; s++)
                if (strcmp(top[k], g->syn[q][s]) == 0) rank = k + 1;
        }
        sc->strict += rank == 1, sc->lenient += rank > 0, sc->mrr += rank ? 1.0 / rank : 0;
    }
    if (g->n) sc->strict *= 100.0 / g->n, sc->lenient *= 100.0 / g->n, sc->mrr *= 100.0 / g->n;
}

/* The gold question of snippet id "<qid>_<nnn>", or -1. */
static int gold_question(const bert_bioasq_gold *g, const char *id) {
    const char *us = strrchr(id, '_');
    for (int k = 0; g && us && k < g->n; k++)
        if ((size_t)(us - id) == strlen(g->qid[k]) && strncmp(id, g->qid[k], (size_t)(us - id)) == 0) return k;
    return -1;
}

/* Pool a's non-empty answers as candidates of gold question gq. */
static bert_status add_candidates(qa_run *r, int gq, const bert_answer *a, int na, bert_error *err) {
    for (int k = 0; gq >= 0 && k < na; k++) {
        if (!*a[k].answer) continue;
        if (r->n_cands == r->cap_cands) {
            int cap = r->cap_cands ? 2 * r->cap_cands : 64;
            bio_cand *c = realloc(r->cands, sizeof *c * (size_t)cap);
            if (!c) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            r->cands = c, r->cap_cands = cap;
        }
        char *t = strdup(a[k].answer);
        if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        bert_qa_lower_ascii(t);
        r->cands[r->n_cands++] = (bio_cand){gq, a[k].score, t};
    }
    return BERT_OK;
}

/* Answer question i of d and score it into sc and r->rows[i]. */
static bert_status score_one(bert_pipeline *p, const bert_qa_params *q, const bert_qa_data *d, int i,
                             const bert_bioasq_gold *gold, qa_run *r, bert_qa_scores *sc, bert_error *err) {
    const bert_qa_example *e = &d->v[i];
    bert_answer *a = NULL;
    int na = 0;
    const char *ans = "", *non_null = "";
    double null_score = 0;
    bert_error qerr;
    cJSON *list = cJSON_AddArrayToObject(r->nbest, e->id);
    bert_status rc = bert_qa(p, e->question, e->context, q, &a, &na, &qerr);
    if (rc == BERT_ERR_NOMEM || rc == BERT_ERR_UNSUPPORTED) return *err = qerr, rc;
    if (rc == BERT_OK && na > 0) {
        ans = a[0].answer;
        if ((rc = add_candidates(r, gold_question(gold, e->id), a, na, err)) != BERT_OK) return bert_answers_free(a, na), rc;
        for (int k = 0; k < na; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "text", a[k].answer);
            cJSON_AddNumberToObject(o, "probability", a[k].score);
            cJSON_AddNumberToObject(o, "start", a[k].start);
            cJSON_AddNumberToObject(o, "end", a[k].end);
            cJSON_AddItemToArray(list, o);
        }
        for (int k = 0; k < na; k++) {
            if (a[k].end == 0 && !*a[k].answer) null_score = a[k].score;
            else if (!*non_null) non_null = a[k].answer;
        }
    }
    /* the official script's rules: v1.1, or v2.0 ("" right for an unanswerable question) */
    int version = sc->v2 ? BERT_SQUAD_V2 : BERT_SQUAD_V1;
    const char *const *golds = (const char *const *)e->answers;
    double bem, bf1, nem, nf1;
    bert_squad_score_question(ans, golds, e->n_answers, version, &bem, &bf1);
    bert_squad_score_question(non_null, golds, e->n_answers, version, &nem, &nf1);
    sc->em += bem, sc->f1 += bf1;
    if (e->n_answers) sc->has_em += bem, sc->has_f1 += bf1, sc->n_has++;
    else sc->no_em += bem, sc->no_f1 += bf1, sc->n_no++;
    r->rows[i] = (qa_row){.na_prob = null_score, .em = nem, .f1 = nf1, .has_ans = e->n_answers > 0, .nonempty = *non_null != 0};
    cJSON_AddStringToObject(r->preds, e->id, ans);
    cJSON_AddNumberToObject(r->na_probs, e->id, null_score);
    bert_answers_free(a, na);
    return BERT_OK;
}

/* cJSON_Print(o) to dir/name, atomically. */
static bert_status write_json(const char *dir, const char *name, const cJSON *o, bert_error *err) {
    char path[4200];
    bert_status rc = bert_path_join(path, sizeof path, dir, name, err);
    char *s = rc == BERT_OK ? cJSON_Print(o) : NULL;
    if (rc == BERT_OK && !s) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory writing %s", path);
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

/* The averages, the v2 thresholds, BioASQ and the files, after every question. */
static bert_status conclude(const bert_qa_data *d, const bert_bioasq_gold *gold, const char *out_dir, const char *prefix,
                            qa_run *r, bert_qa_scores *sc, bert_error *err) {
    sc->em *= 100.0 / d->n, sc->f1 *= 100.0 / d->n;
    if (sc->n_has) sc->has_em *= 100.0 / sc->n_has, sc->has_f1 *= 100.0 / sc->n_has;
    if (sc->n_no) sc->no_em *= 100.0 / sc->n_no, sc->no_f1 *= 100.0 / sc->n_no;
    if (sc->v2) {
        qsort(r->rows, (size_t)d->n, sizeof *r->rows, by_na);
        sc->best_em = best_thresh(r->rows, d->n, 0), sc->best_f1 = best_thresh(r->rows, d->n, 1);
    }
    bert_status rc = BERT_OK;
    if (gold) {
        cJSON *bj = cJSON_CreateObject();
        bioasq_score(gold, r->cands, r->n_cands, sc, bj);
        if (out_dir) rc = write_json(out_dir, "bioasq_predictions.json", bj, err);
        cJSON_Delete(bj);
    }
    if (!out_dir) return rc; /* the scores only, no file written */
    char name[256];
    snprintf(name, sizeof name, "%s_predictions.json", prefix);
    if (rc == BERT_OK) rc = write_json(out_dir, name, r->preds, err);
    snprintf(name, sizeof name, "%s_nbest_predictions.json", prefix);
    if (rc == BERT_OK) rc = write_json(out_dir, name, r->nbest, err);
    snprintf(name, sizeof name, "%s_na_probs.json", prefix);
    if (rc == BERT_OK && sc->v2) rc = write_json(out_dir, name, r->na_probs, err);
    /* the dev files under the names the official scripts' users know */
    if (rc == BERT_OK && strcmp(prefix, "dev") == 0) rc = write_json(out_dir, "predictions.json", r->preds, err);
    if (rc == BERT_OK && strcmp(prefix, "dev") == 0 && sc->v2) rc = write_json(out_dir, "na_probs.json", r->na_probs, err);
    return rc;
}

bert_status bert_qa_score(bert_pipeline *p, const bert_qa_data *d, int max_seq_len, int doc_stride,
                          const bert_bioasq_gold *gold, const char *out_dir, const char *prefix, bert_qa_scores *sc,
                          bert_error *err) {
    bert_error_clear(err);
    memset(sc, 0, sizeof *sc);
    sc->n = d->n;
    if (!(bert_model_heads(p->model) & BERT_HEAD_QA))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "the model has no question-answering head (qa_outputs)");
    if (d->n < 1) return bert_fail(err, BERT_ERR_INPUT, "no questions to score");
    for (int i = 0; i < d->n && !gold; i++) sc->v2 |= d->v[i].n_answers == 0; /* BioASQ snippets carry no answers */
    bert_qa_params q = bert_qa_default_params();
    q.max_seq_len = max_seq_len, q.doc_stride = doc_stride, q.max_answer_len = 30, q.max_question_len = 1 << 20;
    q.top_k = 20; /* the n-best list of run_squad.py */
    q.handle_impossible = sc->v2;
    qa_run r = {.preds = cJSON_CreateObject(), .nbest = cJSON_CreateObject(), .na_probs = cJSON_CreateObject(),
                .rows = calloc((size_t)d->n, sizeof *r.rows)};
    bert_status rc = r.preds && r.nbest && r.na_probs && r.rows ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == BERT_OK && i < d->n; i++) rc = score_one(p, &q, d, i, gold, &r, sc, err);
    if (rc == BERT_OK) rc = conclude(d, gold, out_dir, prefix, &r, sc, err);
    for (int i = 0; i < r.n_cands; i++) free(r.cands[i].text);
    free(r.cands), free(r.rows);
    cJSON_Delete(r.preds), cJSON_Delete(r.nbest), cJSON_Delete(r.na_probs);
    return rc;
}

void bert_qa_scores_metrics(const bert_qa_scores *sc, bert_metrics *m) {
    if (sc->bioasq) {
        bert_metrics_set(m, "strict_accuracy", sc->strict);
        bert_metrics_set(m, "lenient_accuracy", sc->lenient);
        bert_metrics_set(m, "mrr", sc->mrr);
        return;
    }
    bert_metrics_set(m, "exact_match", sc->em);
    bert_metrics_set(m, "f1", sc->f1);
    if (!sc->v2) return;
    bert_metrics_set(m, "HasAns_exact", sc->has_em);
    bert_metrics_set(m, "HasAns_f1", sc->has_f1);
    bert_metrics_set(m, "NoAns_exact", sc->no_em);
    bert_metrics_set(m, "NoAns_f1", sc->no_f1);
    bert_metrics_set(m, "best_exact", sc->best_em);
    bert_metrics_set(m, "best_f1", sc->best_f1);
}
