/* finetune_data.h — reading classification / regression examples from
 * GLUE-style TSV or JSONL, and the GLUE presets. */
#ifndef BERT_CLI_FINETUNE_DATA_H
#define BERT_CLI_FINETUNE_DATA_H

#include "bert.h"

typedef struct {
    char *text, *pair; /* pair may be NULL */
    char *label;       /* as written in the file */
    long line;
} ft_example;

typedef struct {
    ft_example *v;
    int n;
} ft_examples;

/* Columns: a header name or a 0-based index ("3"); pair may be NULL. For
 * JSONL the names are field names. header: the TSV's first line is a
 * header. */
typedef struct {
    const char *text, *pair, *label;
    int header;
} ft_columns;

/* Read path (".jsonl" -> JSONL, else TSV). Errors name the file and line. */
int ft_read(const char *path, const ft_columns *cols, ft_examples *out, char *msg, size_t cap);
void ft_free(ft_examples *e);

typedef struct {
    const char *name, *dir, *train, *dev;
    ft_columns cols;
    bert_problem problem;
    const char *metric; /* accuracy | f1 | mcc | pearson */
} ft_preset;

/* The preset called name (sst2, cola, mrpc, rte, stsb, wnli), or NULL. */
const ft_preset *ft_preset_find(const char *name);

#endif
