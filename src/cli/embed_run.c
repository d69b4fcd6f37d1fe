/* embed_run.c — the input loop of `bert embed` (embed_input.h): lines into
 * records, batches of --batch-size run without padding, one JSON line of
 * vectors per input line, in input order. Under mpirun the batches are
 * shared by the ranks (shard.h): each rank tokenizes and runs only its
 * own, and the output is the single process's, byte for byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/embed_input.h"
#include "cli/line_reader.h"
#include "cli/shard.h"

/* Run one batch and print its results; returns 0 after printing an error. */
static int run_batch(bert_context *ctx, record *recs, bert_sequence *seqs, int n, const embed_opts *o,
                     const char *src, FILE *out, float *vec, int C) {
    for (int i = 0; i < n; i++)
        seqs[i] = (bert_sequence){.input_ids = recs[i].ids, .token_type_ids = recs[i].types,
                                  .attention_mask = recs[i].mask, .n_tokens = recs[i].n};
    bert_error err;
    /* a pooled embedding is pooled where the model runs (the context's pooling, set at load): a GPU sends
     * back k x C floats, not every token's */
    int pooled = o->pooling != -1;
    if (bert_forward(ctx, seqs, n, pooled ? BERT_OUTPUT_SENTENCE : BERT_OUTPUT_HIDDEN, &err) != BERT_OK) {
        if (err.item >= 0 && err.item < n) {
            const char *m = strstr(err.message, ": "); /* drop "sequence N: ", the line says where */
            cli_error("embed", "%s:%ld: %s", src, recs[err.item].line, m ? m + 2 : err.message);
        } else {
            cli_error("embed", "%s", err.message);
        }
        return 0;
    }
    /* A NaN or infinite output (non-finite weights) is an error naming the line, not a bare nan. */
    for (int i = 0; i < n; i++) {
        bert_pooling_spec sp;
        const float *v = pooled ? bert_output_sentence(ctx, i, &sp) : bert_output_hidden(ctx, i);
        if (!embed_all_finite(v, (size_t)(pooled ? __builtin_popcount(sp.modes) : recs[i].n) * (size_t)C))
            return !cli_error("embed", "%s:%ld: the model's output is not finite (NaN or infinity: are its weights finite?)",
                              src, recs[i].line);
    }
    for (int i = 0; i < n; i++) {
        if (o->pooling == -1) { /* none: the token states */
            const float *h = bert_output_hidden(ctx, i);
            fputs("{\"token_embeddings\":[", out);
            for (int t = 0; t < recs[i].n; t++) {
                if (t) fputc(',', out);
                memcpy(vec, h + (size_t)t * C, sizeof *vec * (size_t)C);
                if (o->normalize) embed_l2_normalize(vec, C);
                embed_print_vector(out, vec, C);
            }
            fputs("]}\n", out);
        } else {
            const float *v = bert_output_sentence(ctx, i, NULL);
            if (o->head && bert_sentence_head_apply_pooled(o->head, v, vec, &err) != BERT_OK)
                return !cli_error("embed", "%s:%ld: %s", src, recs[i].line, err.message);
            if (!o->head) memcpy(vec, v, sizeof *vec * (size_t)C);
            if (o->head ? o->normalize_given : o->normalize) embed_l2_normalize(vec, o->dim);
            fputs("{\"embedding\":", out);
            embed_print_vector(out, vec, o->dim);
            fputs("}\n", out);
        }
    }
    return 1;
}

int embed_run_jsonl(const embed_model *em, const embed_opts *o, bert_dist *d) {
    FILE *in = stdin;
    const char *src = o->input ? o->input : "stdin";
    int opened = !o->input || (in = fopen(o->input, "r")) != NULL;
    if (!opened) cli_error("embed", "%s: cannot open: %s", o->input, strerror(errno));
    cli_shard sh;
    if (!shard_open(&sh, "embed", d, o->output, opened)) {
        if (in && in != stdin) fclose(in);
        return CLI_ERROR;
    }
    int C = bert_model_config(em->m)->hidden_size, ok = 1;
    record *recs = calloc((size_t)o->batch_size, sizeof *recs);
    bert_sequence *seqs = calloc((size_t)o->batch_size, sizeof *seqs);
    float *vec = malloc((size_t)(o->dim > C ? o->dim : C) * sizeof *vec);
    if (!recs || !seqs || !vec) ok = !cli_error("embed", "out of memory");
    char *line = NULL, msg[600];
    size_t cap = 0;
    long lineno = 0, n_records = 0;
    int n = 0, unit = 0; /* records held (this rank's unit), records in the unit */
    ssize_t got;
    while (ok && (got = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (got > CLI_MAX_LINE_BYTES) {
            if (shard_mine(&sh))
                cli_error("embed", "%s:%ld: the line is longer than %ld bytes (the limit of one input line)", src, lineno,
                          CLI_MAX_LINE_BYTES);
            ok = 0;
            break;
        }
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        n_records++;
        if (shard_mine(&sh)) {
            recs[n].line = lineno;
            if (!parse_record(line, em->tok, &em->ep, &recs[n], msg, sizeof msg)) {
                ok = !cli_error("embed", "%s:%ld: %s", src, lineno, msg);
                record_free(&recs[n]);
                break;
            }
            n++;
        }
        if (++unit == o->batch_size) {
            ok = !n || run_batch(em->ctx, recs, seqs, n, o, src, sh.fp, vec, C);
            for (int i = 0; i < n; i++) record_free(&recs[i]);
            n = unit = 0;
            ok = ok && shard_next(&sh);
        }
    }
    if (ok && ferror(in)) ok = !cli_error("embed", "%s: read error", src);
    if (ok && n) ok = run_batch(em->ctx, recs, seqs, n, o, src, sh.fp, vec, C);
    for (int i = 0; i < n; i++) record_free(&recs[i]);
    ok = shard_finish(&sh, ok, NULL);
    if (ok && n_records == 0) ok = !shard_error(&sh, "%s: no input (expected JSONL lines with \"input_ids\")", src);
    ok = shard_close(&sh, ok);
    free(line);
    free(recs);
    free(seqs);
    free(vec);
    if (in != stdin) fclose(in);
    return ok ? CLI_OK : CLI_ERROR;
}
