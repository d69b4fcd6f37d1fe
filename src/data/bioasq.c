/* bioasq.c — BioASQ golden files: the factoid questions' exact answers
 * and their synonyms, for scoring snippet predictions per question. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "data/qa_data.h"
#include "io/gzip.h"
#include "util/error.h"

void bert_qa_lower_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

void bert_bioasq_gold_free(bert_bioasq_gold *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        for (int k = 0; g->syn && k < g->n_syn[i]; k++) free(g->syn[i][k]);
        if (g->syn) free(g->syn[i]);
        free(g->qid[i]);
    }
    free(g->syn), free(g->qid), free(g->n_syn);
    memset(g, 0, sizeof *g);
}

/* Add synonym text (lower-cased) to question k; 0 when out of memory. */
static int add_synonym(bert_bioasq_gold *g, int k, const char *text) {
    char **s = realloc(g->syn[k], sizeof *s * (size_t)(g->n_syn[k] + 1));
    if (!s) return 0;
    g->syn[k] = s;
    if (!(s[g->n_syn[k]] = strdup(text))) return 0;
    bert_qa_lower_ascii(s[g->n_syn[k]++]);
    return 1;
}

/* The factoid questions of the list qs into g (sized for all of them). */
static bert_status read_questions(const char *path, const cJSON *qs, bert_bioasq_gold *g, bert_error *err) {
    const cJSON *q;
    cJSON_ArrayForEach(q, qs) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(q, "type"), *id = cJSON_GetObjectItemCaseSensitive(q, "id"),
                    *ex = cJSON_GetObjectItemCaseSensitive(q, "exact_answer");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "factoid") != 0 || !cJSON_IsString(id) || !cJSON_IsArray(ex))
            continue;
        int k = g->n++;
        if (!(g->qid[k] = strdup(id->valuestring))) return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
        const cJSON *e, *x;
        cJSON_ArrayForEach(e, ex) { /* [["a", "a synonym"], ["b"]] or ["a"] */
            const cJSON *list = cJSON_IsArray(e) ? e : NULL;
            for (x = list ? list->child : e; x; x = list ? x->next : NULL)
                if (cJSON_IsString(x) && !add_synonym(g, k, x->valuestring))
                    return bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    return BERT_OK;
}

bert_status bert_bioasq_gold_read(const char *path, bert_bioasq_gold *g, bert_error *err) {
    memset(g, 0, sizeof *g);
    char *text;
    bert_status rc = bert_file_read_gz(path, 0, &text, NULL, err);
    if (rc != BERT_OK) return rc;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "questions");
    if (!cJSON_IsArray(qs)) {
        cJSON_Delete(root);
        return bert_fail(err, BERT_ERR_FORMAT, "%s: not a BioASQ golden file (no \"questions\" list)", path);
    }
    size_t n = (size_t)cJSON_GetArraySize(qs) + 1;
    g->qid = calloc(n, sizeof *g->qid), g->syn = calloc(n, sizeof *g->syn), g->n_syn = calloc(n, sizeof *g->n_syn);
    if (!g->qid || !g->syn || !g->n_syn) rc = bert_fail(err, BERT_ERR_NOMEM, "%s: out of memory", path);
    else rc = read_questions(path, qs, g, err);
    cJSON_Delete(root);
    if (rc != BERT_OK) bert_bioasq_gold_free(g);
    return rc;
}
