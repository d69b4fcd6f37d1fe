/* dialogue.c — libFuzzer target: bert_dialogue_read. The first byte picks:
 * even, a JSONL file (turns or SGD dialogues); odd, a SNIPS-layout
 * directory whose seq.in, seq.out and label are the rest split at the
 * "\n--8<--\n" separator lines. Every string of what was read is touched. */
#include <sys/stat.h>

#include "fuzz_util.h"
#include "bert.h"

static void touch(const bert_dialogue_data *d) {
    size_t sum = 0;
    for (int i = 0; i < d->n; i++) {
        sum += strlen(d->v[i].intent);
        for (int w = 0; w < d->v[i].s.n; w++) sum += strlen(d->v[i].s.words[w]) + strlen(d->v[i].s.tags[w]);
        for (int h = 0; h < d->v[i].n_history; h++) sum += strlen(d->v[i].history[h]);
    }
    if (sum == (size_t)-1) abort();
}

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[512], p2[512];
    if (!(data[0] & 1)) {
        fuzz_write("turns.jsonl", data + 1, size - 1, path, sizeof path);
    } else {
        fuzz_write("layout.probe", (const uint8_t *)"", 0, path, sizeof path); /* makes the directory */
        snprintf(path, sizeof path, "%s/layout", fuzz_dir);
        mkdir(path, 0755);
        const uint8_t *a, *b, *c, *rest;
        size_t na, nb, nc, nrest;
        fuzz_split(data + 1, size - 1, &a, &na, &rest, &nrest);
        fuzz_split(rest, nrest, &b, &nb, &c, &nc);
        fuzz_write("layout/seq.in", a, na, p2, sizeof p2);
        fuzz_write("layout/seq.out", b, nb, p2, sizeof p2);
        fuzz_write("layout/label", c, nc, p2, sizeof p2);
    }
    bert_dialogue_data d = {0};
    bert_error err;
    if (bert_dialogue_read(path, &d, &err) == BERT_OK) touch(&d);
    bert_dialogue_free(&d);
    return 0;
}
