/* fs_copy.c — a driver for the fault-injection test: `fs_copy FROM TO`
 * copies the directory tree FROM over TO with bert_dir_copy, `fs_copy
 * --file FROM TO` a file with bert_file_copy. Exit 0, or 1 with the error
 * on stderr. Not part of the library. */
#include <stdio.h>
#include <string.h>

#include "io/fs.h"

int main(int argc, char **argv) {
    int file = argc == 4 && strcmp(argv[1], "--file") == 0;
    if (argc != 3 && !file) {
        fprintf(stderr, "usage: fs_copy [--file] FROM TO\n");
        return 2;
    }
    bert_error err;
    bert_status rc = file ? bert_file_copy(argv[2], argv[3], &err) : bert_dir_copy(argv[1], argv[2], &err);
    if (rc != BERT_OK) {
        fprintf(stderr, "fs_copy: %s\n", err.message);
        return 1;
    }
    return 0;
}
