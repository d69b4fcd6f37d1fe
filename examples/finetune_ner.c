/* finetune_ner.c — fine-tune a token classifier (NER) through libbert's C
 * API alone: bert_finetune runs the library's training loop (shuffled
 * epochs, evaluation with seqeval after each epoch, OUT/best kept by dev F1).
 *
 *   build/examples/finetune_ner MODEL_DIR TRAIN DEV OUT_DIR
 *   (TRAIN/DEV: CoNLL columns or JSONL {"tokens": [...], "tags": [...]}) */
#include <stdio.h>

#include "bert.h"

/* Print each evaluation as the loop reports it. */
static void on_event(void *user, const bert_event *e) {
    (void)user;
    double f1;
    if (e->kind == BERT_EVENT_EVAL && bert_metrics_get(e->metrics, "f1", &f1))
        printf("step %ld/%ld: dev entity F1 %.4f\n", e->step, e->total_steps, f1);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL_DIR TRAIN DEV OUT_DIR\n", argv[0]);
        return 2;
    }
    bert_finetune_params p = bert_finetune_default_params(BERT_TASK_TOKEN);
    p.model_dir = argv[1];
    p.train_file = argv[2];
    p.dev_file = argv[3];
    p.output_dir = argv[4];
    p.epochs = 8;
    p.batch_size = 4;
    p.train.lr = 3e-3;
    p.train.n_threads = 1;
    p.loop.on_event = on_event;
    bert_loop_result r;
    bert_error err;
    if (bert_finetune(&p, &r, &err) != BERT_OK) {
        fprintf(stderr, "finetune_ner: %s\n", err.message);
        return 1;
    }
    printf("best dev F1 %.4f at step %ld of %ld; model in %s/best\n", r.best, r.best_step, r.steps, p.output_dir);
    return 0;
}
