/* train_defaults.c — the defaults of the training commands' parameters and
 * the task type of each preset. */
#include <string.h>

#include "cli/train_flags.h"

bert_loop_params cli_loop_defaults(void) {
    bert_loop_params l;
    memset(&l, 0, sizeof l);
    l.log_steps = 10, l.eval_at_epoch_end = 1, l.save_at_epoch_end = 1, l.save_total_limit = 2, l.greater_is_better = 1;
    return l;
}

bert_finetune_params cli_finetune_defaults(bert_task task) {
    bert_finetune_params p;
    memset(&p, 0, sizeof p);
    p.task = task;
    p.data_dir = "../shared/data";
    p.epochs = task == BERT_TASK_QA ? 2 : 3;
    p.batch_size = task == BERT_TASK_QA ? 12 : 32;
    p.max_seq_len = task == BERT_TASK_QA ? 384 : 128;
    p.text_column = "text", p.pair_column = "text_pair", p.label_column = "label";
    p.doc_stride = 128;
    p.subjqa_domain = "electronics";
    p.train = bert_train_default_params();
    p.train.task = task;
    p.train.lr = task == BERT_TASK_TOKEN ? 5e-5 : task == BERT_TASK_QA ? 3e-5 : 2e-5;
    p.loop = cli_loop_defaults();
    return p;
}

bert_pretrain_params cli_pretrain_defaults(void) {
    bert_pretrain_params p;
    memset(&p, 0, sizeof p);
    p.seq_len[0] = 128, p.seq_frac[0] = 1.0, p.n_phases = 1;
    p.max_predictions = 20, p.heldout_docs = 50, p.epochs = 1, p.batch_size = 32;
    p.train = bert_train_default_params();
    p.train.task = BERT_TASK_PRETRAINING;
    p.train.lr = 1e-4, p.train.warmup_ratio = 0.01;
    p.loop = cli_loop_defaults();
    p.loop.eval_steps = 500;
    return p;
}

int cli_preset_task(const char *name, bert_task *task) {
    static const char *const tok[] = {"ncbi", "bc5cdr", "conll2003", "sec", NULL};
    static const char *const qa[] = {"squad", "tydi", "xquad", "bioasq", "covid_qa", "subjqa", NULL};
    static const char *const seq[] = {"sst2", "cola", "mrpc", "rte", "stsb", "wnli", NULL};
    for (int i = 0; tok[i]; i++) if (strcmp(name, tok[i]) == 0) return *task = BERT_TASK_TOKEN, 1;
    for (int i = 0; qa[i]; i++) if (strcmp(name, qa[i]) == 0) return *task = BERT_TASK_QA, 1;
    for (int i = 0; seq[i]; i++) if (strcmp(name, seq[i]) == 0) return *task = BERT_TASK_SEQUENCE, 1;
    return 0;
}
