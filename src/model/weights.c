/* weights.c — matching checkpoint tensors to the model's weight slots.
 *
 * Hugging Face has written BERT under several names over the years: with a
 * "bert." prefix (BertFor* heads) or without (a bare BertModel), with
 * LayerNorm "gamma"/"beta" (TF-converted checkpoints) or "weight"/"bias",
 * and with the MLM decoder stored or left out because it is tied to the
 * word embeddings. We reduce every name to one canonical form first, then
 * look up a fixed list of slots whose shapes follow from the config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/half.h"
#include "model/model.h"
#include "util/error.h"

typedef bert_weight_req weight_req;

/* A checkpoint tensor with its canonical name. */
typedef struct {
    char *canon;
    const st_tensor *t;
    int used;
} named_tensor;

/* "bert.encoder.layer.0.attention.output.LayerNorm.gamma" ->
 * "encoder.layer.0.attention.output.LayerNorm.weight". */
static char *canonical_name(const char *name) {
    if (strncmp(name, "bert.", 5) == 0) name += 5;
    size_t n = strlen(name);
    char *s = malloc(n + 8);
    if (!s) return NULL;
    memcpy(s, name, n + 1);
    const char *suffixes[][2] = {{"LayerNorm.gamma", "LayerNorm.weight"}, {"LayerNorm.beta", "LayerNorm.bias"}};
    for (int i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i][0]);
        if (n >= sl && strcmp(s + n - sl, suffixes[i][0]) == 0) strcpy(s + n - sl, suffixes[i][1]);
    }
    return s;
}

typedef bert_weight_list req_list;

static int add_req(req_list *l, const float **slot, int64_t rows, int64_t cols, unsigned group, int optional,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#include <stdarg.h>
static int add_req(req_list *l, const float **slot, int64_t rows, int64_t cols, unsigned group, int optional,
                   const char *fmt, ...) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        weight_req *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return 0;
        l->v = v;
        l->cap = cap;
    }
    weight_req *r = &l->v[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof r->name, fmt, ap);
    va_end(ap);
    r->slot = slot;
    r->rows = rows;
    r->cols = cols;
    r->group = group;
    r->optional = optional;
    return 1;
}

/* dense: "<prefix>.weight" [out x in] and "<prefix>.bias" [out]. */
static int add_dense(req_list *l, bert_dense *d, int64_t out, int64_t in, unsigned group, const char *prefix) {
    return add_req(l, &d->w, out, in, group, 0, "%s.weight", prefix) &&
           add_req(l, &d->b, out, 0, group, 0, "%s.bias", prefix);
}

static int add_norm(req_list *l, bert_norm *nm, int64_t C, unsigned group, const char *prefix) {
    return add_req(l, &nm->w, C, 0, group, 0, "%s.weight", prefix) &&
           add_req(l, &nm->b, C, 0, group, 0, "%s.bias", prefix);
}

static int build_requests(bert_model *m, req_list *l) {
    const bert_config *c = &m->cfg.pub;
    bert_weights *w = &m->w;
    int64_t C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int64_t n_labels = c->num_labels > 0 ? c->num_labels : 2; /* BertConfig's default num_labels */
    int ok = add_req(l, &w->word, V, C, 0, 0, "embeddings.word_embeddings.weight") &&
             add_req(l, &w->pos, c->max_position_embeddings, C, 0, 0, "embeddings.position_embeddings.weight") &&
             add_req(l, &w->type, c->type_vocab_size, C, 0, 0, "embeddings.token_type_embeddings.weight") &&
             add_norm(l, &w->emb_ln, C, 0, "embeddings.LayerNorm");
    for (int i = 0; ok && i < c->num_hidden_layers; i++) {
        bert_layer_weights *L = &w->layers[i];
        char p[64];
        snprintf(p, sizeof p, "encoder.layer.%d.", i);
        char n[128];
#define P(suffix) (snprintf(n, sizeof n, "%s%s", p, suffix), n)
        ok = add_dense(l, &L->q, C, C, 0, P("attention.self.query")) &&
             add_dense(l, &L->k, C, C, 0, P("attention.self.key")) &&
             add_dense(l, &L->v, C, C, 0, P("attention.self.value")) &&
             add_dense(l, &L->attn_out, C, C, 0, P("attention.output.dense")) &&
             add_norm(l, &L->attn_ln, C, 0, P("attention.output.LayerNorm")) &&
             add_dense(l, &L->inter, I, C, 0, P("intermediate.dense")) &&
             add_dense(l, &L->out, C, I, 0, P("output.dense")) && add_norm(l, &L->out_ln, C, 0, P("output.LayerNorm"));
#undef P
    }
    return ok && add_dense(l, &w->pooler, C, C, BERT_HEAD_POOLER, "pooler.dense") &&
           add_dense(l, &w->mlm_transform, C, C, BERT_HEAD_MLM, "cls.predictions.transform.dense") &&
           add_norm(l, &w->mlm_ln, C, BERT_HEAD_MLM, "cls.predictions.transform.LayerNorm") &&
           add_req(l, &w->mlm_bias, V, 0, BERT_HEAD_MLM, 0, "cls.predictions.bias") &&
           add_req(l, &w->mlm_decoder, V, C, BERT_HEAD_MLM, 1, "cls.predictions.decoder.weight") &&
           add_dense(l, &w->nsp, 2, C, BERT_HEAD_NSP, "cls.seq_relationship") &&
           add_dense(l, &w->classifier, n_labels, C, BERT_HEAD_CLASSIFIER, "classifier") &&
           add_dense(l, &w->qa, 2, C, BERT_HEAD_QA, "qa_outputs") &&
           (c->num_intents == 0 || add_dense(l, &w->intent, c->num_intents, C, BERT_HEAD_INTENT, "intent_classifier"));
}

static named_tensor *find_named(named_tensor *ts, int n, const char *canon) {
    for (int i = 0; i < n; i++)
        if (strcmp(ts[i].canon, canon) == 0) return &ts[i];
    return NULL;
}

static bert_status check_tensor(const weight_req *r, const st_tensor *t, const char *file, bert_error *err) {
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return bert_fail(err, BERT_ERR_SHAPE, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", file, t->name,
                         st_dtype_name(t->dtype));
    int want_nd = r->cols ? 2 : 1;
    int ok = t->ndim == want_nd && t->shape[0] == r->rows && (want_nd == 1 || t->shape[1] == r->cols);
    if (!ok) {
        char got[96] = "[", *p = got + 1;
        for (int d = 0; d < t->ndim && p < got + sizeof got - 24; d++)
            p += snprintf(p, (size_t)(got + sizeof got - p), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        snprintf(p, (size_t)(got + sizeof got - p), "]");
        if (want_nd == 2)
            return bert_fail(err, BERT_ERR_SHAPE, "%s: tensor '%s' has shape %s; config.json implies [%lld, %lld]", file,
                             t->name, got, (long long)r->rows, (long long)r->cols);
        return bert_fail(err, BERT_ERR_SHAPE, "%s: tensor '%s' has shape %s; config.json implies [%lld]", file, t->name,
                         got, (long long)r->rows);
    }
    return BERT_OK;
}

/* F32 data at a 4-byte boundary can be used where it lies. */
static int usable_in_place(const st_tensor *t) { return t->dtype == ST_F32 && ((uintptr_t)t->data % 4) == 0; }

static void widen(float *dst, const st_tensor *t) {
    switch (t->dtype) {
    case ST_F16: bert_f16_to_f32_array(dst, t->data, (size_t)t->numel); break;
    case ST_BF16: bert_bf16_to_f32_array(dst, t->data, (size_t)t->numel); break;
    default: memcpy(dst, t->data, (size_t)t->numel * sizeof(float)); break;
    }
}

static void note_dtype(bert_model *m, st_dtype d) {
    const char *name = st_dtype_name(d);
    if (strstr(m->dtypes, name)) return;
    size_t len = strlen(m->dtypes);
    snprintf(m->dtypes + len, sizeof m->dtypes - len, "%s%s", len ? "+" : "", name);
}

/* Request i is the MLM decoder and its tensor is the word embeddings'
 * tensor itself (torch checkpoints store tied weights as one storage):
 * the slot is tied to the word embeddings, as when the decoder is absent. */
static int ties_word(const bert_model *m, const req_list *reqs, const named_tensor **found, int i) {
    if (reqs->v[i].slot != &m->w.mlm_decoder || !found[i]) return 0;
    for (int j = 0; j < reqs->n; j++)
        if (reqs->v[j].slot == &m->w.word && found[j])
            return found[j]->t->data == found[i]->t->data && found[j]->t->dtype == found[i]->t->dtype &&
                   found[j]->t->nbytes == found[i]->t->nbytes;
    return 0;
}

static bert_status bind(bert_model *m, req_list *reqs, named_tensor *ts, int nts, bert_error *err) {
    /* Pass 1: which groups are present, and are they complete and well-shaped? */
    unsigned present = 0;
    for (int i = 0; i < reqs->n; i++) {
        named_tensor *nt = find_named(ts, nts, reqs->v[i].name);
        if (nt && reqs->v[i].group) present |= reqs->v[i].group;
    }
    /* Hugging Face may keep the decoder bias under its tied name only. */
    named_tensor *dec_bias = find_named(ts, nts, "cls.predictions.decoder.bias");
    size_t n_convert = 0;
    const named_tensor **found = calloc(reqs->n > 0 ? (size_t)reqs->n : 1, sizeof *found);
    if (!found) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    for (int i = 0; i < reqs->n && rc == BERT_OK; i++) {
        weight_req *r = &reqs->v[i];
        if (r->group && !(present & r->group)) continue;
        named_tensor *nt = find_named(ts, nts, r->name);
        if (!nt && r->slot == &m->w.mlm_bias) nt = dec_bias;
        if (!nt) {
            if (r->optional) continue;
            rc = bert_fail(err, BERT_ERR_SHAPE, "tensor '%s' is missing from the checkpoint", r->name);
            break;
        }
        const char *file = m->shards[0].path;
        for (int s = 0; s < m->n_shards; s++)
            if (nt->t >= m->shards[s].tensors && nt->t < m->shards[s].tensors + m->shards[s].n_tensors)
                file = m->shards[s].path;
        if ((rc = check_tensor(r, nt->t, file, err)) != BERT_OK) break;
        found[i] = nt;
        nt->used = 1;
        if (!usable_in_place(nt->t) && !ties_word(m, reqs, found, i)) n_convert += (size_t)nt->t->numel;
    }
    if (rc == BERT_OK && n_convert) {
        m->converted = malloc(n_convert * sizeof(float));
        if (!m->converted) rc = bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %zu floats for widened weights", n_convert);
    }
    /* Pass 2: point every slot at its data. */
    size_t off = 0;
    for (int i = 0; i < reqs->n && rc == BERT_OK; i++) {
        const st_tensor *t = found[i] ? found[i]->t : NULL;
        if (!t) continue;
        if (ties_word(m, reqs, found, i)) continue; /* tied below, counted once */
        note_dtype(m, t->dtype);
        m->n_params += t->numel;
        if (usable_in_place(t)) {
            *reqs->v[i].slot = (const float *)(const void *)t->data;
        } else {
            widen(m->converted + off, t);
            *reqs->v[i].slot = m->converted + off;
            off += (size_t)t->numel;
        }
    }
    if (rc == BERT_OK && (present & BERT_HEAD_MLM) && !m->w.mlm_decoder) m->w.mlm_decoder = m->w.word; /* tied */
    m->heads = present;
    for (int i = 0; i < nts; i++) m->n_ignored += !ts[i].used;
    /* A dedicated decoder bias that merely duplicates cls.predictions.bias is not "ignored". */
    if (dec_bias && !dec_bias->used && (present & BERT_HEAD_MLM)) m->n_ignored--;
    free(found);
    return rc;
}

bert_status bert_weight_list_build(bert_model *m, bert_weight_list *l, bert_error *err) {
    memset(l, 0, sizeof *l);
    if (!m->w.layers && !(m->w.layers = calloc((size_t)m->cfg.pub.num_hidden_layers + 1, sizeof *m->w.layers)))
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (!build_requests(m, l)) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    return BERT_OK;
}

bert_status bert_weights_bind(bert_model *m, bert_error *err) {
    int nts = 0;
    for (int s = 0; s < m->n_shards; s++) nts += m->shards[s].n_tensors;
    named_tensor *ts = calloc((size_t)(nts ? nts : 1), sizeof *ts);
    req_list reqs = {0};
    m->w.layers = calloc((size_t)m->cfg.pub.num_hidden_layers + 1, sizeof *m->w.layers);
    bert_status rc = BERT_OK;
    if (!ts || !m->w.layers || !build_requests(m, &reqs)) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int s = 0; s < m->n_shards && rc == BERT_OK; s++) {
        for (int i = 0; i < m->shards[s].n_tensors && rc == BERT_OK; i++) {
            const st_tensor *t = &m->shards[s].tensors[i];
            char *canon = canonical_name(t->name);
            if (!canon) {
                rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
                break;
            }
            named_tensor *dup = find_named(ts, k, canon);
            if (dup) {
                rc = bert_fail(err, BERT_ERR_FORMAT, "tensors '%s' and '%s' name the same weight", dup->t->name, t->name);
                free(canon);
                break;
            }
            ts[k].canon = canon;
            ts[k].t = t;
            k++;
        }
    }
    if (rc == BERT_OK) rc = bind(m, &reqs, ts, k, err);
    for (int i = 0; i < k; i++) free(ts[i].canon);
    free(ts);
    free(reqs.v);
    return rc;
}
