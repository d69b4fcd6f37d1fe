/* zip.c — libFuzzer target: the zip reader on any bytes, every entry
 * looked up by name and extracted (stored: CRC-checked in place; deflated:
 * inflated into a block of its declared size, which zip_open bounds). */
#include "fuzz_util.h"
#include "io/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zip_archive z;
    bert_error err;
    if (zip_open(data, size, &z, &err) != BERT_OK) return 0;
    for (int i = 0; i < z.n_entries; i++) {
        const zip_entry *e = zip_find(&z, z.entries[i].name);
        if (!e || e->data_offset + e->csize > size) abort();
        unsigned char *out = malloc(e->usize ? (size_t)e->usize : 1);
        if (out) (void)zip_extract(&z, e, out, &err);
        free(out);
    }
    zip_close(&z);
    return 0;
}
