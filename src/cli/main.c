/* main.c — the `bert` command: dispatch to one file per subcommand. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/signals.h"

static void usage(FILE *f) {
    fprintf(f,
            "bert %s — BERT in C\n"
            "\n"
            "usage: bert <command> [options]\n"
            "\n"
            "commands:\n"
            "  info MODEL_DIR            configuration, parameters, heads and dtypes of a model\n"
            "  tokenize MODEL_DIR        JSONL of texts in, Hugging Face encodings out\n"
            "  embed MODEL_DIR           JSONL of texts or token ids in, JSONL of embeddings out\n"
            "  fill-mask MODEL_DIR       top-k tokens for each [MASK]\n"
            "  classify MODEL_DIR        sequence classification of texts and pairs\n"
            "  ner MODEL_DIR             token classification with entity aggregation\n"
            "  dialogue MODEL_DIR        intent and slots of a user turn (joint model), with the turns before\n"
            "  qa MODEL_DIR              extractive question answering over long contexts\n"
            "  rerank MODEL_DIR          cross-encoder scores of documents for a query\n"
            "  nsp MODEL_DIR             next-sentence probability of text pairs\n"
            "  finetune MODEL_DIR        fine-tune a classifier / regressor (GLUE presets, TSV, JSONL)\n"
            "  multitask MODEL_DIR       multi-task fine-tuning: one encoder, a head per task, task sampling\n"
            "  eval MODEL_DIR            score a fine-tuned model (--task ncbi|squad|... or --task-type token|qa)\n"
            "  score-squad DATA PREDS    the official SQuAD v1.1 / v2.0 scores of a predictions file\n"
            "  plot LOG.jsonl            training curves to PNG or SVG (PLplot)\n"
            "  sweep MODEL_DIR           fine-tune over a grid of learning rates, epochs, batches, seeds\n"
            "  init OUT_DIR              a new randomly initialised model from sizes and a vocab.txt\n"
            "  vocab --corpus FILE...    learn a WordPiece vocabulary (vocab.txt) from text\n"
            "  prepare MODEL_DIR         tokenize a pre-training corpus once into a compact binary file\n"
            "  pretrain MODEL_DIR        masked-LM + NSP pre-training on text files (dynamic masking)\n"
            "  serve MODEL_DIR           HTTP server: OpenAI embeddings, TEI routes, tasks, metrics\n"
            "  convert MODEL_DIR OUT     a model directory (pytorch_model.bin, ...) as safetensors\n"
            "  version                   print the version\n"
            "\n"
            "Run 'bert <command> --help' for a command's options.\n",
            bert_version());
}

/* OpenBLAS chooses its kernels when it loads, from the CPU model; on CPUs
 * it does not recognise it runs SSE3 kernels ~5x too slowly. When that
 * happened, run this program again with OPENBLAS_CORETYPE set (once: the
 * variable being set stops a second attempt). */
static void fix_blas_kernels(char **argv) {
    const char *hint = bert_blas_coretype_hint();
    if (!hint || getenv("OPENBLAS_CORETYPE") || getenv("BERT_NO_REEXEC")) return;
    setenv("OPENBLAS_CORETYPE", hint, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slow kernels */
}

int main(int argc, char **argv) {
    fix_blas_kernels(argv);
    /* Before any thread starts; the server takes its signals itself. */
    if (argc < 2 || strcmp(argv[1], "serve") != 0) cli_signals_take();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "fill-mask") == 0) return cmd_fill_mask(argc - 1, argv + 1);
    if (strcmp(cmd, "classify") == 0) return cmd_classify(argc - 1, argv + 1);
    if (strcmp(cmd, "ner") == 0) return cmd_ner(argc - 1, argv + 1);
    if (strcmp(cmd, "qa") == 0) return cmd_qa(argc - 1, argv + 1);
    if (strcmp(cmd, "rerank") == 0) return cmd_rerank(argc - 1, argv + 1);
    if (strcmp(cmd, "nsp") == 0) return cmd_nsp(argc - 1, argv + 1);
    if (strcmp(cmd, "finetune") == 0) return cmd_finetune(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "score-squad") == 0) return cmd_score_squad(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "pretrain") == 0) return cmd_pretrain(argc - 1, argv + 1);
    if (strcmp(cmd, "multitask") == 0) return cmd_multitask(argc - 1, argv + 1);
    if (strcmp(cmd, "dialogue") == 0) return cmd_dialogue(argc - 1, argv + 1);
    if (strcmp(cmd, "init") == 0) return cmd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "vocab") == 0) return cmd_vocab(argc - 1, argv + 1);
    if (strcmp(cmd, "prepare") == 0) return cmd_prepare(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        char info[512];
        const char *no_cuda = bert_cuda_unavailable_reason();
        printf("bert %s\n%s\nmpi: %s\ncuda: %s\n", bert_version(), bert_system_info(info, sizeof info),
               bert_dist_compiled() ? "yes (data-parallel training and sharded inference under mpirun)" : "no (built without Open MPI)",
               no_cuda ? no_cuda : "yes (--device cuda)");
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    fprintf(stderr, "bert: unknown command '%s' (bert help lists the commands)\n", cmd);
    return CLI_USAGE;
}
