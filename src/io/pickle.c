/* pickle.c — the restricted pickle machine of pickle.h: a value stack, a
 * mark stack and a memo, each growing only as opcodes are read. */
#include "io/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static const struct {
    const char *module, *name;
} globals[PK_G_COUNT] = {
    [PK_G_ORDERED_DICT] = {"collections", "OrderedDict"},
    [PK_G_REBUILD_TENSOR_V2] = {"torch._utils", "_rebuild_tensor_v2"},
    [PK_G_REBUILD_PARAMETER] = {"torch._utils", "_rebuild_parameter"},
    [PK_G_FLOAT_STORAGE] = {"torch", "FloatStorage"},
    [PK_G_HALF_STORAGE] = {"torch", "HalfStorage"},
    [PK_G_BFLOAT16_STORAGE] = {"torch", "BFloat16Storage"},
    [PK_G_DOUBLE_STORAGE] = {"torch", "DoubleStorage"},
    [PK_G_LONG_STORAGE] = {"torch", "LongStorage"},
    [PK_G_INT_STORAGE] = {"torch", "IntStorage"},
    [PK_G_SHORT_STORAGE] = {"torch", "ShortStorage"},
    [PK_G_CHAR_STORAGE] = {"torch", "CharStorage"},
    [PK_G_BYTE_STORAGE] = {"torch", "ByteStorage"},
    [PK_G_BOOL_STORAGE] = {"torch", "BoolStorage"},
};

const char *pk_global_name(pk_global g) {
    static const char *const dotted[PK_G_COUNT] = {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage"};
    return (unsigned)g < PK_G_COUNT ? dotted[g] : "?";
}

/* Opcodes torch's state dicts never use, named in the refusal. */
static const char *refused_name(unsigned char op) {
    switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 'P': return "PERSID";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 0x8b: return "LONG4";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'F': return "FLOAT";
    case 'g': return "GET";
    case 'p': return "PUT";
    case 'l': return "LIST";
    case 'd': return "DICT";
    case '2': return "DUP";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown opcode";
    }
}

typedef struct {
    const unsigned char *d;
    size_t size, pos, op_at;
    pk_doc *doc;
    pk_value **stack;
    size_t sn, scap;
    size_t *marks;
    size_t mn, mcap;
    pk_value **memo;
    size_t memo_n, memo_cap;
    bert_error *err;
} machine;

/* Grow *v (element size es) so that it holds at least need elements. */
static int grow(void **v, size_t *cap, size_t need, size_t es) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(*v, c * es);
    if (!p) return 0;
    *v = p, *cap = c;
    return 1;
}

/* A format error at the current opcode. */
static bert_status fail(machine *m, const char *what) {
    return bert_fail(m->err, BERT_ERR_FORMAT, "pickle: %s at byte %zu", what, m->op_at);
}

/* An allocation failed. */
static bert_status nomem(machine *m) { return bert_fail(m->err, BERT_ERR_NOMEM, "out of memory reading a pickle"); }

/* A new value of kind, recorded in the document for pk_free; NULL when out of memory. */
static pk_value *new_value(machine *m, pk_kind kind) {
    pk_doc *doc = m->doc;
    if (!grow((void **)&doc->all, &doc->cap_all, doc->n_all + 1, sizeof *doc->all)) return NULL;
    pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    doc->all[doc->n_all++] = v;
    return v;
}

/* Push v (NULL: an allocation failed) onto the stack. */
static bert_status push(machine *m, pk_value *v) {
    if (!v || !grow((void **)&m->stack, &m->scap, m->sn + 1, sizeof *m->stack)) return nomem(m);
    m->stack[m->sn++] = v;
    return BERT_OK;
}

/* The top of the stack, above the innermost mark; NULL when there is none. */
static pk_value *pop(machine *m) {
    size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
    return m->sn > floor ? m->stack[--m->sn] : NULL;
}

/* Append v to container c; 0 when out of memory. */
static int add_item(pk_value *c, pk_value *v) {
    if (!grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items)) return 0;
    c->items[c->n++] = v;
    return 1;
}

/* n bytes of operand; NULL when the input ends first. */
static const unsigned char *take(machine *m, size_t n) {
    if (n > m->size - m->pos) return NULL;
    const unsigned char *p = m->d + m->pos;
    m->pos += n;
    return p;
}

/* n little-endian bytes as an unsigned integer. */
static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A string/bytes/bigint value of n bytes taken from the input. */
static bert_status push_bytes(machine *m, pk_kind kind, uint64_t n) {
    const unsigned char *p = n <= m->size ? take(m, (size_t)n) : NULL;
    if (!p) return fail(m, "string runs past the end of the data (truncated?)");
    pk_value *v = new_value(m, kind);
    if (!v) return nomem(m);
    v->s = p, v->len = (size_t)n;
    return push(m, v);
}

/* Push an integer-valued value (PK_INT, PK_BOOL or PK_GLOBAL). */
static bert_status push_int(machine *m, int64_t i, pk_kind kind) {
    pk_value *v = new_value(m, kind);
    if (!v) return nomem(m);
    v->i = i;
    return push(m, v);
}

/* LONG1: n little-endian two's complement bytes. */
static bert_status op_long1(machine *m) {
    const unsigned char *p = take(m, 1);
    if (!p) return fail(m, "LONG1 runs past the end of the data");
    size_t n = *p;
    if (n > 8) return push_bytes(m, PK_BIGINT, n);
    const unsigned char *b = take(m, n);
    if (!b) return fail(m, "LONG1 runs past the end of the data");
    uint64_t u = le(b, (int)n);
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
    return push_int(m, (int64_t)u, PK_INT);
}

/* Literals: None, bools, ints, floats, strings, bytes. Returns 0 when op is
 * not one of them. */
static int op_literal(machine *m, unsigned char op, bert_status *rc) {
    const unsigned char *p;
    switch (op) {
    case 'N': *rc = push(m, new_value(m, PK_NONE)); return 1;
    case 0x88: case 0x89: *rc = push_int(m, op == 0x88, PK_BOOL); return 1;
    case 'K': case 'M': case 'J': {
        int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if (!(p = take(m, (size_t)n))) *rc = fail(m, "integer runs past the end of the data");
        else *rc = push_int(m, n == 4 ? (int64_t)(int32_t)(uint32_t)le(p, 4) : (int64_t)le(p, n), PK_INT);
        return 1;
    }
    case 0x8a: *rc = op_long1(m); return 1;
    case 'G': {
        if (!(p = take(m, 8))) {
            *rc = fail(m, "BINFLOAT runs past the end of the data");
            return 1;
        }
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | p[i];
        pk_value *v = new_value(m, PK_FLOAT);
        if (v) memcpy(&v->f, &u, sizeof v->f);
        *rc = push(m, v);
        return 1;
    }
    case 0x8c: case 'U': case 'C': case 'X': case 'T': case 'B': case 0x8d: case 0x8e: {
        int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        if (!(p = take(m, (size_t)w))) *rc = fail(m, "string length runs past the end of the data");
        else *rc = push_bytes(m, (op == 'C' || op == 'B' || op == 0x8e) ? PK_BYTES : PK_STR, le(p, w));
        return 1;
    }
    default: return 0;
    }
}

/* The values above the innermost mark, as a new container of kind. */
static bert_status collect_mark(machine *m, pk_kind kind, pk_value **out) {
    if (!m->mn) return fail(m, "container opcode without a MARK");
    size_t at = m->marks[--m->mn];
    pk_value *v = new_value(m, kind);
    if (!v) return nomem(m);
    for (size_t i = at; i < m->sn; i++)
        if (!add_item(v, m->stack[i])) return nomem(m);
    m->sn = at;
    *out = v;
    return BERT_OK;
}

/* TUPLE1..3: the top n values as a tuple. */
static bert_status small_tuple(machine *m, size_t n) {
    size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
    if (m->sn - floor < n) return fail(m, "TUPLE opcode on too few values");
    pk_value *v = new_value(m, PK_TUPLE);
    if (!v) return nomem(m);
    for (size_t i = m->sn - n; i < m->sn; i++)
        if (!add_item(v, m->stack[i])) return nomem(m);
    m->sn -= n;
    return push(m, v);
}

/* Append items to the list or dict now on top of the stack (below the mark). */
static bert_status fill_container(machine *m, pk_kind want, size_t from) {
    if (from == 0) return fail(m, "APPENDS/SETITEMS without a container below the MARK");
    pk_value *c = m->stack[from - 1];
    if (c->kind != want) return fail(m, want == PK_DICT ? "SETITEM(S) on a value that is not a dict" : "APPEND(S) on a value that is not a list");
    if (want == PK_DICT && (m->sn - from) % 2) return fail(m, "SETITEMS with an odd number of values");
    for (size_t i = from; i < m->sn; i++)
        if (!add_item(c, m->stack[i])) return nomem(m);
    m->sn = from;
    return BERT_OK;
}

/* Tuples, lists, dicts and marks. Returns 0 when op is none of them. */
static int op_container(machine *m, unsigned char op, bert_status *rc) {
    pk_value *v = NULL;
    switch (op) {
    case '(':
        if (!grow((void **)&m->marks, &m->mcap, m->mn + 1, sizeof *m->marks)) *rc = nomem(m);
        else m->marks[m->mn++] = m->sn, *rc = BERT_OK;
        return 1;
    case ')': *rc = push(m, new_value(m, PK_TUPLE)); return 1;
    case ']': *rc = push(m, new_value(m, PK_LIST)); return 1;
    case '}': *rc = push(m, new_value(m, PK_DICT)); return 1;
    case 't':
        if ((*rc = collect_mark(m, PK_TUPLE, &v)) == BERT_OK) *rc = push(m, v);
        return 1;
    case 0x85: case 0x86: case 0x87: *rc = small_tuple(m, (size_t)(op - 0x84)); return 1;
    case 'a': case 's': {
        size_t n = op == 'a' ? 1 : 2, floor = m->mn ? m->marks[m->mn - 1] : 0;
        *rc = m->sn - floor < n + 1 ? fail(m, "APPEND/SETITEM on too few values")
                                    : fill_container(m, op == 'a' ? PK_LIST : PK_DICT, m->sn - n);
        return 1;
    }
    case 'e': case 'u':
        if (!m->mn) *rc = fail(m, "APPENDS/SETITEMS without a MARK");
        else {
            size_t at = m->marks[--m->mn];
            *rc = fill_container(m, op == 'e' ? PK_LIST : PK_DICT, at);
        }
        return 1;
    case '0': *rc = pop(m) ? BERT_OK : fail(m, "POP on an empty stack"); return 1;
    case '1':
        if (!m->mn) *rc = fail(m, "POP_MARK without a MARK");
        else m->sn = m->marks[--m->mn], *rc = BERT_OK;
        return 1;
    default: return 0;
    }
}

/* A global by module and name; refused unless it is one of globals[]. */
static bert_status push_global(machine *m, const char *mod, size_t ml, const char *name, size_t nl) {
    for (int g = 0; g < PK_G_COUNT; g++)
        if (strlen(globals[g].module) == ml && memcmp(globals[g].module, mod, ml) == 0 && strlen(globals[g].name) == nl &&
            memcmp(globals[g].name, name, nl) == 0)
            return push_int(m, g, PK_GLOBAL);
    int pm = ml > 100 ? 100 : (int)ml, pn = nl > 100 ? 100 : (int)nl;
    return bert_fail(m->err, BERT_ERR_FORMAT,
                     "pickle: global '%.*s.%.*s' at byte %zu is not allowed (a state dict needs only "
                     "collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and torch.*Storage)",
                     pm, mod, pn, name, m->op_at);
}

/* GLOBAL's two newline-terminated operands. */
static bert_status op_global(machine *m) {
    const char *part[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const unsigned char *s = m->d + m->pos, *nl = memchr(s, '\n', m->size - m->pos);
        if (!nl || nl - s > 200) return fail(m, "GLOBAL operand is unterminated or longer than 200 bytes");
        part[k] = (const char *)s, len[k] = (size_t)(nl - s);
        m->pos += len[k] + 1;
    }
    return push_global(m, part[0], len[0], part[1], len[1]);
}

/* REDUCE: OrderedDict() makes a dict; the rebuild functions are recorded. */
static bert_status op_reduce(machine *m) {
    pk_value *args = pop(m), *fn = pop(m);
    if (!fn || !args) return fail(m, "REDUCE on too few values");
    if (fn->kind != PK_GLOBAL || args->kind != PK_TUPLE) return fail(m, "REDUCE of a value that is not an allowed global");
    if (fn->i == PK_G_ORDERED_DICT) {
        if (args->n != 0) return fail(m, "OrderedDict called with arguments");
        return push(m, new_value(m, PK_DICT));
    }
    if (fn->i != PK_G_REBUILD_TENSOR_V2 && fn->i != PK_G_REBUILD_PARAMETER)
        return bert_fail(m->err, BERT_ERR_FORMAT, "pickle: REDUCE calls '%s' at byte %zu, which a state dict never calls",
                         pk_global_name((pk_global)fn->i), m->op_at);
    pk_value *call = new_value(m, PK_CALL);
    if (!call || !add_item(call, fn) || !add_item(call, args)) return nomem(m);
    return push(m, call);
}

/* Memo operations. Returns 0 when op is none of them. */
static int op_memo(machine *m, unsigned char op, bert_status *rc) {
    const unsigned char *p = NULL;
    int w = (op == 'q' || op == 'h') ? 1 : (op == 'r' || op == 'j') ? 4 : op == 0x94 ? 0 : -1;
    if (w < 0) return 0;
    if (w && !(p = take(m, (size_t)w))) {
        *rc = fail(m, "memo index runs past the end of the data");
        return 1;
    }
    size_t idx = w ? (size_t)le(p, w) : m->memo_n;
    if (op == 'h' || op == 'j') {
        *rc = idx < m->memo_n && m->memo[idx] ? push(m, m->memo[idx]) : fail(m, "memo GET of an index never PUT");
        return 1;
    }
    size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
    if (m->sn <= floor) *rc = fail(m, "memo PUT on an empty stack");
    else if (idx > m->memo_n) *rc = fail(m, "memo PUT index out of sequence");
    else if (!grow((void **)&m->memo, &m->memo_cap, idx + 1, sizeof *m->memo)) *rc = nomem(m);
    else {
        m->memo[idx] = m->stack[m->sn - 1];
        if (idx == m->memo_n) m->memo_n++;
        *rc = BERT_OK;
    }
    return 1;
}

/* Globals, calls, BUILD and persistent ids. Returns 0 when op is none of them. */
static int op_object(machine *m, unsigned char op, bert_status *rc) {
    switch (op) {
    case 'c': *rc = op_global(m); return 1;
    case 0x93: {
        pk_value *name = pop(m), *mod = pop(m);
        if (!name || !mod || name->kind != PK_STR || mod->kind != PK_STR) *rc = fail(m, "STACK_GLOBAL needs two strings");
        else *rc = push_global(m, (const char *)mod->s, mod->len, (const char *)name->s, name->len);
        return 1;
    }
    case 'R': *rc = op_reduce(m); return 1;
    case 'b': {
        pk_value *state = pop(m);
        size_t floor = m->mn ? m->marks[m->mn - 1] : 0;
        if (!state || m->sn <= floor) *rc = fail(m, "BUILD on too few values");
        else if (m->stack[m->sn - 1]->kind != PK_DICT || (state->kind != PK_DICT && state->kind != PK_NONE))
            *rc = fail(m, "BUILD (setting object state) on a value that is not a dict");
        else *rc = BERT_OK; /* an OrderedDict's attributes (torch's _metadata): not needed */
        return 1;
    }
    case 'Q': {
        pk_value *pid = pop(m), *v = pid ? new_value(m, PK_PERSID) : NULL;
        if (!pid) *rc = fail(m, "BINPERSID on an empty stack");
        else if (!v || !add_item(v, pid)) *rc = nomem(m);
        else *rc = push(m, v);
        return 1;
    }
    default: return 0;
    }
}

/* One opcode at m->pos; *stop set at STOP. */
static bert_status step(machine *m, int *stop) {
    m->op_at = m->pos;
    unsigned char op = m->d[m->pos++];
    bert_status rc = BERT_OK;
    if (op == '.') {
        *stop = 1;
        return BERT_OK;
    }
    if (op == 0x80 || op == 0x95) { /* PROTO, FRAME */
        const unsigned char *p = take(m, op == 0x80 ? 1 : 8);
        if (!p) return fail(m, "PROTO/FRAME runs past the end of the data");
        if (op == 0x80 && (*p < 2 || *p > 5)) return fail(m, "unsupported pickle protocol (2 to 5 are read)");
        return BERT_OK;
    }
    if (op_literal(m, op, &rc) || op_container(m, op, &rc) || op_memo(m, op, &rc) || op_object(m, op, &rc)) return rc;
    return bert_fail(m->err, BERT_ERR_FORMAT, "pickle: opcode 0x%02x (%s) at byte %zu is not allowed in a state dict", op,
                     refused_name(op), m->op_at);
}

bert_status pk_load(const unsigned char *data, size_t size, size_t *used, pk_doc *doc, bert_error *err) {
    memset(doc, 0, sizeof *doc);
    machine m = {.d = data, .size = size, .doc = doc, .err = err};
    bert_status rc = BERT_OK;
    int stop = 0;
    while (rc == BERT_OK && !stop) {
        if (m.pos >= size) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "pickle: data ends at byte %zu before STOP (truncated?)", size);
            break;
        }
        rc = step(&m, &stop);
    }
    if (rc == BERT_OK && m.sn == 0) rc = bert_fail(err, BERT_ERR_FORMAT, "pickle: STOP with an empty stack");
    if (rc == BERT_OK) {
        doc->root = m.stack[m.sn - 1];
        if (used) *used = m.pos;
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (rc != BERT_OK) pk_free(doc);
    return rc;
}

void pk_free(pk_doc *doc) {
    if (!doc) return;
    for (size_t i = 0; i < doc->n_all; i++) {
        free(doc->all[i]->items);
        free(doc->all[i]);
    }
    free(doc->all);
    memset(doc, 0, sizeof *doc);
}

int pk_is_str(const pk_value *v, const char *s) {
    return v && v->kind == PK_STR && strlen(s) == v->len && memcmp(v->s, s, v->len) == 0;
}

const pk_value *pk_dict_get(const pk_value *d, const char *key) {
    if (!d || d->kind != PK_DICT) return NULL;
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (pk_is_str(d->items[i], key)) return d->items[i + 1];
    return NULL;
}
