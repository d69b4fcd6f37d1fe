/* test_leftovers.c — an output directory after a crash: a run starting
 * there cleans the temporary names of its own kinds (and only those, and
 * not those of a running process), moves back a tree that was the only
 * whole copy, and never touches a final name. */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/fs.h"
#include "test.h"
#include "train/leftovers.h"

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* path (relative to dir) as a directory holding one file "f". */
static void make_tree(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/f", dir, name);
    FILE *f = fopen(p, "w");
    if (f) fputs("x", f), fclose(f);
}

static void make_file(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) fputs("x", f), fclose(f);
}

static int has(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return exists(p);
}

/* The id of a process that has ended (a child that exited and was reaped). */
static long dead_pid(void) {
    pid_t c = fork();
    if (c == 0) _exit(0);
    waitpid(c, NULL, 0);
    return (long)c;
}

TEST(leftovers_of_an_interrupted_run_are_cleaned_and_final_names_kept) {
    char out[512], name[256];
    snprintf(out, sizeof out, "%s/leftovers-out", test_tmpdir());
    bert_dir_remove(out, NULL);
    mkdir(out, 0755);
    long dead = dead_pid(), live = (long)getppid();
    make_tree(out, "checkpoint-2"); /* final names: kept */
    make_tree(out, "checkpoint-4");
    make_file(out, "report.json");
    snprintf(name, sizeof name, ".checkpoint-1.removing.%ld.0", dead); /* pruning killed */
    make_tree(out, name);
    snprintf(name, sizeof name, ".best.copying.%ld", dead);
    make_tree(out, name);
    make_tree(out, "checkpoint-5.tmp"); /* bert_trainer_save killed while writing */
    make_tree(out, "checkpoint-4.old"); /* ... after the swap: removed, checkpoint-4 is whole */
    make_tree(out, "best.old");         /* ... between the renames: the only best, moved back */
    snprintf(name, sizeof name, "report.json.tmp.%ld", dead);
    make_file(out, name);
    snprintf(name, sizeof name, ".vocab.json.tmp.%ld", dead);
    make_file(out, name);
    /* Not the run's: kept. */
    snprintf(name, sizeof name, "notes.txt.tmp.%ld", dead);
    make_file(out, name);
    snprintf(name, sizeof name, ".mine.removing.%ld.0", dead);
    make_tree(out, name);
    make_tree(out, "checkpoint-x.tmp");
    make_tree(out, "data.old");
    /* A running process's: kept. */
    snprintf(name, sizeof name, ".checkpoint-3.removing.%ld.0", live);
    make_tree(out, name);

    bert_loop_params p = bert_loop_default_params();
    p.output_dir = out;
    int n = -1;
    bert_error err;
    CHECK_OK(train_clean_leftovers(&p, &n, &err), err);
    CHECK(n == 7);
    CHECK(has(out, "checkpoint-2") && has(out, "checkpoint-2/f") && has(out, "checkpoint-4/f") && has(out, "report.json"));
    CHECK(has(out, "best/f") && !has(out, "best.old"));
    CHECK(!has(out, "checkpoint-5.tmp") && !has(out, "checkpoint-4.old"));
    snprintf(name, sizeof name, ".checkpoint-1.removing.%ld.0", dead);
    CHECK(!has(out, name));
    snprintf(name, sizeof name, ".best.copying.%ld", dead);
    CHECK(!has(out, name));
    snprintf(name, sizeof name, "report.json.tmp.%ld", dead);
    CHECK(!has(out, name));
    snprintf(name, sizeof name, ".vocab.json.tmp.%ld", dead);
    CHECK(!has(out, name));
    snprintf(name, sizeof name, "notes.txt.tmp.%ld", dead);
    CHECK(has(out, name));
    snprintf(name, sizeof name, ".mine.removing.%ld.0", dead);
    CHECK(has(out, name));
    CHECK(has(out, "checkpoint-x.tmp") && has(out, "data.old"));
    snprintf(name, sizeof name, ".checkpoint-3.removing.%ld.0", live);
    CHECK(has(out, name));
    /* Nothing more the second time. */
    CHECK_OK(train_clean_leftovers(&p, &n, &err), err);
    CHECK(n == 0);
    bert_dir_remove(out, NULL);
}

TEST(leftovers_a_replaced_tree_is_moved_back_only_when_its_name_is_empty) {
    char out[512], name[256];
    snprintf(out, sizeof out, "%s/leftovers-replaced", test_tmpdir());
    bert_dir_remove(out, NULL);
    mkdir(out, 0755);
    long dead = dead_pid();
    snprintf(name, sizeof name, ".best.replaced.%ld.0", dead);
    make_tree(out, name);
    snprintf(name, sizeof name, ".checkpoint-7.replaced.%ld.1", dead);
    make_tree(out, name);
    make_tree(out, "checkpoint-7");
    bert_loop_params p = bert_loop_default_params();
    p.output_dir = out;
    int n = -1;
    bert_error err;
    CHECK_OK(train_clean_leftovers(&p, &n, &err), err);
    CHECK(n == 2);
    CHECK(has(out, "best/f") && has(out, "checkpoint-7/f"));
    CHECK(!has(out, name));
    bert_dir_remove(out, NULL);
}

TEST(leftovers_dir_install_swaps_a_tree_in_whole) {
    char dir[512], tmp[600], target[600];
    snprintf(dir, sizeof dir, "%s/leftovers-install", test_tmpdir());
    bert_dir_remove(dir, NULL);
    mkdir(dir, 0755);
    make_tree(dir, "new");
    make_tree(dir, "target");
    char extra[700];
    snprintf(extra, sizeof extra, "%s/target/old-only", dir);
    FILE *f = fopen(extra, "w");
    if (f) fclose(f);
    snprintf(tmp, sizeof tmp, "%s/new", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    bert_error err;
    CHECK_OK(bert_dir_install(tmp, target, &err), err);
    CHECK(has(dir, "target/f") && !has(dir, "target/old-only") && !has(dir, "new"));
    /* Into an empty name too. */
    make_tree(dir, "new");
    snprintf(target, sizeof target, "%s/fresh", dir);
    CHECK_OK(bert_dir_install(tmp, target, &err), err);
    CHECK(has(dir, "fresh/f") && !has(dir, "new"));
    CHECK_ERR(bert_dir_install(tmp, target, &err), err, BERT_ERR_INPUT, "not a directory");
    bert_dir_remove(dir, NULL);
}
