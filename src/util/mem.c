/* mem.c — aligned allocation (contracts in mem.h). */
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *bert_alloc64(size_t n) {
    void *p = NULL;
    return posix_memalign(&p, 64, n > 0 ? n : 1) == 0 ? p : NULL;
}

void *bert_calloc64(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = bert_alloc64(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}
