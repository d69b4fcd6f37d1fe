/* leftovers.c — see leftovers.h. A checkpoint, best/ or the model directory
 * is only ever complete under its final name (bert_trainer_save builds
 * NAME.tmp and renames; bert_dir_remove renames to a hidden name first), so
 * cleaning touches temporary names alone and never a final one. */
#include "train/leftovers.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fs.h"
#include "util/error.h"

/* 1 when name[0..n) is a directory a run writes in OUT: checkpoint-STEP,
 * best, or the model directory. */
static int run_dir(const bert_loop_params *p, const char *name, size_t n) {
    if (n > 11 && strncmp(name, "checkpoint-", 11) == 0) {
        for (size_t i = 11; i < n; i++)
            if (!isdigit((unsigned char)name[i])) return 0;
        return 1;
    }
    if (n == 4 && strncmp(name, "best", 4) == 0) return 1;
    return p->model_dir && *p->model_dir && strlen(p->model_dir) == n && strncmp(name, p->model_dir, n) == 0;
}

/* 1 when name[0..n) ends in suffix. */
static int ends_with(const char *name, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(name + n - k, suffix, k) == 0;
}

/* bert_dir_clean_leftovers' test: the run's directories and its files. */
static int owned(void *user, const char *name, int is_dir) {
    size_t n = strlen(name);
    if (is_dir) return run_dir(user, name, n);
    return ends_with(name, n, ".json") || ends_with(name, n, ".jsonl") || ends_with(name, n, ".conll");
}

/* OUT/a into buf; BERT_ERR_INPUT when it does not fit. */
static bert_status path_in(const char *out, const char *a, char *buf, size_t cap, bert_error *err) {
    int n = snprintf(buf, cap, "%s/%s", out, a);
    if (n < 0 || (size_t)n >= cap) return bert_fail(err, BERT_ERR_INPUT, "%s: output path too long", out);
    return BERT_OK;
}

/* One entry e of OUT: bert_trainer_save's NAME.tmp or NAME.old. */
static bert_status clean_save_leftover(const bert_loop_params *p, const char *e, int *n_cleaned, bert_error *err) {
    size_t n = strlen(e);
    int tmp = ends_with(e, n, ".tmp"), old = ends_with(e, n, ".old");
    if ((!tmp && !old) || !run_dir(p, e, n - 4)) return BERT_OK;
    char path[4096], name[4096], real[4096];
    snprintf(name, sizeof name, "%.*s", (int)(n - 4), e);
    bert_status rc = path_in(p->output_dir, e, path, sizeof path, err);
    if (rc == BERT_OK) rc = path_in(p->output_dir, name, real, sizeof real, err);
    struct stat st;
    if (rc != BERT_OK || lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return rc;
    if (old && lstat(real, &st) != 0 && errno == ENOENT) {
        if (rename(path, real) != 0)
            return bert_fail(err, BERT_ERR_IO, "%s: cannot move back to %s: %s", path, real, strerror(errno));
    } else if ((rc = bert_dir_remove(path, err)) != BERT_OK) {
        return rc;
    }
    (*n_cleaned)++;
    return BERT_OK;
}

bert_status train_clean_leftovers(const bert_loop_params *p, int *n_cleaned, bert_error *err) {
    *n_cleaned = 0;
    bert_status rc = bert_dir_clean_leftovers(p->output_dir, owned, (void *)p, n_cleaned, err);
    if (rc != BERT_OK) return bert_error_prefix(err, "cleaning what an interrupted run left");
    DIR *d = opendir(p->output_dir);
    if (!d) return bert_fail(err, BERT_ERR_IO, "%s: cannot list: %s", p->output_dir, strerror(errno));
    /* The names first: cleaning renames and removes entries of OUT. */
    char (*names)[256] = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; rc == BERT_OK && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len >= 256 || !(ends_with(e->d_name, len, ".tmp") || ends_with(e->d_name, len, ".old"))) continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 8;
            void *g = realloc(names, c * sizeof *names);
            if (!g) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            else names = g, cap = c;
        }
        if (rc == BERT_OK) memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    for (size_t i = 0; rc == BERT_OK && i < n; i++) rc = clean_save_leftover(p, names[i], n_cleaned, err);
    free(names);
    if (rc != BERT_OK) bert_error_prefix(err, "cleaning what an interrupted run left");
    return rc;
}
