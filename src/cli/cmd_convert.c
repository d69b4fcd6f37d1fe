/* cmd_convert.c — `bert convert MODEL_DIR OUT_DIR [--dtype f32|f16|bf16]`:
 * a checkpoint (safetensors or pytorch_model.bin) rewritten as
 * model.safetensors in a new directory (bert_convert). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define CONVERT_USAGE "usage: bert convert MODEL_DIR OUT_DIR [--dtype f32|f16|bf16]"

int cmd_convert(int argc, char **argv);

/* Parse argv into (model, out, dtype) and make the one library call. */
int cmd_convert(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    bert_convert_dtype dtype = BERT_CONVERT_KEEP;
    static const char *const names[] = {"f32", "f16", "bf16"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n\nWrites MODEL_DIR's weights (model.safetensors, pytorch_model.bin, or their sharded\n"
                   "indexes) as OUT_DIR/model.safetensors with config, tokenizer and sentence-transformers\n"
                   "files; --dtype converts floating-point tensors (default: each keeps its dtype).\n"
                   "OUT_DIR must not exist.\n",
                   CONVERT_USAGE);
            return CLI_OK;
        }
        if (strcmp(argv[i], "--dtype") == 0) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            int k = 0;
            while (k < 3 && strcmp(v, names[k]) != 0) k++;
            if (k == 3) {
                fprintf(stderr, "bert convert: --dtype must be f32, f16 or bf16, not '%s'; %s\n", v, CONVERT_USAGE);
                return CLI_USAGE;
            }
            dtype = (bert_convert_dtype)(BERT_CONVERT_F32 + k);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bert convert: unknown option '%s'; %s\n", argv[i], CONVERT_USAGE);
            return CLI_USAGE;
        } else if (!dir) dir = argv[i];
        else if (!out) out = argv[i];
        else {
            fprintf(stderr, "bert convert: unexpected argument '%s'; %s\n", argv[i], CONVERT_USAGE);
            return CLI_USAGE;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "bert convert: needs MODEL_DIR and OUT_DIR; %s\n", CONVERT_USAGE);
        return CLI_USAGE;
    }
    bert_error err;
    if (bert_convert(dir, out, dtype, &err) != BERT_OK) return cli_error("convert", "%s", err.message);
    printf("wrote %s/model.safetensors\n", out);
    return CLI_OK;
}
