/* fs.h — copying and removing files and directory trees without a shell.
 *
 * Paths are passed to the system calls as they are: quotes, spaces and
 * newlines in a name need no escaping. Every function works on a temporary
 * name in the destination's own directory and renames at the end, so an
 * interrupted call leaves either the old state or the new one under the
 * real name, plus at most one hidden temporary entry (".NAME.copying.PID",
 * ".NAME.removing.PID.N", ".NAME.tmp.PID", or ".NAME.replaced.PID.N"
 * where a file system cannot exchange two names) beside it;
 * bert_dir_clean_leftovers removes such entries. */
#ifndef BERT_IO_FS_H
#define BERT_IO_FS_H

#include "bert.h"

/* Remove the directory `path` and everything under it (as `rm -rf`, with no
 * shell). The directory is first renamed to ".NAME.removing.PID.N" in the
 * same parent, then emptied and removed, so a crash part-way never leaves a
 * half-deleted tree under the real name. Symbolic links are removed, never
 * followed (a link named by `path` itself is unlinked). A path that does not
 * exist is not an error. Refuses (BERT_ERR_INPUT) "", "/", and paths whose
 * last component is "." or "..", and a path that is neither a directory nor
 * a link. On a failure after the rename the message names where the rest
 * was left. */
bert_status bert_dir_remove(const char *path, bert_error *err);

/* Copy the directory tree `from` to `to`: directories, regular files (each
 * written and fsync'd) and symbolic links (recreated with the same target,
 * as `cp -r` does) are copied into ".NAME.copying.PID" beside `to`, which is
 * then renamed to `to`. An existing directory `to` is replaced as
 * bert_dir_install does (exchanged with the copy in one rename, then the
 * old tree removed). `from` may be a link
 * to a directory; links inside it are not followed. Other kinds of entry
 * (devices, sockets, FIFOs) fail with BERT_ERR_UNSUPPORTED, copying a tree
 * into itself with BERT_ERR_INPUT. A failure before the copy is in place
 * removes the temporary copy and leaves `to` untouched; one after it
 * (syncing the directory, removing the old tree) is reported with `to`
 * already the whole new copy. */
bert_status bert_dir_copy(const char *from, const char *to, bert_error *err);

/* Copy the regular file `from` (a link to one is followed) to `to` through
 * ".NAME.tmp.PID" in `to`'s directory: written, fsync'd, then renamed over
 * `to`, so readers see the old file or the whole new one. The copy keeps
 * `from`'s permission bits (less the umask). */
bert_status bert_file_copy(const char *from, const char *to, bert_error *err);

/* Put the finished directory tree `tmp` in place as `dir` (both in the
 * same file system): renamed when `dir` does not exist, else exchanged with
 * it in one rename (renameat2 RENAME_EXCHANGE; where that is unsupported,
 * the old tree is moved aside first and back on failure) and the old tree
 * removed, so that `dir` names a whole tree at every moment. */
bert_status bert_dir_install(const char *tmp, const char *dir, bert_error *err);

/* Clean up, among the entries of the directory `dir` (not below it), what
 * an interrupted call of this file or of bert_atomic_open left behind for
 * a name NAME that owned(user, NAME, is_dir) accepts: ".NAME.removing.PID.N"
 * and ".NAME.copying.PID" trees are removed; a ".NAME.replaced.PID.N" tree
 * is moved back to NAME when NAME does not exist (it is then the only whole
 * copy), else removed; "NAME.tmp.PID" and ".NAME.tmp.PID" files are
 * removed. Entries of a PID that is still running (another process) are
 * left alone, as is everything else. The count of entries cleaned goes to
 * *n_cleaned (may be NULL). */
bert_status bert_dir_clean_leftovers(const char *dir, int (*owned)(void *user, const char *name, int is_dir), void *user,
                                     int *n_cleaned, bert_error *err);

#endif
