/* zip.h — a strict reader of zip archives held in memory (torch's
 * checkpoint container).
 *
 * Only what a reader of untrusted archives needs: the end-of-central-
 * directory record (zip64 when the archive needs it), the central
 * directory, each entry's local header, stored (method 0) and deflated
 * (method 8, through zlib) entries with their CRC-32 checked. Refused: an
 * archive whose records run past the end of the buffer (truncated), entry
 * names that are absolute, contain a ".." component, a backslash or a NUL,
 * or appear twice, encrypted entries, other methods, a deflated entry whose
 * declared size exceeds what deflate can produce from its compressed bytes
 * (a zip bomb), and entries that overlap the central directory. */
#ifndef BERT_IO_ZIP_H
#define BERT_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

typedef struct {
    char *name;              /* as stored, NUL-terminated */
    uint64_t data_offset;    /* of the entry's (compressed) bytes in the archive */
    uint64_t csize, usize;   /* compressed and uncompressed sizes */
    uint32_t crc;            /* CRC-32 of the uncompressed bytes */
    int method;              /* 0 stored, 8 deflated */
} zip_entry;

typedef struct {
    const unsigned char *data; /* the archive's bytes (not owned) */
    size_t size;
    zip_entry *entries;
    int n_entries;
} zip_archive;

/* The most entries an archive may have. */
#define ZIP_MAX_ENTRIES 1000000

/* Parse the archive in data[0..size) (which must outlive z): every central
 * directory record and local header is validated against size before this
 * returns. Errors (BERT_ERR_FORMAT) name the entry or record at fault. */
bert_status zip_open(const unsigned char *data, size_t size, zip_archive *z, bert_error *err);
void zip_close(zip_archive *z);

/* The entry called name, or NULL. */
const zip_entry *zip_find(const zip_archive *z, const char *name);

/* A stored entry's bytes where they lie in the archive, after checking
 * their CRC-32; NULL with BERT_ERR_FORMAT in err for a deflated entry or a
 * CRC mismatch. */
const unsigned char *zip_stored(const zip_archive *z, const zip_entry *e, bert_error *err);

/* Copy (stored) or inflate (deflated) entry e into dst, which holds
 * e->usize bytes; the output must be exactly e->usize bytes with the
 * declared CRC-32. */
bert_status zip_extract(const zip_archive *z, const zip_entry *e, unsigned char *dst, bert_error *err);

#endif
