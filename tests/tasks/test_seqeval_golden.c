/* test_seqeval_golden.c — bert_seqeval against seqeval 1.2.2 itself: the
 * classification_report(output_dict=True), accuracy and detected scheme
 * that tools/make_scoring_goldens.py recorded for crafted cases in every
 * mode (default, strict with auto_detect, strict with each scheme), equal
 * to the last bit; the cases where seqeval raises must fail here too. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "test.h"

#define GOLDENS "tests/fixtures/conformance/scoring/seqeval_goldens.json"

/* The tags of a [[tag, ...], ...] list, back to back, and the lengths. */
static int flatten(const cJSON *sents, const char ***tags, int **lens) {
    int ns = cJSON_GetArraySize(sents), total = 0;
    for (const cJSON *s = sents->child; s; s = s->next) total += cJSON_GetArraySize(s);
    *tags = malloc(sizeof **tags * (size_t)(total + 1));
    *lens = malloc(sizeof **lens * (size_t)(ns + 1));
    int k = 0, i = 0;
    for (const cJSON *s = sents->child; s; s = s->next, i++) {
        (*lens)[i] = cJSON_GetArraySize(s);
        for (const cJSON *t = s->child; t; t = t->next) (*tags)[k++] = t->valuestring;
    }
    return ns;
}

/* A golden number: null stands for seqeval's nan (a macro average over no
 * types), which bert_seqeval reports as 0. */
static int same_number(const cJSON *want, double got) {
    if (cJSON_IsNull(want)) return got == 0.0;
    return cJSON_IsNumber(want) && want->valuedouble == got;
}

/* One report row against the golden's. */
static int row_ok(const cJSON *rep, const char *name, double p, double r, double f, long s) {
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(rep, name);
    return row && same_number(cJSON_GetObjectItemCaseSensitive(row, "precision"), p) &&
           same_number(cJSON_GetObjectItemCaseSensitive(row, "recall"), r) &&
           same_number(cJSON_GetObjectItemCaseSensitive(row, "f1-score"), f) &&
           cJSON_GetObjectItemCaseSensitive(row, "support")->valuedouble == (double)s;
}

/* The whole result against the golden case; prints what differs. */
static int case_ok(const cJSON *c, const bert_seqeval_result *r) {
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(c, "report");
    int ok = cJSON_GetArraySize(rep) == r->n_types + 3;
    for (int i = 0; ok && i < r->n_types; i++)
        ok = row_ok(rep, r->types[i], r->type_precision[i], r->type_recall[i], r->type_f1[i], r->type_support[i]);
    ok = ok && row_ok(rep, "micro avg", r->precision, r->recall, r->f1, r->n_gold) &&
         row_ok(rep, "macro avg", r->macro_precision, r->macro_recall, r->macro_f1, r->n_gold) &&
         row_ok(rep, "weighted avg", r->weighted_precision, r->weighted_recall, r->weighted_f1, r->n_gold) &&
         same_number(cJSON_GetObjectItemCaseSensitive(c, "accuracy"), r->token_accuracy);
    const char *scheme = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "scheme"));
    ok = ok && (scheme ? strcmp(scheme, bert_seqeval_scheme_name(r->scheme)) == 0 : r->scheme == 0);
    if (!ok) {
        char *mine = bert_seqeval_report_json(r), *want = cJSON_PrintUnformatted(rep);
        fprintf(stderr, "  seqeval: %s\n  bert.c:  %s\n", want, mine);
        free(mine), free(want);
    }
    return ok;
}

TEST(seqeval_matches_seqeval_goldens) {
    char *text = NULL;
    FILE *f = fopen(GOLDENS, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    text = malloc((size_t)n + 1);
    CHECK(fread(text, 1, (size_t)n, f) == (size_t)n);
    text[n] = '\0';
    fclose(f);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    CHECK(cJSON_GetArraySize(cases) > 100);
    int checked = 0, errors = 0;
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "mode"));
        const char **gold, **pred;
        int *lens, *lens2;
        int ns = flatten(cJSON_GetObjectItemCaseSensitive(c, "gold"), &gold, &lens);
        flatten(cJSON_GetObjectItemCaseSensitive(c, "pred"), &pred, &lens2);
        bert_seqeval_result r;
        bert_error err;
        int m = bert_seqeval_scheme_from_name(mode);
        CHECK(m >= 0);
        bert_status rc = bert_seqeval(gold, pred, lens, ns, m, &r, &err);
        int want_error = cJSON_GetObjectItemCaseSensitive(c, "error") != NULL;
        if (want_error) {
            errors++;
            if (rc != BERT_ERR_INPUT) test_fail(__FILE__, __LINE__, "%s/%s: seqeval raises, bert_seqeval gives %d", name, mode, (int)rc);
        } else if (rc != BERT_OK) {
            test_fail(__FILE__, __LINE__, "%s/%s: %s", name, mode, err.message);
        } else if (!case_ok(c, &r)) {
            test_fail(__FILE__, __LINE__, "%s/%s differs from seqeval", name, mode);
        }
        if (rc == BERT_OK) bert_seqeval_free(&r);
        checked++;
        free(gold), free(pred), free(lens), free(lens2);
    }
    CHECK(checked > 100 && errors > 5);
    cJSON_Delete(root);
}
