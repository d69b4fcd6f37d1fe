/* sentence.c — the sentence-transformers modules of a model directory:
 * modules.json (Transformer, then Pooling, Dense, Normalize in order),
 * each module's config.json, Dense weights, sentence_bert_config.json and
 * the prompts of config_sentence_transformers.json.
 *
 * Only what runs exactly as sentence-transformers runs it is accepted:
 * another module type, an unknown config key or activation, a Transformer
 * in a subfolder, Dense weights only in pytorch_model.bin, or
 * do_lower_case are errors that name the file and field. */
#include "tasks/sentence.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "io/safetensors.h"
#include "kernels/half.h"
#include "util/error.h"

#define MAX_FEATURES 65536 /* a Dense module's in / out features        */
#define MAX_PROMPTS 256
#define MAX_PROMPT_BYTES 65536

struct bert_sentence_head {
    bert_sentence_config cfg;
    float *w[BERT_ST_MAX_MODULES]; /* Dense: [out x in]          */
    float *b[BERT_ST_MAX_MODULES]; /* Dense: [out], NULL: no bias */
    int n_prompts;
    char **prompt_names, **prompts;
    int default_prompt; /* index into prompts, -1: none */
};

/* dir/name parsed, or *root = NULL when the file does not exist. */
static bert_status read_json(const char *dir, const char *name, cJSON **root, bert_error *err) {
    char path[PATH_MAX];
    *root = NULL;
    bert_status rc = bert_path_join(path, sizeof path, dir, name, err);
    if (rc != BERT_OK || !bert_file_exists(path)) return rc;
    return bert_json_load_file(path, root, err);
}

/* A module folder from modules.json: relative, no "..", no odd length. */
static int safe_subpath(const char *p) {
    size_t n = strlen(p);
    if (n > 200 || p[0] == '/') return 0;
    for (const char *s = p; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0')) return 0;
    return 1;
}

/* Integer field `key` of obj in [lo, hi] (def when absent, -1: required). */
static bert_status int_field(const cJSON *obj, const char *key, int def, int lo, int hi, const char *file, int *out,
                             bert_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v && def >= 0) {
        *out = def;
        return BERT_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return bert_fail(err, BERT_ERR_CONFIG, "%s: '%s' must be an integer from %d to %d", file, key, lo, hi);
    *out = (int)v->valuedouble;
    return BERT_OK;
}

/* Boolean field `key` of obj (def when absent). */
static bert_status bool_field(const cJSON *obj, const char *key, int def, const char *file, int *out, bert_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return BERT_OK;
    }
    if (!cJSON_IsBool(v)) return bert_fail(err, BERT_ERR_CONFIG, "%s: '%s' must be true or false", file, key);
    *out = cJSON_IsTrue(v);
    return BERT_OK;
}

static const char *const mode_keys[BERT_POOL_N_MODES] = {
    "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
static const char *const mode_names[BERT_POOL_N_MODES] = {"cls", "mean", "max", "mean_sqrt_len_tokens",
                                                          "weightedmean", "lasttoken"};

/* A Pooling module's config.json: Pooling(**config) with its defaults
 * (mean on, include_prompt on); "pooling_mode" names one mode and turns
 * the others off. */
static bert_status read_pooling(const cJSON *c, const char *file, bert_sentence_config *st, int *in, int *out,
                                bert_error *err) {
    for (const cJSON *k = c->child; k; k = k->next) {
        int known = !strcmp(k->string, "word_embedding_dimension") || !strcmp(k->string, "include_prompt") ||
                    !strcmp(k->string, "pooling_mode");
        for (int m = 0; m < BERT_POOL_N_MODES; m++) known |= !strcmp(k->string, mode_keys[m]);
        if (!known) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: unknown Pooling setting '%s'", file, k->string);
    }
    bert_status rc = int_field(c, "word_embedding_dimension", -1, 1, MAX_FEATURES, file, in, err);
    if (rc == BERT_OK) rc = bool_field(c, "include_prompt", 1, file, &st->include_prompt, err);
    st->pooling_modes = 0;
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(c, "pooling_mode");
    if (rc == BERT_OK && pm && !cJSON_IsNull(pm)) {
        int found = -1;
        for (int m = 0; cJSON_IsString(pm) && m < BERT_POOL_N_MODES; m++)
            if (strcmp(pm->valuestring, mode_names[m]) == 0) found = m;
        if (found < 0)
            return bert_fail(err, BERT_ERR_CONFIG, "%s: pooling_mode must be one of cls, lasttoken, max, mean, "
                                                   "mean_sqrt_len_tokens, weightedmean", file);
        st->pooling_modes = 1u << found;
    } else {
        for (int m = 0; m < BERT_POOL_N_MODES && rc == BERT_OK; m++) {
            int on = 0;
            rc = bool_field(c, mode_keys[m], m == BERT_POOL_MEAN, file, &on, err);
            if (on) st->pooling_modes |= 1u << m;
        }
    }
    if (rc != BERT_OK) return rc;
    if (!st->pooling_modes) return bert_fail(err, BERT_ERR_CONFIG, "%s: no pooling mode is on", file);
    int n_modes = 0;
    for (int m = BERT_POOL_N_MODES - 1; m >= 0; m--)
        if ((st->pooling_modes >> m) & 1) n_modes++;
    /* The first mode in Pooling.py's order, for callers of one mode. */
    static const int order[BERT_POOL_N_MODES] = {BERT_POOL_CLS, BERT_POOL_MAX, BERT_POOL_MEAN, BERT_POOL_MEAN_SQRT_LEN,
                                                 BERT_POOL_WEIGHTED_MEAN, BERT_POOL_LAST_TOKEN};
    for (int i = BERT_POOL_N_MODES - 1; i >= 0; i--)
        if ((st->pooling_modes >> order[i]) & 1) st->pooling = order[i];
    *out = n_modes * *in;
    return BERT_OK;
}

/* torch activation class names that sentence-transformers writes or
 * import_from_string resolves. */
static int activation_of(const char *name) {
    static const struct {
        const char *suffix;
        int act;
    } acts[] = {{"Identity", BERT_ST_ACT_IDENTITY}, {"Tanh", BERT_ST_ACT_TANH}, {"ReLU", BERT_ST_ACT_RELU},
                {"Sigmoid", BERT_ST_ACT_SIGMOID}, {"GELU", BERT_ST_ACT_GELU}};
    static const char *const prefixes[] = {"torch.nn.", "torch.nn.modules.activation.", "torch.nn.modules.linear."};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t p = 0; p < 3; p++) {
            size_t pl = strlen(prefixes[p]);
            int linear = p == 2, identity = acts[a].act == BERT_ST_ACT_IDENTITY;
            if (linear != identity && p != 0) continue; /* Identity lives in modules.linear, the rest in activation */
            if (strncmp(name, prefixes[p], pl) == 0 && strcmp(name + pl, acts[a].suffix) == 0) return acts[a].act;
        }
    return -1;
}

/* A Dense module's config.json. */
static bert_status read_dense(const cJSON *c, const char *file, int in_expected, int *in, int *out, int *bias,
                              int *act, bert_error *err) {
    for (const cJSON *k = c->child; k; k = k->next)
        if (strcmp(k->string, "in_features") && strcmp(k->string, "out_features") && strcmp(k->string, "bias") &&
            strcmp(k->string, "activation_function"))
            return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: unknown Dense setting '%s'", file, k->string);
    bert_status rc = int_field(c, "in_features", -1, 1, MAX_FEATURES, file, in, err);
    if (rc == BERT_OK) rc = int_field(c, "out_features", -1, 1, MAX_FEATURES, file, out, err);
    if (rc == BERT_OK) rc = bool_field(c, "bias", 1, file, bias, err);
    if (rc != BERT_OK) return rc;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "activation_function");
    if (!cJSON_IsString(a)) return bert_fail(err, BERT_ERR_CONFIG, "%s: 'activation_function' must be a string", file);
    if ((*act = activation_of(a->valuestring)) < 0)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: activation_function '%s' is not supported (Identity, Tanh, "
                                                    "ReLU, Sigmoid, GELU)", file, a->valuestring);
    if (*in != in_expected)
        return bert_fail(err, BERT_ERR_CONFIG, "%s: in_features %d, but the module before gives %d values", file, *in,
                         in_expected);
    return BERT_OK;
}

/* One entry of modules.json after the Transformer. */
static bert_status read_module(const char *dir, const cJSON *m, const char *mfile, bert_sentence_config *st, int *dim,
                               bert_error *err) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type"), *path = cJSON_GetObjectItemCaseSensitive(m, "path");
    const char *pre = "sentence_transformers.models.";
    const char *t = cJSON_IsString(type) && !strncmp(type->valuestring, pre, strlen(pre)) ? type->valuestring + strlen(pre) : "";
    int kind = !strcmp(t, "Pooling") ? BERT_ST_POOLING : !strcmp(t, "Dense") ? BERT_ST_DENSE
             : !strcmp(t, "Normalize") ? BERT_ST_NORMALIZE : 0;
    if (!kind)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: module type '%s' is not supported (Pooling, Dense, Normalize)",
                         mfile, cJSON_IsString(type) ? type->valuestring : "?");
    if (st->n_modules == BERT_ST_MAX_MODULES)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: more than %d modules", mfile, BERT_ST_MAX_MODULES);
    if ((kind == BERT_ST_POOLING) != (st->n_modules == 0))
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: one Pooling module must come right after the Transformer",
                         mfile);
    int i = st->n_modules++;
    st->modules[i].type = kind;
    st->modules[i].in_features = st->modules[i].out_features = *dim;
    if (kind == BERT_ST_NORMALIZE) {
        st->normalize = 1;
        return BERT_OK;
    }
    if (!cJSON_IsString(path) || !safe_subpath(path->valuestring))
        return bert_fail(err, BERT_ERR_CONFIG, "%s: module %s needs a 'path' inside the directory", mfile, t);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/config.json", path->valuestring);
    cJSON *c;
    bert_status rc = read_json(dir, sub, &c, err);
    if (rc != BERT_OK) return rc;
    char file[PATH_MAX + 320];
    snprintf(file, sizeof file, "%s/%s", dir, sub);
    if (!cJSON_IsObject(c)) rc = bert_fail(err, BERT_ERR_CONFIG, "%s: missing or not a JSON object", file);
    else if (kind == BERT_ST_POOLING)
        rc = read_pooling(c, file, st, &st->modules[i].in_features, &st->modules[i].out_features, err);
    else
        rc = read_dense(c, file, *dim, &st->modules[i].in_features, &st->modules[i].out_features, &st->modules[i].bias,
                        &st->modules[i].activation, err);
    cJSON_Delete(c);
    *dim = st->modules[i].out_features;
    return rc;
}

/* modules.json: the Transformer first (the directory itself), then ours. */
static bert_status read_modules(const char *dir, const cJSON *modules, bert_sentence_config *st, bert_error *err) {
    char mfile[PATH_MAX + 16];
    snprintf(mfile, sizeof mfile, "%s/modules.json", dir);
    if (!cJSON_IsArray(modules) || !modules->child)
        return bert_fail(err, BERT_ERR_CONFIG, "%s: must be a non-empty list of modules", mfile);
    const cJSON *first = modules->child, *type = cJSON_GetObjectItemCaseSensitive(first, "type");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(first, "path");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "sentence_transformers.models.Transformer") != 0)
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: the first module must be sentence_transformers.models.Transformer",
                         mfile);
    if (cJSON_IsString(path) && path->valuestring[0])
        return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: the Transformer is in '%s'; bert.c reads it from the "
                                                    "directory itself", mfile, path->valuestring);
    int dim = 0;
    bert_status rc = BERT_OK;
    for (const cJSON *m = first->next; m && rc == BERT_OK; m = m->next) rc = read_module(dir, m, mfile, st, &dim, err);
    if (rc == BERT_OK && st->n_modules == 0) return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: no Pooling module", mfile);
    st->dim = dim;
    st->simple = 1;
    for (int i = 0; i < st->n_modules; i++)
        if (st->modules[i].type == BERT_ST_DENSE) st->simple = 0;
    if (st->pooling_modes & (st->pooling_modes - 1)) st->simple = 0;
    return rc;
}

bert_status bert_sentence_config_load(const char *dir, bert_sentence_config *st, bert_error *err) {
    bert_error_clear(err);
    memset(st, 0, sizeof *st);
    st->pooling = BERT_POOL_MEAN;
    st->pooling_modes = 1u << BERT_POOL_MEAN;
    st->include_prompt = 1;
    cJSON *modules;
    bert_status rc = read_json(dir, "modules.json", &modules, err);
    if (rc != BERT_OK || !modules) return rc;
    st->present = 1;
    rc = read_modules(dir, modules, st, err);
    cJSON_Delete(modules);
    cJSON *sb;
    if (rc == BERT_OK && (rc = read_json(dir, "sentence_bert_config.json", &sb, err)) == BERT_OK && sb) {
        char file[PATH_MAX + 32];
        snprintf(file, sizeof file, "%s/sentence_bert_config.json", dir);
        int lower = 0;
        rc = int_field(sb, "max_seq_length", 0, 0, 1 << 20, file, &st->max_seq_length, err);
        if (rc == BERT_OK) rc = bool_field(sb, "do_lower_case", 0, file, &lower, err);
        if (rc == BERT_OK && lower)
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: do_lower_case = true (Python's str.lower before the "
                                                      "tokenizer) is not supported", file);
        cJSON_Delete(sb);
    }
    return rc;
}

/* Dense module i's weights from its folder's model.safetensors. */
static bert_status load_dense(bert_sentence_head *h, const char *dir, const char *sub, int i, bert_error *err) {
    char folder[PATH_MAX], path[PATH_MAX];
    bert_status rc = bert_path_join(folder, sizeof folder, dir, sub, err);
    if (rc == BERT_OK) rc = bert_path_join(path, sizeof path, folder, "model.safetensors", err);
    if (rc != BERT_OK) return rc;
    if (!bert_file_exists(path)) {
        char bin[PATH_MAX];
        if (bert_path_join(bin, sizeof bin, folder, "pytorch_model.bin", err) == BERT_OK && bert_file_exists(bin))
            return bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: Dense weights in pytorch_model.bin are not read; convert "
                                                        "them to model.safetensors", bin);
        return bert_fail(err, BERT_ERR_IO, "%s: no such file (the Dense module's weights)", path);
    }
    st_file f;
    if ((rc = st_open(path, 0, &f, err)) != BERT_OK) return rc;
    int out = h->cfg.modules[i].out_features, in = h->cfg.modules[i].in_features;
    const char *names[2] = {"linear.weight", "linear.bias"};
    float **dst[2] = {&h->w[i], &h->b[i]};
    for (int k = 0; k < (h->cfg.modules[i].bias ? 2 : 1) && rc == BERT_OK; k++) {
        const st_tensor *t = st_find(&f, names[k]);
        int64_t want = k ? out : (int64_t)out * in;
        if (!t || t->numel != want || t->ndim != (k ? 1 : 2) || t->shape[0] != out || (!k && t->shape[1] != in)) {
            rc = k ? bert_fail(err, BERT_ERR_FORMAT, "%s: needs '%s' of shape [%d]", path, names[k], out)
                   : bert_fail(err, BERT_ERR_FORMAT, "%s: needs '%s' of shape [%d, %d]", path, names[k], out, in);
        } else if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: '%s' is %s (F32, F16 or BF16)", path, names[k],
                           st_dtype_name(t->dtype));
        } else if (!(*dst[k] = malloc((size_t)want * sizeof(float)))) {
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        } else if (t->dtype == ST_F32) {
            memcpy(*dst[k], t->data, (size_t)want * sizeof(float));
        } else if (t->dtype == ST_F16) {
            bert_f16_to_f32_array(*dst[k], t->data, (size_t)want);
        } else {
            bert_bf16_to_f32_array(*dst[k], t->data, (size_t)want);
        }
    }
    st_close(&f);
    return rc;
}

/* config_sentence_transformers.json: prompts and default_prompt_name. */
static bert_status load_prompts(bert_sentence_head *h, const char *dir, bert_error *err) {
    cJSON *c;
    bert_status rc = read_json(dir, "config_sentence_transformers.json", &c, err);
    if (rc != BERT_OK || !c) return rc;
    char file[PATH_MAX + 40];
    snprintf(file, sizeof file, "%s/config_sentence_transformers.json", dir);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "prompts"), *d = cJSON_GetObjectItemCaseSensitive(c, "default_prompt_name");
    int n = cJSON_IsObject(p) ? cJSON_GetArraySize(p) : 0;
    if (p && !cJSON_IsNull(p) && !cJSON_IsObject(p)) rc = bert_fail(err, BERT_ERR_CONFIG, "%s: 'prompts' must be an object", file);
    else if (n > MAX_PROMPTS) rc = bert_fail(err, BERT_ERR_CONFIG, "%s: more than %d prompts", file, MAX_PROMPTS);
    else if (n > 0 && (!(h->prompt_names = calloc((size_t)n, sizeof(char *))) || !(h->prompts = calloc((size_t)n, sizeof(char *)))))
        rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    for (const cJSON *e = n ? p->child : NULL; e && rc == BERT_OK; e = e->next) {
        if (!cJSON_IsString(e) || strlen(e->valuestring) > MAX_PROMPT_BYTES)
            rc = bert_fail(err, BERT_ERR_CONFIG, "%s: prompt '%s' must be a string of at most %d bytes", file, e->string,
                           MAX_PROMPT_BYTES);
        else if (!(h->prompt_names[h->n_prompts] = strdup(e->string)) || !(h->prompts[h->n_prompts++] = strdup(e->valuestring)))
            rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    if (rc == BERT_OK && d && !cJSON_IsNull(d)) {
        for (int i = 0; cJSON_IsString(d) && i < h->n_prompts; i++)
            if (strcmp(h->prompt_names[i], d->valuestring) == 0) h->default_prompt = i;
        if (h->default_prompt < 0)
            rc = bert_fail(err, BERT_ERR_CONFIG, "%s: default_prompt_name '%s' is not one of the prompts", file,
                           cJSON_IsString(d) ? d->valuestring : "?");
    }
    cJSON_Delete(c);
    return rc;
}

bert_status bert_sentence_head_load(const char *dir, bert_sentence_head **out, bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    bert_sentence_head *h = calloc(1, sizeof *h);
    if (!h) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    h->default_prompt = -1;
    bert_status rc = bert_sentence_config_load(dir, &h->cfg, err);
    if (rc != BERT_OK || !h->cfg.present) {
        bert_sentence_head_free(h);
        return rc;
    }
    /* The Dense folders, in modules.json order. */
    cJSON *modules;
    rc = read_json(dir, "modules.json", &modules, err);
    int i = 0;
    for (const cJSON *m = modules && modules->child ? modules->child->next : NULL; m && rc == BERT_OK; m = m->next, i++) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "path");
        if (h->cfg.modules[i].type == BERT_ST_DENSE) rc = load_dense(h, dir, path->valuestring, i, err);
    }
    cJSON_Delete(modules);
    if (rc == BERT_OK) rc = load_prompts(h, dir, err);
    if (rc != BERT_OK) {
        bert_sentence_head_free(h);
        return rc;
    }
    *out = h;
    return BERT_OK;
}

void bert_sentence_head_free(bert_sentence_head *h) {
    if (!h) return;
    for (int i = 0; i < BERT_ST_MAX_MODULES; i++) free(h->w[i]), free(h->b[i]);
    for (int i = 0; i < h->n_prompts; i++) free(h->prompt_names[i]), free(h->prompts[i]);
    free(h->prompt_names);
    free(h->prompts);
    free(h);
}

const bert_sentence_config *bert_sentence_head_config(const bert_sentence_head *h) { return &h->cfg; }

const char *sentence_head_prompt(const bert_sentence_head *h, const char *name) {
    for (int i = 0; h && i < h->n_prompts; i++)
        if (strcmp(h->prompt_names[i], name) == 0) return h->prompts[i];
    return NULL;
}

const char *sentence_head_default_prompt(const bert_sentence_head *h) {
    return h && h->default_prompt >= 0 ? h->prompts[h->default_prompt] : NULL;
}

void sentence_l2_normalize(float *x, int n) {
    double ss = 0;
    for (int j = 0; j < n; j++) ss += (double)x[j] * x[j];
    double nrm = sqrt(ss);
    if (nrm < 1e-12) nrm = 1e-12;
    for (int j = 0; j < n; j++) x[j] = (float)(x[j] / nrm);
}

/* A Dense module's activation of x. */
static float activate(int act, double x) {
    switch (act) {
    case BERT_ST_ACT_TANH: return (float)tanh(x);
    case BERT_ST_ACT_RELU: return x > 0 ? (float)x : 0.0f;
    case BERT_ST_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-x)));
    case BERT_ST_ACT_GELU: return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    default: return (float)x;
    }
}

bert_pooling_spec bert_sentence_head_pooling(const bert_sentence_head *h, int prompt_length) {
    if (!h) return (bert_pooling_spec){1u << BERT_POOL_MEAN, 0};
    return (bert_pooling_spec){h->cfg.pooling_modes, h->cfg.include_prompt ? 0 : prompt_length};
}

bert_status sentence_head_finish(const bert_sentence_head *h, const float *pooled, int normalize, float *out,
                                 bert_error *err) {
    const bert_sentence_config *c = &h->cfg;
    int cap = 1;
    for (int i = 0; i < c->n_modules; i++) cap = c->modules[i].out_features > cap ? c->modules[i].out_features : cap;
    float *x = malloc((size_t)cap * 2 * sizeof *x);
    if (!x) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    float *y = x + cap;
    int n = c->modules[0].out_features; /* the Pooling module's output */
    memcpy(x, pooled, (size_t)n * sizeof *x);
    for (int i = 1; i < c->n_modules; i++) {
        int type = c->modules[i].type, in = c->modules[i].in_features, o = c->modules[i].out_features;
        if (type == BERT_ST_DENSE) {
            for (int r = 0; r < o; r++) {
                double s = h->b[i] ? h->b[i][r] : 0.0;
                const float *w = h->w[i] + (size_t)r * in;
                for (int k = 0; k < in; k++) s += (double)w[k] * x[k];
                y[r] = activate(c->modules[i].activation, (float)s);
            }
            memcpy(x, y, (size_t)o * sizeof *x);
        } else if (normalize != 0) {
            sentence_l2_normalize(x, n);
        }
        n = o;
    }
    if (normalize == 1) sentence_l2_normalize(x, n);
    memcpy(out, x, (size_t)n * sizeof *out);
    free(x);
    return BERT_OK;
}

bert_status bert_sentence_head_apply_pooled(const bert_sentence_head *h, const float *pooled, float *out,
                                           bert_error *err) {
    bert_error_clear(err);
    if (!h || !pooled || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_sentence_head_apply_pooled: NULL argument");
    return sentence_head_finish(h, pooled, -1, out, err);
}

bert_status sentence_head_run(const bert_sentence_head *h, const float *hidden, const int32_t *mask, int n_tokens,
                              int hidden_size, int prompt_length, int normalize, float *out, bert_error *err) {
    const bert_sentence_config *c = &h->cfg;
    if (hidden_size != c->modules[0].in_features)
        return bert_fail(err, BERT_ERR_CONFIG, "the Pooling module's word_embedding_dimension is %d, the model's "
                                               "hidden size %d", c->modules[0].in_features, hidden_size);
    float *pooled = malloc((size_t)c->modules[0].out_features * sizeof *pooled);
    if (!pooled) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_pooling_spec sp = bert_sentence_head_pooling(h, prompt_length);
    bert_status rc = bert_pool_states(hidden, mask, n_tokens, hidden_size, sp.modes, sp.prompt_length, pooled, err);
    if (rc == BERT_OK) rc = sentence_head_finish(h, pooled, normalize, out, err);
    free(pooled);
    return rc;
}

bert_status bert_sentence_head_apply(const bert_sentence_head *h, const float *hidden, const int32_t *mask,
                                     int n_tokens, int hidden_size, int prompt_length, float *out, bert_error *err) {
    bert_error_clear(err);
    if (!h || !hidden || !out) return bert_fail(err, BERT_ERR_INPUT, "bert_sentence_head_apply: NULL argument");
    return sentence_head_run(h, hidden, mask, n_tokens, hidden_size, prompt_length, -1, out, err);
}
