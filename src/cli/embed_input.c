/* embed_input.c — see embed_input.h. */
#include "cli/embed_input.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void record_free(record *r) {
    free(r->ids);
    free(r->types);
    free(r->mask);
    memset(r, 0, sizeof *r);
}

/* Copy a JSON array of integers into a new int32 array. */
static int int_array(const cJSON *a, const char *field, int32_t **out, int *n, char *msg, size_t cap) {
    if (!cJSON_IsArray(a)) {
        snprintf(msg, cap, "'%s' must be an array of integers", field);
        return 0;
    }
    int len = cJSON_GetArraySize(a), i = 0;
    *out = malloc((size_t)(len ? len : 1) * sizeof **out);
    if (!*out) {
        snprintf(msg, cap, "out of memory");
        return 0;
    }
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || floor(e->valuedouble) != e->valuedouble || fabs(e->valuedouble) > 2147483647.0) {
            snprintf(msg, cap, "'%s'[%d] is not an integer", field, i);
            return 0;
        }
        (*out)[i] = (int32_t)e->valuedouble;
    }
    *n = len;
    return 1;
}

/* Tokenize {"text", "text_pair"} into r. */
static int tokenize_record(const cJSON *o, const bert_tokenizer *tok, const bert_encode_params *ep, record *r, char *msg,
                           size_t cap) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text"), *p = cJSON_GetObjectItemCaseSensitive(o, "text_pair");
    if (!cJSON_IsString(t) || (p && !cJSON_IsNull(p) && !cJSON_IsString(p))) {
        snprintf(msg, cap, "\"text\" and \"text_pair\" must be strings");
        return 0;
    }
    if (!tok) {
        snprintf(msg, cap, "\"text\" input needs tokenizer files (vocab.txt or tokenizer.json) in the model directory");
        return 0;
    }
    bert_encodings es;
    bert_error err;
    if (bert_tokenize(tok, t->valuestring, -1, cJSON_IsString(p) ? p->valuestring : NULL, -1, ep, &es, &err) != BERT_OK) {
        snprintf(msg, cap, "%s", err.message);
        return 0;
    }
    const bert_encoding *e = &es.encodings[0];
    size_t bytes = (size_t)(e->n_tokens ? e->n_tokens : 1) * sizeof(int32_t);
    r->ids = malloc(bytes);
    r->types = malloc(bytes);
    r->mask = NULL;
    r->n = e->n_tokens;
    int ok = r->ids && r->types;
    if (ok) {
        memcpy(r->ids, e->input_ids, (size_t)e->n_tokens * sizeof(int32_t));
        memcpy(r->types, e->token_type_ids, (size_t)e->n_tokens * sizeof(int32_t));
    } else {
        snprintf(msg, cap, "out of memory");
    }
    bert_encodings_free(&es);
    return ok;
}

int parse_record(const char *line, const bert_tokenizer *tok, const bert_encode_params *ep, record *r, char *msg,
                 size_t cap) {
    if (!cli_check_json_line(line, msg, cap)) return 0;
    cJSON *o = cJSON_Parse(line);
    int ok = 0, n = 0;
    if (!o || !cJSON_IsObject(o)) {
        snprintf(msg, cap, "not a JSON object");
    } else {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "input_ids");
        const cJSON *types = cJSON_GetObjectItemCaseSensitive(o, "token_type_ids");
        const cJSON *mask = cJSON_GetObjectItemCaseSensitive(o, "attention_mask");
        if (!ids && cJSON_GetObjectItemCaseSensitive(o, "text"))
            ok = tokenize_record(o, tok, ep, r, msg, cap);
        else if (!ids)
            snprintf(msg, cap, "no \"input_ids\" or \"text\"");
        else if (int_array(ids, "input_ids", &r->ids, &r->n, msg, cap) &&
                 (!types || (int_array(types, "token_type_ids", &r->types, &n, msg, cap) &&
                             (n == r->n || (snprintf(msg, cap, "token_type_ids has %d entries, input_ids %d", n, r->n), 0)))) &&
                 (!mask || (int_array(mask, "attention_mask", &r->mask, &n, msg, cap) &&
                            (n == r->n || (snprintf(msg, cap, "attention_mask has %d entries, input_ids %d", n, r->n), 0)))))
            ok = 1;
    }
    cJSON_Delete(o);
    return ok;
}

/* 1 when v[0..n) are all finite (JSON has no NaN or infinity). */
int embed_all_finite(const float *v, size_t n) {
    for (size_t j = 0; j < n; j++)
        if (!isfinite(v[j])) return 0;
    return 1;
}

/* v[0..n) scaled to unit L2 norm (as torch.nn.functional.normalize: a
 * norm below 1e-12 divides by 1e-12). */
void embed_l2_normalize(float *v, int n) {
    double ss = 0;
    for (int j = 0; j < n; j++) ss += (double)v[j] * v[j];
    double nrm = sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12;
    for (int j = 0; j < n; j++) v[j] = (float)(v[j] / nrm);
}

/* v[0..n) as a JSON array of %.9g numbers. */
void embed_print_vector(FILE *f, const float *v, int n) {
    fputc('[', f);
    for (int j = 0; j < n; j++) fprintf(f, j ? ",%.9g" : "%.9g", v[j]);
    fputc(']', f);
}
