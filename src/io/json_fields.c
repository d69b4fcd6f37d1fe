/* json_fields.c — see json_fields.h. */
#include "io/json_fields.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "util/error.h"

bert_status bert_json_parse(const char *text, const char *what, cJSON **out, bert_error *err) {
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 1);
    if (*out) return BERT_OK;
    int line = 1, col = 1;
    for (const char *p = text; end && p < end; p++) {
        if (*p == '\n') line++, col = 1;
        else col++;
    }
    return bert_fail(err, BERT_ERR_FORMAT, "%s: malformed JSON at line %d, column %d", what, line, col);
}

bert_status bert_json_load_file(const char *path, cJSON **out, bert_error *err) {
    char *text;
    *out = NULL;
    bert_status rc = bert_file_read_text(path, &text, NULL, err);
    if (rc != BERT_OK) return rc;
    rc = bert_json_parse(text, path, out, err);
    free(text);
    return rc;
}

int bert_json_whole(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi && v->valuedouble == floor(v->valuedouble);
}

int bert_json_u64_string(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsString(v) || v->valuestring[0] < '0' || v->valuestring[0] > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v->valuestring, &end, 10);
    if (errno || *end) return 0;
    *out = (uint64_t)x;
    return 1;
}

static const cJSON *field(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

bert_status bert_json_int(const cJSON *obj, const char *key, int def, int *out, bert_error *err) {
    const cJSON *v = field(obj, key);
    if (!v) {
        *out = def;
        return BERT_OK;
    }
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble || fabs(v->valuedouble) > 2147483647.0)
        return bert_fail(err, BERT_ERR_CONFIG, "field '%s' must be an integer", key);
    *out = (int)v->valuedouble;
    return BERT_OK;
}

bert_status bert_json_double(const cJSON *obj, const char *key, double def, double *out, bert_error *err) {
    const cJSON *v = field(obj, key);
    if (!v) {
        *out = def;
        return BERT_OK;
    }
    if (!cJSON_IsNumber(v)) return bert_fail(err, BERT_ERR_CONFIG, "field '%s' must be a number", key);
    *out = v->valuedouble;
    return BERT_OK;
}

bert_status bert_json_string(const cJSON *obj, const char *key, const char *def, char **out, bert_error *err) {
    const cJSON *v = field(obj, key);
    if (v && !cJSON_IsString(v)) return bert_fail(err, BERT_ERR_CONFIG, "field '%s' must be a string", key);
    *out = strdup(v ? v->valuestring : def);
    return *out ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}
