/* safetensors.h — reading and writing the safetensors format.
 *
 * Layout: u64 little-endian N, N bytes of JSON header
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data buffer; offsets are relative to the buffer's start.
 * The reader validates the file as strictly as the reference Rust crate:
 * the header must fit in the file, every tensor's byte count must equal its
 * shape times its dtype size, and the tensors must tile the buffer exactly
 * (no overlap, no gap, nothing out of range). */
#ifndef BERT_IO_SAFETENSORS_H
#define BERT_IO_SAFETENSORS_H

#include <stdint.h>

#include "bert.h"
#include "io/file.h"

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16,
    ST_BF16, ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_N_DTYPES
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *data; /* points into the file's bytes */
    size_t nbytes;
} st_tensor;

typedef struct {
    char *path;
    bert_file file;
    st_tensor *tensors;
    int n_tensors;
} st_file;

/* The dtype's name as written in headers ("F32") and its size in bytes. */
const char *st_dtype_name(st_dtype t);
size_t st_dtype_size(st_dtype t);

/* Open and validate a safetensors file. */
bert_status st_open(const char *path, int use_mmap, st_file *out, bert_error *err);
void st_close(st_file *f);

/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);

/* One tensor to write: data holds numel(shape) * dtype size bytes. */
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} st_write_tensor;

/* Write tensors to path atomically (temporary file, then rename). The
 * header is padded with spaces to a multiple of 8 bytes so that every
 * tensor of a mapped file is aligned. metadata_json, when non-NULL, is a
 * JSON object text stored under "__metadata__". */
bert_status st_write(const char *path, const st_write_tensor *tensors, int n, const char *metadata_json,
                     bert_error *err);

#endif
