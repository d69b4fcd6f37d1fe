/* main.c — the `bert` command: dispatch to one file per subcommand. */
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "bert %s — BERT in C\n"
            "\n"
            "usage: bert <command> [options]\n"
            "\n"
            "commands:\n"
            "  info MODEL_DIR            configuration, parameters, heads and dtypes of a model\n"
            "  embed MODEL_DIR           JSONL of token ids in, JSONL of embeddings out\n"
            "  version                   print the version\n"
            "\n"
            "Run 'bert <command> --help' for a command's options.\n",
            bert_version());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("bert %s\n", bert_version());
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    fprintf(stderr, "bert: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
