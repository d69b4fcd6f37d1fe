/* checkpoint.c — a trainer's directories: Hugging Face model directories
 * (config.json, model.safetensors, the tokenizer files), and with the
 * training state trainer_state.json and AdamW's moments; resuming from
 * them. A multi-task trainer's directory is the shared encoder (a BertModel
 * directory) with heads.safetensors and heads.json beside it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/fs.h"
#include "io/json_fields.h"
#include "io/safetensors.h"
#include "train/gpu.h"
#include "train/trainer.h"
#include "util/error.h"

/* key {"0": name, ...} and inverse {name: 0, ...} of names[0..n) into root. */
static void add_label_maps(cJSON *root, const char *key, const char *inverse, char *const *names, int n) {
    cJSON *i2l = cJSON_AddObjectToObject(root, key), *l2i = cJSON_AddObjectToObject(root, inverse);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        cJSON_AddStringToObject(i2l, id, names[i]);
        cJSON_AddNumberToObject(l2i, names[i], i);
    }
}

bert_status train_write_config(bert_trainer *t, const char *dir, int shared, bert_error *err) {
    char path[PATH_MAX];
    cJSON *root;
    bert_status rc = bert_path_join(path, sizeof path, t->src_dir, "config.json", err);
    if (rc == BERT_OK) rc = bert_json_load_file(path, &root, err);
    if (rc != BERT_OK) return rc;
    const bert_config_full *c = &t->model->cfg;
    static const char *const replaced[] = {"architectures", "id2label", "label2id", "problem_type", "torch_dtype",
                                           "intent_id2label", "intent_label2id", "intent_problem_type",
                                           "dialogue_context_turns", "dialogue_max_length"};
    for (size_t i = 0; i < sizeof replaced / sizeof *replaced; i++)
        if ((i != 1 && i != 2) || c->labels || shared) cJSON_DeleteItemFromObjectCaseSensitive(root, replaced[i]);
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(shared ? "BertModel" : c->architecture));
    if (c->labels && !shared) add_label_maps(root, "id2label", "label2id", c->labels, c->pub.num_labels);
    if (*c->problem_type && !shared) cJSON_AddStringToObject(root, "problem_type", c->problem_type);
    if (c->intents && c->pub.num_intents > 0 && !shared) { /* a joint intent + slot model */
        add_label_maps(root, "intent_id2label", "intent_label2id", c->intents, c->pub.num_intents);
        cJSON_AddStringToObject(root, "intent_problem_type",
                                c->pub.intent_multi_label ? "multi_label_classification" : "single_label_classification");
        cJSON_AddNumberToObject(root, "dialogue_context_turns", c->pub.dialogue_context_turns);
        if (c->pub.dialogue_max_length) cJSON_AddNumberToObject(root, "dialogue_max_length", c->pub.dialogue_max_length);
    }
    cJSON_AddStringToObject(root, "torch_dtype", "float32");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if ((rc = bert_path_join(path, sizeof path, dir, "config.json", err)) == BERT_OK)
        rc = bert_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Whether selection sel holds tensor tt. */
static int selected(const bert_trainer *t, const train_tensor *tt, int sel) {
    switch (sel) {
    case TRAIN_SEL_ALL: return 1;
    case TRAIN_SEL_SHARED: return tt->group < 2;
    case TRAIN_SEL_HEADS: return tt->group >= 2;
    default:
        return tt->group == 0 || (tt->group == 1 && t->heads[sel].task == BERT_TASK_SEQUENCE) || tt->group == 2 + sel;
    }
}

/* The name tt has in selection sel, + suffix: a head's own model drops the
 * "HEAD/" its classifier carries in the trainer. */
static void tensor_name(char *out, size_t cap, const train_tensor *tt, int sel, const char *suffix) {
    const char *slash = sel >= 0 && tt->group >= 2 ? strchr(tt->name, '/') : NULL;
    snprintf(out, cap, "%s%s", slash ? slash + 1 : tt->name, suffix);
}

bert_status train_write_block(bert_trainer *t, const char *dir, const char *file, const float *block,
                              const char *suffix, int sel, bert_error *err) {
    char path[PATH_MAX];
    bert_status rc = bert_path_join(path, sizeof path, dir, file, err);
    if (rc != BERT_OK) return rc;
    st_write_tensor *w = calloc((size_t)t->n_tensors, sizeof *w);
    char (*names)[128] = calloc((size_t)t->n_tensors, sizeof *names);
    if (!w || !names) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; rc == BERT_OK && i < t->n_tensors; i++) {
        const train_tensor *tt = &t->tensors[i];
        if (!selected(t, tt, sel)) continue;
        tensor_name(names[n], sizeof names[n], tt, sel, suffix);
        w[n] = (st_write_tensor){.name = names[n], .dtype = ST_F32, .ndim = tt->cols ? 2 : 1,
                                 .shape = {tt->rows, tt->cols}, .data = block + tt->offset};
        n++;
    }
    if (rc == BERT_OK) rc = st_write(path, w, n, "{\"format\":\"pt\"}", err);
    free(w);
    free(names);
    return rc;
}

bert_status train_load_block(bert_trainer *t, const char *dir, const char *file, const char *suffix, float *block,
                             int sel, bert_error *err) {
    char path[PATH_MAX];
    st_file f;
    bert_status rc = bert_path_join(path, sizeof path, dir, file, err);
    if (rc == BERT_OK) rc = st_open(path, 0, &f, err);
    if (rc != BERT_OK) return rc;
    int want = 0;
    for (int i = 0; rc == BERT_OK && i < t->n_tensors; i++) {
        const train_tensor *tt = &t->tensors[i];
        if (!selected(t, tt, sel)) continue;
        want++;
        char name[160];
        tensor_name(name, sizeof name, tt, sel, suffix);
        const st_tensor *x = st_find(&f, name);
        size_t n = train_tensor_numel(tt);
        int shaped = x && x->ndim == (tt->cols ? 2 : 1) && x->shape[0] == tt->rows && (!tt->cols || x->shape[1] == tt->cols);
        if (!x || x->dtype != ST_F32 || (size_t)x->numel != n || !shaped)
            rc = bert_fail(err, BERT_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong shape", path, name);
        else
            memcpy(block + tt->offset, x->data, n * sizeof(float));
    }
    /* the block as train_write_block wrote it: one more tensor is one this trainer lacks (another config.json?) */
    if (rc == BERT_OK && f.n_tensors != want)
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s: %d tensors, where this trainer (config.json) has %d", path, f.n_tensors, want);
    st_close(&f);
    return rc;
}

bert_status train_copy_tokenizer(bert_trainer *t, const char *dir, bert_error *err) {
    static const char *const files[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    bert_status rc = BERT_OK;
    for (size_t i = 0; rc == BERT_OK && i < sizeof files / sizeof files[0]; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        rc = bert_path_join(from, sizeof from, t->src_dir, files[i], err);
        if (rc != BERT_OK || !bert_file_exists(from)) continue;
        if ((rc = bert_path_join(to, sizeof to, dir, files[i], err)) == BERT_OK) rc = bert_file_copy(from, to, err);
    }
    return rc;
}

bert_status train_save_dir(bert_trainer *t, const char *dir,
                           bert_status (*write)(bert_trainer *t, const char *tmp, void *user, bert_error *err),
                           void *user, bert_error *err) {
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    if (n < 0 || (size_t)n >= sizeof tmp) return bert_fail(err, BERT_ERR_INPUT, "%s: path too long", dir);
    bert_status rc = bert_dir_remove(tmp, err);
    if (rc != BERT_OK) return rc;
    if (mkdir(tmp, 0755) != 0) return bert_fail(err, BERT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    rc = write(t, tmp, user, err);
    if (rc != BERT_OK) {
        bert_dir_remove(tmp, NULL); /* the first error is the one reported */
        return rc;
    }
    /* Swap in (one exchanging rename where the file system has it): `dir`
     * names a whole directory at every moment, the old one or the new. */
    rc = bert_dir_install(tmp, dir, err);
    if (rc != BERT_OK) bert_dir_remove(tmp, NULL);
    return rc;
}

/* trainer_state.json: step, RNG, schedule, the caller's extra; for
 * multi-task trainers each head's and the pooler's update counts. */
static bert_status write_state_json(bert_trainer *t, const char *dir, const char *extra_json, bert_error *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)t->step);
    char buf[40], path[PATH_MAX];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->rng.state);
    cJSON_AddStringToObject(o, "rng_state", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->rng.inc);
    cJSON_AddStringToObject(o, "rng_inc", buf);
    cJSON_AddNumberToObject(o, "lr", t->p.lr);
    cJSON_AddNumberToObject(o, "total_steps", (double)t->p.total_steps);
    cJSON_AddNumberToObject(o, "grad_accum", t->p.grad_accum);
    if (t->n_heads) {
        cJSON *hs = cJSON_AddArrayToObject(o, "head_steps");
        for (int k = 0; k < t->n_heads; k++) cJSON_AddItemToArray(hs, cJSON_CreateNumber((double)t->heads[k].steps));
        cJSON_AddNumberToObject(o, "pooler_steps", (double)t->pooler_steps);
    }
    cJSON *extra = extra_json ? cJSON_Parse(extra_json) : NULL;
    if (extra) cJSON_AddItemToObject(o, "extra", extra);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    bert_status rc = text ? bert_path_join(path, sizeof path, dir, "trainer_state.json", err)
                          : bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = bert_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

typedef struct {
    int state;
    const char *extra_json;
} save_args;

/* The model (single task: its HF directory; multi-task: the shared
 * encoder, heads.safetensors and heads.json) and, with state, AdamW's
 * moments and trainer_state.json. */
static bert_status write_checkpoint(bert_trainer *t, const char *tmp, void *user, bert_error *err) {
    const save_args *a = user;
    int multi = t->n_heads > 0;
    bert_status rc = train_write_config(t, tmp, multi, err);
    if (rc == BERT_OK)
        rc = train_write_block(t, tmp, "model.safetensors", t->params, "", multi ? TRAIN_SEL_SHARED : TRAIN_SEL_ALL, err);
    if (rc == BERT_OK && multi) rc = train_write_block(t, tmp, "heads.safetensors", t->params, "", TRAIN_SEL_HEADS, err);
    if (rc == BERT_OK && multi) rc = train_heads_write_specs(t, tmp, err);
    if (rc == BERT_OK) rc = train_copy_tokenizer(t, tmp, err);
    if (rc == BERT_OK && a->state)
        rc = train_write_block(t, tmp, "optimizer.safetensors", t->m, ".exp_avg", TRAIN_SEL_ALL, err);
    if (rc == BERT_OK && a->state)
        rc = train_write_block(t, tmp, "optimizer_sq.safetensors", t->v, ".exp_avg_sq", TRAIN_SEL_ALL, err);
    if (rc == BERT_OK && a->state) rc = write_state_json(t, tmp, a->extra_json, err);
    return rc;
}

bert_status bert_trainer_save(bert_trainer *t, const char *dir, int state, const char *extra_json, bert_error *err) {
    bert_error_clear(err);
    if ((state || t->gpu_torn) && t->gpu_broken) return train_gpu_check(t, err);
    if (state && t->micro != 0)
        return bert_fail(err, BERT_ERR_STATE, "a checkpoint with training state must be saved after an optimizer step");
    save_args a = {state, extra_json};
    bert_status rc = state && t->gpu ? train_gpu_pull_moments(t, err) : BERT_OK;
    return rc == BERT_OK ? train_save_dir(t, dir, write_checkpoint, &a, err) : rc;
}

/* 1 when every number in v (recursively) is finite: JSON has no infinity,
 * but 1e999 parses as one. */
static int all_finite(const cJSON *v) {
    if (cJSON_IsNumber(v)) return isfinite(v->valuedouble);
    for (const cJSON *c = v->child; c; c = c->next)
        if (!all_finite(c)) return 0;
    return 1;
}

/* A multi-task checkpoint's head_steps (one per head) and pooler_steps,
 * each an integer from 0 to the trainer's step, as a run makes them: every
 * optimizer step updates at least one head and at most accum (its
 * micro-batches' tasks), so their sum lies in [step, step x accum]; the
 * pooler is updated in a step where a sequence head is, so pooler_steps
 * lies between the largest and the sum of the sequence heads' (0 without
 * one). accum: the checkpoint's grad_accum (0: unknown, no upper bound). */
static bert_status read_head_steps(bert_trainer *t, const cJSON *o, const char *path, long accum, bert_error *err) {
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(o, "head_steps"), *ps = cJSON_GetObjectItemCaseSensitive(o, "pooler_steps");
    int ok = cJSON_IsArray(hs) && cJSON_GetArraySize(hs) == t->n_heads && bert_json_whole(ps, 0, (double)t->step);
    for (int k = 0; ok && k < t->n_heads; k++) ok = bert_json_whole(cJSON_GetArrayItem(hs, k), 0, (double)t->step);
    if (!ok)
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"head_steps\" (%d integers) or \"pooler_steps\" missing or out of range",
                         path, t->n_heads);
    long sum = 0, seq_sum = 0, seq_max = 0, pooler = (long)ps->valuedouble;
    for (int k = 0; k < t->n_heads; k++) {
        long n = (long)cJSON_GetArrayItem(hs, k)->valuedouble;
        sum += n;
        if (t->heads[k].task == BERT_TASK_SEQUENCE) seq_sum += n, seq_max = n > seq_max ? n : seq_max;
    }
    if (sum < t->step || (accum > 0 && sum > t->step * accum) || pooler < seq_max || pooler > seq_sum)
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"head_steps\" (sum %ld) and \"pooler_steps\" (%ld) do not fit step %ld "
                         "(each step updates 1 to grad_accum heads, the pooler with a sequence head)", path, sum, pooler, t->step);
    for (int k = 0; k < t->n_heads; k++) t->heads[k].steps = (long)cJSON_GetArrayItem(hs, k)->valuedouble;
    t->pooler_steps = pooler;
    return BERT_OK;
}

/* trainer_state.json's own fields into t: step an integer in [0, 2^53),
 * the RNG state and (odd) increment decimal uint64 strings, "extra" an
 * object (its numbers finite). Every field is checked before it is used. */
static bert_status read_state(bert_trainer *t, const cJSON *o, const char *path, char **extra_json, bert_error *err) {
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step"), *rs = cJSON_GetObjectItemCaseSensitive(o, "rng_state"),
                *ri = cJSON_GetObjectItemCaseSensitive(o, "rng_inc"), *extra = cJSON_GetObjectItemCaseSensitive(o, "extra");
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(step) || !cJSON_IsString(rs) || !cJSON_IsString(ri))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: step or RNG state missing", path);
    if (!(step->valuedouble >= 0 && step->valuedouble < 9007199254740992.0) || step->valuedouble != floor(step->valuedouble))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"step\" must be an integer >= 0", path);
    uint64_t state, inc;
    if (!bert_json_u64_string(rs, &state) || !bert_json_u64_string(ri, &inc) || !(inc & 1))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"rng_state\" / \"rng_inc\" must be decimal 64-bit integers (the increment odd)",
                         path);
    if (extra && (!cJSON_IsObject(extra) || !all_finite(extra)))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"extra\" must be an object of finite numbers", path);
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(o, "total_steps"), *accum = cJSON_GetObjectItemCaseSensitive(o, "grad_accum");
    if ((total && !bert_json_whole(total, 0, 9007199254740991.0)) || (accum && !bert_json_whole(accum, 1, INT_MAX)))
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"total_steps\" / \"grad_accum\" must be integers >= 0 / >= 1", path);
    if (total && total->valuedouble > 0 && step->valuedouble > total->valuedouble)
        return bert_fail(err, BERT_ERR_FORMAT, "%s: \"step\" %.0f is past its run's \"total_steps\" %.0f", path,
                         step->valuedouble, total->valuedouble);
    t->step = (long)step->valuedouble;
    t->rng.state = state, t->rng.inc = inc;
    bert_status rc = t->n_heads ? read_head_steps(t, o, path, accum ? (long)accum->valuedouble : 0, err) : BERT_OK;
    if (rc == BERT_OK && extra && extra_json && !(*extra_json = cJSON_PrintUnformatted(extra)))
        rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    return rc;
}

bert_status bert_trainer_resume(const char *dir, const bert_train_params *params, bert_trainer **out, char **extra_json,
                                bert_error *err) {
    bert_error_clear(err);
    if (extra_json) *extra_json = NULL;
    bert_trainer *t = NULL;
    bert_train_params p = params ? *params : bert_train_default_params();
    p.from_scratch = 0; /* the checkpoint's weights */
    unsigned created = 0;
    bert_status rc = bert_trainer_open(dir, &p, &t, &created, err);
    if (rc != BERT_OK) return rc;
    /* a head the run trained is in its checkpoint: one made afresh here is a damaged checkpoint
     * (a multi-task trainer's classifiers come from heads.safetensors) */
    if (t->n_heads) created &= ~(unsigned)BERT_HEAD_CLASSIFIER;
    if (created) {
        bert_trainer_free(t);
        return bert_fail(err, BERT_ERR_FORMAT, "%s/model.safetensors lacks the %s head the run trained (a damaged checkpoint?)",
                         dir, created & BERT_HEAD_POOLER ? "pooler" : created & BERT_HEAD_MLM ? "masked-LM"
                         : created & BERT_HEAD_NSP ? "next-sentence" : created & BERT_HEAD_CLASSIFIER ? "classifier"
                         : created & BERT_HEAD_QA ? "question-answering" : "intent");
    }
    if (t->n_heads && (rc = train_heads_check_specs(t, dir, err)) == BERT_OK)
        rc = train_load_block(t, dir, "heads.safetensors", "", t->params, TRAIN_SEL_HEADS, err);
    if (rc == BERT_OK) rc = train_load_block(t, dir, "optimizer.safetensors", ".exp_avg", t->m, TRAIN_SEL_ALL, err);
    if (rc == BERT_OK) rc = train_load_block(t, dir, "optimizer_sq.safetensors", ".exp_avg_sq", t->v, TRAIN_SEL_ALL, err);
    char path[PATH_MAX];
    cJSON *o = NULL;
    if (rc == BERT_OK && (rc = bert_path_join(path, sizeof path, dir, "trainer_state.json", err)) == BERT_OK)
        rc = bert_json_load_file(path, &o, err);
    if (rc == BERT_OK) rc = read_state(t, o, path, extra_json, err);
    cJSON_Delete(o);
    /* checkpoint-N holds step N (loop.c names them so; a path ending in '/' is not checked) */
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char *end;
    long named = strncmp(base, "checkpoint-", 11) == 0 ? strtol(base + 11, &end, 10) : -1;
    if (rc == BERT_OK && named >= 0 && end != base + 11 && *end == '\0' && named != t->step)
        rc = bert_fail(err, BERT_ERR_FORMAT, "%s: trainer_state.json is at step %ld, not %ld", dir, t->step, named);
    if (rc == BERT_OK && t->p.total_steps > 0 && t->step > t->p.total_steps)
        rc = bert_fail(err, BERT_ERR_INPUT, "%s is at step %ld, past this run's %ld steps", dir, t->step, t->p.total_steps);
    if (rc != BERT_OK) {
        if (extra_json) free(*extra_json), *extra_json = NULL;
        bert_trainer_free(t);
        return rc;
    }
    *out = t;
    return BERT_OK;
}

/* Head t->cur as a Hugging Face model directory. */
static bert_status write_head(bert_trainer *t, const char *tmp, void *user, bert_error *err) {
    (void)user;
    bert_status rc = train_write_config(t, tmp, 0, err);
    if (rc == BERT_OK) rc = train_write_block(t, tmp, "model.safetensors", t->params, "", t->cur, err);
    if (rc == BERT_OK) rc = train_copy_tokenizer(t, tmp, err);
    return rc;
}

bert_status bert_trainer_save_head(bert_trainer *t, int head, const char *dir, bert_error *err) {
    bert_error_clear(err);
    if (!t || !dir) return bert_fail(err, BERT_ERR_INPUT, "bert_trainer_save_head: trainer or directory is NULL");
    if (!t->n_heads) {
        if (head != 0) return bert_fail(err, BERT_ERR_INPUT, "head %d: the trainer has 1 head", head);
        return bert_trainer_save(t, dir, 0, NULL, err);
    }
    if (t->gpu_torn && t->gpu_broken) return train_gpu_check(t, err);
    int prev = t->cur;
    bert_status rc = bert_trainer_select(t, head, err);
    if (rc == BERT_OK) rc = train_save_dir(t, dir, write_head, NULL, err);
    bert_error e2;
    bert_status rc2 = bert_trainer_select(t, prev, &e2);
    if (rc == BERT_OK && rc2 != BERT_OK) {
        rc = rc2;
        if (err) *err = e2;
    }
    return rc;
}
