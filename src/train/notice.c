/* notice.c — see notice.h. */
#include "train/notice.h"

#include <stdarg.h>

void train_notice(const bert_loop_params *lp, long step, long total_steps, const char *fmt, ...) {
    if (!lp || !lp->on_event) return;
    char text[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bert_event e = {.kind = BERT_EVENT_NOTICE, .text = text, .step = step, .total_steps = total_steps};
    lp->on_event(lp->on_event_user, &e);
}

void train_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}
