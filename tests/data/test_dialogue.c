/* test_dialogue.c — dialogue turns (bert_dialogue_read): the SNIPS / ATIS
 * layout, JSONL character spans to BIO word tags (code points, spans that
 * cut a word, overlapping spans, none), histories, the errors naming
 * file:line; and the dialogue task's features: the current turn whole in
 * segment A, the most recent earlier turn first in segment B, cut from the
 * oldest side. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "train/task.h"

#define DLG "tests/fixtures/dialogue"

static int tags_are(const bert_tagged_sentence *s, const char *const *want, int n) {
    if (s->n != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(s->tags[i], want[i]) != 0) return 0;
    return 1;
}

TEST(dialogue_reads_the_snips_layout) {
    bert_error err;
    bert_dialogue_data d;
    CHECK_OK(bert_dialogue_read(DLG "/layout/train", &d, &err), err);
    CHECK(d.n == 24);
    if (d.n == 24) {
        CHECK(strcmp(d.v[1].intent, "GetWeather") == 0 && d.v[1].s.line == 2);
        CHECK(tags_are(&d.v[1].s, (const char *const[]){"O", "O", "B-city", "B-date"}, 4));
        CHECK(strcmp(d.v[1].s.words[3], "tomorrow") == 0 && d.v[1].n_history == 0);
    }
    bert_dialogue_keep(&d, 5);
    CHECK(d.n == 5);
    bert_dialogue_free(&d);
}

TEST(dialogue_jsonl_spans_become_word_tags) {
    bert_error err;
    bert_dialogue_data d;
    CHECK_OK(bert_dialogue_read(DLG "/turns.jsonl", &d, &err), err);
    CHECK(d.n == 5);
    if (d.n != 5) return bert_dialogue_free(&d);
    /* "San José": code points 15..23, bytes 15..24 */
    CHECK(tags_are(&d.v[0].s, (const char *const[]){"O", "O", "O", "O", "B-city", "I-city"}, 6));
    CHECK(d.v[0].n_history == 2 && strcmp(d.v[0].history[1], "system: which city?") == 0);
    CHECK(tags_are(&d.v[1].s, (const char *const[]){"O", "O", "B-city", "B-date"}, 4));
    CHECK(d.v[3].n_history == 2 && strcmp(d.v[3].history[0], "user: hi") == 0);
    CHECK(tags_are(&d.v[4].s, (const char *const[]){"O", "O", "O", "O"}, 4));
    bert_dialogue_free(&d);
}

/* Write text to a temporary JSONL file and read it. */
static bert_status read_text(const char *name, const char *text, bert_dialogue_data *d, bert_error *err) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    test_write_file(path, text, strlen(text));
    return bert_dialogue_read(path, d, err);
}

TEST(dialogue_spans_that_cut_or_overlap) {
    bert_error err;
    bert_dialogue_data d;
    /* "ork" cuts "york": the whole word is tagged; [0, 8) overlaps the first span's words: left out */
    CHECK_OK(read_text("cut.jsonl", "{\"text\": \"new york now\", \"intent\": \"x\", \"slots\": [[\"city\", 5, 8], [\"t\", 0, 8], [\"time\", 9, 12]]}\n", &d, &err), err);
    CHECK(d.n == 1 && tags_are(&d.v[0].s, (const char *const[]){"O", "B-city", "B-time"}, 3));
    bert_dialogue_free(&d);
    struct { const char *text, *want; } bad[] = {
        {"{\"text\": \"ab\", \"intent\": \"x\", \"slots\": [[\"s\", 0, 3]]}\n", "bad.jsonl:1: a slot is [name, start, end]"},
        {"{\"text\": \"ab\", \"intent\": \"x\", \"slots\": [[\"s\", 1, 1]]}\n", "a slot is [name, start, end]"},
        {"{\"text\": \"ab\", \"intent\": \"x\", \"slots\": [[\"s\", 0.5, 1]]}\n", "a slot is [name, start, end]"},
        {"\n{\"text\": \"ab\", \"intent\": \"\"}\n", "bad.jsonl:2: needs \"text\" and a non-empty \"intent\""},
        {"{\"text\": \"  \", \"intent\": \"x\"}\n", "the text has no words"},
        {"{\"text\": \"a\", \"intent\": \"x\", \"history\": [5]}\n", "a history turn is a string"},
        {"{\"text\": \"a\", \"intent\": \"x\", \"history\": \"hi\"}\n", "\"history\" must be a list"},
        {"not json\n", "bad.jsonl:1: needs \"text\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_ERR(read_text("bad.jsonl", bad[i].text, &d, &err), err, BERT_ERR_FORMAT, bad[i].want);
    CHECK_ERR(read_text("empty.jsonl", "\n\n", &d, &err), err, BERT_ERR_INPUT, "no turns");
}

TEST(dialogue_layout_errors_name_the_line) {
    bert_error err;
    bert_dialogue_data d;
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/badlayout", test_tmpdir());
    mkdir(dir, 0755);
    const char *files[][2] = {{"seq.in", "a b\nc d\n"}, {"seq.out", "O O\nO\n"}, {"label", "x\ny\n"}};
    for (int i = 0; i < 3; i++) snprintf(path, sizeof path, "%s/%s", dir, files[i][0]), test_write_file(path, files[i][1], strlen(files[i][1]));
    CHECK_ERR(bert_dialogue_read(dir, &d, &err), err, BERT_ERR_FORMAT, "seq.in:2: seq.in and seq.out hold different word counts");
    snprintf(path, sizeof path, "%s/label", dir);
    test_write_file(path, "x\n", 2);
    snprintf(path, sizeof path, "%s/seq.out", dir);
    test_write_file(path, "O O\nO O\n", 8);
    CHECK_ERR(bert_dialogue_read(dir, &d, &err), err, BERT_ERR_FORMAT, "different line counts (line 2)");
}

/* Features through the task type: [CLS] turn [SEP] | recent turn [SEP] older [SEP] ..., cut at max_seq_len. */
TEST(dialogue_context_keeps_the_turn_whole) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    CHECK_OK(bert_tokenizer_load("tests/fixtures/tasks/mlm", &tok, &err), err);
    if (!tok) return;
    bert_finetune_params p = bert_finetune_default_params(BERT_TASK_DIALOGUE);
    p.model_dir = "tests/fixtures/tasks/mlm";
    p.train_file = DLG "/turns.jsonl", p.dev_file = DLG "/turns.jsonl";
    p.context_turns = 3, p.max_seq_len = 40, p.batch_size = 8; /* the fixture's small vocabulary: many pieces */
    bert_train_params tp = p.train;
    const char *metric = NULL;
    int gib = 0;
    void *st = NULL;
    CHECK_OK(train_task_dialogue.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
    if (!st) return bert_tokenizer_free(tok);
    CHECK(strcmp(metric, "sentence_accuracy") == 0 && tp.task == BERT_TASK_DIALOGUE);
    CHECK(tp.num_intents == 3 && !tp.intent_multi_label && tp.num_labels == 6); /* O, B-/I-city, B-date, B-song, I-song */
    int idx[5] = {0, 1, 2, 3, 4};
    bert_sequence seqs[5];
    float labels[5 + 5 * 40];
    long tokens = 0;
    CHECK_OK(train_task_dialogue.fill(st, idx, 5, seqs, labels, &tokens, &err), err);
    int sep = bert_tokenizer_special_id(tok, BERT_SPECIAL_SEP);
    /* turn 4 "same as before please": 4 words whole in segment A, then "system: rain" first */
    const bert_sequence *s = &seqs[4];
    int a = 1;
    while (a < s->n_tokens && s->input_ids[a] != sep) a++;
    CHECK(s->n_tokens == 40 && a < s->n_tokens && s->token_type_ids[a] == 0);
    int types_ok = 1;
    for (int k = 0; k <= a; k++) types_ok &= s->token_type_ids[k] == 0;
    for (int k = a + 1; k < s->n_tokens; k++) types_ok &= s->token_type_ids[k] == 1;
    CHECK(types_ok && s->input_ids[s->n_tokens - 1] == sep);
    bert_encodings es;
    bert_encode_params ep = bert_encode_default_params();
    ep.add_special_tokens = 0;
    CHECK_OK(bert_tokenize(tok, "system: rain", -1, NULL, 0, &ep, &es, &err), err);
    int same = a + es.encodings[0].n_tokens < s->n_tokens;
    for (int k = 0; same && k < es.encodings[0].n_tokens; k++) same &= s->input_ids[a + 1 + k] == es.encodings[0].input_ids[k];
    CHECK(same); /* the most recent turn comes first */
    bert_encodings_free(&es);
    /* the turn itself is whole: every piece of "same as before please" is in segment A */
    CHECK_OK(bert_tokenize(tok, "same as before please", -1, NULL, 0, &ep, &es, &err), err);
    CHECK(a == 1 + es.encodings[0].n_tokens);
    bert_encodings_free(&es);
    /* intents first ([5]), then the slot tags: "San José" -> B-city at the first piece of "San" */
    CHECK(labels[0] == 0 && labels[1] == 1 && labels[2] == 2); /* BookRestaurant, GetWeather, PlayMusic */
    train_task_dialogue.free(st);
    bert_tokenizer_free(tok);
}

/* Schema-Guided Dialogue lines: the user turns, every frame's spans, the
 * first active intent, the earlier turns as history, and the turns whose
 * intent only the history tells (no INFORM_INTENT act). */
TEST(dialogue_reads_sgd_dialogues) {
    bert_error err;
    bert_dialogue_data d;
    CHECK_OK(bert_dialogue_read(DLG "/sgd.jsonl", &d, &err), err);
    CHECK(d.n == 3);
    if (d.n != 3) return bert_dialogue_free(&d);
    /* "I want to book a table for 2 in San José." — "José." is cut by the span's end: the word is tagged */
    CHECK(strcmp(d.v[0].intent, "ReserveTable") == 0 && !d.v[0].intent_in_history && d.v[0].n_history == 0);
    CHECK(strcmp(d.v[0].s.tags[7], "B-party") == 0 && strcmp(d.v[0].s.tags[9], "B-city") == 0 && strcmp(d.v[0].s.tags[10], "I-city") == 0);
    /* "Try Sino at 7 pm.": spans from both frames; the intent is in the history */
    CHECK(tags_are(&d.v[1].s, (const char *const[]){"O", "B-restaurant", "O", "B-time", "I-time"}, 5));
    CHECK(d.v[1].intent_in_history && d.v[1].n_history == 2 && strcmp(d.v[1].history[1], "system: Which restaurant?") == 0);
    CHECK(strcmp(d.v[2].intent, "NONE") == 0 && !d.v[2].intent_in_history && d.v[2].n_history == 4);
    /* the service of the frame the intent came from ("Clock_9" has none), else the first frame's */
    CHECK(d.v[1].service && strcmp(d.v[1].service, "Restaurants_9") == 0 && strcmp(d.v[2].service, "Restaurants_9") == 0);
    bert_dialogue_free(&d);
}

/* "a#b" intents: one class of its own by default (as JointBERT counts
 * ATIS), multi-label over the parts with split_intents. */
TEST(dialogue_multi_intents_parts_or_whole) {
    bert_error err;
    bert_tokenizer *tok = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/multi.jsonl", test_tmpdir());
    const char *text = "{\"text\": \"fares and flights\", \"intent\": \"flight#airfare\"}\n{\"text\": \"flights\", \"intent\": \"flight\"}\n";
    test_write_file(path, text, strlen(text));
    CHECK_OK(bert_tokenizer_load("tests/fixtures/tasks/mlm", &tok, &err), err);
    for (int whole = 0; tok && whole < 2; whole++) {
        bert_finetune_params p = bert_finetune_default_params(BERT_TASK_DIALOGUE);
        p.model_dir = "tests/fixtures/tasks/mlm", p.train_file = p.dev_file = path, p.split_intents = !whole;
        bert_train_params tp = p.train;
        const char *metric = NULL;
        int gib = 0;
        void *st = NULL;
        CHECK_OK(train_task_dialogue.prepare(&p, tok, &tp, &metric, &gib, &st, &err), err);
        if (!st) continue;
        CHECK(tp.intent_multi_label == !whole && tp.num_intents == 2);
        CHECK(strcmp(tp.intents[0], whole ? "flight" : "airfare") == 0);
        int idx[2] = {0, 1};
        bert_sequence seqs[2];
        float labels[2 * 2 + 2 * 128];
        long tokens = 0;
        CHECK_OK(train_task_dialogue.fill(st, idx, 2, seqs, labels, &tokens, &err), err);
        if (whole) CHECK(labels[0] == 1 && labels[1] == 0); /* flight#airfare, flight (sorted: flight, flight#airfare) */
        else CHECK(labels[0] == 1 && labels[1] == 1 && labels[2] == 0 && labels[3] == 1); /* rows over (airfare, flight) */
        train_task_dialogue.free(st);
    }
    bert_tokenizer_free(tok);
}

/* Spans -> BIO -> spans on the SGD and JSONL fixtures: word-aligned spans
 * come back as they were, spans that cut a word come back widened to the
 * word, the second of two overlapping frames' spans is gone; and
 * BIO -> spans -> BIO is the identity on every turn. */
TEST(dialogue_spans_bio_round_trip) {
    bert_error err;
    bert_dialogue_data d, again;
    CHECK_OK(bert_dialogue_read(DLG "/sgd.jsonl", &d, &err), err);
    bert_slot_span *sp = NULL;
    int n = 0;
    if (d.n == 3) {
        CHECK_OK(bert_dialogue_turn_spans(&d.v[0], &sp, &n, &err), err);
        /* "2" [27, 28) exact; "San José" [32, 40) cut "José." -> [32, 41) */
        CHECK(n == 2 && strcmp(sp[0].slot, "party") == 0 && sp[0].start == 27 && sp[0].end == 28);
        CHECK(n == 2 && strcmp(sp[1].slot, "city") == 0 && sp[1].start == 32 && sp[1].end == 41);
        bert_slot_spans_free(sp, n);
        CHECK_OK(bert_dialogue_turn_spans(&d.v[1], &sp, &n, &err), err);
        /* two frames: "Sino" [4, 8) and "7 pm" [12, 16) -> "7 pm." [12, 17) */
        CHECK(n == 2 && sp[0].start == 4 && sp[0].end == 8 && sp[1].start == 12 && sp[1].end == 17);
        bert_slot_spans_free(sp, n);
    }
    bert_dialogue_free(&d);
    /* BIO -> spans -> BIO over every fixture turn */
    const char *files[] = {DLG "/sgd.jsonl", DLG "/turns.jsonl", DLG "/layout/train"};
    for (int f = 0; f < 3; f++) {
        CHECK_OK(bert_dialogue_read(files[f], &d, &err), err);
        char path[600];
        snprintf(path, sizeof path, "%s/again.jsonl", test_tmpdir());
        FILE *o = fopen(path, "w");
        for (int i = 0; o && i < d.n; i++) {
            CHECK_OK(bert_dialogue_turn_spans(&d.v[i], &sp, &n, &err), err);
            cJSON *line = cJSON_CreateObject(), *slots = cJSON_CreateArray();
            cJSON_AddStringToObject(line, "text", d.v[i].text);
            cJSON_AddStringToObject(line, "intent", d.v[i].intent);
            for (int k = 0; k < n; k++) {
                cJSON *s3 = cJSON_CreateArray();
                cJSON_AddItemToArray(s3, cJSON_CreateString(sp[k].slot));
                cJSON_AddItemToArray(s3, cJSON_CreateNumber(sp[k].start));
                cJSON_AddItemToArray(s3, cJSON_CreateNumber(sp[k].end));
                cJSON_AddItemToArray(slots, s3);
            }
            cJSON_AddItemToObject(line, "slots", slots);
            char *txt = cJSON_PrintUnformatted(line);
            fprintf(o, "%s\n", txt);
            free(txt);
            cJSON_Delete(line);
            bert_slot_spans_free(sp, n);
        }
        if (o) fclose(o);
        CHECK_OK(bert_dialogue_read(path, &again, &err), err);
        int same = again.n == d.n;
        for (int i = 0; same && i < d.n; i++) {
            same &= again.v[i].s.n == d.v[i].s.n;
            for (int w = 0; same && w < d.v[i].s.n; w++) same &= strcmp(again.v[i].s.tags[w], d.v[i].s.tags[w]) == 0;
        }
        CHECK(same);
        bert_dialogue_free(&again);
        bert_dialogue_free(&d);
    }
}
