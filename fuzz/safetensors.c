/* safetensors.c — libFuzzer target: the safetensors reader (st_open's
 * header length, JSON header, dtypes, shapes and offsets), read and mapped,
 * then every tensor looked up by name and its bytes touched. */
#include "fuzz_util.h"
#include "io/safetensors.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write("model.safetensors", data, size, path, sizeof path);
    for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
        st_file f;
        bert_error err;
        if (st_open(path, use_mmap, &f, &err) != BERT_OK) continue;
        volatile unsigned sum = 0;
        for (int i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = st_find(&f, f.tensors[i].name);
            if (!t) abort(); /* every listed tensor must be found by its name */
            if (t->nbytes) sum += t->data[0] + t->data[t->nbytes - 1];
        }
        (void)sum;
        st_close(&f);
    }
    return 0;
}
