/* trainer.c — setting up a training run and stepping it (checkpoints:
 * checkpoint.c; multi-task heads: multihead.c).
 *
 * The trainable model is built from the weight list of model/weights.c:
 * every tensor the task needs gets a slice of one parameter block, copied
 * from the checkpoint when it has it with the right shape, initialised as
 * BERT does otherwise (normal(0, initializer_range), zero biases, LayerNorm
 * 1 and 0). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file.h"
#include "io/fs.h"
#include "io/json_fields.h"
#include "io/safetensors.h"
#include "kernels/gemm.h"
#include "kernels/gemm_onednn.h"
#include "kernels/cpu.h"
#include "kernels/half.h"
#include "model/context.h"
#include "train/acts.h"
#include "train/backprop.h"
#include "train/gpu.h"
#include "train/heads.h"
#include "train/trainer.h"
#include "train/data_parallel.h"
#include "util/error.h"
#include "util/mem.h"

bert_train_params bert_train_default_params(void) {
    bert_train_params p;
    memset(&p, 0, sizeof p);
    p.problem = BERT_PROBLEM_SINGLE_LABEL;
    p.num_labels = 2;
    p.lr = 2e-5;
    p.weight_decay = 0.01;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    p.schedule = BERT_SCHEDULE_LINEAR;
    p.warmup_ratio = 0.1;
    p.total_steps = 1000;
    p.max_grad_norm = 1.0;
    p.grad_accum = 1;
    p.hidden_dropout = p.attention_dropout = p.classifier_dropout = -1;
    p.seed = 42;
    p.n_threads = 1;
    return p;
}

/* Hugging Face's saved name for a canonical weight name. */
static void hf_name(char *out, size_t cap, const char *canon) {
    int head = strncmp(canon, "cls.", 4) == 0 || strncmp(canon, "classifier", 10) == 0 ||
               strncmp(canon, "qa_outputs", 10) == 0 || strncmp(canon, "intent_classifier", 17) == 0;
    snprintf(out, cap, "%s%s", head ? "" : "bert.", canon);
}

static int no_decay(const char *name) {
    size_t n = strlen(name);
    return strstr(name, "LayerNorm") != NULL || (n >= 5 && strcmp(name + n - 5, ".bias") == 0);
}

/* Dropout rates and initializer_range from config.json (BertConfig defaults). */
static bert_status read_train_config(const char *dir, double *hidden, double *att, double *cls, double *init_range,
                                     bert_error *err) {
    char path[PATH_MAX];
    cJSON *root;
    bert_status rc = bert_path_join(path, sizeof path, dir, "config.json", err);
    if (rc == BERT_OK) rc = bert_json_load_file(path, &root, err);
    if (rc != BERT_OK) return rc;
    const cJSON *v;
    *hidden = (v = cJSON_GetObjectItemCaseSensitive(root, "hidden_dropout_prob")) && cJSON_IsNumber(v) ? v->valuedouble : 0.1;
    *att = (v = cJSON_GetObjectItemCaseSensitive(root, "attention_probs_dropout_prob")) && cJSON_IsNumber(v) ? v->valuedouble : 0.1;
    *cls = (v = cJSON_GetObjectItemCaseSensitive(root, "classifier_dropout")) && cJSON_IsNumber(v) ? v->valuedouble : *hidden;
    *init_range = (v = cJSON_GetObjectItemCaseSensitive(root, "initializer_range")) && cJSON_IsNumber(v) ? v->valuedouble : 0.02;
    cJSON_Delete(root);
    return BERT_OK;
}

static bert_status set_string(char **dst, const char *s, bert_error *err) {
    char *d = strdup(s);
    if (!d) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = d;
    return BERT_OK;
}

/* By task: the architecture saved (a joint intent + slot model saves as
 * BertForTokenClassification, which loads its slot tagger) and the heads. */
static const char *const architectures[] = {"BertForSequenceClassification", "BertForTokenClassification",
                                            "BertForQuestionAnswering", "BertForPreTraining", "BertForMaskedLM",
                                            "BertForTokenClassification"};
static const unsigned task_heads[] = {BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER, BERT_HEAD_CLASSIFIER, BERT_HEAD_QA,
                                      BERT_HEAD_POOLER | BERT_HEAD_MLM | BERT_HEAD_NSP, BERT_HEAD_MLM,
                                      BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER | BERT_HEAD_INTENT};

/* A joint intent + slot model's intents into the configuration. */
static bert_status configure_intents(bert_config_full *c, const bert_train_params *p, bert_error *err) {
    if (p->num_intents < 1 || p->num_intents > 100000)
        return bert_fail(err, BERT_ERR_INPUT, "num_intents %d: a dialogue model needs 1..100000 intents", p->num_intents);
    if (p->context_turns < 0 || p->context_turns > 1000 || p->max_length < 0 || p->max_length > 1 << 20)
        return bert_fail(err, BERT_ERR_INPUT, "context turns (0..1000) or max length (0..2^20) out of range");
    for (int i = 0; c->intents && i < c->pub.num_intents; i++) free(c->intents[i]);
    free(c->intents);
    c->pub.num_intents = 0;
    if (!(c->intents = calloc((size_t)p->num_intents, sizeof *c->intents))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    c->pub.num_intents = p->num_intents;
    c->pub.intent_multi_label = p->intent_multi_label != 0;
    c->pub.dialogue_context_turns = p->context_turns > 0 ? p->context_turns : 0;
    c->pub.dialogue_max_length = p->max_length > 0 ? p->max_length : 0;
    for (int i = 0; i < p->num_intents; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "INTENT_%d", i);
        bert_status rc = set_string(&c->intents[i], p->intents && p->intents[i] ? p->intents[i] : buf, err);
        if (rc != BERT_OK) return rc;
    }
    return BERT_OK;
}

bert_status train_configure(bert_model *tm, const bert_train_params *p, int force, bert_error *err) {
    bert_config_full *c = &tm->cfg;
    if ((unsigned)p->task > BERT_TASK_DIALOGUE) return bert_fail(err, BERT_ERR_INPUT, "unknown training task %d", (int)p->task);
    bert_status rc = set_string(&c->architecture, architectures[p->task], err);
    c->pub.architecture = c->architecture;
    if (rc == BERT_OK && p->task == BERT_TASK_DIALOGUE) rc = configure_intents(c, p, err);
    if (p->task != BERT_TASK_DIALOGUE) { /* only a dialogue model keeps intents */
        for (int i = 0; c->intents && i < c->pub.num_intents; i++) free(c->intents[i]);
        free(c->intents);
        c->intents = NULL, c->pub.num_intents = 0, c->pub.intent_multi_label = 0;
    }
    if (rc != BERT_OK || (p->task != BERT_TASK_SEQUENCE && p->task != BERT_TASK_TOKEN && p->task != BERT_TASK_DIALOGUE))
        return rc;
    int L = p->problem == BERT_PROBLEM_REGRESSION && p->task == BERT_TASK_SEQUENCE ? 1 : p->num_labels;
    if (L < 1) return bert_fail(err, BERT_ERR_INPUT, "num_labels must be at least 1");
    int keep = !force && c->pub.num_labels == L && !p->labels;
    if (!keep) {
        for (int i = 0; i < c->pub.num_labels; i++) free(c->labels[i]);
        free(c->labels);
        c->labels = calloc((size_t)L, sizeof *c->labels);
        if (!c->labels) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
        c->pub.num_labels = L;
        for (int i = 0; i < L; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "LABEL_%d", i);
            rc = set_string(&c->labels[i], p->labels ? p->labels[i] : buf, err);
            if (rc != BERT_OK) return rc;
        }
    }
    static const char *const problems[] = {"single_label_classification", "multi_label_classification", "regression"};
    rc = set_string(&c->problem_type, p->task == BERT_TASK_SEQUENCE ? problems[p->problem] : "", err);
    c->pub.problem_type = c->problem_type;
    return rc;
}

#define POSITION_TABLE "embeddings.position_embeddings.weight"

/* What BERT's initialisation does beyond normal(0, initializer_range):
 * nn.Embedding's padding row is zeroed (Hugging Face's _init_weights), and
 * a model with fixed positions gets the sin/cos table of "Attention Is All
 * You Need": PE[p][2i] = sin(p / 10000^(2i/C)), PE[p][2i+1] = cos(same). */
static void init_special(const bert_config *c, const char *name, float *w) {
    int C = c->hidden_size;
    if (strcmp(name, "embeddings.word_embeddings.weight") == 0 && c->pad_token_id >= 0 && c->pad_token_id < c->vocab_size)
        memset(w + (size_t)c->pad_token_id * C, 0, sizeof *w * (size_t)C);
    if (strcmp(name, POSITION_TABLE) == 0 && c->sinusoidal_positions)
        for (int p = 0; p < c->max_position_embeddings; p++)
            for (int i = 0; i < C; i++) {
                double angle = p / pow(10000.0, (double)(i - i % 2) / C);
                w[(size_t)p * C + i] = (float)(i % 2 ? cos(angle) : sin(angle));
            }
}

static const bert_weight_req *find_req(const bert_weight_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0) return &l->v[i];
    return NULL;
}

/* Only these are operands of the bf16 products (train_dense_fwd/bwd):
 * re-rounding all of params would also convert the word embeddings (60 % of
 * bert-base) on every fine-tuning step, for nothing. */
static void refresh_w16(bert_trainer *t, const float *w, size_t n) {
    bert_f32_to_bf16_threaded(t->params16 + (w - t->params), w, n, t->p.n_threads);
}

/* Re-round the weights the bf16 products use (the encoder's dense layers
 * and the tied MLM decoder) into params16, after the weights change; with
 * the layers on the GPU (which rounds its own), the decoder only. */
static void refresh_bf16(bert_trainer *t) {
    if (!t->params16) return;
    const bert_config *c = bert_model_config(t->model);
    const bert_weights *w = &t->model->w;
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size;
    for (int l = 0; t->p.device != BERT_DEVICE_CUDA && l < c->num_hidden_layers; l++) {
        const bert_layer_weights *L = &w->layers[l];
        refresh_w16(t, L->q.w, C * C), refresh_w16(t, L->k.w, C * C), refresh_w16(t, L->v.w, C * C);
        refresh_w16(t, L->attn_out.w, C * C), refresh_w16(t, L->inter.w, I * C), refresh_w16(t, L->out.w, C * I);
    }
    if (t->model->heads & BERT_HEAD_MLM) refresh_w16(t, w->mlm_decoder, (size_t)c->vocab_size * C);
}

bert_status bert_trainer_open(const char *dir, const bert_train_params *params, bert_trainer **out,
                              unsigned *created, bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    if (created) *created = 0;
    bert_trainer *t = calloc(1, sizeof *t);
    if (!t) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    t->p = params ? *params : bert_train_default_params();
    if (t->p.grad_accum < 1) t->p.grad_accum = 1;
    if (t->p.n_threads < 1) t->p.n_threads = 1;
    long max_threads = bert_max_threads();
    if (t->p.n_threads > max_threads) {
        int n = t->p.n_threads;
        free(t);
        return bert_fail(err, BERT_ERR_INPUT, "n_threads %d: at most %ld (BERT_MAX_THREADS_PER_CORE per core)", n, max_threads);
    }
    bert_rng_seed(&t->rng, t->p.seed, 54);
    bert_model *src = NULL;
    bert_weight_list src_list = {0}, list = {0};
    double hidden, att, cls, init_range;
    bert_status rc = read_train_config(dir, &hidden, &att, &cls, &init_range, err);
    bert_model_params lp = bert_model_default_params();
    lp.pack_weights = 0; /* the weights are only copied out of src */
    if (rc == BERT_OK && !t->p.from_scratch) rc = bert_model_load(dir, &lp, &src, err);
    if (rc == BERT_OK && !(t->model = calloc(1, sizeof *t->model))) rc = bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    if (rc == BERT_OK) rc = bert_config_load(dir, &t->model->cfg, err);
    if (rc == BERT_OK) rc = train_heads_init(t, params, err);
    if (rc == BERT_OK) rc = train_configure(t->model, &t->p, t->n_heads > 0, err);
    if (rc == BERT_OK && src) rc = bert_weight_list_build(src, &src_list, err);
    if (rc == BERT_OK) rc = bert_weight_list_build(t->model, &list, err);
    if (rc == BERT_OK) rc = train_heads_requests(t, &list, t->model->cfg.pub.hidden_size, err);
    if (t->p.hidden_dropout < 0) t->p.hidden_dropout = hidden;
    if (t->p.attention_dropout < 0) t->p.attention_dropout = att;
    if (t->p.classifier_dropout < 0) t->p.classifier_dropout = cls;
    const double rates[3] = {t->p.hidden_dropout, t->p.attention_dropout, t->p.classifier_dropout};
    for (int k = 0; rc == BERT_OK && k < 3; k++)
        if (!(rates[k] >= 0.0 && rates[k] < 1.0))
            rc = bert_fail(err, BERT_ERR_INPUT, "%s dropout rate %g: must be in [0, 1)",
                           k == 0 ? "hidden" : k == 1 ? "attention" : "classifier", rates[k]);
    unsigned heads = (unsigned)t->p.task <= BERT_TASK_DIALOGUE ? task_heads[t->p.task] : 0;
    for (int k = 0; k < t->n_heads; k++) heads |= task_heads[t->heads[k].task];
    /* Size the blocks. */
    size_t total = 0;
    int nt = 0;
    for (int i = 0; rc == BERT_OK && i < list.n; i++) {
        const bert_weight_req *r = &list.v[i];
        if (r->group && (!(r->group & heads) || r->optional)) continue;
        total += (size_t)r->rows * (size_t)(r->cols ? r->cols : 1);
        nt++;
    }
    if (rc == BERT_OK) {
        t->params = bert_calloc64(total, sizeof(float)); /* streamed by AdamW: cache-line aligned */
        t->grads = bert_calloc64(total, sizeof(float));
        t->m = bert_calloc64(total, sizeof(float));
        t->v = bert_calloc64(total, sizeof(float));
        t->tensors = calloc((size_t)nt, sizeof *t->tensors);
        t->src_dir = strdup(dir);
        if (!t->params || !t->grads || !t->m || !t->v || !t->tensors || !t->src_dir)
            rc = bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for training", total * 16e-6);
        t->n_params = total;
    }
    /* Fill: copy what the checkpoint has, initialise the rest. */
    size_t off = 0;
    for (int i = 0; rc == BERT_OK && i < list.n; i++) {
        const bert_weight_req *r = &list.v[i];
        if (r->group && (!(r->group & heads) || r->optional)) continue;
        size_t n = (size_t)r->rows * (size_t)(r->cols ? r->cols : 1);
        float *dst = t->params + off;
        const bert_weight_req *sr = find_req(&src_list, r->name);
        const float *from = sr && *sr->slot && sr->rows == r->rows && sr->cols == r->cols ? *sr->slot : NULL;
        if (from) {
            memcpy(dst, from, n * sizeof(float));
        } else {
            if (created && r->group) *created |= r->group;
            /* by name: a LayerNorm weight is a vector too, and starts at 1 */
            size_t nl = strlen(r->name);
            int is_ln = strstr(r->name, "LayerNorm") != NULL, is_bias = nl >= 5 && strcmp(r->name + nl - 5, ".bias") == 0;
            for (size_t k = 0; k < n; k++)
                dst[k] = is_ln && !is_bias ? 1.0f : is_bias ? 0.0f : (float)init_range * bert_rng_normal(&t->rng);
            init_special(&t->model->cfg.pub, r->name, dst);
        }
        *r->slot = dst;
        train_tensor *tt = &t->tensors[t->n_tensors++];
        hf_name(tt->name, sizeof tt->name, r->name);
        tt->offset = off;
        tt->rows = r->rows;
        tt->cols = r->cols;
        tt->decay = !no_decay(r->name);
        tt->frozen = t->model->cfg.pub.sinusoidal_positions && strcmp(r->name, POSITION_TABLE) == 0;
        off += n;
    }
    if (rc == BERT_OK) {
        if (heads & BERT_HEAD_MLM) t->model->w.mlm_decoder = t->model->w.word; /* tied, as Hugging Face saves it */
        t->model->heads = t->n_heads ? task_heads[t->p.task] : heads;
        train_heads_bind(t);
        t->model->n_params = (int64_t)total;
        snprintf(t->model->dtypes, sizeof t->model->dtypes, "F32");
        bert_context_params cp = bert_context_default_params();
        cp.n_threads = t->p.n_threads;
        rc = bert_context_create(t->model, &cp, &t->eval_ctx, err);
    }
    t->word_tensor = -1;
    for (int i = 0; rc == BERT_OK && i < t->n_tensors; i++)
        if (t->params + t->tensors[i].offset == t->model->w.word && t->tensors[i].rows == t->model->cfg.pub.vocab_size)
            t->word_tensor = i, t->word_rows = calloc((size_t)t->tensors[i].rows, 1), t->word_rows_ok = 1;
    if (rc == BERT_OK && bert_dist_size(t->p.dist) > 1)
        rc = train_dp_create(t->p.dist, t->tensors, t->n_tensors, t->grads, t->n_params,
                             t->model->cfg.pub.num_hidden_layers, &t->dp, err);
    if (rc == BERT_OK && t->p.compute == BERT_COMPUTE_BF16) {
        /* the CPU's bf16 products: the layers' (the GPU has its own) and the MLM decoder's
         * (unless the heads train on the GPU too) */
        int host16 = t->p.device != BERT_DEVICE_CUDA || (t->model->w.mlm_decoder && !train_gpu_heads_of(t));
        const char *why = host16 ? bert_bf16_unavailable() : NULL;
        if (why) rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "bf16 training: %s", why);
        else if (host16 && !(t->params16 = bert_alloc64(total * sizeof *t->params16)))
            rc = bert_fail(err, BERT_ERR_NOMEM, "cannot allocate %.1f MB for bf16 weights", total * 2e-6);
        else refresh_bf16(t);
    } else if (rc == BERT_OK && t->p.compute == BERT_COMPUTE_INT8) {
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "int8 is for inference; train in f32 or bf16 and run the result with --dtype int8");
    } else if (rc == BERT_OK && (t->p.compute == BERT_COMPUTE_TF32 || t->p.compute == BERT_COMPUTE_F16)) {
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED, "%s is for inference on --device cuda; train in f32 or bf16",
                       t->p.compute == BERT_COMPUTE_F16 ? "f16" : "tf32");
    } else if (rc == BERT_OK && t->p.compute != BERT_COMPUTE_F32) {
        rc = bert_fail(err, BERT_ERR_INPUT, "unknown compute type %d", (int)t->p.compute);
    }
    if (rc == BERT_OK && t->p.device == BERT_DEVICE_CUDA) {
        if ((rc = train_gpu_create(t, err)) == BERT_OK) t->gpu_stale = 1;
    } else if (rc == BERT_OK && t->p.device != BERT_DEVICE_CPU) {
        rc = bert_fail(err, BERT_ERR_INPUT, "unknown device %d", (int)t->p.device);
    }
    free(src_list.v);
    free(list.v);
    bert_model_free(src);
    if (rc != BERT_OK) {
        bert_trainer_free(t);
        return rc;
    }
    *out = t;
    return BERT_OK;
}

void bert_trainer_free(bert_trainer *t) {
    if (!t) return;
    bert_cuda_train_free(t->gpu); /* first: it unlocks the page-locked run of params */
    bert_context_free(t->eval_ctx);
    bert_model_free(t->model); /* its weights are in t->params: model->converted is NULL */
    free(t->params), free(t->grads), free(t->m), free(t->v);
    free(t->tensors);
    free(t->src_dir);
    train_acts_free(t->acts);
    train_dp_free(t->dp);
    free(t->params16);
    free(t->word_rows);
    free(t->gpu_tables), free(t->gpu_layers);
    train_heads_free(t);
    free(t);
}

/* The pass of t's next micro-batch: its weights, gradients, RNG, the
 * selected head's loss weight; the whole batch, nothing sent. */
static train_pass pass_of(bert_trainer *t) {
    return (train_pass){t->model, {t->params, t->grads, t->params16, t->p.n_threads}, &t->p, &t->rng, NULL,
                        t->n_heads ? t->heads[t->cur].loss_weight : 1.0, NULL, NULL, NULL, NULL, t->gpu,
                        t->gpu && t->gpu_host_grads ? train_gpu_table(t, BERT_CUDA_GRADS) : NULL, t->gpu_emb,
                        t->gpu_heads};
}

static bert_status pass_run(bert_trainer *t, train_pass *tp, const bert_sequence *seqs, int n, const float *labels,
                            double *loss, bert_error *err);

/* Data-parallel: the pass on this rank's part of the micro-batch
 * (train/data_parallel.c), its layers sent as backward ends them on the
 * step's last micro-batch. *loss: this rank's share of the batch's mean. */
static bert_status backward_part(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels, double *loss,
                                 bert_error *err) {
    train_dp_part part;
    bert_status rc = train_dp_part_of(t->dp, &t->p, t->model, t->micro, seqs, n, labels, &part, err);
    if (rc != BERT_OK) return rc;
    *loss = 0.0;
    if (part.hi > part.lo) {
        train_pass tp = pass_of(t);
        tp.share = &part.share, tp.masks = &part.masks;
        if (part.send) tp.layer_done = train_dp_layer_done, tp.layer_done_user = t->dp;
        rc = pass_run(t, &tp, seqs + part.lo, part.hi - part.lo, part.labels, loss, err);
    } else { /* no sequences here: the RNG still moves past the batch's dropout masks */
        train_pass tp = pass_of(t);
        tp.masks = &part.masks;
        train_encoder_skip_masks(&tp);
        train_heads_skip_masks(&tp);
    }
    if (rc == BERT_OK) train_dp_part_done(t->dp, &part);
    return rc;
}

bert_status bert_trainer_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels, double *loss,
                                  bert_error *err) {
    bert_error_clear(err);
    if (n <= 0) return bert_fail(err, BERT_ERR_INPUT, "empty micro-batch");
    if (t->gpu_broken) return train_gpu_check(t, err);
    /* The inference validator checks ids, types and lengths. */
    const bert_config *c = bert_model_config(t->model);
    for (int s = 0; s < n; s++) {
        if (seqs[s].n_tokens <= 0 || seqs[s].n_tokens > c->max_position_embeddings)
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: %d tokens (1..%d allowed)", s, seqs[s].n_tokens,
                             c->max_position_embeddings);
        for (int k = 0; k < seqs[s].n_tokens; k++)
            if (seqs[s].input_ids[k] < 0 || seqs[s].input_ids[k] >= c->vocab_size ||
                (seqs[s].token_type_ids && (seqs[s].token_type_ids[k] < 0 || seqs[s].token_type_ids[k] >= c->type_vocab_size)))
                return bert_fail(err, BERT_ERR_INPUT, "sequence %d: position %d: id or token type out of range", s, k);
        if (t->p.task == BERT_TASK_SEQUENCE && t->p.problem == BERT_PROBLEM_SINGLE_LABEL &&
            !(labels[s] >= 0 && labels[s] < c->num_labels)) /* NaN too */
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: label %g is not a class id in [0, %d)", s, labels[s],
                             c->num_labels);
        if (t->p.task == BERT_TASK_DIALOGUE && !t->p.intent_multi_label && !(labels[s] >= 0 && labels[s] < c->num_intents))
            return bert_fail(err, BERT_ERR_INPUT, "sequence %d: intent %g is not an intent id in [0, %d)", s, labels[s],
                             c->num_intents);
    }
    bert_status rc = t->dp ? backward_part(t, seqs, n, labels, loss, err) : train_forward_backward(t, seqs, n, labels, loss, err);
    if (rc == BERT_OK) t->micro++, train_heads_touch(t);
    return rc;
}

static bert_status forward_backward(bert_trainer *t, train_pass *tp, const bert_sequence *seqs, int S,
                                    const float *labels, double *loss, bert_error *err) {
    int on_gpu = !t->gpu ? 0 : t->gpu_heads ? 3 : t->gpu_emb ? 2 : 1;
    bert_status rc = train_acts_reserve(&t->acts, t->model, seqs, S, t->params16 != NULL, on_gpu, err);
    if (rc != BERT_OK) return rc;
    if (t->gpu && (rc = train_gpu_sync(t, err)) != BERT_OK) return rc;
    tp->acts = t->acts;
    rc = train_encoder_forward(tp, seqs, S, err);
    if (rc == BERT_OK) rc = train_heads(tp, seqs, S, labels, loss, err);
    if (rc == BERT_OK) rc = train_encoder_backward(tp, seqs, S, err);
    return rc;
}

static bert_status pass_run(bert_trainer *t, train_pass *tp, const bert_sequence *seqs, int n, const float *labels,
                            double *loss, bert_error *err) {
    if (t->word_rows) /* the rows the embeddings' backward will write */
        for (int s = 0; s < n; s++)
            for (int k = 0; k < seqs[s].n_tokens; k++)
                if ((unsigned)seqs[s].input_ids[k] < (unsigned)t->tensors[t->word_tensor].rows)
                    t->word_rows[seqs[s].input_ids[k]] = 1;
    int saved = bert_blas_threads_enter(t->p.n_threads);
    bert_status rc = forward_backward(t, tp, seqs, n, labels, loss, err);
    bert_blas_threads_leave(saved);
    return rc;
}

bert_status train_forward_backward(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels,
                                   double *loss, bert_error *err) {
    train_pass tp = pass_of(t);
    return pass_run(t, &tp, seqs, n, labels, loss, err);
}

bert_status train_adamw_step(bert_trainer *t, double lr, bert_error *err) {
    unsigned char on[2 + BERT_MAX_HEADS];
    long steps[2 + BERT_MAX_HEADS];
    train_adamw_blocks b = {t->params, t->grads, t->m, t->v, t->n_params, t->tensors, t->n_tensors, NULL, NULL, -1, NULL,
                            0, 0, 0.0};
    if (t->n_heads) train_heads_groups(t, on, steps), b.group_on = on, b.group_step = steps;
    if (t->word_rows && t->word_rows_ok && !t->dp && !(t->model->heads & BERT_HEAD_MLM))
        b.sparse = t->word_tensor, b.sparse_rows = t->word_rows;
    bert_status rc = BERT_OK;
    if (t->gpu) { /* the held tensors' part on the GPU, first: the rest here with the same clipping */
        b.held_lo = t->held_lo, b.held_hi = t->held_hi;
        rc = train_gpu_step_begin(t, &b.held_ss, err);
    }
    double norm = rc == BERT_OK ? train_adamw_norm(&t->p, &b) : 0.0;
    float clip = train_clip_of(&t->p, norm);
    if (rc == BERT_OK && t->gpu) rc = train_gpu_adamw(t, lr, clip, err);
    if (rc != BERT_OK) return rc;
    train_adamw_apply(&t->p, &b, t->step + 1, lr, clip);
    t->last_grad_norm = norm;
    if (t->word_rows) memset(t->word_rows, 0, (size_t)t->tensors[t->word_tensor].rows);
    t->step++;
    train_heads_stepped(t);
    return BERT_OK;
}

int bert_trainer_step_due(const bert_trainer *t) { return t->micro >= t->p.grad_accum; }

float *bert_trainer_gradients(bert_trainer *t, size_t *n) {
    if (n) *n = t->n_params;
    t->word_rows_ok = 0; /* the caller may write any row, now or at any later step */
    if (t->gpu && !t->gpu_host_grads) { /* the GPU's sums come here, and are kept here from now on */
        /* after the step's host sums (the loop's before_step), the ranks' sums of the GPU's first */
        if (t->gpu_nccl && train_dp_reduced(t->dp) && train_gpu_allreduce(t, NULL) != BERT_OK) return NULL;
        if (train_gpu_add_grads(t, t->grads, NULL) != BERT_OK) return NULL;
        t->gpu_host_grads = 1;
        if (t->dp) train_dp_held_elsewhere(t->dp, 0, 0); /* from now on the host's buckets sum them */
    }
    return t->grads;
}

bert_status bert_trainer_apply(bert_trainer *t, bert_error *err) {
    bert_error_clear(err);
    if (t->gpu_broken) return train_gpu_check(t, err);
    if (t->micro == 0) return bert_fail(err, BERT_ERR_STATE, "no gradients accumulated since the last optimizer step");
    bert_status rc = t->dp ? train_dp_reduce(t->dp, err) : BERT_OK;
    if (rc != BERT_OK) return rc;
    if ((rc = train_adamw_step(t, train_lr_at(&t->p, t->step), err)) != BERT_OK) return rc;
    refresh_bf16(t);
    t->micro = 0;
    return t->dp ? train_dp_check(t->dp, t->params, t->step, err) : BERT_OK;
}

bert_status bert_trainer_step(bert_trainer *t, const bert_sequence *seqs, int n, const float *labels, double *loss,
                              int *stepped, bert_error *err) {
    if (stepped) *stepped = 0;
    bert_status rc = bert_trainer_backward(t, seqs, n, labels, loss, err);
    if (rc != BERT_OK || !bert_trainer_step_due(t)) return rc;
    rc = bert_trainer_apply(t, err);
    if (rc == BERT_OK && stepped) *stepped = 1;
    return rc;
}

long bert_trainer_steps(const bert_trainer *t) { return t->step; }
long bert_trainer_total_steps(const bert_trainer *t) { return t->p.total_steps; }
double bert_trainer_lr(const bert_trainer *t) { return train_lr_at(&t->p, t->step); }
double bert_trainer_grad_norm(const bert_trainer *t) { return t->last_grad_norm; }
const bert_model *bert_trainer_model(const bert_trainer *t) { return t->model; }
uint32_t bert_trainer_random(bert_trainer *t) { return bert_rng_u32(&t->rng); }

bert_status bert_trainer_select(bert_trainer *t, int head, bert_error *err) {
    bert_error_clear(err);
    if (!t) return bert_fail(err, BERT_ERR_INPUT, "bert_trainer_select: trainer is NULL");
    int n = t->n_heads ? t->n_heads : 1;
    if (head < 0 || head >= n) return bert_fail(err, BERT_ERR_INPUT, "head %d: the trainer has %d head(s)", head, n);
    if (!t->n_heads || head == t->cur) return BERT_OK;
    train_heads_use(t, head);
    bert_status rc = train_configure(t->model, &t->p, 1, err);
    if (rc != BERT_OK) { /* back to the head that was selected */
        train_heads_use(t, t->cur);
        train_configure(t->model, &t->p, 1, NULL);
        return rc;
    }
    t->cur = head;
    t->model->w.classifier.w = t->heads[head].w, t->model->w.classifier.b = t->heads[head].b;
    t->model->heads = BERT_HEAD_CLASSIFIER | (t->heads[head].task == BERT_TASK_SEQUENCE ? BERT_HEAD_POOLER : 0);
    return BERT_OK;
}
