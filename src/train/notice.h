/* notice.h — a sentence for the user, sent as a BERT_EVENT_NOTICE through
 * the run's event callback (the library never prints). */
#ifndef BERT_TRAIN_NOTICE_H
#define BERT_TRAIN_NOTICE_H

#include <stdio.h>

#include "bert.h"

/* Format the text (at most ~1.4 KB kept) and pass it to lp->on_event with
 * the given step counts; nothing when lp has no callback. */
void train_notice(const bert_loop_params *lp, long step, long total_steps, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* s as a JSON string literal (quotes, backslashes and control characters
 * escaped) onto f. */
void train_json_string(FILE *f, const char *s);

#endif
