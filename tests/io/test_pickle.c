/* test_pickle.c — the restricted pickle reader: what a state dict uses is
 * read, everything that could run code or grow without bound is refused
 * with an error naming the opcode or global. */
#include "io/pickle.h"
#include "test.h"
#include "zip_build.h"

static bert_status load(const char *p, size_t n, pk_doc *doc, bert_error *err) {
    return pk_load((const unsigned char *)p, n, NULL, doc, err);
}
#define LOAD(lit, doc, err) load(lit, sizeof(lit) - 1, doc, err)

TEST(pickle_reads_a_dict_with_memo_and_ints) {
    bert_error err;
    pk_doc doc;
    /* {'a': 5, 'b': (True, -2, 70000, 'a'), 'c': b'xy'} with the key 'a' memoised and fetched again */
    static const char p[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01K\x05X\x01\x00\x00\x00" "b(\x88J\xfe\xff\xff\xffJ\x70\x11\x01\x00"
                            "h\x01tq\x02X\x01\x00\x00\x00" "cC\x02xyu.";
    CHECK_OK(LOAD(p, &doc, &err), err);
    if (!doc.root) return;
    CHECK(doc.root->kind == PK_DICT && doc.root->n == 6);
    const pk_value *a = pk_dict_get(doc.root, "a"), *b = pk_dict_get(doc.root, "b"), *c = pk_dict_get(doc.root, "c");
    CHECK(a && a->kind == PK_INT && a->i == 5);
    CHECK(b && b->kind == PK_TUPLE && b->n == 4 && b->items[0]->kind == PK_BOOL && b->items[0]->i == 1 &&
          b->items[1]->i == -2 && b->items[2]->i == 70000 && pk_is_str(b->items[3], "a"));
    CHECK(c && c->kind == PK_BYTES && c->len == 2 && memcmp(c->s, "xy", 2) == 0);
    CHECK(pk_dict_get(doc.root, "zz") == NULL);
    pk_free(&doc);
}

TEST(pickle_reads_a_torch_state_dict_tree) {
    bert_error err;
    pk_doc doc;
    zb_buf b = {0};
    pkb_tensor t = {"w", "HalfStorage", "0", 6, 2, 1, {4}, {1}};
    pkb_state_dict(&b, &t, 1, 0);
    size_t used = 0;
    CHECK_OK(pk_load(b.p, b.n, &used, &doc, &err), err);
    CHECK(used == b.n);
    const pk_value *v = pk_dict_get(doc.root, "w");
    CHECK(v && v->kind == PK_CALL && v->items[0]->i == PK_G_REBUILD_TENSOR_V2 && v->items[1]->n == 6);
    if (v && v->kind == PK_CALL) {
        const pk_value *pid = v->items[1]->items[0];
        CHECK(pid->kind == PK_PERSID && pid->items[0]->n == 5 && pid->items[0]->items[1]->i == PK_G_HALF_STORAGE);
    }
    pk_free(&doc);
    free(b.p);
}

TEST(pickle_refuses_os_system) {
    bert_error err;
    pk_doc doc;
    CHECK_ERR(LOAD("\x80\x02\x63os\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.", &doc, &err), err, BERT_ERR_FORMAT,
              "global 'os.system' at byte 2 is not allowed");
    CHECK_ERR(LOAD("\x80\x02\x63posix\nsystem\n.", &doc, &err), err, BERT_ERR_FORMAT, "'posix.system'");
}

TEST(pickle_refuses_builtins_eval_by_stack_global) {
    bert_error err;
    pk_doc doc;
    CHECK_ERR(LOAD("\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x04" "1+1\x85R.", &doc, &err),
              err, BERT_ERR_FORMAT, "global 'builtins.eval'");
    CHECK_ERR(LOAD("\x80\x02\x63__builtin__\neval\n.", &doc, &err), err, BERT_ERR_FORMAT, "'__builtin__.eval'");
}

TEST(pickle_refuses_reduce_of_unknown_class) {
    bert_error err;
    pk_doc doc;
    /* what pickle writes for an object whose __reduce__ returns (Evil, ()) */
    CHECK_ERR(LOAD("\x80\x02\x63__main__\nEvil\nq\x00)\x81q\x01.", &doc, &err), err, BERT_ERR_FORMAT, "'__main__.Evil'");
    /* an allowed global that a state dict never calls */
    CHECK_ERR(LOAD("\x80\x02\x63torch\nFloatStorage\n)R.", &doc, &err), err, BERT_ERR_FORMAT,
              "REDUCE calls 'torch.FloatStorage'");
    /* a REDUCE whose callable is not a global at all */
    CHECK_ERR(LOAD("\x80\x02K\x01)R.", &doc, &err), err, BERT_ERR_FORMAT, "not an allowed global");
}

TEST(pickle_refuses_object_building_opcodes) {
    bert_error err;
    pk_doc doc;
    CHECK_ERR(LOAD("(ios\nsystem\nS'ls'\n.", &doc, &err), err, BERT_ERR_FORMAT, "(INST)");
    CHECK_ERR(LOAD("\x80\x02(K\x01o.", &doc, &err), err, BERT_ERR_FORMAT, "(OBJ)");
    CHECK_ERR(LOAD("\x80\x02Pabc\n.", &doc, &err), err, BERT_ERR_FORMAT, "(PERSID)");
    CHECK_ERR(LOAD("\x80\x02\x82\x01.", &doc, &err), err, BERT_ERR_FORMAT, "(EXT)");
    CHECK_ERR(LOAD("\x80\x02}K\x01\x62.", &doc, &err), err, BERT_ERR_FORMAT, "BUILD");
    CHECK_ERR(LOAD("\x80\x09N.", &doc, &err), err, BERT_ERR_FORMAT, "protocol");
}

TEST(pickle_refuses_truncated_and_oversized_operands) {
    bert_error err;
    pk_doc doc;
    CHECK_ERR(LOAD("\x80\x02K\x01", &doc, &err), err, BERT_ERR_FORMAT, "before STOP");
    CHECK_ERR(LOAD("\x80\x02X\xff\xff\xff\x7f" "ab.", &doc, &err), err, BERT_ERR_FORMAT, "past the end");
    CHECK_ERR(LOAD("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", &doc, &err), err, BERT_ERR_FORMAT, "past the end");
    CHECK_ERR(LOAD("\x80\x02J\x01\x02", &doc, &err), err, BERT_ERR_FORMAT, "past the end");
    CHECK_ERR(LOAD("\x80\x02.", &doc, &err), err, BERT_ERR_FORMAT, "empty stack");
    CHECK_ERR(LOAD("", &doc, &err), err, BERT_ERR_FORMAT, "before STOP");
    /* a memo index far ahead would need a huge memo: refused, nothing allocated for it */
    CHECK_ERR(LOAD("\x80\x02Nr\xf0\xff\xff\x7f.", &doc, &err), err, BERT_ERR_FORMAT, "out of sequence");
    CHECK_ERR(LOAD("\x80\x02h\x05.", &doc, &err), err, BERT_ERR_FORMAT, "never PUT");
    CHECK_ERR(LOAD("\x80\x02t.", &doc, &err), err, BERT_ERR_FORMAT, "without a MARK");
    CHECK_ERR(LOAD("\x80\x02]K\x01K\x02s.", &doc, &err), err, BERT_ERR_FORMAT, "not a dict");
}

/* A list appended to itself through the memo: a cycle, read without recursing. */
TEST(pickle_cycle_is_harmless) {
    bert_error err;
    pk_doc doc;
    CHECK_OK(LOAD("\x80\x02]q\x00h\x00\x61.", &doc, &err), err);
    CHECK(doc.root && doc.root->kind == PK_LIST && doc.root->n == 1 && doc.root->items[0] == doc.root);
    pk_free(&doc);
}

/* Every prefix of a valid state dict pickle is refused, none crashes. */
TEST(pickle_every_truncation_refused) {
    zb_buf b = {0};
    pkb_tensor t[2] = {{"a", "FloatStorage", "0", 4, 0, 2, {2, 2}, {2, 1}}, {"b", "FloatStorage", "0", 4, 1, 1, {3}, {1}}};
    pkb_state_dict(&b, t, 2, 0);
    int refused = 0;
    for (size_t n = 0; n < b.n; n++) {
        bert_error err;
        pk_doc doc;
        if (pk_load(b.p, n, NULL, &doc, &err) != BERT_OK) refused++;
        else pk_free(&doc);
    }
    CHECK(refused == (int)b.n);
    free(b.p);
}
