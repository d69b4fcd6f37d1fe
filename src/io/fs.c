/* fs.c — copying and removing files and directory trees with system calls
 * only (see fs.h). Removal walks the tree through directory descriptors
 * (openat / unlinkat with O_NOFOLLOW), so a link inside it is unlinked and
 * never followed, even if an entry is swapped for a link while it runs. */
#define _GNU_SOURCE /* renameat2 and RENAME_EXCHANGE (Linux) */
#include "io/fs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* `path` without its trailing slashes, in a malloc'd copy, and the offset of
 * its last component. Fails with BERT_ERR_INPUT for "", "/" and a last
 * component "." or "..": names no copy or removal should ever replace. */
static bert_status split_target(const char *path, char **trimmed, size_t *base, bert_error *err) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    const char *last = path + b;
    size_t last_len = n - b;
    if (n == 0 || last_len == 0 || (last_len == 1 && last[0] == '.') || (last_len == 2 && last[0] == '.' && last[1] == '.'))
        return bert_fail(err, BERT_ERR_INPUT, "refusing to replace or remove \"%s\"", path);
    char *t = malloc(n + 1);
    if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    memcpy(t, path, n);
    t[n] = '\0';
    *trimmed = t;
    *base = b;
    return BERT_OK;
}

/* "DIR/.NAME.TAG.PID" (n < 0) or "DIR/.NAME.TAG.PID.N" beside the entry
 * trimmed[base..] of `trimmed`; malloc'd, NULL when out of memory. */
static char *hidden_name(const char *trimmed, size_t base, const char *tag, long n) {
    size_t cap = strlen(trimmed) + strlen(tag) + 48;
    char *s = malloc(cap);
    if (!s) return NULL;
    if (n < 0)
        snprintf(s, cap, "%.*s.%s.%s.%ld", (int)base, trimmed, trimmed + base, tag, (long)getpid());
    else
        snprintf(s, cap, "%.*s.%s.%s.%ld.%ld", (int)base, trimmed, trimmed + base, tag, (long)getpid(), n);
    return s;
}

/* a + "/" + b, malloc'd; NULL when out of memory. */
static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

/* fsync the directory holding trimmed[base..], so that a rename in it is on
 * disk. A file system that cannot sync directories (EINVAL, ENOTSUP) is
 * not an error; any other failure (EIO) is, naming the directory. */
static bert_status sync_parent(const char *trimmed, size_t base, bert_error *err) {
    char *dir = base == 0 ? NULL : malloc(base + 1);
    if (base != 0 && !dir) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (dir) memcpy(dir, trimmed, base), dir[base] = '\0';
    bert_status rc = BERT_OK;
    int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP)
            rc = bert_fail(err, BERT_ERR_IO, "%s: fsync failed: %s", dir ? dir : ".", strerror(errno));
        close(fd);
    }
    free(dir);
    return rc;
}

/* ---- removal ------------------------------------------------------------- */

static bert_status remove_entry(int dfd, const char *name, const char *shown, bert_error *err);

/* Remove everything inside the directory open as fd (fd is consumed);
 * `shown` is its path, for messages. */
static bert_status empty_dir(int fd, const char *shown, bert_error *err) {
    DIR *d = fdopendir(fd);
    if (!d) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot read: %s", shown, strerror(errno));
        close(fd);
        return rc;
    }
    bert_status rc = BERT_OK;
    struct dirent *e;
    errno = 0;
    while (rc == BERT_OK && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) rc = remove_entry(dirfd(d), e->d_name, shown, err);
        errno = 0;
    }
    if (rc == BERT_OK && errno != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot read: %s", shown, strerror(errno));
    closedir(d);
    return rc;
}

/* Remove the entry `name` of the directory open as dfd: a directory with
 * its contents, anything else (links included) with unlink. */
static bert_status remove_entry(int dfd, const char *name, const char *shown, bert_error *err) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return BERT_OK;
        return bert_fail(err, BERT_ERR_IO, "%s/%s: %s", shown, name, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            return bert_fail(err, BERT_ERR_IO, "%s/%s: cannot remove: %s", shown, name, strerror(errno));
        return BERT_OK;
    }
    char *child = join(shown, name);
    if (!child) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", child, strerror(errno));
    if (rc == BERT_OK) rc = empty_dir(fd, child, err);
    if (rc == BERT_OK && unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot remove: %s", child, strerror(errno));
    free(child);
    return rc;
}

/* Rename trimmed (an entry of its parent) to a fresh hidden name beside it,
 * returned in *moved (malloc'd). */
static bert_status move_aside(const char *trimmed, size_t base, const char *tag, char **moved, bert_error *err) {
    for (long n = 0; n < 1000; n++) {
        char *name = hidden_name(trimmed, base, tag, n);
        if (!name) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        struct stat st;
        if (lstat(name, &st) != 0 && errno == ENOENT) {
            if (rename(trimmed, name) == 0) {
                *moved = name;
                return BERT_OK;
            }
            bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot rename to %s: %s", trimmed, name, strerror(errno));
            free(name);
            return rc;
        }
        free(name);
    }
    return bert_fail(err, BERT_ERR_IO, "%s: no free temporary name beside it", trimmed);
}

bert_status bert_dir_remove(const char *path, bert_error *err) {
    char *trimmed = NULL, *moved = NULL;
    size_t base;
    bert_status rc = split_target(path, &trimmed, &base, err);
    if (rc != BERT_OK) return rc;
    struct stat st;
    if (lstat(trimmed, &st) != 0) {
        if (errno != ENOENT) rc = bert_fail(err, BERT_ERR_IO, "%s: %s", trimmed, strerror(errno));
    } else if (S_ISLNK(st.st_mode)) {
        if (unlink(trimmed) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot remove: %s", trimmed, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        rc = bert_fail(err, BERT_ERR_INPUT, "%s: not a directory", trimmed);
    } else if ((rc = move_aside(trimmed, base, "removing", &moved, err)) == BERT_OK) {
        /* The tree is out of its name: remove it even when the directory
         * could not be synced, and report that failure afterwards. */
        bert_error sync_err;
        bert_status synced = sync_parent(trimmed, base, &sync_err);
        int fd = open(moved, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", moved, strerror(errno));
        if (rc == BERT_OK) rc = empty_dir(fd, moved, err);
        if (rc == BERT_OK && rmdir(moved) != 0)
            rc = bert_fail(err, BERT_ERR_IO, "%s: cannot remove: %s", moved, strerror(errno));
        if (rc != BERT_OK) bert_error_prefix(err, "removing %s (what is left is at %s)", trimmed, moved);
        else if (synced != BERT_OK) rc = bert_fail(err, synced, "removing %s: %s", trimmed, sync_err.message);
    }
    free(moved);
    free(trimmed);
    return rc;
}

/* ---- copying --------------------------------------------------------------- */

/* Write n bytes of buf to fd, across short writes. */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w, n -= (size_t)w;
    }
    return 0;
}

/* Copy the regular file from (opened with O_NOFOLLOW when !follow) into the
 * new file to (which must not exist), with permission bits mode, then fsync
 * it. On failure to is removed. */
static bert_status copy_regular(const char *from, const char *to, int follow, mode_t mode, bert_error *err) {
    int in = open(from, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (in < 0) return bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", to, strerror(errno));
        close(in);
        return rc;
    }
    enum { CHUNK = 1 << 18 };
    char *buf = malloc(CHUNK);
    bert_status rc = buf ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    while (rc == BERT_OK) {
        ssize_t r = read(in, buf, CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = bert_fail(err, BERT_ERR_IO, "%s: read failed: %s", from, strerror(errno));
        if (r <= 0) break;
        if (write_all(out, buf, (size_t)r) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: write failed: %s", to, strerror(errno));
    }
    free(buf);
    if (rc == BERT_OK && fsync(out) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: fsync failed: %s", to, strerror(errno));
    if (close(out) != 0 && rc == BERT_OK) rc = bert_fail(err, BERT_ERR_IO, "%s: write failed: %s", to, strerror(errno));
    close(in);
    if (rc != BERT_OK) unlink(to);
    return rc;
}

/* What fill_dir must not descend into: the copy being made. */
typedef struct {
    dev_t dev;
    ino_t ino;
} tree_root;

static bert_status fill_dir(const char *from, const char *to, mode_t mode, const tree_root *dest, bert_error *err);

/* Recreate the link src (st: its lstat) as dst. */
static bert_status copy_link(const char *src, const char *dst, const struct stat *st, bert_error *err) {
    size_t cap = (size_t)st->st_size + 2;
    char *target = malloc(cap);
    if (!target) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    ssize_t n = readlink(src, target, cap);
    bert_status rc = BERT_OK;
    if (n < 0 || (size_t)n >= cap) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot read the link", src);
    if (rc == BERT_OK) target[n] = '\0';
    if (rc == BERT_OK && symlink(target, dst) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", dst, strerror(errno));
    free(target);
    return rc;
}

/* Copy src (an entry of a directory being copied; not followed when a
 * link) to the new path dst. */
static bert_status copy_path(const char *src, const char *dst, const tree_root *dest, bert_error *err) {
    struct stat st;
    if (lstat(src, &st) != 0) return bert_fail(err, BERT_ERR_IO, "%s: %s", src, strerror(errno));
    if (S_ISREG(st.st_mode)) return copy_regular(src, dst, 0, st.st_mode, err);
    if (S_ISLNK(st.st_mode)) return copy_link(src, dst, &st, err);
    if (!S_ISDIR(st.st_mode))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: not a regular file, directory or link; not copied", src);
    if (st.st_dev == dest->dev && st.st_ino == dest->ino)
        return bert_fail(err, BERT_ERR_INPUT, "%s: cannot copy a directory into itself", src);
    if (mkdir(dst, 0700) != 0) return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", dst, strerror(errno));
    return fill_dir(src, dst, st.st_mode, dest, err);
}

/* Copy the entries of the directory from into the new, empty directory to,
 * fsync it, and give it the permission bits mode (with owner rwx). */
static bert_status fill_dir(const char *from, const char *to, mode_t mode, const tree_root *dest, bert_error *err) {
    DIR *d = opendir(from);
    if (!d) return bert_fail(err, BERT_ERR_IO, "%s: cannot read: %s", from, strerror(errno));
    bert_status rc = BERT_OK;
    struct dirent *e;
    errno = 0;
    while (rc == BERT_OK && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char *src = join(from, e->d_name), *dst = join(to, e->d_name);
            rc = src && dst ? copy_path(src, dst, dest, err) : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            free(src);
            free(dst);
        }
        errno = 0;
    }
    if (rc == BERT_OK && errno != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot read: %s", from, strerror(errno));
    closedir(d);
    int fd = rc == BERT_OK ? open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        if (fsync(fd) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: fsync failed: %s", to, strerror(errno));
        close(fd);
    }
    if (rc == BERT_OK && chmod(to, (mode & 0777) | 0700) != 0)
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot set permissions: %s", to, strerror(errno));
    return rc;
}

/* Put the finished tree tmp in place as trimmed: renamed there when
 * trimmed does not exist; else swapped with the directory there in one
 * renameat2(RENAME_EXCHANGE), so that trimmed always names a whole tree,
 * and the old tree (now at tmp) removed. Where the exchange is not
 * supported, the old tree is moved aside first and moved back if the
 * rename fails. */
static bert_status put_in_place(const char *tmp, const char *trimmed, size_t base, bert_error *err) {
    struct stat st;
    char *old = NULL;
    bert_status rc = BERT_OK;
    if (lstat(trimmed, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return bert_fail(err, BERT_ERR_INPUT, "%s: exists and is not a directory", trimmed);
#ifdef RENAME_EXCHANGE
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, trimmed, RENAME_EXCHANGE) == 0) {
            rc = sync_parent(trimmed, base, err);
            bert_status rm = bert_dir_remove(tmp, rc == BERT_OK ? err : NULL);
            return rc == BERT_OK ? rm : rc;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
            return bert_fail(err, BERT_ERR_IO, "%s: cannot rename to %s: %s", tmp, trimmed, strerror(errno));
#endif
        if ((rc = move_aside(trimmed, base, "replaced", &old, err)) != BERT_OK) return rc;
    }
    if (rename(tmp, trimmed) != 0) {
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot rename to %s: %s", tmp, trimmed, strerror(errno));
        if (old) (void)rename(old, trimmed);
    } else {
        rc = sync_parent(trimmed, base, err);
        if (old) {
            bert_status rm = bert_dir_remove(old, rc == BERT_OK ? err : NULL);
            if (rc == BERT_OK) rc = rm;
        }
    }
    free(old);
    return rc;
}

bert_status bert_dir_copy(const char *from, const char *to, bert_error *err) {
    char *trimmed = NULL, *tmp = NULL;
    size_t base;
    struct stat src, made = {0};
    if (stat(from, &src) != 0) return bert_fail(err, BERT_ERR_IO, "%s: %s", from, strerror(errno));
    if (!S_ISDIR(src.st_mode)) return bert_fail(err, BERT_ERR_INPUT, "%s: not a directory", from);
    bert_status rc = split_target(to, &trimmed, &base, err);
    if (rc == BERT_OK && !(tmp = hidden_name(trimmed, base, "copying", -1))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = bert_dir_remove(tmp, err); /* a stale copy of a crashed run with this pid */
    if (rc == BERT_OK && mkdir(tmp, 0700) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    if (rc == BERT_OK) {
        if (stat(tmp, &made) != 0) rc = bert_fail(err, BERT_ERR_IO, "%s: %s", tmp, strerror(errno));
        tree_root dest = {made.st_dev, made.st_ino};
        if (rc == BERT_OK) rc = fill_dir(from, tmp, src.st_mode, &dest, err);
        if (rc == BERT_OK) rc = put_in_place(tmp, trimmed, base, err);
        if (rc != BERT_OK) bert_dir_remove(tmp, NULL);
    }
    free(tmp);
    free(trimmed);
    return rc;
}

bert_status bert_file_copy(const char *from, const char *to, bert_error *err) {
    struct stat st;
    if (stat(from, &st) != 0) return bert_fail(err, BERT_ERR_IO, "%s: %s", from, strerror(errno));
    if (!S_ISREG(st.st_mode)) return bert_fail(err, BERT_ERR_INPUT, "%s: not a regular file", from);
    char *trimmed = NULL, *tmp = NULL;
    size_t base;
    bert_status rc = split_target(to, &trimmed, &base, err);
    if (rc == BERT_OK && !(tmp = hidden_name(trimmed, base, "tmp", -1))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) {
        unlink(tmp); /* a stale one of a crashed run with this pid */
        rc = copy_regular(from, tmp, 1, st.st_mode, err);
    }
    if (rc == BERT_OK && rename(tmp, trimmed) != 0) {
        rc = bert_fail(err, BERT_ERR_IO, "%s: cannot rename to %s: %s", tmp, trimmed, strerror(errno));
        unlink(tmp);
    }
    if (rc == BERT_OK) rc = sync_parent(trimmed, base, err);
    free(tmp);
    free(trimmed);
    return rc;
}

bert_status bert_dir_install(const char *tmp, const char *dir, bert_error *err) {
    char *trimmed = NULL;
    size_t base;
    struct stat st;
    if (lstat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) return bert_fail(err, BERT_ERR_INPUT, "%s: not a directory", tmp);
    bert_status rc = split_target(dir, &trimmed, &base, err);
    if (rc == BERT_OK) rc = put_in_place(tmp, trimmed, base, err);
    free(trimmed);
    return rc;
}

/* ---- leftovers of interrupted calls ------------------------------------------ */

/* 1 when s[0..n) is one or more decimal digits. */
static int all_digits(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* A temporary name: "NAME.TAG.PID" or, with `counted`, "NAME.TAG.PID.N",
 * where NAME starts after `skip` characters ("." for hidden names). On a
 * match: the length of NAME in *name_len, the PID in *pid. */
static int parse_temp(const char *e, size_t skip, const char *tag, int counted, size_t *name_len, long *pid) {
    size_t len = strlen(e), tl = strlen(tag);
    size_t end = len;
    if (counted) { /* strip ".N" */
        const char *dot = strrchr(e, '.');
        if (!dot || !all_digits(dot + 1, (size_t)(e + len - dot - 1))) return 0;
        end = (size_t)(dot - e);
    }
    size_t p = end; /* the PID: digits before end, after a '.' */
    while (p > 0 && isdigit((unsigned char)e[p - 1])) p--;
    if (p == end || p < tl + 2 + skip || e[p - 1] != '.' || e[p - 2 - tl] != '.') return 0;
    if (memcmp(e + p - 1 - tl, tag, tl) != 0) return 0;
    size_t nl = p - 2 - tl;
    if (nl <= skip || end - p > 9) return 0;
    *name_len = nl - skip;
    *pid = strtol(e + p, NULL, 10);
    return 1;
}

/* 1 when process pid is running and is not this one. */
static int pid_running(long pid) {
    if (pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* What to do with one entry `e` of dir (whose path is `path`). */
static bert_status clean_entry(const char *dir, const char *e, const char *path, int (*owned)(void *, const char *, int),
                               void *user, int *n_cleaned, bert_error *err) {
    static const struct {
        const char *tag;
        int hidden, counted, is_dir;
    } kinds[] = {{"removing", 1, 1, 1}, {"copying", 1, 0, 1}, {"replaced", 1, 1, 1}, {"tmp", 1, 0, 0}, {"tmp", 0, 0, 0}};
    struct stat st;
    if (lstat(path, &st) != 0) return BERT_OK;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t nl;
        long pid;
        if (kinds[k].hidden && e[0] != '.') continue;
        if (kinds[k].is_dir != !!S_ISDIR(st.st_mode)) continue;
        if (!parse_temp(e, (size_t)kinds[k].hidden, kinds[k].tag, kinds[k].counted, &nl, &pid)) continue;
        char name[256];
        if (nl >= sizeof name) continue;
        memcpy(name, e + kinds[k].hidden, nl);
        name[nl] = '\0';
        if (!owned(user, name, kinds[k].is_dir) || pid_running(pid)) continue;
        bert_status rc;
        if (!kinds[k].is_dir) {
            rc = unlink(path) == 0 || errno == ENOENT ? BERT_OK : bert_fail(err, BERT_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
        } else {
            /* A tree moved aside to be replaced is the only whole copy when
             * its name is empty (the process died between the two renames). */
            char *real = join(dir, name);
            if (!real) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            struct stat rs;
            if (strcmp(kinds[k].tag, "replaced") == 0 && lstat(real, &rs) != 0 && errno == ENOENT)
                rc = rename(path, real) == 0 ? BERT_OK : bert_fail(err, BERT_ERR_IO, "%s: cannot rename to %s: %s", path, real, strerror(errno));
            else
                rc = bert_dir_remove(path, err);
            free(real);
        }
        if (rc == BERT_OK && n_cleaned) (*n_cleaned)++;
        return rc;
    }
    return BERT_OK;
}

bert_status bert_dir_clean_leftovers(const char *dir, int (*owned)(void *user, const char *name, int is_dir), void *user,
                                     int *n_cleaned, bert_error *err) {
    if (n_cleaned) *n_cleaned = 0;
    if (!dir || !owned) return bert_fail(err, BERT_ERR_INPUT, "bert_dir_clean_leftovers needs a directory and a name test");
    DIR *d = opendir(dir);
    if (!d) return bert_fail(err, BERT_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    /* The names first: the cleaning renames and removes entries of dir. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    bert_status rc = BERT_OK;
    for (struct dirent *e; rc == BERT_OK && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (!strstr(e->d_name, ".removing.") && !strstr(e->d_name, ".copying.") && !strstr(e->d_name, ".replaced.") &&
            !strstr(e->d_name, ".tmp."))
            continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 16;
            char **g = realloc(names, c * sizeof *g);
            if (!g) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
            else names = g, cap = c;
        }
        if (rc == BERT_OK && !(names[n++] = strdup(e->d_name))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    for (size_t i = 0; rc == BERT_OK && i < n; i++) {
        char *path = names[i] ? join(dir, names[i]) : NULL;
        rc = path ? clean_entry(dir, names[i], path, owned, user, n_cleaned, err) : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
