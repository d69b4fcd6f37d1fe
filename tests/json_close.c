/* json_close.c — compare two JSONL files structurally: the same lines,
 * keys, strings and array lengths, and numbers within an absolute
 * tolerance. Used by the CLI tests to compare task outputs with the
 * PyTorch reference's expected files.
 *   json_close EXPECTED ACTUAL TOL     (exit 0 when close, 1 otherwise) */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char where[512];

static int close_enough(const cJSON *a, const cJSON *b, double tol, const char *path) {
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        if (fabs(a->valuedouble - b->valuedouble) <= tol) return 1;
        snprintf(where, sizeof where, "%s: %.9g vs %.9g", path, a->valuedouble, b->valuedouble);
        return 0;
    }
    if ((a->type & 0xFF) != (b->type & 0xFF)) {
        snprintf(where, sizeof where, "%s: different JSON types", path);
        return 0;
    }
    if (cJSON_IsString(a)) {
        if (strcmp(a->valuestring, b->valuestring) == 0) return 1;
        snprintf(where, sizeof where, "%s: \"%s\" vs \"%s\"", path, a->valuestring, b->valuestring);
        return 0;
    }
    if (cJSON_IsArray(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            snprintf(where, sizeof where, "%s: %d vs %d items", path, cJSON_GetArraySize(a), cJSON_GetArraySize(b));
            return 0;
        }
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next, i++) {
            char p[256];
            snprintf(p, sizeof p, "%s[%d]", path, i);
            if (!close_enough(x, y, tol, p)) return 0;
        }
        return 1;
    }
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            snprintf(where, sizeof where, "%s: %d vs %d keys", path, cJSON_GetArraySize(a), cJSON_GetArraySize(b));
            return 0;
        }
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            char p[256];
            snprintf(p, sizeof p, "%s.%s", path, x->string);
            if (!y) {
                snprintf(where, sizeof where, "%s: missing", p);
                return 0;
            }
            if (!close_enough(x, y, tol, p)) return 0;
        }
        return 1;
    }
    return cJSON_Compare(a, b, 1);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: json_close EXPECTED ACTUAL TOL\n");
        return 2;
    }
    FILE *fe = fopen(argv[1], "r"), *fa = fopen(argv[2], "r");
    if (!fe || !fa) {
        fprintf(stderr, "json_close: cannot open inputs\n");
        return 2;
    }
    double tol = atof(argv[3]);
    char *le = NULL, *la = NULL;
    size_t ce = 0, ca = 0;
    int line = 0, bad = 0;
    for (;;) {
        ssize_t ne = getline(&le, &ce, fe), na = getline(&la, &ca, fa);
        if (ne < 0 || na < 0) {
            if (ne >= 0 || na >= 0) {
                printf("line %d: one file has more lines\n", line + 1);
                bad = 1;
            }
            break;
        }
        line++;
        cJSON *je = cJSON_Parse(le), *ja = cJSON_Parse(la);
        if (!je || !ja) {
            printf("line %d: not JSON\n", line);
            bad = 1;
        } else if (!close_enough(je, ja, tol, "$")) {
            printf("line %d: %s\n", line, where);
            bad = 1;
        }
        cJSON_Delete(je);
        cJSON_Delete(ja);
        if (bad) break;
    }
    free(le), free(la);
    fclose(fe), fclose(fa);
    return bad;
}
