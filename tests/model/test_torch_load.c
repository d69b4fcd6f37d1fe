/* test_torch_load.c — pytorch_model.bin in both torch formats: every
 * fixture of tests/fixtures/torch (made by tools/make_torch_fixtures.py with
 * torch.save) loads to its safetensors twin's tensors bit for bit and gives
 * the same forward outputs; hostile checkpoints are refused with a message;
 * the loading order; bert_convert. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io/zip_build.h"
#include "io/file.h"
#include "io/torch_load.h"
#include "kernels/half.h"
#include "model/model.h"
#include "test.h"

#define TORCH_FIX "tests/fixtures/torch"

static const char *const fixtures[] = {"zip-f32-shared", "legacy-f32", "legacy-f16", "zip-bf16", "zip-f16-deflated", "sharded"};
#define N_FIX (int)(sizeof fixtures / sizeof fixtures[0])

/* The twin's directory named by the fixture's TWIN file. */
static void twin_of(const char *fx, char *buf, size_t cap) {
    char path[512];
    snprintf(path, sizeof path, TORCH_FIX "/%s/TWIN", fx);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)cap, f)) test_fail(__FILE__, __LINE__, "cannot read %s", path);
    if (f) fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static bert_model *load_dir(const char *dir, int pack) {
    bert_error err;
    bert_model *m = NULL;
    bert_model_params p = bert_model_default_params();
    p.pack_weights = pack;
    CHECK_OK(bert_model_load(dir, &p, &m, &err), err);
    return m;
}

/* Every weight slot of a and b holds the same floats (both set or both not). */
static int same_weights(bert_model *a, bert_model *b) {
    bert_weight_list la, lb;
    bert_error err;
    int same = bert_weight_list_build(a, &la, &err) == BERT_OK && bert_weight_list_build(b, &lb, &err) == BERT_OK &&
               la.n == lb.n;
    for (int i = 0; same && i < la.n; i++) {
        const float *x = *la.v[i].slot, *y = *lb.v[i].slot;
        size_t n = (size_t)la.v[i].rows * (size_t)(la.v[i].cols ? la.v[i].cols : 1);
        if (!x != !y || (x && memcmp(x, y, n * sizeof *x) != 0)) {
            test_fail(__FILE__, __LINE__, "weight '%s' differs", la.v[i].name);
            same = 0;
        }
    }
    free(la.v), free(lb.v);
    return same;
}

TEST(torch_fixtures_load_to_their_twins_weights) {
    static const char *const source[N_FIX] = {
        "pytorch_model.bin (torch zip)", "pytorch_model.bin (torch legacy)", "pytorch_model.bin (torch legacy)",
        "pytorch_model.bin (torch zip)", "pytorch_model.bin (torch zip)",
        "pytorch_model.bin.index.json (torch zip + torch legacy, 2 shards)"};
    for (int k = 0; k < N_FIX; k++) {
        char dir[512], twin[512];
        snprintf(dir, sizeof dir, TORCH_FIX "/%s", fixtures[k]);
        twin_of(fixtures[k], twin, sizeof twin);
        bert_model *a = load_dir(dir, 0), *b = load_dir(twin, 0);
        if (a && b) {
            CHECK(same_weights(a, b));
            CHECK(bert_model_heads(a) == bert_model_heads(b) && bert_model_n_params(a) == bert_model_n_params(b));
            CHECK(strcmp(bert_model_dtypes(a), bert_model_dtypes(b)) == 0);
            if (strcmp(bert_model_source(a), source[k]) != 0)
                test_fail(__FILE__, __LINE__, "%s: source '%s'", fixtures[k], bert_model_source(a));
            CHECK(strstr(bert_model_source(b), "(safetensors") != NULL);
        }
        bert_model_free(a), bert_model_free(b);
    }
}

/* The same ids through both models (packed weights, the default): the same bits out. */
TEST(torch_fixtures_forward_as_their_twins) {
    for (int k = 0; k < N_FIX; k++) {
        char dir[512], twin[512];
        snprintf(dir, sizeof dir, TORCH_FIX "/%s", fixtures[k]);
        twin_of(fixtures[k], twin, sizeof twin);
        bert_model *m[2] = {load_dir(dir, 1), load_dir(twin, 1)};
        if (!m[0] || !m[1]) {
            bert_model_free(m[0]), bert_model_free(m[1]);
            continue;
        }
        const bert_config *c = bert_model_config(m[0]);
        int32_t ids[24];
        for (int i = 0; i < 24; i++) ids[i] = (i * 17 + 5) % c->vocab_size;
        bert_sequence seqs[2] = {{.input_ids = ids, .n_tokens = 7}, {.input_ids = ids + 7, .n_tokens = 17}};
        unsigned outs = BERT_OUTPUT_HIDDEN | ((bert_model_heads(m[0]) & BERT_HEAD_MLM) ? BERT_OUTPUT_MLM : 0) |
                        ((bert_model_heads(m[0]) & BERT_HEAD_POOLER) ? BERT_OUTPUT_POOLED : 0);
        bert_context *ctx[2] = {NULL, NULL};
        bert_error err;
        for (int j = 0; j < 2; j++) {
            CHECK_OK(bert_context_create(m[j], NULL, &ctx[j], &err), err);
            if (ctx[j]) CHECK_OK(bert_forward(ctx[j], seqs, 2, outs, &err), err);
        }
        for (int s = 0; ctx[0] && ctx[1] && s < 2; s++) {
            size_t T = (size_t)seqs[s].n_tokens, C = (size_t)c->hidden_size, V = (size_t)c->vocab_size;
            if (memcmp(bert_output_hidden(ctx[0], s), bert_output_hidden(ctx[1], s), T * C * sizeof(float)) != 0)
                test_fail(__FILE__, __LINE__, "%s: hidden states differ", fixtures[k]);
            if ((outs & BERT_OUTPUT_MLM) &&
                memcmp(bert_output_mlm_logits(ctx[0], s), bert_output_mlm_logits(ctx[1], s), T * V * sizeof(float)) != 0)
                test_fail(__FILE__, __LINE__, "%s: MLM logits differ", fixtures[k]);
            if ((outs & BERT_OUTPUT_POOLED) &&
                memcmp(bert_output_pooled(ctx[0], s), bert_output_pooled(ctx[1], s), C * sizeof(float)) != 0)
                test_fail(__FILE__, __LINE__, "%s: pooled outputs differ", fixtures[k]);
        }
        for (int j = 0; j < 2; j++) bert_context_free(ctx[j]), bert_model_free(m[j]);
    }
}

/* Raw tensors: the twin's tensors by name, plus the shared storages and views. */
TEST(torch_tensors_shared_storage_and_views) {
    bert_error err;
    st_file t, s;
    CHECK_OK(torch_open(TORCH_FIX "/zip-f32-shared/pytorch_model.bin", 1, &t, NULL, &err), err);
    CHECK_OK(st_open(FIXTURES "/tiny-pretraining/model.safetensors", 1, &s, &err), err);
    if (t.tensors && s.tensors) {
        for (int i = 0; i < s.n_tensors; i++) {
            const st_tensor *a = &s.tensors[i], *b = st_find(&t, a->name);
            CHECK(b && b->dtype == a->dtype && b->ndim == a->ndim && b->nbytes == a->nbytes &&
                  memcmp(b->shape, a->shape, sizeof a->shape) == 0 && memcmp(b->data, a->data, a->nbytes) == 0);
        }
        const st_tensor *w = st_find(&t, "bert.embeddings.word_embeddings.weight"), *d = st_find(&t, "cls.predictions.decoder.weight");
        CHECK(w && d && w->data == d->data); /* one storage */
        const st_tensor *q = st_find(&t, "bert.encoder.layer.0.attention.self.query.weight"),
                        *k = st_find(&t, "bert.encoder.layer.0.attention.self.key.weight"),
                        *v = st_find(&t, "bert.encoder.layer.0.attention.self.value.weight");
        CHECK(q && k && v && k->data == q->data + 48 * 48 * 4 && v->data == k->data + 48 * 48 * 4); /* offsets */
    }
    st_close(&t);
    torch_format f;
    CHECK_OK(torch_open(TORCH_FIX "/legacy-f32/pytorch_model.bin", 0, &t, &f, &err), err);
    CHECK(f == TORCH_LEGACY);
    const st_tensor *pid = t.tensors ? st_find(&t, "bert.embeddings.position_ids") : NULL;
    CHECK(pid && pid->dtype == ST_I64 && pid->ndim == 2 && pid->shape[1] == 64);
    if (pid) {
        int64_t last;
        memcpy(&last, pid->data + 63 * 8, 8);
        CHECK(last == 63);
    }
    const st_tensor *b1 = t.tensors ? st_find(&t, "cls.predictions.bias") : NULL, *b2 = t.tensors ? st_find(&t, "cls.predictions.decoder.bias") : NULL;
    CHECK(b1 && b2 && b1->data == b2->data);
    st_close(&t);
    st_close(&s);
}

/* Write a one-storage zip checkpoint: data.pkl (the given pickle bytes),
 * data/0 (record bytes), optional extra entry; returns its path. */
static const char *write_ckpt(const char *name, const zb_buf *pkl, const void *rec, size_t rec_n, const zb_entry *extra,
                              char *path, size_t cap) {
    zb_entry e[3] = {{"archive/data.pkl", pkl->p, pkl->n, 0, 0}, {"archive/data/0", rec, rec_n, 0, 0}};
    int n = 2;
    if (extra) e[n++] = *extra;
    size_t size;
    unsigned char *a = zb_zip(e, n, 0, &size);
    snprintf(path, cap, "%s/%s.bin", test_tmpdir(), name);
    test_write_file(path, a, size);
    free(a);
    return path;
}

/* torch_open of a one-tensor checkpoint must fail with needle. */
static void expect_tensor_refused(const char *name, pkb_tensor t, size_t rec_n, const char *needle) {
    zb_buf b = {0};
    pkb_state_dict(&b, &t, 1, 0);
    static float rec[64];
    char path[512];
    st_file f;
    bert_error err;
    bert_status rc = torch_open(write_ckpt(name, &b, rec, rec_n, NULL, path, sizeof path), 1, &f, NULL, &err);
    if (rc == BERT_OK || !strstr(err.message, needle)) test_fail(__FILE__, __LINE__, "%s: want \"%s\", got: %s", name, needle, err.message);
    if (rc == BERT_OK) st_close(&f);
    free(b.p);
}

TEST(torch_refuses_bad_views) {
    pkb_tensor ok = {"w", "FloatStorage", "0", 4, 0, 2, {2, 2}, {2, 1}};
    zb_buf b = {0};
    pkb_state_dict(&b, &ok, 1, 0);
    float rec[4] = {1, 2, 3, 4};
    char path[512];
    st_file f;
    bert_error err;
    CHECK_OK(torch_open(write_ckpt("ok", &b, rec, sizeof rec, NULL, path, sizeof path), 1, &f, NULL, &err), err);
    CHECK(f.n_tensors == 1 && f.tensors[0].numel == 4 && memcmp(f.tensors[0].data, rec, 16) == 0);
    st_close(&f);
    free(b.p);
    expect_tensor_refused("offset", (pkb_tensor){"w", "FloatStorage", "0", 4, 3, 1, {2}, {1}}, 16, "offset 3 + 2 elements go past its storage of 4");
    expect_tensor_refused("overflow", (pkb_tensor){"w", "FloatStorage", "0", 4, 0, 2, {(int64_t)1 << 40, (int64_t)1 << 40}, {(int64_t)1 << 40, 1}}, 16,
                          "size overflows");
    expect_tensor_refused("numel", (pkb_tensor){"w", "FloatStorage", "0", INT64_MAX / 2, 0, 1, {1}, {1}}, 16, "element count is invalid");
    expect_tensor_refused("strided", (pkb_tensor){"w", "FloatStorage", "0", 6, 0, 2, {2, 3}, {1, 2}}, 24, "is not contiguous");
    expect_tensor_refused("record", (pkb_tensor){"w", "FloatStorage", "0", 4, 0, 1, {4}, {1}}, 8, "its record holds 8 bytes, 4 elements need 16");
    expect_tensor_refused("negative", (pkb_tensor){"w", "FloatStorage", "0", 4, -1, 1, {1}, {1}}, 16, "storage offset is not a non-negative");
    expect_tensor_refused("nostorage", (pkb_tensor){"w", "FloatStorage", "7", 4, 0, 1, {4}, {1}}, 16, "has no record archive/data/7");
    expect_tensor_refused("keypath", (pkb_tensor){"w", "FloatStorage", "../0", 4, 0, 1, {4}, {1}}, 16, "not a short plain name");
    expect_tensor_refused("storagetype", (pkb_tensor){"w", "ComplexFloatStorage", "0", 4, 0, 1, {4}, {1}}, 16,
                          "global 'torch.ComplexFloatStorage'");
}

/* A data.pkl that is not a plain state dict. */
static void expect_pickle_refused(const char *name, const char *pickle, size_t n, const char *needle) {
    zb_buf b = {0};
    zb_put(&b, pickle, n);
    char path[512];
    st_file f;
    bert_error err;
    float rec[4] = {0};
    bert_status rc = torch_open(write_ckpt(name, &b, rec, sizeof rec, NULL, path, sizeof path), 1, &f, NULL, &err);
    if (rc == BERT_OK || !strstr(err.message, needle)) test_fail(__FILE__, __LINE__, "%s: want \"%s\", got: %s", name, needle, err.message);
    if (rc == BERT_OK) st_close(&f);
    free(b.p);
}
#define PICKLE_REFUSED(name, lit, needle) expect_pickle_refused(name, lit, sizeof(lit) - 1, needle)

TEST(torch_refuses_code_in_the_pickle) {
    PICKLE_REFUSED("system", "\x80\x02\x63os\nsystem\nX\x02\x00\x00\x00" "ls\x85R.", "global 'os.system'");
    PICKLE_REFUSED("eval", "\x80\x02\x63" "builtins\neval\nX\x03\x00\x00\x00" "1+1\x85R.", "global 'builtins.eval'");
    PICKLE_REFUSED("evil", "\x80\x02\x63__main__\nEvil\n)R.", "global '__main__.Evil'");
    PICKLE_REFUSED("loadbytes", "\x80\x02\x63torch.storage\n_load_from_bytes\n.", "'torch.storage._load_from_bytes'");
    PICKLE_REFUSED("notdict", "\x80\x02K\x01.", "not a state dict");
    PICKLE_REFUSED("notensor", "\x80\x02}X\x01\x00\x00\x00" "aK\x01s.", "entry 'a' is not a tensor");
    PICKLE_REFUSED("badkey", "\x80\x02}K\x01K\x01s.", "key that is not a name");
}

TEST(torch_refuses_hostile_archives) {
    pkb_tensor t = {"w", "FloatStorage", "0", 4, 0, 1, {4}, {1}};
    zb_buf b = {0};
    pkb_state_dict(&b, &t, 1, 0);
    float rec[4] = {0};
    char path[512];
    st_file f;
    bert_error err;
    zb_entry up = {"archive/../../x", "x", 1, 0, 0};
    CHECK_ERR(torch_open(write_ckpt("dotdot", &b, rec, sizeof rec, &up, path, sizeof path), 1, &f, NULL, &err), err, BERT_ERR_FORMAT,
              "leaves the archive");
    zb_entry big = {"archive/byteorder", "big", 3, 0, 0};
    CHECK_ERR(torch_open(write_ckpt("bigendian", &b, rec, sizeof rec, &big, path, sizeof path), 1, &f, NULL, &err), err,
              BERT_ERR_UNSUPPORTED, "byteorder record is not 'little'");
    zb_entry little = {"archive/byteorder", "little", 6, 0, 0};
    CHECK_OK(torch_open(write_ckpt("little", &b, rec, sizeof rec, &little, path, sizeof path), 1, &f, NULL, &err), err);
    st_close(&f);
    /* the storage record deflated, claiming 4 GB */
    zb_entry e[2] = {{"archive/data.pkl", b.p, b.n, 0, 0}, {"archive/data/0", rec, sizeof rec, 1, 4000000000u}};
    size_t n;
    unsigned char *a = zb_zip(e, 2, 0, &n);
    snprintf(path, sizeof path, "%s/bomb.bin", test_tmpdir());
    test_write_file(path, a, n);
    CHECK_ERR(torch_open(path, 1, &f, NULL, &err), err, BERT_ERR_FORMAT, "zip bomb");
    free(a);
    free(b.p);
    CHECK_ERR(torch_open("/no/such/pytorch_model.bin", 1, &f, NULL, &err), err, BERT_ERR_IO, "/no/such/pytorch_model.bin");
}

/* Every cut of the real fixtures (both formats) is refused, none crashes. */
TEST(torch_truncated_checkpoints_refused) {
    const char *files[] = {TORCH_FIX "/zip-f32-shared/pytorch_model.bin", TORCH_FIX "/legacy-f32/pytorch_model.bin",
                           TORCH_FIX "/zip-f16-deflated/pytorch_model.bin"};
    for (int k = 0; k < 3; k++) {
        FILE *fp = fopen(files[k], "rb");
        if (!fp) {
            test_fail(__FILE__, __LINE__, "cannot open %s", files[k]);
            continue;
        }
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        int accepted = 0, tried = 0;
        for (size_t cut = 0; cut < n; cut += cut < 4096 ? 7 : 1021) {
            st_file f;
            bert_error err;
            tried++;
            if (torch_parse(buf, cut, &f, NULL, &err) == BERT_OK) accepted++;
            st_close(&f); /* empty after an error */
        }
        if (accepted) test_fail(__FILE__, __LINE__, "%s: %d of %d truncations accepted", files[k], accepted, tried);
    }
}

static void copy_to(const char *from, const char *dir, const char *name) {
    char to[1024];
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (test_copy_file(from, to) != 0) test_fail(__FILE__, __LINE__, "copy %s", from);
}

/* model.safetensors wins over pytorch_model.bin, as in transformers. */
TEST(torch_loading_order) {
    char d[512];
    snprintf(d, sizeof d, "%s/order", test_tmpdir());
    mkdir(d, 0755);
    copy_to(TORCH_FIX "/zip-f32-shared/config.json", d, "config.json");
    copy_to(TORCH_FIX "/legacy-f32/pytorch_model.bin", d, "pytorch_model.bin");
    bert_model *m = load_dir(d, 0);
    CHECK(m && strcmp(bert_model_source(m), "pytorch_model.bin (torch legacy)") == 0);
    bert_model_free(m);
    copy_to(FIXTURES "/tiny-pretraining/model.safetensors", d, "model.safetensors");
    m = load_dir(d, 0);
    CHECK(m && strcmp(bert_model_source(m), "model.safetensors (safetensors)") == 0);
    bert_model_free(m);
}

TEST(torch_convert_writes_safetensors_once) {
    char out[512], out2[512];
    bert_error err;
    snprintf(out, sizeof out, "%s/conv-shared", test_tmpdir());
    CHECK_OK(bert_convert(TORCH_FIX "/zip-f32-shared", out, BERT_CONVERT_KEEP, &err), err);
    bert_model *a = load_dir(out, 0), *b = load_dir(FIXTURES "/tiny-pretraining", 0);
    CHECK(a && b && same_weights(a, b) && strcmp(bert_model_source(a), "model.safetensors (safetensors)") == 0);
    bert_model_free(a), bert_model_free(b);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    st_file f;
    CHECK_OK(st_open(path, 1, &f, &err), err);
    CHECK(f.n_tensors == 30 && !st_find(&f, "cls.predictions.decoder.weight")); /* tied: written once */
    st_close(&f);
    CHECK_ERR(bert_convert(TORCH_FIX "/zip-f32-shared", out, BERT_CONVERT_KEEP, &err), err, BERT_ERR_INPUT, "exists; bert convert does not overwrite");
    /* legacy: position_ids and the duplicate decoder bias left out */
    snprintf(out2, sizeof out2, "%s/conv-legacy", test_tmpdir());
    CHECK_OK(bert_convert(TORCH_FIX "/legacy-f32", out2, BERT_CONVERT_KEEP, &err), err);
    snprintf(path, sizeof path, "%s/model.safetensors", out2);
    CHECK_OK(st_open(path, 1, &f, &err), err);
    CHECK(f.n_tensors == 30 && !st_find(&f, "bert.embeddings.position_ids") && !st_find(&f, "cls.predictions.decoder.bias"));
    st_close(&f);
    snprintf(path, sizeof path, "%s/config.json", out2);
    CHECK(bert_file_exists(path));
}

/* --dtype: BF16 gamma/beta checkpoint to F32 (renamed, same values), F32 to BF16 (rounded). */
TEST(torch_convert_dtypes) {
    char out[512], path[600];
    bert_error err;
    snprintf(out, sizeof out, "%s/conv-f32", test_tmpdir());
    CHECK_OK(bert_convert(TORCH_FIX "/zip-bf16", out, BERT_CONVERT_F32, &err), err);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    st_file f;
    CHECK_OK(st_open(path, 1, &f, &err), err);
    const st_tensor *ln = f.tensors ? st_find(&f, "bert.embeddings.LayerNorm.weight") : NULL;
    CHECK(ln && ln->dtype == ST_F32 && !st_find(&f, "bert.embeddings.LayerNorm.gamma"));
    st_close(&f);
    bert_model *a = load_dir(out, 0), *b = load_dir(FIXTURES "/bf16-mlm-gamma", 0);
    CHECK(a && b && same_weights(a, b) && strcmp(bert_model_dtypes(a), "F32") == 0);
    bert_model_free(a), bert_model_free(b);
    snprintf(out, sizeof out, "%s/conv-bf16", test_tmpdir());
    CHECK_OK(bert_convert(TORCH_FIX "/legacy-f32", out, BERT_CONVERT_BF16, &err), err);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    CHECK_OK(st_open(path, 1, &f, &err), err);
    const st_tensor *w = f.tensors ? st_find(&f, "bert.pooler.dense.weight") : NULL;
    b = load_dir(FIXTURES "/tiny-pretraining", 0);
    if (w && b) {
        CHECK(w->dtype == ST_BF16);
        uint16_t h;
        memcpy(&h, w->data + 2 * 5, 2);
        CHECK(h == bert_f32_to_bf16(b->w.pooler.w[5]));
    } else
        CHECK(0);
    bert_model_free(b);
    st_close(&f);
    snprintf(out, sizeof out, "%s/conv-tmp", test_tmpdir());
    snprintf(path, sizeof path, "%s.tmp", out);
    mkdir(path, 0755);
    CHECK_ERR(bert_convert(TORCH_FIX "/legacy-f16", out, BERT_CONVERT_KEEP, &err), err, BERT_ERR_INPUT, "interrupted convert");
    CHECK_ERR(bert_convert(TORCH_FIX "/legacy-f16", "", BERT_CONVERT_KEEP, &err), err, BERT_ERR_INPUT, "needs a model");
    struct stat st;
    CHECK(stat(out, &st) != 0);
}
