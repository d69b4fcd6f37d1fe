/* json_fields.h — typed access to optional fields of a JSON object, with
 * errors that name the field. Absent (or null) fields keep the default. */
#ifndef BERT_IO_JSON_FIELDS_H
#define BERT_IO_JSON_FIELDS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "bert.h"

/* Parse text as JSON; on failure the error gives the line and column. */
bert_status bert_json_parse(const char *text, const char *what, cJSON **out, bert_error *err);

/* Read file `path` and parse it as JSON (errors name the file). */
bert_status bert_json_load_file(const char *path, cJSON **out, bert_error *err);

/* 1 when v is a JSON number holding an integer in [lo, hi] (what is read
 * back from checkpoints: counts, positions, steps). */
int bert_json_whole(const cJSON *v, double lo, double hi);
/* 1 and *out when v is a string of decimal digits alone that fits a
 * uint64 (RNG states, which a JSON number cannot hold exactly). */
int bert_json_u64_string(const cJSON *v, uint64_t *out);

bert_status bert_json_int(const cJSON *obj, const char *key, int def, int *out, bert_error *err);
bert_status bert_json_double(const cJSON *obj, const char *key, double def, double *out, bert_error *err);
/* *out is a malloc'd copy of the string (or of def). */
bert_status bert_json_string(const cJSON *obj, const char *key, const char *def, char **out, bert_error *err);

#endif
