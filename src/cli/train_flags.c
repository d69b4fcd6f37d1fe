/* train_flags.c — the table of the training commands' options (see
 * train_flags.h) and the options that need more than storing a value. */
#include "cli/train_flags.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define FT(f) CLI_W_FT, offsetof(bert_finetune_params, f)
#define PT(f) CLI_W_PT, offsetof(bert_pretrain_params, f)
#define TR(f) CLI_W_TRAIN, offsetof(bert_train_params, f)
#define LP(f) CLI_W_LOOP, offsetof(bert_loop_params, f)
#define MT(f) CLI_W_MT, offsetof(bert_multitask_params, f)
#define DIST(f) CLI_W_DIST, offsetof(bert_dist_params, f)
#define NOWHERE CLI_W_NONE, 0

enum { F = CLI_CMD_FINETUNE, E = CLI_CMD_EVAL, P = CLI_CMD_PRETRAIN, M = CLI_CMD_MULTITASK, FE = F | E, FP = F | P,
       FM = F | M, FEM = F | E | M, FPM = F | P | M, ALL = F | E | P | M };

/* The training parameters of the command being parsed. */
static bert_train_params *train_of(cli_train_args *a) { return a->cmd == CLI_CMD_PRETRAIN ? &a->pt.train : &a->ft.train; }

/* --task NAME: the preset (its task type was read before the defaults, in
 * cli_train_parse). */
static int set_task(cli_train_args *a, const char *v, char *msg, size_t cap) {
    if (a->cmd != CLI_CMD_MULTITASK) return a->ft.preset = v, 1;
    if (a->n_presets == BERT_MAX_HEADS) return snprintf(msg, cap, "at most %d tasks", BERT_MAX_HEADS), -1;
    a->presets[a->n_presets++] = v;
    return 1;
}

/* multitask --tasks-file FILE. */
static int set_tasks_file(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)msg, (void)cap;
    a->tasks_file = v;
    return 1;
}

/* multitask --sampling NAME. */
static int set_sampling(cli_train_args *a, const char *v, char *msg, size_t cap) {
    static const char *const names[] = {"proportional", "uniform", "temperature", "annealed", "round-robin"};
    for (int i = 0; i < 5; i++)
        if (strcmp(v, names[i]) == 0) return a->mt.sampler.strategy = (bert_sampling)i, 1;
    return snprintf(msg, cap, "--sampling must be proportional, uniform, temperature, annealed or round-robin, not '%s'", v), -1;
}

/* --task-type TYPE: read before the defaults (cli_train_parse); nothing to store. */
static int set_task_type(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)a, (void)v, (void)msg, (void)cap;
    return 1;
}

/* --problem single_label|multi_label|regression. */
static int set_problem(cli_train_args *a, const char *v, char *msg, size_t cap) {
    static const char *const names[] = {"single_label", "multi_label", "regression"};
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) return a->ft.train.problem = (bert_problem)i, a->ft.problem_given = 1, 1;
    return snprintf(msg, cap, "--problem must be single_label, multi_label or regression, not '%s'", v), -1;
}

/* --schedule linear|constant|cosine. */
static int set_schedule(cli_train_args *a, const char *v, char *msg, size_t cap) {
    static const char *const names[] = {"linear", "constant", "cosine"};
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) return train_of(a)->schedule = (bert_schedule)i, 1;
    return snprintf(msg, cap, "--schedule must be linear, constant or cosine, not '%s'", v), -1;
}

/* --dtype f32|bf16|int8 (int8 is refused by training with its reason). */
static int set_dtype(cli_train_args *a, const char *v, char *msg, size_t cap) {
    bert_compute_dtype *d = &train_of(a)->compute;
    if (strcmp(v, "f32") == 0 || strcmp(v, "fp32") == 0) *d = BERT_COMPUTE_F32;
    else if (strcmp(v, "bf16") == 0) *d = BERT_COMPUTE_BF16;
    else if (strcmp(v, "int8") == 0) *d = BERT_COMPUTE_INT8;
    else return snprintf(msg, cap, "--dtype must be f32, bf16 or int8, not '%s'", v), -1;
    return 1;
}

/* --device cpu|cuda (cuda: the encoder on the GPU, refused with its reason where it cannot run). */
static int set_device(cli_train_args *a, const char *v, char *msg, size_t cap) {
    bert_device *d = &train_of(a)->device;
    if (strcmp(v, "cpu") == 0) *d = BERT_DEVICE_CPU;
    else if (strcmp(v, "cuda") == 0) *d = BERT_DEVICE_CUDA;
    else return snprintf(msg, cap, "--device must be cpu or cuda, not '%s'", v), -1;
    return 1;
}

/* --dropout P: hidden, attention and classifier dropout alike. */
static int set_dropout(cli_train_args *a, const char *v, char *msg, size_t cap) {
    char *end;
    double p = strtod(v, &end);
    if (end == v || *end || !(p >= 0 && p < 1)) return snprintf(msg, cap, "--dropout needs a probability in [0, 1), not '%s'", v), -1;
    bert_train_params *tp = train_of(a);
    tp->hidden_dropout = tp->attention_dropout = tp->classifier_dropout = p;
    return 1;
}

/* --bert-adam: the original optimizer and its eps. */
static int set_bert_adam(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)v, (void)msg, (void)cap;
    train_of(a)->bert_adam = 1, train_of(a)->eps = 1e-6;
    return 0;
}

/* --grad-compression none|bf16, --no-overlap: data-parallel gradients. */
static int set_compression(cli_train_args *a, const char *v, char *msg, size_t cap) {
    if (strcmp(v, "bf16") == 0) a->dist.compress_bf16 = 1;
    else if (strcmp(v, "none") == 0) a->dist.compress_bf16 = 0;
    else return snprintf(msg, cap, "--grad-compression must be none or bf16, not '%s'", v), -1;
    return 1;
}
static int set_no_overlap(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)v, (void)msg, (void)cap;
    a->dist.overlap = 0;
    return 0;
}

/* --tag-scheme keep|iob2. */
static int set_tag_scheme(cli_train_args *a, const char *v, char *msg, size_t cap) {
    if (strcmp(v, "iob2") == 0) a->ft.tag_scheme_iob2 = 1;
    else if (strcmp(v, "keep") == 0) a->ft.tag_scheme_iob2 = 0;
    else return snprintf(msg, cap, "--tag-scheme must be keep or iob2, not '%s'", v), -1;
    return 1;
}

/* --resume CHECKPOINT; pre-training's bare --resume (no value, or another
 * option next) means the newest checkpoint in OUT. */
static int set_resume(cli_train_args *a, const char *v, char *msg, size_t cap) {
    if (a->cmd == CLI_CMD_PRETRAIN && (!v || strncmp(v, "--", 2) == 0)) { /* bare: the newest checkpoint */
        a->resume_newest = 1;
        return 0;
    }
    if (!v) return snprintf(msg, cap, "--resume needs a value (a checkpoint directory)"), -1;
    if (a->cmd == CLI_CMD_PRETRAIN) a->pt.resume_from = v;
    else a->ft.resume_from = v;
    return 1;
}

/* --corpus FILE, repeatable. */
static int add_corpus(cli_train_args *a, const char *v, char *msg, size_t cap) {
    if (a->pt.n_corpus_files == CLI_MAX_CORPUS) return snprintf(msg, cap, "at most %d --corpus files", CLI_MAX_CORPUS), -1;
    a->corpus[a->pt.n_corpus_files++] = v;
    a->pt.corpus_files = a->corpus;
    return 1;
}

/* --prose: wrapped prose, split into sentences. */
static int set_prose(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)v, (void)msg, (void)cap;
    a->pt.prose = a->pt.split_sentences = 1;
    return 0;
}

/* --no-nsp: masked LM only. */
static int set_no_nsp(cli_train_args *a, const char *v, char *msg, size_t cap) {
    (void)v, (void)msg, (void)cap;
    a->pt.no_nsp = 1;
    a->pt.train.task = BERT_TASK_MLM;
    return 0;
}

/* pretrain --max-seq-len N: one phase of N tokens. */
static int set_pretrain_len(cli_train_args *a, const char *v, char *msg, size_t cap) {
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 8 || n > 1 << 20) return snprintf(msg, cap, "--max-seq-len needs an integer >= 8 (got '%s')", v), -1;
    a->pt.seq_len[0] = (int)n, a->pt.seq_frac[0] = 1.0, a->pt.n_phases = 1;
    return 1;
}

/* "128:0.9,512:0.1": sequence-length phases whose fractions add up to 1. */
static int set_phases(cli_train_args *a, const char *v, char *msg, size_t cap) {
    const char *s = v;
    double sum = 0;
    int n = 0, ok = 1;
    while (ok && *s && n < 4) {
        char *end;
        long len = strtol(s, &end, 10);
        ok = *end == ':' && len >= 8;
        double f = ok ? strtod(end + 1, &end) : 0;
        ok = ok && f > 0 && f <= 1 && (!*end || *end == ',');
        if (ok) a->pt.seq_len[n] = (int)len, a->pt.seq_frac[n++] = f, sum += f, s = *end ? end + 1 : end;
    }
    if (!ok || n == 0 || *s || fabs(sum - 1.0) > 1e-6)
        return snprintf(msg, cap, "--seq-phases wants LEN:FRACTION,... with fractions adding up to 1 (e.g. 128:0.9,512:0.1), not '%s'", v), -1;
    a->pt.n_phases = n;
    return 1;
}

const cli_flag cli_train_flags[] = {
    {"data", NULL, FEM, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--output-dir", "OUT", F, 0, CLI_K_STR, FT(output_dir), 0, NULL, "where report.json, log.jsonl, best/ and checkpoints go"},
    {"--output-dir", "OUT", E, 0, CLI_K_STR, FT(output_dir), 0, NULL, "where report.json and the predictions go"},
    {"--output-dir", "OUT", P, 0, CLI_K_STR, PT(output_dir), 0, NULL, "where report.json, log.jsonl, model/ and checkpoints go"},
    {"--output-dir", "OUT", M, 0, CLI_K_STR, FT(output_dir), 0, NULL, "where report.json, the logs, best/, shared/, TASK/ and checkpoints go"},
    {"--task", "NAME", FE, 0, CLI_K_FN, NOWHERE, 0, set_task, "a preset data set (listed below), read from --data-dir"},
    {"--task", "NAME", M, 0, CLI_K_FN, NOWHERE, 0, set_task, "a preset data set (listed below); repeatable, one head each"},
    {"--tasks-file", "FILE", M, 0, CLI_K_FN, NOWHERE, 0, set_tasks_file, "JSON list of tasks: presets or train/dev files with their columns, labels, batch sizes, loss weights"},
    {"--task-type", "TYPE", FE, 0, CLI_K_FN, NOWHERE, 0, set_task_type, "sequence (default), token, qa or dialogue, for --train/--dev files"},
    {"--data-dir", "DIR", FEM, 0, CLI_K_STR, FT(data_dir), 0, NULL, "where the presets' directories are"},
    {"--train", "FILE", F, 0, CLI_K_STR, FT(train_file), 0, NULL, "training data: TSV or JSONL; CoNLL or JSONL (token); SQuAD JSON(.gz) or SubjQA CSV (qa)"},
    {"--train", "FILE", E, 0, CLI_K_STR, FT(train_file), 0, NULL, "read only where dev comes out of it (qa --dev-split, the sec preset)"},
    {"--dev", "FILE", FE, 0, CLI_K_STR, FT(dev_file), 0, NULL, "validation data, the same formats"},
    {"--test", "FILE", FE, 0, CLI_K_STR, FT(test_file), 0, NULL, "test data, scored with the best model"},
    {"--max-train", "N", FM, 0, CLI_K_INT, FT(max_train), 1, NULL, "use only the first N training examples"},
    {"--max-dev", "N", FEM, 0, CLI_K_INT, FT(max_dev), 1, NULL, "use only the first N validation examples"},
    {"--text-column", "C", FE, CLI_T_SEQ, CLI_K_STR, FT(text_column), 0, NULL, "the text's TSV header name, column number or JSON field (text)"},
    {"--pair-column", "C", FE, CLI_T_SEQ, CLI_K_STR, FT(pair_column), 0, NULL, "the second text's column, when there is one (without it, JSONL lines may carry an optional \"text_pair\")"},
    {"--label-column", "C", FE, CLI_T_SEQ, CLI_K_STR, FT(label_column), 0, NULL, "the label's column (label)"},
    {"--no-header", NULL, FE, CLI_T_SEQ, CLI_K_FLAG, FT(no_header), 0, NULL, "the TSV has no header row: columns are numbers"},
    {"--problem", "P", FE, CLI_T_SEQ, CLI_K_FN, NOWHERE, 0, set_problem, "single_label, multi_label (labels \"a,b\") or regression"},
    {"--labels", "A,B,...", FE, CLI_T_SEQ, CLI_K_STR, FT(labels), 0, NULL, "the label list (default: the sorted training labels)"},
    {"--label-all-tokens", NULL, FM, CLI_T_TOK, CLI_K_FLAG, FT(label_all_tokens), 0, NULL, "every piece of a word carries its tag"},
    {"--tag-scheme", "S", FEM, CLI_T_TOK, CLI_K_FN, NOWHERE, 0, set_tag_scheme, "keep or iob2 (convert IOB1/IO/IOE/BIOES tags)"},
    {"--doc-stride", "N", FE, CLI_T_QA, CLI_K_INT, FT(doc_stride), 0, NULL, "tokens shared by consecutive context windows (128)"},
    {"--drop-windows-without-answer", NULL, F, CLI_T_QA, CLI_K_FLAG, FT(drop_windows_without_answer), 0, NULL, "train only on windows holding the answer"},
    {"--dev-split", "FRAC", FE, CLI_T_QA, CLI_K_DBL, FT(dev_split), 0, NULL, "hold out this fraction of --train's contexts as dev"},
    {"--bioasq-golden", "FILE", FE, CLI_T_QA, CLI_K_STR, FT(bioasq_golden), 0, NULL, "score --dev snippets per question (BioASQ factoid)"},
    {"--subjqa-domain", "D", FE, CLI_T_QA, CLI_K_STR, FT(subjqa_domain), 0, NULL, "electronics (default), grocery, ..."},
    {"--context-turns", "N", FE, CLI_T_DLG, CLI_K_INT, FT(context_turns), 0, NULL, "earlier turns as segment B, most recent first (0)"},
    {"--split-intents", NULL, FE, CLI_T_DLG, CLI_K_FLAG, FT(split_intents), 0, NULL, "intents \"a#b\" multi-label over their parts (default: \"a#b\" is an intent of its own)"},
    {"--eval-only", NULL, F, 0, CLI_K_FLAG, FT(eval_only), 0, NULL, "score MODEL_DIR without training (what bert eval does)"},
    {"corpus", NULL, P, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--corpus", "FILE", P, 0, CLI_K_FN, NOWHERE, 0, add_corpus, "text (blank lines between documents) or one file from bert prepare; repeatable"},
    {"--split-sentences", NULL, P, 0, CLI_K_FLAG, PT(split_sentences), 0, NULL, "split lines into sentences"},
    {"--prose", NULL, P, 0, CLI_K_FN, NOWHERE, 0, set_prose, "lines are wrapped prose: join, then split sentences"},
    {"--max-seq-len", "N", P, 0, CLI_K_FN, NOWHERE, 0, set_pretrain_len, "sequence length (128)"},
    {"--seq-phases", "L:F,...", P, 0, CLI_K_FN, NOWHERE, 0, set_phases, "lengths by fraction of the steps, e.g. 128:0.9,512:0.1"},
    {"--max-predictions", "N", P, 0, CLI_K_INT, PT(max_predictions), 1, NULL, "masked tokens per sequence at the first length (20)"},
    {"--whole-word", NULL, P, 0, CLI_K_FLAG, PT(whole_word), 0, NULL, "mask whole words"},
    {"--no-nsp", NULL, P, 0, CLI_K_FN, NOWHERE, 0, set_no_nsp, "masked LM only, no next-sentence prediction"},
    {"--dupe-factor", "N", P, 0, CLI_K_INT, PT(dupe_factor), 1, NULL, "static masking: N masked copies"},
    {"--heldout-docs", "N", P, 0, CLI_K_INT, PT(heldout_docs), 1, NULL, "documents held out for evaluation (50)"},
    {"model and batches", NULL, ALL, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--max-seq-len", "N", FEM, 0, CLI_K_INT, FT(max_seq_len), 8, NULL, "tokens per sequence (128; qa 384)"},
    {"--epochs", "N", F, 0, CLI_K_INT, FT(epochs), 1, NULL, "passes over the training data (3; qa 2)"},
    {"--epochs", "N", M, 0, CLI_K_INT, FT(epochs), 1, NULL, "multi-task epochs: every task's batches once each (3)"},
    {"--epochs", "N", P, 0, CLI_K_INT, PT(epochs), 1, NULL, "passes over the corpus (1)"},
    {"--max-steps", "N", FM, 0, CLI_K_LONG, FT(max_steps), 1, NULL, "optimizer steps of the run, instead of epochs"},
    {"--max-steps", "N", P, 0, CLI_K_LONG, PT(max_steps), 1, NULL, "optimizer steps of the run, instead of epochs"},
    {"--batch-size", "N", FEM, 0, CLI_K_INT, FT(batch_size), 1, NULL, "sequences per micro-batch (32; qa 12)"},
    {"--batch-size", "N", P, 0, CLI_K_INT, PT(batch_size), 1, NULL, "sequences per micro-batch (32)"},
    {"--grad-accum", "N", FPM, 0, CLI_K_INT, TR(grad_accum), 1, NULL, "micro-batches per optimizer step (1)"},
    {"--threads", "N", ALL, 0, CLI_K_INT, TR(n_threads), 1, NULL, "threads for training and evaluation (all cores)"},
    {"--dtype", "D", ALL, 0, CLI_K_FN, NOWHERE, 0, set_dtype, "f32 (exact) or bf16 (mixed precision)"},
    {"--device", "D", ALL, 0, CLI_K_FN, NOWHERE, 0, set_device, "cpu, or cuda: the encoder on the GPU (its layers and embeddings, and pre-training's heads: docs/gpu.md)"},
    {"--seed", "N", ALL, 0, CLI_K_U64, TR(seed), 0, NULL, "heads, dropout, shuffling and splits (42)"},
    {"optimizer", NULL, FPM, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--lr", "X", FP, 0, CLI_K_DBL, TR(lr), 0, NULL, "peak learning rate (2e-5; token 5e-5, qa 3e-5, pretrain 1e-4)"},
    {"--lr", "X", M, 0, CLI_K_DBL, TR(lr), 0, NULL, "peak learning rate (5e-5)"},
    {"--weight-decay", "X", FPM, 0, CLI_K_DBL, TR(weight_decay), 0, NULL, "AdamW's decoupled weight decay (0.01)"},
    {"--warmup-ratio", "X", FPM, 0, CLI_K_DBL, TR(warmup_ratio), 0, NULL, "warmup as a fraction of the steps (0.1; pretrain 0.01)"},
    {"--warmup-steps", "N", FPM, 0, CLI_K_LONG, TR(warmup_steps), 0, NULL, "warmup steps (overrides --warmup-ratio)"},
    {"--schedule", "S", FPM, 0, CLI_K_FN, NOWHERE, 0, set_schedule, "linear (default), constant or cosine"},
    {"--max-grad-norm", "X", FPM, 0, CLI_K_DBL, TR(max_grad_norm), 0, NULL, "gradient clipping (1); 0 = off"},
    {"--bert-adam", NULL, FPM, 0, CLI_K_FN, NOWHERE, 0, set_bert_adam, "the original BERT optimizer (no bias correction, eps 1e-6)"},
    {"--dropout", "P", FPM, 0, CLI_K_FN, NOWHERE, 0, set_dropout, "hidden, attention and classifier dropout (config.json's)"},
    {"task sampling", NULL, M, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--sampling", "S", M, 0, CLI_K_FN, NOWHERE, 0, set_sampling, "proportional (default), uniform, temperature, annealed or round-robin"},
    {"--temperature", "T", M, 0, CLI_K_DBL, MT(sampler.temperature), 0, NULL, "temperature sampling: p ~ size^(1/T) (2)"},
    {"--anneal-floor", "A", M, 0, CLI_K_DBL, MT(sampler.anneal_floor), 0, NULL, "annealed sampling: p ~ size^alpha, alpha from 1 to A (0.2)"},
    {"--then-finetune", NULL, M, 0, CLI_K_FLAG, MT(then_finetune), 0, NULL, "then fine-tune each task alone from OUT/TASK into OUT/finetune/TASK"},
    {"--finetune-epochs", "N", M, 0, CLI_K_INT, MT(finetune_epochs), 1, NULL, "epochs of that second stage (3)"},
    {"evaluation and checkpoints", NULL, ALL, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--metric", "M", F, 0, CLI_K_STR, LP(metric), 0, NULL, "picks the best model; sequence: accuracy, f1, mcc (single-label), pearson, spearman (regression), loss; token: f1 (default), precision, recall, f1_strict, macro_f1, token_accuracy, loss; qa: f1 (default), exact_match (SQuAD 2.0 also best_f1, ...; BioASQ mrr)"},
    {"--metric", "M", E, 0, CLI_K_STR, LP(metric), 0, NULL, "the figure reported as the score (the task's default when absent)"},
    {"--metric", "M", P, 0, CLI_K_STR, LP(metric), 0, NULL, "keeps OUT/best by mlm_loss, perplexity or mlm_accuracy (none by default)"},
    {"--metric", "M", M, 0, CLI_K_STR, LP(metric), 0, NULL, "picks OUT/best: score (the mean of the tasks' own metrics, default) or TASK/METRIC"},
    {"--eval-steps", "N", FM, 0, CLI_K_INT, LP(eval_steps), 0, NULL, "evaluate every N steps, besides epoch ends"},
    {"--eval-steps", "N", P, 0, CLI_K_INT, LP(eval_steps), 0, NULL, "evaluate every N steps (500; 0 = only at the start and the end)"},
    {"--save-steps", "N", FM, 0, CLI_K_INT, LP(save_steps), 0, NULL, "checkpoint every N steps, besides epoch ends"},
    {"--save-steps", "N", P, 0, CLI_K_INT, LP(save_steps), 0, NULL, "checkpoint every N steps (and at the last)"},
    {"--save-total-limit", "N", FPM, 0, CLI_K_INT, LP(save_total_limit), 0, NULL, "keep the newest N checkpoints (2); 0 = all"},
    {"--patience", "N", FPM, 0, CLI_K_INT, LP(patience), 0, NULL, "stop after N evaluations without a new best; 0 = never"},
    {"--log-steps", "N", FPM, 0, CLI_K_INT, LP(log_steps), 1, NULL, "a log line every N steps (10)"},
    {"--stop-at-step", "N", FPM, 0, CLI_K_LONG, LP(stop_at_step), 1, NULL, "checkpoint and stop at step N (continue with --resume CHECKPOINT, without --stop-at-step)"},
    {"--resume", "CHECKPOINT", FM, 0, CLI_K_FN, NOWHERE, 0, set_resume, "continue from OUT/checkpoint-STEP"},
    {"--resume", "[CHECKPOINT]", P, 0, CLI_K_FN, NOWHERE, 0, set_resume, "continue from a checkpoint (bare: the newest in OUT)"},
    {"data-parallel (mpirun -np N bert ...; --batch-size is per rank)", NULL, FPM, 0, CLI_K_SECTION, NOWHERE, 0, NULL, NULL},
    {"--grad-compression", "C", FPM, 0, CLI_K_FN, NOWHERE, 0, set_compression, "none (default) or bf16: gradients travel as bf16"},
    {"--no-overlap", NULL, FPM, 0, CLI_K_FN, NOWHERE, 0, set_no_overlap, "sum the gradients after backward, not while it runs"},
    {"--checksum-steps", "N", FPM, 0, CLI_K_INT, DIST(checksum_steps), 0, NULL, "compare the ranks' weights every N steps (100); 0 = never"},
    {"--dist-timeout", "S", FPM, 0, CLI_K_DBL, DIST(timeout_s), 0, NULL, "a rank waiting longer for the others ends the job (300)"},
    {NULL, NULL, 0, 0, CLI_K_STR, NOWHERE, 0, NULL, NULL},
};
