/* torch_load.h — reading a PyTorch state dict saved by torch.save
 * (pytorch_model.bin) into the tensor views the safetensors reader gives.
 *
 * Both formats torch writes:
 *  - the zip container (torch >= 1.6): PREFIX/data.pkl, the state dict
 *    pickled with persistent ids ('storage', StorageType, key, location,
 *    numel) for its storages, each storage's bytes in PREFIX/data/KEY, and
 *    PREFIX/byteorder ("little"; absent before torch 2.1);
 *  - the legacy stream: pickles of the magic number 0x1950a86a20f9469cfc6c,
 *    the protocol version 1001 and the system info (little_endian must be
 *    true), the state dict (persistent ids with a sixth field, None), the
 *    list of storage keys, then for each key in that order an int64 element
 *    count and the storage's bytes.
 * The pickles go through the restricted reader of io/pickle.h. The state
 * dict must map names to tensors made by torch._utils._rebuild_tensor_v2
 * (or _rebuild_parameter around one): dtypes F32, F16, BF16 (and F64, I64,
 * I32, I16, I8, U8, BOOL, which load but no weight slot accepts), any
 * storage offset, contiguous strides (other strides refused), several
 * tensors on one storage allowed; every view must lie inside its storage
 * and every storage inside the file. */
#ifndef BERT_IO_TORCH_LOAD_H
#define BERT_IO_TORCH_LOAD_H

#include "bert.h"
#include "io/safetensors.h"

typedef enum { TORCH_ZIP, TORCH_LEGACY } torch_format;

/* "torch zip" / "torch legacy". */
const char *torch_format_name(torch_format f);

/* 1 when data starts like a checkpoint of either format (zip local header
 * or the legacy stream's magic-number pickle). */
int torch_looks_like_checkpoint(const unsigned char *data, size_t size);

/* Open the checkpoint at path into out, whose tensors (in the state dict's
 * order, named by its keys) point into the file's bytes (mapped when
 * use_mmap) or, when the archive holds deflated storages, into one block
 * they were inflated to; st_close frees it either way. Tensors may share
 * or overlap bytes (tied weights). format (may be NULL) gets the format
 * read. Errors name the path and the tensor, storage, entry or opcode. */
bert_status torch_open(const char *path, int use_mmap, st_file *out, torch_format *format, bert_error *err);

/* As torch_open, on bytes already in memory (the fuzz target's entry):
 * out->path and out->file are left empty and out's tensors point into data
 * (or into out->file's block when storages were inflated). On an error out
 * is empty (st_close on it is harmless). */
bert_status torch_parse(const unsigned char *data, size_t size, st_file *out, torch_format *format, bert_error *err);

#endif
