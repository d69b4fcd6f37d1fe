/* bert_pretrain through the library: a prepared corpus trains exactly as
 * its text, a run stopped and resumed from its checkpoint ends with the
 * same weights as one that never stopped, static masking with phases, the
 * notices, and the errors the command line shows. */
#include <stdlib.h>

#include "io/file.h"
#include "test.h"

#define MLM_DIR "tests/fixtures/tasks/mlm"
#define CORPUS "tests/fixtures/finetune/pretrain_corpus.txt"

typedef struct {
    char text[4096];
} notices;

static void on_event(void *user, const bert_event *e) {
    notices *n = user;
    if (e->kind != BERT_EVENT_NOTICE || !e->text) return;
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s\n", e->text);
}

/* A short run of the command line's test settings into tmpdir/name. */
static bert_pretrain_params small_run(const char *name, const char *const *files, int n_files, char *out, size_t cap,
                                      notices *n) {
    bert_pretrain_params p = bert_pretrain_default_params();
    snprintf(out, cap, "%s/%s", test_tmpdir(), name);
    p.model_dir = MLM_DIR, p.output_dir = out;
    p.corpus_files = files, p.n_corpus_files = n_files;
    p.max_steps = 8, p.batch_size = 4, p.heldout_docs = 2;
    p.train.lr = 3e-3, p.train.n_threads = 1;
    p.loop.eval_steps = 0;
    p.loop.on_event = on_event, p.loop.on_event_user = n;
    return p;
}

/* The bytes of dir/model/model.safetensors (malloc'd), or NULL. */
static char *model_bytes(const char *dir, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model/model.safetensors", dir);
    char *s = NULL;
    bert_error err;
    return bert_file_read_text(path, &s, n, &err) == BERT_OK ? s : NULL;
}

static int same_model(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = model_bytes(a, &na), *y = model_bytes(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

TEST(pretrain_run_prepared_corpus_and_resume_are_bit_identical) {
    bert_error err;
    const char *text[] = {CORPUS};
    char a[512], b[512], c[512], bin[512], ckpt[600], report[600];
    notices na = {{0}}, nb = {{0}}, nc = {{0}};
    bert_pretrain_params pa = small_run("ptA", text, 1, a, sizeof a, &na);
    bert_loop_result ra;
    CHECK_OK(bert_pretrain(&pa, &ra, &err), err);
    CHECK(ra.steps == 8 && strstr(na.text, "12 documents") && strstr(na.text, "held-out MLM before"));
    /* the prepared corpus */
    bert_tokenizer *tok;
    CHECK_OK(bert_tokenizer_load(MLM_DIR, &tok, &err), err);
    snprintf(bin, sizeof bin, "%s/corpus.bin", test_tmpdir());
    CHECK_OK(bert_corpus_prepare(tok, text, 1, NULL, bin, NULL, &err), err);
    bert_tokenizer_free(tok);
    const char *bins[] = {bin};
    bert_pretrain_params pb = small_run("ptB", bins, 1, b, sizeof b, &nb);
    CHECK_OK(bert_pretrain(&pb, NULL, &err), err);
    CHECK(same_model(a, b));
    /* stopped at step 5 (a checkpoint), then resumed from it */
    bert_pretrain_params pc = small_run("ptC", text, 1, c, sizeof c, &nc);
    pc.loop.stop_at_step = 5;
    CHECK_OK(bert_pretrain(&pc, NULL, &err), err);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint-5", c);
    pc.loop.stop_at_step = 0;
    pc.resume_from = ckpt;
    bert_loop_result rc;
    CHECK_OK(bert_pretrain(&pc, &rc, &err), err);
    CHECK(rc.steps == 8 && strstr(nc.text, "resuming at step 5"));
    CHECK(same_model(a, c));
    snprintf(report, sizeof report, "%s/report.json", c);
    char *s = NULL;
    size_t n;
    CHECK_OK(bert_file_read_text(report, &s, &n, &err), err);
    CHECK(s && strstr(s, "\"resumed\": true") && strstr(s, "\"steps\": 8") && strstr(s, "\"heldout_after\": {\"mlm_loss\": "));
    free(s);
}

TEST(pretrain_run_static_masking_and_phases) {
    bert_error err;
    const char *text[] = {CORPUS};
    char out[512], report[600];
    notices nt = {{0}};
    bert_pretrain_params p = small_run("ptE", text, 1, out, sizeof out, &nt);
    p.dupe_factor = 2, p.max_predictions = 4, p.no_nsp = 1;
    p.n_phases = 2, p.seq_len[0] = 32, p.seq_frac[0] = 0.5, p.seq_len[1] = 64, p.seq_frac[1] = 0.5;
    CHECK_OK(bert_pretrain(&p, NULL, &err), err);
    CHECK(strstr(nt.text, "phase 2: 64 tokens") != NULL);
    snprintf(report, sizeof report, "%s/report.json", out);
    char *s = NULL;
    size_t n;
    CHECK_OK(bert_file_read_text(report, &s, &n, &err), err);
    CHECK(s && strstr(s, "\"masking\": \"static\"") && strstr(s, "\"nsp\": false"));
    free(s);
}

TEST(pretrain_run_errors_name_the_problem) {
    bert_error err;
    char one[512], out[512];
    snprintf(one, sizeof one, "%s/onedoc.txt", test_tmpdir());
    const char *doc = "one single document\nwithout blank lines\n";
    CHECK(test_write_file(one, doc, strlen(doc)) == 0);
    const char *files[] = {one};
    notices nt = {{0}};
    bert_pretrain_params p = small_run("ptD", files, 1, out, sizeof out, &nt);
    CHECK_ERR(bert_pretrain(&p, NULL, &err), err, BERT_ERR_INPUT, "NSP needs at least 2");
    p.n_phases = 2, p.seq_len[1] = 256, p.seq_frac[1] = 0.3;
    CHECK_ERR(bert_pretrain(&p, NULL, &err), err, BERT_ERR_INPUT, "add up to");
    p = small_run("ptD", files, 1, out, sizeof out, &nt);
    p.resume_from = "/nonexistent/checkpoint-3";
    p.corpus_files = (const char *const[]){CORPUS}, p.n_corpus_files = 1;
    CHECK(bert_pretrain(&p, NULL, &err) != BERT_OK);
}
