/* cmd_vocab.c — `bert vocab --corpus FILE... --output DIR`: learn a
 * WordPiece vocabulary from text (bert_vocab_trainer) and write vocab.txt
 * plus the tokenizer files, a directory `bert init --vocab DIR/vocab.txt`
 * and every tokenizer command accept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

int cmd_vocab(int argc, char **argv) {
    static const char *usage = "usage: bert vocab --corpus FILE [--corpus FILE ...] --output DIR [--vocab-size 30522]\n"
                               "       [--min-frequency 2] [--limit-alphabet 1000] [--cased]\n";
    const char *out = NULL, *files[64];
    int nfiles = 0;
    bert_vocab_train_params p = bert_vocab_train_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *ip = strcmp(a, "--vocab-size") == 0 ? &p.vocab_size : strcmp(a, "--min-frequency") == 0 ? &p.min_frequency
                : strcmp(a, "--limit-alphabet") == 0 ? &p.limit_alphabet : NULL;
        if (ip && v) {
            if (!cli_parse_int("vocab", a, v, ip == &p.limit_alphabet ? 0 : 1, ip)) return CLI_USAGE;
            i++;
        } else if (strcmp(a, "--corpus") == 0 && v && nfiles < 64) files[nfiles++] = v, i++;
        else if (strcmp(a, "--output") == 0 && v) out = v, i++;
        else if (strcmp(a, "--cased") == 0) p.lowercase = 0;
        else return cli_help_if_asked(a, usage), cli_usage_error("vocab", usage, "unexpected argument '%s'", a);
    }
    if (!out || !nfiles) return cli_usage_error("vocab", usage, "needs --corpus FILE and --output DIR");
    bert_vocab_trainer *t;
    bert_error err;
    if (bert_vocab_trainer_create(&p, &t, &err) != BERT_OK) return cli_error("vocab", "%s", err.message);
    long bad = 0;
    char first_bad[1100] = "", msg[1200] = "";
    int ok = 1;
    for (int f = 0; ok && f < nfiles; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) {
            snprintf(msg, sizeof msg, "%s: cannot open: %s", files[f], strerror(errno)), ok = 0;
            break;
        }
        char *line = NULL;
        size_t lc = 0;
        ssize_t len;
        long no = 0;
        while (ok && (len = getline(&line, &lc, fp)) != -1) {
            no++;
            bert_status rc = bert_vocab_trainer_feed(t, line, len, &err);
            if (rc == BERT_ERR_INPUT) { /* not UTF-8: skipped, counted, the first one named */
                if (bad++ == 0) snprintf(first_bad, sizeof first_bad, "%s:%ld (%s)", files[f], no, err.message);
            } else if (rc != BERT_OK) {
                snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
            }
        }
        free(line);
        fclose(fp);
    }
    if (ok && bad) fprintf(stderr, "bert vocab: %ld line(s) skipped: not valid UTF-8 (first: %s)\n", bad, first_bad);
    if (ok && bert_vocab_trainer_words(t) == 0) snprintf(msg, sizeof msg, "the corpus holds no words"), ok = 0;
    char **tokens = NULL;
    int n = 0;
    if (ok && bert_vocab_trainer_finish(t, &tokens, &n, &err) != BERT_OK) snprintf(msg, sizeof msg, "%s", err.message), ok = 0;
    if (ok && mkdir(out, 0755) != 0 && errno != EEXIST) snprintf(msg, sizeof msg, "%s: cannot create: %s", out, strerror(errno)), ok = 0;
    char path[4200];
    cli_output o;
    snprintf(path, sizeof path, "%s/vocab.txt", out);
    if (ok && (ok = cli_output_open("vocab", path, &o))) {
        for (int i = 0; i < n; i++) fprintf(o.fp, "%s\n", tokens[i]);
        ok = cli_output_close("vocab", &o, 1);
    }
    ok = ok && cli_write_tokenizer_files("vocab", out, p.lowercase, 0);
    if (ok)
        fprintf(stderr, "bert vocab: %s/vocab.txt: %d tokens from %d distinct words%s\n", out, n,
                bert_vocab_trainer_words(t), n < p.vocab_size ? " (no pair left above --min-frequency)" : "");
    else if (*msg)
        cli_error("vocab", "%s", msg);
    bert_vocab_tokens_free(tokens, n);
    bert_vocab_trainer_free(t);
    return ok ? CLI_OK : CLI_ERROR;
}
