/* jsonl_request.c — libFuzzer target: the JSONL request reader of the
 * inference commands (task_run_jsonl of src/cli/task_runner.c: the line
 * reader, the U+0000 check, cJSON, batching, --on-error skip/stop with
 * failing items), driven with a batch function that asks each item for a
 * "text" string as the commands do and writes one line per item. The
 * first byte picks the batch size and skip/stop. */
#include "fuzz_util.h"
#include "cli/task_runner.h"

/* The batch function: every item needs a "text" string; "text_pair" may be
 * a string. Fails with err->item naming the first bad item. */
static int batch(void *state, cJSON **items, int n, FILE *out, bert_error *err) {
    (void)state;
    const char *texts[64];
    if (n > 64) abort(); /* the runner never passes more than the batch size */
    if (!task_strings(items, n, "text", 1, texts, err)) return 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "len", (double)strlen(texts[i]));
        const char *pair = task_str(items[i], "text_pair");
        if (pair) cJSON_AddStringToObject(o, "pair", pair);
        task_emit(out, o);
    }
    return 1;
}

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char in[512], outp[512];
    fuzz_write("requests.jsonl", data + 1, size - 1, in, sizeof in);
    snprintf(outp, sizeof outp, "%s/out.jsonl", fuzz_dir);
    task_run_opts o = {0};
    o.cmd = "fuzz", o.input = in, o.output = outp;
    o.batch_size = 1 + (data[0] & 31), o.on_error_skip = (data[0] >> 5) & 1;
    (void)task_run_jsonl(&o, batch, NULL);
    return 0;
}
