/* qa_eval.h — scoring extractive QA on a data set: the official SQuAD
 * EM / F1 (v1.1 and v2.0 with its no-answer extras) or BioASQ's factoid
 * measures, and the prediction files. */
#ifndef BERT_TRAIN_QA_EVAL_H
#define BERT_TRAIN_QA_EVAL_H

#include "bert.h"
#include "data/qa_data.h"

/* Percentages (0..100), as the official scripts report them. */
typedef struct {
    int n;                       /* questions scored                                   */
    double em, f1;               /* exact match and F1, max over the gold answers      */
    int v2;                      /* the data has unanswerable questions (SQuAD 2.0)    */
    double has_em, has_f1, no_em, no_f1, best_em, best_f1; /* v2: HasAns / NoAns, best threshold */
    int n_has, n_no;
    int bioasq, bio_n;           /* scored against a BioASQ golden file: its factoid questions */
    double strict, lenient, mrr; /* strict / lenient accuracy and MRR over the top 5  */
} bert_qa_scores;

/* Answer every question of d with pipeline p (windows of max_seq_len
 * sharing doc_stride tokens; answers of at most 30 tokens, as SQuAD
 * evaluation; the n-best list of 20; the null answer competing when the
 * data has unanswerable questions) and score the answers with the
 * official script's rules (v2.0's when a question is unanswerable, else
 * v1.1's; bert_squad_score_question). Writes, each atomically, into
 * out_dir: PREFIX_predictions.json ({"id": "answer"}, "" for no answer, as
 * the official scripts read it), PREFIX_nbest_predictions.json, with
 * unanswerable questions PREFIX_na_probs.json ({"id": the null answer's
 * score}, evaluate-v2.0.py's --na-prob-file), for PREFIX "dev" the same
 * two files again as predictions.json and na_probs.json, and, with gold,
 * bioasq_predictions.json ({"qid": [top 5]}); out_dir NULL writes no
 * file (the other ranks of a data-parallel run). `bert score-squad` on
 * predictions.json (and na_probs.json) gives exact / f1 / HasAns / NoAns
 * as here; its best_* take those predictions, while best_em / best_f1
 * here take each question's best non-null answer. A question whose
 * windows cannot be built (too long) gets the empty answer. Fails with
 * BERT_ERR_UNSUPPORTED when the model has no QA head. */
bert_status bert_qa_score(bert_pipeline *p, const bert_qa_data *d, int max_seq_len, int doc_stride,
                          const bert_bioasq_gold *gold, const char *out_dir, const char *prefix, bert_qa_scores *sc,
                          bert_error *err);

/* The scores as named metrics: exact_match and f1 (then HasAns_exact,
 * HasAns_f1, NoAns_exact, NoAns_f1, best_exact, best_f1 for v2), or
 * strict_accuracy, lenient_accuracy and mrr for BioASQ. */
void bert_qa_scores_metrics(const bert_qa_scores *sc, bert_metrics *m);

#endif
