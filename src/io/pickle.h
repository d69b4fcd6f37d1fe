/* pickle.h — a restricted reader of Python pickles: the subset torch.save
 * writes for a state dict, read into a tree of values, never executed.
 *
 * Accepted opcodes (protocols 2 to 5): PROTO, FRAME, STOP, MARK, POP,
 * POP_MARK, the None/bool/int/float/str/bytes literals (BININT*, LONG1, BINFLOAT,
 * BINUNICODE*, SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING, BINBYTES*,
 * SHORT_BINBYTES), tuples, lists, dicts and their APPEND(S)/SETITEM(S),
 * the memo (BINPUT, LONG_BINPUT, MEMOIZE, BINGET, LONG_BINGET), GLOBAL and
 * STACK_GLOBAL of the allowed globals, REDUCE, BUILD on a dict and
 * BINPERSID. Allowed globals: collections.OrderedDict (REDUCE with no
 * arguments makes an empty dict), torch._utils._rebuild_tensor_v2 and
 * torch._utils._rebuild_parameter (REDUCE records the call, with its
 * arguments, as a PK_CALL value for the caller to interpret) and the typed
 * storage classes torch.FloatStorage, HalfStorage, BFloat16Storage,
 * DoubleStorage, LongStorage, IntStorage, ShortStorage, CharStorage,
 * ByteStorage and BoolStorage (values inside persistent ids). Every other
 * opcode or global is refused with an error naming it (INST, OBJ, NEWOBJ,
 * EXT*, PERSID, text-protocol literals, "os.system", "builtins.eval", ...).
 *
 * Memory is linear in the pickle's length: every value comes from one
 * opcode of at least one byte, strings point into the input, and memo
 * indices must be dense (as Python writes them). Nothing recurses over the
 * values, so cycles built through the memo are harmless. */
#ifndef BERT_IO_PICKLE_H
#define BERT_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "bert.h"

typedef enum {
    PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_BYTES,
    PK_TUPLE, PK_LIST, PK_DICT, PK_GLOBAL, PK_CALL, PK_PERSID
} pk_kind;

/* The globals a state dict may name. */
typedef enum {
    PK_G_ORDERED_DICT, PK_G_REBUILD_TENSOR_V2, PK_G_REBUILD_PARAMETER,
    PK_G_FLOAT_STORAGE, PK_G_HALF_STORAGE, PK_G_BFLOAT16_STORAGE, PK_G_DOUBLE_STORAGE,
    PK_G_LONG_STORAGE, PK_G_INT_STORAGE, PK_G_SHORT_STORAGE, PK_G_CHAR_STORAGE,
    PK_G_BYTE_STORAGE, PK_G_BOOL_STORAGE, PK_G_COUNT
} pk_global;

typedef struct pk_value pk_value;
struct pk_value {
    pk_kind kind;
    int64_t i;                 /* PK_BOOL, PK_INT; PK_GLOBAL: a pk_global */
    double f;                  /* PK_FLOAT */
    const unsigned char *s;    /* PK_STR, PK_BYTES, PK_BIGINT (little-endian two's complement): */
    size_t len;                /*   bytes in the input, not NUL-terminated */
    pk_value **items;          /* PK_TUPLE, PK_LIST: n items; PK_DICT: keys and values alternating (n even); */
    size_t n, cap;             /*   PK_CALL: items[0] the callable (PK_GLOBAL), items[1] the argument tuple;
                                *   PK_PERSID: items[0] the persistent id */
};

/* The values of one pickle; they are freed together. */
typedef struct {
    pk_value *root;   /* what STOP returned */
    pk_value **all;   /* every value made, for pk_free */
    size_t n_all, cap_all;
} pk_doc;

/* Read one pickle from data[0..size): *used gets the bytes up to and
 * including its STOP (a stream may hold several pickles back to back). The
 * values' strings point into data, which must outlive doc. Errors
 * (BERT_ERR_FORMAT) give the byte offset and name the opcode or global. */
bert_status pk_load(const unsigned char *data, size_t size, size_t *used, pk_doc *doc, bert_error *err);
void pk_free(pk_doc *doc);

/* The global's dotted name ("torch.FloatStorage"). */
const char *pk_global_name(pk_global g);

/* v is a PK_STR equal to s. */
int pk_is_str(const pk_value *v, const char *s);

/* The value of key (a PK_STR) in dict d, or NULL. */
const pk_value *pk_dict_get(const pk_value *d, const char *key);

#endif
