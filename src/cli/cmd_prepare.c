/* cmd_prepare.c — `bert prepare MODEL_DIR --corpus FILE... --output CORPUS.bin`:
 * tokenize a pre-training corpus once (bert_corpus_prepare) into the
 * compact binary file that `bert pretrain --corpus CORPUS.bin` maps instead
 * of tokenizing the text again on every run. */
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_run.h"

int cmd_prepare(int argc, char **argv) {
    static const char *usage = "usage: bert prepare MODEL_DIR --corpus FILE [--corpus FILE ...] --output CORPUS.bin\n"
                               "       [--split-sentences] [--prose]\n";
    const char *model = NULL, *out = NULL, *files[64];
    int nfiles = 0;
    bert_corpus_read_params rp = bert_corpus_read_default_params();
    cli_progress pr = {.cmd = "prepare", .tty = isatty(2), .t0 = cli_now_s()};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--corpus") == 0 && v) {
            if (nfiles == 64) return cli_error("prepare", "at most 64 --corpus files"), CLI_USAGE;
            files[nfiles++] = v, i++;
        } else if (strcmp(a, "--output") == 0 && v) out = v, i++;
        else if (strcmp(a, "--split-sentences") == 0) rp.split_sentences = 1;
        else if (strcmp(a, "--prose") == 0) rp.prose = rp.split_sentences = 1;
        else if (a[0] != '-' && !model) model = a;
        else return cli_help_if_asked(a, usage), cli_error("prepare", "unexpected argument '%s' (see bert prepare --help)", a), CLI_USAGE;
    }
    if (!model || !out || !nfiles) return cli_error("prepare", "needs MODEL_DIR, --corpus FILE and --output CORPUS.bin"), CLI_USAGE;
    if (pr.tty) rp.progress = cli_read_progress, rp.progress_user = &pr;
    bert_tokenizer *tok = NULL;
    bert_error err;
    if (bert_tokenizer_load(model, &tok, &err) != BERT_OK) return cli_error("prepare", "%s", err.message);
    bert_corpus_stats st;
    bert_status rc = bert_corpus_prepare(tok, files, nfiles, &rp, out, &st, &err);
    cli_progress_end(&pr);
    bert_tokenizer_free(tok);
    if (rc != BERT_OK) return cli_error("prepare", "%s", err.message);
    if (st.bad_lines) fprintf(stderr, "bert prepare: %ld line(s) skipped: not valid UTF-8 (first: %s)\n", st.bad_lines, st.first_bad);
    fprintf(stderr, "bert prepare: %s: %lld documents, %lld segments, %lld tokens\n", out, st.documents, st.segments, st.tokens);
    return CLI_OK;
}
