/* clock.h — elapsed time for progress and throughput figures. */
#ifndef BERT_UTIL_CLOCK_H
#define BERT_UTIL_CLOCK_H

/* Seconds on a monotonic clock (only differences mean anything). */
double bert_now_s(void);

#endif
