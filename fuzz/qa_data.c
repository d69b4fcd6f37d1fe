/* qa_data.c — libFuzzer target: bert_qa_data_read, the question-answering
 * data reader. The first byte picks the format: SQuAD JSON (0), SubjQA CSV
 * (1) or gzip'd SQuAD JSON (2: the bytes as the .json.gz file itself), and
 * whether a question limit applies. */
#include "fuzz_util.h"
#include "bert.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const names[3] = {"data.json", "data.csv", "data.json.gz"};
    char path[512];
    fuzz_write(names[data[0] % 3], data + 1, size - 1, path, sizeof path);
    bert_qa_data d = {0};
    bert_error err;
    if (bert_qa_data_read(path, (data[0] & 0x80) ? 2 : 0, &d, &err) == BERT_OK)
        for (int i = 0; i < d.n; i++)
            if (!d.v[i].id || !d.v[i].question || !d.v[i].context) abort(); /* every question is whole */
    bert_qa_data_free(&d);
    return 0;
}
