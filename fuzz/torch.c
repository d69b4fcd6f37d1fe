/* torch.c — libFuzzer target: a pytorch_model.bin from memory through
 * torch_parse (zip archive or legacy stream, the restricted pickle reader,
 * storages and views), then every tensor found by name and its first and
 * last bytes touched. */
#include "fuzz_util.h"
#include "io/torch_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    bert_error err;
    memset(&f, 0, sizeof f);
    if (torch_parse(data, size, &f, NULL, &err) == BERT_OK) {
        volatile unsigned sum = 0;
        for (int i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = st_find(&f, f.tensors[i].name);
            if (!t) abort(); /* every listed tensor must be found by its name */
            if (t->nbytes) sum += t->data[0] + t->data[t->nbytes - 1];
        }
        (void)sum;
    }
    st_close(&f);
    return 0;
}
