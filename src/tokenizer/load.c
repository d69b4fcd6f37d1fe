/* load.c — reading a tokenizer from a model directory.
 *
 * tokenizer.json (what AutoTokenizer uses when present) is authoritative;
 * otherwise vocab.txt + tokenizer_config.json are read the way
 * transformers' BertTokenizerFast converts them (BertConverter): the same
 * BertNormalizer / BertPreTokenizer / WordPiece pipeline, the five special
 * tokens added as unsplittable tokens. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/json_fields.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

static const char *const special_keys[5] = {"pad_token", "unk_token", "cls_token", "sep_token", "mask_token"};
static const char *const special_defaults[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* Special tokens in tokenizer_config.json are strings or AddedToken
 * objects {"content": "[CLS]", ...}. */
static const char *token_string(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : NULL;
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static bert_status set_str(char **dst, const char *src, bert_error *err) {
    free(*dst);
    *dst = strdup(src);
    return *dst ? BERT_OK : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
}

static bert_status load_vocab_txt(bert_tokenizer *t, const char *path, bert_error *err) {
    char *text;
    size_t len;
    bert_status rc = bert_file_read_text(path, &text, &len, err);
    if (rc != BERT_OK) return rc;
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    rc = bert_vocab_init(&t->vocab, lines + 1, err);
    /* Line i is token i; only the "\n" is stripped (as transformers does). */
    size_t start = 0;
    int id = 0;
    for (size_t i = 0; i <= len && rc == BERT_OK; i++) {
        if (i == len && start == len) break;
        if (i == len || text[i] == '\n') {
            rc = bert_vocab_add(&t->vocab, text + start, i - start, id++, err);
            start = i + 1;
        }
    }
    free(text);
    if (rc == BERT_OK && id == 0) rc = bert_fail(err, BERT_ERR_FORMAT, "%s: empty vocabulary", path);
    return rc;
}

/* tokenizer_config.json: flags and special-token strings (all optional);
 * *decoder gets its added_tokens_decoder (detached, NULL when absent). */
static bert_status load_config(bert_tokenizer *t, const char *path, cJSON **decoder, bert_error *err) {
    cJSON *root;
    bert_status rc = bert_json_load_file(path, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "do_lower_case")) && cJSON_IsBool(v)) t->lowercase = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "strip_accents")) && cJSON_IsBool(v))
        t->strip_accents = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "tokenize_chinese_chars")) && cJSON_IsBool(v))
        t->handle_chinese_chars = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "clean_up_tokenization_spaces")) && cJSON_IsBool(v))
        t->clean_up_spaces = cJSON_IsTrue(v);
    /* model_max_length may be a huge float (1e30) meaning "no limit". */
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length")) && cJSON_IsNumber(v) && v->valuedouble > 0 &&
        v->valuedouble < 1e9)
        t->model_max_length = (int)v->valuedouble;
    for (int i = 0; i < 5 && rc == BERT_OK; i++) {
        const char *s = token_string(cJSON_GetObjectItemCaseSensitive(root, special_keys[i]));
        if (s) rc = set_str(&t->special_text[i], s, err);
    }
    *decoder = cJSON_DetachItemFromObjectCaseSensitive(root, "added_tokens_decoder");
    cJSON_Delete(root);
    return rc;
}

/* Flags of an added token (tokenizers' AddedToken). */
typedef struct {
    int special, single_word, lstrip, rstrip, normalized, outside_vocab;
} added_flags;

/* Add a token unless one with its id is there (a text has one id, so
 * this is the first-wins check by content, in constant time). */
static bert_status add_added_token(bert_tokenizer *t, const char *content, int id, added_flags f, bert_error *err) {
    if (id < 0) return bert_fail(err, BERT_ERR_FORMAT, "added token '%s' has no id", content);
    if (id < t->n_added_ids && t->added_ids[id]) return BERT_OK;
    if (id >= t->n_added_ids) {
        int cap = t->n_added_ids ? t->n_added_ids : 1024;
        while (cap <= id) cap *= 2;
        unsigned char *ids = realloc(t->added_ids, (size_t)cap);
        if (!ids) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        memset(ids + t->n_added_ids, 0, (size_t)(cap - t->n_added_ids));
        t->added_ids = ids;
        t->n_added_ids = cap;
    }
    if (t->n_added == t->cap_added) {
        int cap = t->cap_added ? 2 * t->cap_added : 16;
        bert_added_token *a = realloc(t->added, (size_t)cap * sizeof *a);
        if (!a) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        t->added = a;
        t->cap_added = cap;
    }
    t->added_ids[id] = 1;
    bert_added_token *x = &t->added[t->n_added];
    memset(x, 0, sizeof *x);
    size_t len = strlen(content), bad;
    x->content = strdup(content);
    x->cps = malloc((len + 1) * sizeof *x->cps);
    if (!x->content || !x->cps) {
        free(x->content);
        free(x->cps);
        return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    }
    x->pat = x->cps;
    t->n_added++;
    long n = bert_utf8_decode(content, len, x->cps, &bad);
    if (n <= 0) return bert_fail(err, BERT_ERR_FORMAT, "added token '%s' is empty or not UTF-8", content);
    x->n_cps = x->n_pat = (int)n;
    x->id = id;
    x->special = f.special;
    x->single_word = f.single_word;
    x->lstrip = f.lstrip;
    x->rstrip = f.rstrip;
    x->normalized = f.normalized;
    x->outside_vocab = f.outside_vocab;
    return BERT_OK;
}

/* The flags of added token a of tokenizer.json: booleans; an absent one
 * takes AddedToken's default (normalized: not special). */
static bert_status read_added_flags(const cJSON *a, const char *path, const char *content, added_flags *f,
                                    bert_error *err) {
    static const char *const names[] = {"special", "single_word", "lstrip", "rstrip", "normalized"};
    int *dst[] = {&f->special, &f->single_word, &f->lstrip, &f->rstrip, &f->normalized};
    memset(f, 0, sizeof *f);
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, names[k]);
        if (!v) *dst[k] = k == 4 ? !f->special : 0;
        else if (cJSON_IsBool(v)) *dst[k] = cJSON_IsTrue(v);
        else return bert_fail(err, BERT_ERR_FORMAT, "%s: added token '%s': %s must be true or false", path, content,
                              names[k]);
    }
    return BERT_OK;
}

/* An added_tokens_decoder entry and its id. */
typedef struct {
    double id;
    const cJSON *token;
} keyed_token;

/* qsort order of added_tokens_decoder entries: by id. */
static int cmp_keyed_token(const void *a, const void *b) {
    double x = ((const keyed_token *)a)->id, y = ((const keyed_token *)b)->id;
    return x < y ? -1 : x > y;
}

/* tokenizer_config.json's added_tokens_decoder ({"id": AddedToken}), for
 * a directory without tokenizer.json: the tokens transformers adds when it
 * converts the vocab.txt tokenizer, in id order, with their flags. An id
 * is the vocabulary's when the text is there, else the next one after it. */
static bert_status add_config_tokens(bert_tokenizer *t, const char *path, const cJSON *dec, bert_error *err) {
    if (!cJSON_IsObject(dec)) return bert_fail(err, BERT_ERR_FORMAT, "%s: added_tokens_decoder must be an object", path);
    int n = cJSON_GetArraySize(dec), k = 0;
    keyed_token *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    bert_status rc = BERT_OK;
    for (const cJSON *e = dec->child; e && rc == BERT_OK; e = e->next) {
        char *end;
        double id = strtod(e->string, &end);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (*end || end == e->string || id < 0 || id != (double)(long)id || !cJSON_IsString(content))
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: added_tokens_decoder entry '%s' needs an integer key and a "
                                                 "content string", path, e->string);
        else v[k++] = (keyed_token){id, e};
    }
    qsort(v, (size_t)k, sizeof *v, cmp_keyed_token);
    for (int i = 0; i < k && rc == BERT_OK; i++) {
        const char *content = cJSON_GetObjectItemCaseSensitive(v[i].token, "content")->valuestring;
        added_flags f;
        if ((rc = read_added_flags(v[i].token, path, content, &f, err)) != BERT_OK) break;
        int tid = bert_vocab_find(&t->vocab, NULL, 0, content, strlen(content));
        if (tid < 0) {
            tid = t->vocab.n;
            f.outside_vocab = 1;
            rc = bert_vocab_add(&t->vocab, content, strlen(content), tid, err);
        }
        if (rc == BERT_OK) rc = add_added_token(t, content, tid, f, err);
    }
    free(v);
    return rc;
}

/* tokenizer.json: the pipeline must be BERT's; read its flags, vocabulary
 * and added tokens. */
static bert_status load_tokenizer_json(bert_tokenizer *t, const char *path, bert_error *err) {
    cJSON *root;
    bert_status rc = bert_json_load_file(path, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "WordPiece") != 0 || !cJSON_IsObject(vocab)) {
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: model is not WordPiece with a vocab object", path);
        goto done;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(nt) || strcmp(nt->valuestring, "BertNormalizer") != 0) {
            rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: normalizer '%s' is not supported (BertNormalizer)", path,
                           cJSON_IsString(nt) ? nt->valuestring : "?");
            goto done;
        }
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(norm, "clean_text")) && cJSON_IsBool(v)) t->clean_text = cJSON_IsTrue(v);
        if ((v = cJSON_GetObjectItemCaseSensitive(norm, "handle_chinese_chars")) && cJSON_IsBool(v))
            t->handle_chinese_chars = cJSON_IsTrue(v);
        if ((v = cJSON_GetObjectItemCaseSensitive(norm, "lowercase")) && cJSON_IsBool(v)) t->lowercase = cJSON_IsTrue(v);
        v = cJSON_GetObjectItemCaseSensitive(norm, "strip_accents");
        t->strip_accents = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
    } else {
        t->clean_text = t->handle_chinese_chars = t->lowercase = 0;
        t->strip_accents = 0;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *pt = pre ? cJSON_GetObjectItemCaseSensitive(pre, "type") : NULL;
    if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "BertPreTokenizer") != 0) {
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s: pre_tokenizer must be BertPreTokenizer", path);
        goto done;
    }
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(model, "unk_token")) && cJSON_IsString(v))
        rc = set_str(&t->unk_token, v->valuestring, err);
    if (rc == BERT_OK && (v = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix")) && cJSON_IsString(v))
        rc = set_str(&t->prefix, v->valuestring, err);
    if (rc == BERT_OK && (v = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word")) && !cJSON_IsNull(v)) {
        /* a usize in tokenizers; here an int, so bounded (and checked before the conversion) */
        if (!bert_json_whole(v, 0, INT_MAX)) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: model.max_input_chars_per_word must be an integer from 0 to %d", path,
                           INT_MAX);
            goto done;
        }
        t->max_input_chars_per_word = (int)v->valuedouble;
    }
    /* Ids are bounded by the file's own size (each entry takes several
     * bytes), so a hostile id cannot size the id table. */
    struct stat st;
    double id_bound = stat(path, &st) == 0 ? (double)st.st_size : 0;
    if (id_bound > BERT_VOCAB_MAX_ID) id_bound = BERT_VOCAB_MAX_ID;
    int max_id = -1;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= id_bound ||
            e->valuedouble != (double)(int)e->valuedouble) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: vocab entry '%s' has no valid id (an integer from 0 to below the file's size)",
                           path, e->string);
            goto done;
        }
        if ((int)e->valuedouble > max_id) max_id = (int)e->valuedouble;
    }
    if (rc == BERT_OK) rc = bert_vocab_init(&t->vocab, max_id + 1, err);
    for (const cJSON *e = vocab->child; e && rc == BERT_OK; e = e->next)
        rc = bert_vocab_add(&t->vocab, e->string, strlen(e->string), (int)e->valuedouble, err);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a && rc == BERT_OK; a = a->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content"), *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (!cJSON_IsString(content) || !cJSON_IsNumber(id)) {
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: added token without content or id", path);
            break;
        }
        added_flags f;
        if ((rc = read_added_flags(a, path, content->valuestring, &f, err)) != BERT_OK) break;
        /* The id as Hugging Face tokenizers assigns it, not the file's: the
         * vocabulary's id, else the next id after the vocabulary. */
        int tid = bert_vocab_find(&t->vocab, NULL, 0, content->valuestring, strlen(content->valuestring));
        if (tid < 0) {
            tid = t->vocab.n;
            f.outside_vocab = 1;
            rc = bert_vocab_add(&t->vocab, content->valuestring, strlen(content->valuestring), tid, err);
        }
        if (rc == BERT_OK) rc = add_added_token(t, content->valuestring, tid, f, err);
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (dec && (v = cJSON_GetObjectItemCaseSensitive(dec, "cleanup")) && cJSON_IsBool(v)) t->decode_cleanup = cJSON_IsTrue(v);
done:
    cJSON_Delete(root);
    return rc;
}

bert_status bert_tokenizer_load(const char *dir, bert_tokenizer **out, bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bert_fail(err, BERT_ERR_IO, "%s: no such model directory", dir ? dir : "(null)");
    bert_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    /* BertTokenizer's defaults. */
    t->clean_text = t->handle_chinese_chars = t->lowercase = 1;
    t->strip_accents = -1; /* follow lowercase */
    t->max_input_chars_per_word = 100;
    t->decode_cleanup = 1;
    char path[PATH_MAX], config[PATH_MAX] = "";
    cJSON *decoder = NULL;
    bert_status rc = set_str(&t->prefix, "##", err);
    for (int i = 0; i < 5 && rc == BERT_OK; i++) rc = set_str(&t->special_text[i], special_defaults[i], err);
    int has_config = 0, has_json = 0, has_vocab = 0;
    if (rc == BERT_OK && (rc = bert_path_join(config, sizeof config, dir, "tokenizer_config.json", err)) == BERT_OK)
        rc = bert_file_optional(config, &has_config, err);
    if (rc == BERT_OK && has_config) rc = load_config(t, config, &decoder, err);
    if (rc == BERT_OK && (rc = bert_path_join(path, sizeof path, dir, "tokenizer.json", err)) == BERT_OK)
        rc = bert_file_optional(path, &has_json, err);
    if (rc == BERT_OK && has_json) {
        rc = load_tokenizer_json(t, path, err);
    } else if (rc == BERT_OK) {
        rc = bert_path_join(path, sizeof path, dir, "vocab.txt", err);
        if (rc == BERT_OK) rc = bert_file_optional(path, &has_vocab, err);
        if (rc == BERT_OK && !has_vocab) rc = bert_fail(err, BERT_ERR_IO, "%s: no tokenizer.json or vocab.txt", dir);
        if (rc == BERT_OK) rc = load_vocab_txt(t, path, err);
        if (rc == BERT_OK && decoder) rc = add_config_tokens(t, config, decoder, err);
    }
    cJSON_Delete(decoder);
    if (rc == BERT_OK && !t->unk_token) rc = set_str(&t->unk_token, t->special_text[BERT_SPECIAL_UNK], err);
    /* Special tokens: looked up by their text, added as unsplittable. */
    for (int i = 0; i < 5 && rc == BERT_OK; i++) {
        const char *s = t->special_text[i];
        t->special_id[i] = bert_vocab_find(&t->vocab, NULL, 0, s, strlen(s));
        if (t->special_id[i] >= 0) rc = add_added_token(t, s, t->special_id[i], (added_flags){.special = 1}, err);
    }
    if (rc == BERT_OK) rc = bert_added_prepare(t, dir, err);
    if (rc == BERT_OK) {
        t->prefix_len = strlen(t->prefix);
        t->unk_id = bert_vocab_find(&t->vocab, NULL, 0, t->unk_token, strlen(t->unk_token));
        if (t->unk_id < 0) rc = bert_fail(err, BERT_ERR_FORMAT, "%s: the unknown token '%s' is not in the vocabulary", dir,
                                          t->unk_token);
        else if (t->special_id[BERT_SPECIAL_CLS] < 0 || t->special_id[BERT_SPECIAL_SEP] < 0)
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: '%s' or '%s' is not in the vocabulary", dir,
                           t->special_text[BERT_SPECIAL_CLS], t->special_text[BERT_SPECIAL_SEP]);
    }
    if (rc != BERT_OK) {
        bert_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return BERT_OK;
}

void bert_tokenizer_free(bert_tokenizer *t) {
    if (!t) return;
    bert_vocab_free(&t->vocab);
    free(t->unk_token);
    free(t->prefix);
    for (int i = 0; i < 5; i++) free(t->special_text[i]);
    bert_added_free(t);
    free(t);
}

int bert_tokenizer_vocab_size(const bert_tokenizer *t) { return t->vocab.n; }

int bert_tokenizer_token_to_id(const bert_tokenizer *t, const char *token) {
    return token ? bert_vocab_find(&t->vocab, NULL, 0, token, strlen(token)) : -1;
}

const char *bert_tokenizer_id_to_token(const bert_tokenizer *t, int id) {
    return id >= 0 && id < t->vocab.n ? t->vocab.tokens[id] : NULL;
}

int bert_tokenizer_special_id(const bert_tokenizer *t, bert_special which) {
    return (unsigned)which < 5 ? t->special_id[which] : -1;
}

int bert_tokenizer_model_max_length(const bert_tokenizer *t) { return t->model_max_length; }
