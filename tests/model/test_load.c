/* test_load.c — loading model directories: accepted layouts and every kind
 * of broken directory, each with an error that names what is wrong. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"

/* tmpdir/name, a fresh directory. */
static const char *mkdir_tmp(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", test_tmpdir(), name);
    mkdir(buf, 0755);
    return buf;
}

static void copy_into(const char *dir, const char *fixture, const char *file) {
    char from[1024], to[1024];
    snprintf(from, sizeof from, FIXTURES "/%s/%s", fixture, file);
    snprintf(to, sizeof to, "%s/%s", dir, file);
    if (test_copy_file(from, to) != 0) test_fail(__FILE__, __LINE__, "copy %s", from);
}

static void write_text(const char *dir, const char *file, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    test_write_file(path, text, strlen(text));
}

static bert_status load(const char *dir, bert_error *err) {
    bert_model *m = NULL;
    bert_status rc = bert_model_load(dir, NULL, &m, err);
    bert_model_free(m);
    return rc;
}

/* A copy of tiny-pretraining's weights with tensor `drop` removed and, if
 * retype is non-NULL, that tensor stored as I32 instead. */
static void write_variant(const char *dir, const char *drop, const char *retype) {
    bert_error err;
    st_file f;
    if (st_open(FIXTURES "/tiny-pretraining/model.safetensors", 0, &f, &err) != BERT_OK) return;
    st_write_tensor *ts = calloc((size_t)f.n_tensors, sizeof *ts);
    int n = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (drop && strcmp(t->name, drop) == 0) continue;
        ts[n] = (st_write_tensor){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(ts[n].shape, t->shape, sizeof t->shape);
        if (retype && strcmp(t->name, retype) == 0) ts[n].dtype = ST_I32; /* same size as F32 */
        n++;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(st_write(path, ts, n, NULL, &err), err);
    free(ts);
    st_close(&f);
}

TEST(load_reports_model_facts) {
    bert_error err;
    bert_model *m = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, &m, &err), err);
    if (!m) return;
    CHECK(bert_model_heads(m) == (BERT_HEAD_POOLER | BERT_HEAD_MLM | BERT_HEAD_NSP));
    /* 99*48 + 64*48 + 2*48 + 2*48 | layer: 4*(48*48+48) + 2*2*48 + 96*48+96 + 48*96+48 | pooler 48*48+48 |
     * mlm 48*48+48 + 2*48 + 99 | nsp 2*48+2 */
    int64_t want = 99 * 48 + 64 * 48 + 2 * 48 + 2 * 48 + 4 * (48 * 48 + 48) + 4 * 48 + 96 * 48 + 96 + 48 * 96 + 48 +
                   48 * 48 + 48 + 48 * 48 + 48 + 2 * 48 + 99 + 2 * 48 + 2;
    CHECK(bert_model_n_params(m) == want);
    CHECK(strcmp(bert_model_dtypes(m), "F32") == 0 && bert_model_n_ignored_tensors(m) == 0);
    CHECK(bert_model_label(m, 0) == NULL);
    bert_model_free(m);
    CHECK_OK(bert_model_load(FIXTURES "/classifier-4l", NULL, &m, &err), err);
    if (!m) return;
    CHECK(bert_model_heads(m) == (BERT_HEAD_POOLER | BERT_HEAD_CLASSIFIER));
    CHECK(strcmp(bert_model_label(m, 2), "positive") == 0 && bert_model_label(m, 3) == NULL);
    CHECK(bert_model_n_ignored_tensors(m) == 1); /* the legacy position_ids buffer */
    bert_model_free(m);
    CHECK_OK(bert_model_load(FIXTURES "/bf16-mlm-gamma", NULL, &m, &err), err);
    if (m) CHECK(bert_model_heads(m) == BERT_HEAD_MLM && strcmp(bert_model_dtypes(m), "BF16") == 0);
    bert_model_free(m);
}

TEST(load_missing_things) {
    bert_error err;
    char d[512];
    CHECK_ERR(load("/no/such/model", &err), err, BERT_ERR_IO, "/no/such/model: no such model directory");
    mkdir_tmp("empty", d, sizeof d);
    CHECK_ERR(load(d, &err), err, BERT_ERR_IO, "config.json: cannot open");
    copy_into(d, "tiny-pretraining", "config.json");
    CHECK_ERR(load(d, &err), err, BERT_ERR_IO, "no model.safetensors or model.safetensors.index.json");
    write_text(d, "pytorch_model.bin", "PK");
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "pytorch_model.bin: not a torch checkpoint");
}

TEST(load_malformed_config) {
    bert_error err;
    char d[512];
    mkdir_tmp("badconfig", d, sizeof d);
    copy_into(d, "tiny-pretraining", "model.safetensors");
    write_text(d, "config.json", "{\"hidden_size\": 48,, }");
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "config.json: malformed JSON at line 1");
}

TEST(load_shape_mismatch_names_the_tensor) {
    bert_error err;
    char d[512];
    mkdir_tmp("shape", d, sizeof d);
    copy_into(d, "tiny-pretraining", "model.safetensors");
    write_text(d, "config.json",
               "{\"vocab_size\": 100, \"hidden_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 3,"
               "\"intermediate_size\": 96, \"max_position_embeddings\": 64}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE,
              "tensor 'bert.embeddings.word_embeddings.weight' has shape [99, 48]; config.json implies [100, 48]");
    write_text(d, "config.json",
               "{\"vocab_size\": 99, \"hidden_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 3,"
               "\"intermediate_size\": 97, \"max_position_embeddings\": 64}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE, "intermediate.dense.weight' has shape [96, 48]; config.json implies [97, 48]");
    write_text(d, "config.json",
               "{\"vocab_size\": 99, \"hidden_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 3,"
               "\"intermediate_size\": 96, \"max_position_embeddings\": 64}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE, "tensor 'encoder.layer.1.attention.self.query.weight' is missing");
}

TEST(load_missing_tensor_and_bad_dtype) {
    bert_error err;
    char d[512];
    mkdir_tmp("variant", d, sizeof d);
    copy_into(d, "tiny-pretraining", "config.json");
    write_variant(d, "bert.encoder.layer.0.output.LayerNorm.bias", NULL);
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE, "'encoder.layer.0.output.LayerNorm.bias' is missing");
    write_variant(d, NULL, "bert.embeddings.position_embeddings.weight");
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE, "'bert.embeddings.position_embeddings.weight' has dtype I32");
    /* An incomplete head is an error, not a silently absent head. */
    write_variant(d, "cls.seq_relationship.bias", NULL);
    CHECK_ERR(load(d, &err), err, BERT_ERR_SHAPE, "'cls.seq_relationship.bias' is missing");
    /* A whole head may be absent: the model then lacks it. */
    write_variant(d, NULL, NULL);
    CHECK_OK(load(d, &err), err);
}

TEST(load_truncated_weights) {
    bert_error err;
    char d[512], path[600];
    mkdir_tmp("truncated", d, sizeof d);
    copy_into(d, "tiny-pretraining", "config.json");
    copy_into(d, "tiny-pretraining", "model.safetensors");
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    CHECK(truncate(path, 5000) == 0);
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "truncated");
    CHECK(strstr(err.message, "model.safetensors") != NULL);
    CHECK(truncate(path, 20) == 0);
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "beyond the end");
}

TEST(load_sharded_index_errors) {
    bert_error err;
    char d[512];
    mkdir_tmp("shards", d, sizeof d);
    copy_into(d, "sharded-512", "config.json");
    copy_into(d, "sharded-512", "model-00001-of-00002.safetensors");
    copy_into(d, "sharded-512", "model.safetensors.index.json");
    CHECK_ERR(load(d, &err), err, BERT_ERR_IO, "model-00002-of-00002.safetensors: cannot open");
    copy_into(d, "sharded-512", "model-00002-of-00002.safetensors");
    CHECK_OK(load(d, &err), err);
    write_text(d, "model.safetensors.index.json",
               "{\"weight_map\": {\"bert.pooler.dense.weight\": \"model-00001-of-00002.safetensors\"}}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "'bert.pooler.dense.weight' is not in its shard");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"x\": \"../../etc/passwd\"}}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "must be a plain file name");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": 3}");
    CHECK_ERR(load(d, &err), err, BERT_ERR_FORMAT, "no 'weight_map'");
}

TEST(forward_rejects_bad_input) {
    bert_error err;
    bert_model *m = NULL;
    bert_context *ctx = NULL;
    CHECK_OK(bert_model_load(FIXTURES "/tiny-pretraining", NULL, &m, &err), err);
    if (!m) return;
    CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    int32_t ids[65] = {1, 2, 3}, types[3] = {0, 2, 0}, mask[3] = {1, 1, 7};
    bert_sequence ok = {.input_ids = ids, .n_tokens = 3};
    bert_sequence seqs[2] = {ok, ok};
    CHECK_ERR(bert_forward(ctx, seqs, 0, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "empty batch");
    seqs[1].n_tokens = 0;
    CHECK_ERR(bert_forward(ctx, seqs, 2, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "sequence 1: empty");
    CHECK(err.item == 1);
    seqs[1].n_tokens = 65;
    CHECK_ERR(bert_forward(ctx, seqs, 2, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT,
              "sequence 1: 65 tokens; the model takes at most max_position_embeddings = 64");
    ids[1] = 99;
    CHECK_ERR(bert_forward(ctx, &ok, 1, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT,
              "sequence 0: position 1: input id 99 is outside the vocabulary [0, 99)");
    CHECK(err.item == 0);
    ids[1] = -1;
    CHECK_ERR(bert_forward(ctx, &ok, 1, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "input id -1");
    ids[1] = 2;
    bert_sequence typed = {.input_ids = ids, .token_type_ids = types, .n_tokens = 3};
    CHECK_ERR(bert_forward(ctx, &typed, 1, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "token type 2");
    bert_sequence masked = {.input_ids = ids, .attention_mask = mask, .n_tokens = 3};
    CHECK_ERR(bert_forward(ctx, &masked, 1, BERT_OUTPUT_HIDDEN, &err), err, BERT_ERR_INPUT, "attention mask 7");
    CHECK_ERR(bert_forward(ctx, &ok, 1, 1u << 9, &err), err, BERT_ERR_INPUT, "unknown output flags");
    CHECK(bert_output_hidden(ctx, 0) == NULL); /* a failed call leaves no stale outputs */
    CHECK_OK(bert_forward(ctx, &ok, 1, BERT_OUTPUT_HIDDEN, &err), err);
    bert_context_free(ctx);
    bert_model_free(m);
    /* Heads the checkpoint lacks. */
    CHECK_OK(bert_model_load(FIXTURES "/bf16-mlm-gamma", NULL, &m, &err), err);
    if (!m) return;
    CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    CHECK_ERR(bert_forward(ctx, &ok, 1, BERT_OUTPUT_POOLED, &err), err, BERT_ERR_UNSUPPORTED, "no pooler");
    bert_context_free(ctx);
    bert_model_free(m);
    CHECK_OK(bert_model_load(FIXTURES "/f16-bertmodel", NULL, &m, &err), err);
    if (!m) return;
    CHECK_OK(bert_context_create(m, NULL, &ctx, &err), err);
    CHECK_ERR(bert_forward(ctx, &ok, 1, BERT_OUTPUT_NSP, &err), err, BERT_ERR_UNSUPPORTED, "no NSP head");
    CHECK_ERR(bert_forward(ctx, &ok, 1, BERT_OUTPUT_MLM, &err), err, BERT_ERR_UNSUPPORTED, "no MLM head");
    bert_context_free(ctx);
    bert_model_free(m);
}

TEST(status_strings_and_version) {
    CHECK(strcmp(bert_status_string(BERT_OK), "ok") == 0);
    CHECK(strcmp(bert_status_string(BERT_ERR_SHAPE), "shape or dtype mismatch") == 0);
    CHECK(strcmp(bert_status_string((bert_status)99), "unknown status") == 0);
    CHECK(strcmp(bert_version(), BERT_VERSION) == 0);
    /* NULL error pointers are allowed everywhere. */
    bert_model *m = NULL;
    CHECK(bert_model_load("/no/such/dir", NULL, &m, NULL) == BERT_ERR_IO && m == NULL);
}
