/* shard.c — see shard.h. Each round is one bert_dist_sum (has a rank
 * failed, which ranks reached the end of the input, lines failed so far)
 * and, unless a rank failed, one bert_dist_gather of the round's lines. A
 * collective that fails leaves the ranks unable to agree, so the job ends
 * there (bert_dist_abort). */
#include "cli/shard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Say msg as this rank and end the whole job (never returns). */
static void die(bert_dist *d, const char *cmd, const char *msg) {
    cli_error(cmd, "rank %d of %d: %s", bert_dist_rank(d), bert_dist_size(d), msg);
    fflush(stderr);
    bert_dist_abort(d, CLI_ERROR);
    exit(CLI_ERROR);
}

/* x[0..n) summed over the ranks of d; ends the job when that fails. */
static void sum(bert_dist *d, const char *cmd, double *x, int n) {
    bert_error err;
    if (bert_dist_sum(d, x, n, &err) != BERT_OK) die(d, cmd, err.message);
}

int shard_files_ok(const char *cmd, bert_dist *d, const char *input, const char *output) {
    if (bert_dist_size(d) < 2) return 1;
    struct stat st;
    char msg[600] = "";
    int found = input && stat(input, &st) == 0;
    if (!input || !output || strcmp(output, "-") == 0 || (found && !S_ISREG(st.st_mode)))
        snprintf(msg, sizeof msg, "under mpirun, --input and --output must be files");
    else if (!found)
        snprintf(msg, sizeof msg, "%s: cannot open: %s", input, strerror(errno));
    /* x: ranks that object, rank 0 objects. Rank 0 speaks for all when it
     * objects; a rank that alone sees a problem says it itself. */
    double x[2] = {msg[0] != 0, bert_dist_rank(d) == 0 && msg[0]};
    sum(d, cmd, x, 2);
    if (msg[0] && (bert_dist_rank(d) == 0 || x[1] == 0)) cli_error(cmd, "%s", msg);
    return x[0] == 0;
}

int shard_open(cli_shard *s, const char *cmd, bert_dist *d, const char *output, int ready) {
    memset(s, 0, sizeof *s);
    s->cmd = cmd, s->d = d, s->rank = bert_dist_rank(d), s->size = bert_dist_size(d);
    if (s->size < 2) {
        if (!ready || !cli_output_open(cmd, output, &s->out)) return 0;
        s->fp = s->out.fp;
        return 1;
    }
    if (ready && s->rank == 0) ready = cli_output_open(cmd, output, &s->out);
    if (ready && !(s->fp = open_memstream(&s->mem, &s->mem_len))) ready = !cli_error(cmd, "out of memory");
    double missing = !ready;
    sum(d, cmd, &missing, 1);
    if (missing == 0) return 1;
    if (s->fp) fclose(s->fp);
    free(s->mem);
    s->fp = NULL, s->mem = NULL;
    cli_output_close(cmd, &s->out, 0);
    return 0;
}

int shard_mine(const cli_shard *s) { return s->size < 2 || s->unit % s->size == s->rank; }

int shard_speaker(const cli_shard *s) { return s->rank == 0; }

int shard_several(const cli_shard *s) { return s->size > 1; }

/* The end of a round: agree (this rank ok, at_end: it read the whole
 * input; *failed: its failed lines, then every rank's), then, unless a
 * rank failed, rank 0 appends every rank's lines of the round to the
 * output, in rank order. Returns 0 when the job stops. */
static int round_end(cli_shard *s, int ok, int at_end, long *failed) {
    double x[3] = {!ok, at_end, failed ? (double)*failed : 0};
    sum(s->d, s->cmd, x, 3);
    if (failed) *failed = (long)x[2];
    if (x[0] == 0 && x[1] != 0 && x[1] != s->size) {
        /* Some ranks saw the input end where others did not. */
        shard_error(s, "the ranks read different inputs (did the input file change while it was read?)");
        x[0] = 1;
    }
    if (x[0] != 0) return s->stopped = 1, 0;
    if (fflush(s->fp) != 0) die(s->d, s->cmd, "out of memory for the round's output lines");
    size_t *lens = calloc((size_t)s->size, sizeof *lens);
    char *all = NULL;
    bert_error err;
    if (!lens) die(s->d, s->cmd, "out of memory");
    if (bert_dist_gather(s->d, s->mem, s->mem_len, &all, lens, &err) != BERT_OK) die(s->d, s->cmd, err.message);
    size_t total = 0;
    for (int r = 0; s->rank == 0 && r < s->size; r++) total += lens[r];
    if (s->rank == 0 && total) fwrite(all, 1, total, s->out.fp); /* a failed write shows at cli_output_close */
    free(all), free(lens);
    rewind(s->fp); /* the next round's lines overwrite these (the size counts from here) */
    return 1;
}

int shard_next(cli_shard *s) {
    if (s->size < 2) return 1;
    return ++s->unit % s->size ? 1 : round_end(s, 1, 0, NULL);
}

int shard_finish(cli_shard *s, int ok, long *failed) {
    if (s->size < 2) return ok;
    return !s->stopped && round_end(s, ok, 1, failed);
}

int shard_close(cli_shard *s, int ok) {
    if (s->size > 1 && s->fp) fclose(s->fp);
    if (s->size > 1) free(s->mem);
    s->fp = NULL, s->mem = NULL;
    ok = cli_output_close(s->cmd, &s->out, ok); /* ranks other than 0 have none: ok stays */
    if (s->size < 2) return ok;
    double bad = !ok;
    sum(s->d, s->cmd, &bad, 1);
    return bad == 0;
}

int shard_error(const cli_shard *s, const char *fmt, ...) {
    if (s->rank != 0) return CLI_ERROR;
    va_list ap;
    va_start(ap, fmt);
    cli_verror(s->cmd, fmt, ap);
    va_end(ap);
    return CLI_ERROR;
}

int shard_leave(bert_dist *d, int code) {
    fflush(stderr), fflush(stdout);
    bert_dist_close(d);
    return code;
}
