/* test_fs.c — copying and removing trees without a shell: names with
 * quotes, spaces and newlines, links never followed, nothing left behind. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fs.h"
#include "test.h"

/* A name a shell command pasted between quotes would break on. */
#define ODD "it's \"odd\"\nname $(x) `y`"

/* A fresh directory under the test run's tmpdir: base/tag. */
static void fresh_dir(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/fs-%s", test_tmpdir(), tag);
    bert_dir_remove(buf, NULL);
    mkdir(buf, 0755);
}

static int file_is(const char *path, const char *want) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Entries of dir whose names start with '.' (the temporaries fs.c uses). */
static int hidden_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* base/ODD/{a.txt, "sub dir"/b.txt, empty/, link -> a.txt} */
static void make_tree(char *src, size_t cap, const char *base) {
    char p[1024];
    snprintf(src, cap, "%s/" ODD, base);
    mkdir(src, 0755);
    snprintf(p, sizeof p, "%s/a.txt", src);
    test_write_file(p, "alpha", 5);
    snprintf(p, sizeof p, "%s/sub dir", src);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sub dir/b 'q'.txt", src);
    test_write_file(p, "beta", 4);
    snprintf(p, sizeof p, "%s/empty", src);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/link", src);
    CHECK(symlink("a.txt", p) == 0);
}

TEST(fs_dir_copy_copies_a_tree_with_odd_names) {
    char base[512], src[640], dst[640], p[1024];
    fresh_dir(base, sizeof base, "copy");
    make_tree(src, sizeof src, base);
    snprintf(dst, sizeof dst, "%s/copy of " ODD, base);
    bert_error err;
    CHECK_OK(bert_dir_copy(src, dst, &err), err);
    snprintf(p, sizeof p, "%s/a.txt", dst);
    CHECK(file_is(p, "alpha"));
    snprintf(p, sizeof p, "%s/sub dir/b 'q'.txt", dst);
    CHECK(file_is(p, "beta"));
    snprintf(p, sizeof p, "%s/empty", dst);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/link", dst);
    char target[64] = {0};
    CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && readlink(p, target, sizeof target - 1) == 5 &&
          strcmp(target, "a.txt") == 0);
    CHECK(hidden_entries(base) == 0);
}

TEST(fs_dir_copy_replaces_an_existing_directory) {
    char base[512], src[640], dst[640], p[1024];
    fresh_dir(base, sizeof base, "replace");
    make_tree(src, sizeof src, base);
    snprintf(dst, sizeof dst, "%s/best", base);
    mkdir(dst, 0755);
    snprintf(p, sizeof p, "%s/stale.txt", dst);
    test_write_file(p, "old", 3);
    bert_error err;
    CHECK_OK(bert_dir_copy(src, dst, &err), err);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/a.txt", dst);
    CHECK(file_is(p, "alpha"));
    CHECK(hidden_entries(base) == 0);
    /* a file in the way is not replaced */
    snprintf(p, sizeof p, "%s/plain", base);
    test_write_file(p, "x", 1);
    CHECK_ERR(bert_dir_copy(src, p, &err), err, BERT_ERR_INPUT, "not a directory");
    CHECK(file_is(p, "x") && hidden_entries(base) == 0);
}

TEST(fs_dir_copy_errors) {
    char base[512], src[640], p[1024];
    fresh_dir(base, sizeof base, "copy-errors");
    make_tree(src, sizeof src, base);
    bert_error err;
    snprintf(p, sizeof p, "%s/missing", base);
    CHECK_ERR(bert_dir_copy(p, src, &err), err, BERT_ERR_IO, "missing");
    /* into itself: refused, and nothing is left inside */
    snprintf(p, sizeof p, "%s/inner", src);
    CHECK_ERR(bert_dir_copy(src, p, &err), err, BERT_ERR_INPUT, "into itself");
    CHECK(!exists(p) && hidden_entries(src) == 0);
    CHECK_ERR(bert_dir_copy(src, "", &err), err, BERT_ERR_INPUT, "refusing");
}

TEST(fs_dir_remove_removes_the_tree_and_not_what_links_point_to) {
    char base[512], src[640], outside[640], p[1024];
    fresh_dir(base, sizeof base, "remove");
    make_tree(src, sizeof src, base);
    /* a link inside the tree to a directory outside it */
    snprintf(outside, sizeof outside, "%s/outside", base);
    mkdir(outside, 0755);
    snprintf(p, sizeof p, "%s/keep.txt", outside);
    test_write_file(p, "kept", 4);
    char link[1024];
    snprintf(link, sizeof link, "%s/sub dir/to-outside", src);
    CHECK(symlink(outside, link) == 0);
    bert_error err;
    CHECK_OK(bert_dir_remove(src, &err), err);
    CHECK(!exists(src));
    CHECK(file_is(p, "kept"));
    CHECK(hidden_entries(base) == 0);
    /* a path that is not there: nothing to do */
    CHECK_OK(bert_dir_remove(src, &err), err);
    /* a link given as the path: the link goes, its target stays */
    snprintf(link, sizeof link, "%s/link to outside", base);
    CHECK(symlink(outside, link) == 0);
    CHECK_OK(bert_dir_remove(link, &err), err);
    CHECK(!exists(link) && file_is(p, "kept"));
    /* trailing slashes name the same directory */
    snprintf(link, sizeof link, "%s//", outside);
    CHECK_OK(bert_dir_remove(link, &err), err);
    CHECK(!exists(outside) && hidden_entries(base) == 0);
}

TEST(fs_dir_remove_refuses_dangerous_paths) {
    bert_error err;
    static const char *const bad[] = {"", "/", "//", ".", "..", "./", "a/..", "a/.", "../"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(bert_dir_remove(bad[i], &err), err, BERT_ERR_INPUT, "refusing");
    char p[640];
    snprintf(p, sizeof p, "%s/fs-a-file", test_tmpdir());
    test_write_file(p, "x", 1);
    CHECK_ERR(bert_dir_remove(p, &err), err, BERT_ERR_INPUT, "not a directory");
    CHECK(file_is(p, "x"));
}

TEST(fs_file_copy_replaces_atomically) {
    char base[512], from[640], to[640];
    fresh_dir(base, sizeof base, "file");
    snprintf(from, sizeof from, "%s/" ODD ".txt", base);
    snprintf(to, sizeof to, "%s/copy 'of' it", base);
    test_write_file(from, "new contents", 12);
    chmod(from, 0640);
    test_write_file(to, "old", 3);
    bert_error err;
    CHECK_OK(bert_file_copy(from, to, &err), err);
    CHECK(file_is(to, "new contents"));
    struct stat st;
    CHECK(stat(to, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK(hidden_entries(base) == 0);
    /* an empty file */
    test_write_file(from, "", 0);
    CHECK_OK(bert_file_copy(from, to, &err), err);
    CHECK(file_is(to, ""));
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nope", base);
    CHECK_ERR(bert_file_copy(missing, to, &err), err, BERT_ERR_IO, "nope");
    CHECK_ERR(bert_file_copy(base, to, &err), err, BERT_ERR_INPUT, "not a regular file");
    snprintf(missing, sizeof missing, "%s/no dir/x", base);
    CHECK_ERR(bert_file_copy(from, missing, &err), err, BERT_ERR_IO, "cannot create");
    CHECK(file_is(to, "") && hidden_entries(base) == 0);
}

/* A failure part-way leaves the tree under its hidden temporary name, never
 * half-deleted under the real one (needs permissions to bite: not as root). */
TEST(fs_dir_remove_failure_leaves_nothing_under_the_real_name) {
    if (geteuid() == 0) return;
    char base[512], dir[640], p[1024];
    fresh_dir(base, sizeof base, "remove-fail");
    snprintf(dir, sizeof dir, "%s/ckpt", base);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/locked", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/locked/f", dir);
    test_write_file(p, "x", 1);
    snprintf(p, sizeof p, "%s/locked", dir);
    chmod(p, 0555);
    bert_error err;
    CHECK_ERR(bert_dir_remove(dir, &err), err, BERT_ERR_IO, "what is left is at");
    CHECK(!exists(dir) && hidden_entries(base) == 1);
    /* clean up: make it writable again and remove the moved tree */
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s/locked", base, e->d_name);
        chmod(p, 0755);
        snprintf(p, sizeof p, "%s/%s", base, e->d_name);
        CHECK_OK(bert_dir_remove(p, &err), err);
    }
    if (d) closedir(d);
    CHECK(hidden_entries(base) == 0);
}
