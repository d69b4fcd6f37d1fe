/* seqeval_schemes.h — seqeval's entity extraction: the default
 * (conlleval) chunking of get_entities and mode='strict' with a tagging
 * scheme (scheme.py's Tokens.entities), plus auto_detect. */
#ifndef BERT_TASKS_SEQEVAL_SCHEMES_H
#define BERT_TASKS_SEQEVAL_SCHEMES_H

#include "bert.h"

/* One entity: its type (bytes borrowed from a tag, or "_"), first and last
 * token, counted over all sentences back to back. */
typedef struct {
    const char *type;
    int type_len;
    long start, end;
} seq_chunk;

/* The default-mode entities of n_sent sentences (sent_len[i] tags each,
 * back to back in tags) as seqeval's get_entities finds them in the
 * sentences joined with an "O" after each; positions count the tags only.
 * out needs room for total + n_sent + 1 entries. Returns the count, or -1
 * with err set (an empty tag, which seqeval cannot read). */
long seq_default_chunks(const char *const *tags, const int *sent_len, int n_sent, seq_chunk *out, const char *side,
                        bert_error *err);

/* The entities of mode='strict' with scheme (BERT_SEQEVAL_IOB1 ..
 * BERT_SEQEVAL_BILOU), sentence by sentence. out needs room for total
 * entries. Returns the count, or -1 with err set: a tag whose first letter
 * is none of I O B E S U L, or one the scheme does not allow (seqeval's
 * KeyError / ValueError). */
long seq_strict_chunks(const char *const *tags, const int *sent_len, int n_sent, int scheme, seq_chunk *out,
                       const char *side, bert_error *err);

/* seqeval's auto_detect over the gold tags: BERT_SEQEVAL_IOB2, _IOE2,
 * _IOBES or _BILOU from the set of first letters, or -1 with err set. */
int seq_auto_detect(const char *const *tags, long total, bert_error *err);

/* Token.is_start / is_inside / is_end of cur after prev in scheme (1 or
 * 0 each); 0 when a tag has no prefix letter or the scheme is unknown. */
int seq_token_relation(int scheme, const char *prev, const char *cur, int *start, int *inside, int *end);

/* The scheme's name ("IOB2", ...), "" for another value. */
const char *seq_scheme_name(int scheme);

#endif
