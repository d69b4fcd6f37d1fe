/* file.c — file access for the loaders. Every error names the path. */
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): posix_madvise's DONTNEED is a no-op in glibc */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

bert_status bert_file_open(const char *path, int use_mmap, bert_file *out, bert_error *err) {
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer
     * before the regular-file check refuses it; reads of a regular file
     * ignore the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bert_fail(err, BERT_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    out->size = size;
    if (size == 0) {
        close(fd);
        return BERT_OK;
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED) return bert_fail(err, BERT_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        out->data = p;
        out->mapped = 1;
        return BERT_OK;
    }
    out->data = malloc(size);
    if (!out->data) {
        close(fd);
        return bert_fail(err, BERT_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, out->data + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            bert_file_close(out);
            return bert_fail(err, BERT_ERR_IO, "%s: read failed after %zu of %zu bytes", path, got, size);
        }
        got += (size_t)n;
    }
    close(fd);
    return BERT_OK;
}

void bert_file_release(const bert_file *f, const void *p, size_t n) {
    uintptr_t b = (uintptr_t)p, e = b + n, fb = (uintptr_t)f->data, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!f->mapped || !f->data || b < fb || e > fb + f->size) return;
    b = (b + page - 1) / page * page, e = e / page * page; /* only pages wholly inside */
    if (e > b) madvise((void *)b, e - b, MADV_DONTNEED); /* advice: failure changes nothing */
}

void bert_file_close(bert_file *f) {
    if (!f) return;
    if (f->data) {
        if (f->mapped) munmap(f->data, f->size);
        else free(f->data);
    }
    memset(f, 0, sizeof *f);
}

bert_status bert_file_read_text(const char *path, char **out, size_t *len, bert_error *err) {
    bert_file f;
    bert_status rc = bert_file_open(path, 0, &f, err);
    if (rc != BERT_OK) return rc;
    char *s = malloc(f.size + 1);
    if (!s) {
        bert_file_close(&f);
        return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (f.size) memcpy(s, f.data, f.size);
    s[f.size] = '\0';
    if (len) *len = f.size;
    bert_file_close(&f);
    *out = s;
    return BERT_OK;
}

int bert_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bert_status bert_file_optional(const char *path, int *present, bert_error *err) {
    struct stat st;
    *present = 0;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return BERT_OK;
        return bert_fail(err, BERT_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return bert_fail(err, BERT_ERR_IO, "%s: not a regular file", path);
    *present = 1;
    return BERT_OK;
}

bert_status bert_path_join(char *buf, size_t cap, const char *dir, const char *name, bert_error *err) {
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] != '/';
    int n = snprintf(buf, cap, "%s%s%s", dir, slash ? "/" : "", name);
    if (n < 0 || (size_t)n >= cap) return bert_fail(err, BERT_ERR_INPUT, "path too long: %s/%s", dir, name);
    return BERT_OK;
}

bert_status bert_atomic_open(const char *path, bert_atomic_file *out, bert_error *err) {
    memset(out, 0, sizeof *out);
    size_t plen = strlen(path);
    out->path = malloc(plen + 1);
    out->tmp = malloc(plen + 32);
    if (!out->path || !out->tmp) {
        bert_atomic_abort(out);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    memcpy(out->path, path, plen + 1);
    snprintf(out->tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    out->fp = fopen(out->tmp, "wb");
    if (!out->fp) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", out->tmp, strerror(errno));
        bert_atomic_abort(out);
        return rc;
    }
    return BERT_OK;
}

bert_status bert_atomic_commit(bert_atomic_file *f, bert_error *err) {
    int ok = !ferror(f->fp) && fflush(f->fp) == 0 && fsync(fileno(f->fp)) == 0;
    ok = fclose(f->fp) == 0 && ok;
    f->fp = NULL;
    if (!ok || rename(f->tmp, f->path) != 0) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        bert_atomic_abort(f);
        return rc;
    }
    free(f->tmp);
    free(f->path);
    memset(f, 0, sizeof *f);
    return BERT_OK;
}

void bert_atomic_abort(bert_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    memset(f, 0, sizeof *f);
}

bert_status bert_file_write_atomic(const char *path, const void *data, size_t size, bert_error *err) {
    bert_atomic_file f;
    bert_status rc = bert_atomic_open(path, &f, err);
    if (rc != BERT_OK) return rc;
    if (size && fwrite(data, 1, size, f.fp) != size) {
        bert_atomic_abort(&f);
        return bert_fail(err, BERT_ERR_IO, "%s: write failed", path);
    }
    return bert_atomic_commit(&f, err);
}

bert_status bert_file_open_log(const char *path, int append, FILE **out, bert_error *err) {
    *out = NULL;
    /* O_NONBLOCK: a FIFO in its place fails the check below instead of waiting for a reader */
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0)
        return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", path,
                         errno == ELOOP ? "a symbolic link (a log is written only to a file of its own)" : strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bert_fail(err, BERT_ERR_IO, "%s: not a regular file", path);
    }
    if (fcntl(fd, F_SETFL, append ? O_APPEND : 0) != 0 || (!append && ftruncate(fd, 0) != 0) || !(*out = fdopen(fd, append ? "a" : "w"))) {
        bert_status rc = bert_fail(err, BERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    return BERT_OK;
}
