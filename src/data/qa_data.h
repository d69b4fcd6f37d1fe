/* qa_data.h — what the QA readers, the featurisation and the QA task share
 * beyond bert.h: code-point / byte conversions, the BioASQ golden file and
 * the training windows (features) of QA examples. */
#ifndef BERT_DATA_QA_DATA_H
#define BERT_DATA_QA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

/* Byte offset of code point cp in the UTF-8 string s (or its end). */
size_t bert_qa_cp_to_byte(const char *s, int cp);
/* Code points in the first b bytes of s. */
int bert_qa_byte_to_cp(const char *s, size_t b);
/* Append a zeroed example to d (grown by doubling); NULL when out of memory. */
bert_qa_example *bert_qa_data_push(bert_qa_data *d);
/* The SubjQA CSV reader behind bert_qa_data_read (text is the file's bytes,
 * modified in place). */
bert_status bert_qa_read_subjqa(const char *path, char *text, int limit, bert_qa_data *d, bert_error *err);

/* BioASQ factoid gold (e.g. 7B_golden.json): question id -> exact_answer
 * synonyms, lower-cased (ASCII). The snippet questions scored against it
 * have ids "<qid>_<nnn>". */
typedef struct {
    char **qid;
    char ***syn;
    int *n_syn, n;
} bert_bioasq_gold;

/* Read the factoid questions of a golden file ({"questions": [...]}; other
 * types are skipped). Errors name the file. */
bert_status bert_bioasq_gold_read(const char *path, bert_bioasq_gold *g, bert_error *err);
void bert_bioasq_gold_free(bert_bioasq_gold *g);
/* Lower-case ASCII letters in place. */
void bert_qa_lower_ascii(char *s);

/* One training window: token ids, segment ids, and the answer's first and
 * last token (both 0, [CLS], when the window does not hold the whole
 * answer or the question has none). */
typedef struct {
    int32_t *ids, *types;
    int n_tokens;
    int example; /* index of its question */
    float label[2];
} bert_qa_feature;

typedef struct {
    bert_qa_feature *v;
    int n, cap;
    int skipped; /* questions that could not be encoded (too long for the window) */
} bert_qa_features;

/* Windows of every example of d, as transformers' run_qa.py builds them:
 * (question, context) truncated only_second to max_seq_len with doc_stride
 * tokens shared by consecutive windows; the first answer's characters map
 * to the first and last context tokens covering them; a window without the
 * whole answer is labelled (0, 0), or left out with drop_without_answer.
 * An example the tokenizer refuses is skipped (counted). Appends to *out. */
bert_status bert_qa_featurize(const bert_tokenizer *tok, const bert_qa_data *d, int max_seq_len, int doc_stride,
                              int drop_without_answer, bert_qa_features *out, bert_error *err);
void bert_qa_features_free(bert_qa_features *f);

#endif
