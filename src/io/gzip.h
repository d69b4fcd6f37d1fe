/* gzip.h — reading a whole file into memory, gunzipping it when it holds
 * gzip data (zlib; no shell). */
#ifndef BERT_IO_GZIP_H
#define BERT_IO_GZIP_H

#include <stddef.h>

#include "bert.h"

/* The bound bert_file_read_gz applies when asked for 0: 4 GiB. */
#define BERT_GZ_MAX_DEFAULT ((size_t)4 << 30)

/* Read all of `path` into a NUL-terminated malloc'd buffer: *out holds *len
 * bytes (len may be NULL) plus the NUL. Gzip data (recognised by its magic
 * bytes, whatever the name; concatenated members as gzip -dc reads them) is
 * decompressed; any other file passes through unchanged, except that a name
 * ending in ".gz" must hold gzip data. At most max_bytes bytes are returned
 * (0: BERT_GZ_MAX_DEFAULT); a larger result is BERT_ERR_INPUT. Errors name
 * the path: cannot open (BERT_ERR_IO), truncated or corrupt gzip data
 * (BERT_ERR_FORMAT), out of memory (BERT_ERR_NOMEM). */
bert_status bert_file_read_gz(const char *path, size_t max_bytes, char **out, size_t *len, bert_error *err);

#endif
