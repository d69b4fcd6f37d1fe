/* task_list.c — libFuzzer target: a multi-task tasks file
 * (train_task_list_parse on the bytes as text). */
#include "fuzz_util.h"
#include "train/task_list.h"

/* libFuzzer calls this once per input; any crash, sanitizer report or abort is a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    bert_finetune_params d = bert_finetune_default_params(BERT_TASK_SEQUENCE);
    bert_task_list *l = NULL;
    bert_error err;
    if (train_task_list_parse(text, "fuzz/tasks.json", "fuzz", &d, &l, &err) == BERT_OK) {
        const bert_multitask_task *t = bert_task_list_tasks(l);
        size_t sum = 0; /* touch every string the list hands out */
        for (int k = 0; k < bert_task_list_count(l); k++)
            sum += (t[k].name ? strlen(t[k].name) : 0) + (t[k].data.train_file ? strlen(t[k].data.train_file) : 0) +
                   (t[k].data.labels ? strlen(t[k].data.labels) : 0);
        if (sum == (size_t)-1) abort();
    }
    bert_task_list_free(l);
    free(text);
    return 0;
}
