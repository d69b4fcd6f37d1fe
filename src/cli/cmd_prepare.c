/* cmd_prepare.c — `bert prepare MODEL_DIR --corpus FILE... --output CORPUS.bin`:
 * tokenize a pre-training corpus once into the compact binary layout of
 * pretrain_corpus.h, which `bert pretrain --corpus CORPUS.bin` maps instead
 * of tokenizing the text again on every run. */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/pretrain_corpus.h"

int cmd_prepare(int argc, char **argv) {
    static const char *usage = "usage: bert prepare MODEL_DIR --corpus FILE [--corpus FILE ...] --output CORPUS.bin\n"
                               "       [--split-sentences] [--prose]\n";
    const char *model = NULL, *out = NULL, *files[64];
    int nfiles = 0;
    pt_read_options ro = {.progress = isatty(2)};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--corpus") == 0 && v && nfiles < 64) files[nfiles++] = v, i++;
        else if (strcmp(a, "--output") == 0 && v) out = v, i++;
        else if (strcmp(a, "--split-sentences") == 0) ro.split_sentences = 1;
        else if (strcmp(a, "--prose") == 0) ro.prose = ro.split_sentences = 1;
        else if (a[0] != '-' && !model) model = a;
        else return cli_help_if_asked(a, usage), fprintf(stderr, "bert prepare: unexpected argument \'%s\'\n%s", a, usage), CLI_USAGE;
    }
    if (!model || !out || !nfiles) return fputs(usage, stderr), CLI_USAGE;
    for (int f = 0; f < nfiles; f++)
        if (pt_corpus_is_binary(files[f])) return cli_error("prepare", "%s is already a prepared corpus", files[f]);
    bert_tokenizer *tok = NULL;
    bert_error err;
    if (bert_tokenizer_load(model, &tok, &err) != BERT_OK) return cli_error("prepare", "%s", err.message);
    pt_corpus c = {0};
    long bad = 0;
    char first_bad[1100] = "", msg[2048] = "";
    int ok = pt_corpus_read_text(&c, tok, files, nfiles, &ro, &bad, first_bad, sizeof first_bad, msg, sizeof msg);
    if (ok && bad) fprintf(stderr, "bert prepare: %ld line(s) skipped: not valid UTF-8 (first: %s)\n", bad, first_bad);
    if (ok && c.n_tokens == 0) snprintf(msg, sizeof msg, "the corpus holds no text"), ok = 0;
    ok = ok && pt_corpus_write(&c, tok, out, msg, sizeof msg);
    if (ok)
        fprintf(stderr, "bert prepare: %s: %lld documents, %lld segments, %lld tokens\n", out, (long long)c.n_docs,
                (long long)c.n_segs, (long long)c.n_tokens);
    else
        cli_error("prepare", "%s", msg);
    pt_corpus_free(&c);
    bert_tokenizer_free(tok);
    return ok ? CLI_OK : CLI_ERROR;
}
