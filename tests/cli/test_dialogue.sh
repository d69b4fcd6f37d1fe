#!/bin/sh
# test_dialogue.sh — joint intent + slot filling end to end on the fixture
# model: `bert finetune --task-type dialogue` (SNIPS layout, JSONL turns
# with context), the saved joint directory (config with both label sets,
# loaded by `bert ner` and by transformers' BertForTokenClassification),
# `bert dialogue` inference, `bert eval`, and the errors.
BERT=${BERT:-build/bert}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=dialogue_
. tests/cli/lib.sh
MLM=tests/fixtures/tasks/mlm
DLG=tests/fixtures/dialogue
ARGS="--epochs 6 --batch-size 4 --lr 3e-3 --threads 1 --seed 3"

"$BERT" finetune "$MLM" --task-type dialogue --train "$DLG/layout/train" --dev "$DLG/layout/valid" --output-dir "$TMP/a" \
    $ARGS > /dev/null 2> "$TMP/a.err"
if grep -q '"intent_accuracy"' "$TMP/a/report.json" && grep -q '"slot_f1"' "$TMP/a/report.json" \
    && grep -q '"sentence_accuracy"' "$TMP/a/report.json" && grep -q '"BertForTokenClassification"' "$TMP/a/best/config.json" \
    && grep -q '"intent_id2label"' "$TMP/a/best/config.json" && grep -q '"B-city"' "$TMP/a/best/config.json" \
    && grep -q '"dialogue_context_turns":[[:space:]]*0' "$TMP/a/best/config.json" && grep -q "3 intents, .* slot tags" "$TMP/a.err"; then
    pass finetune_layout; else fail finetune_layout "$TMP/a.err"; fi
acc=$(sed -n 's/.*"intent_accuracy":[[:space:]]*\([0-9.]*\).*/\1/p' "$TMP/a/report.json" | head -1)
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.99) }'; then
    pass learns_the_intents; else fail learns_the_intents "$TMP/a/report.json"; fi

printf '{"text": "weather in rome tomorrow"}\n{"text": "play yellow", "history": ["user: hi"]}\n' > "$TMP/in.jsonl"
"$BERT" dialogue "$TMP/a/best" --input "$TMP/in.jsonl" --top-k 2 > "$TMP/out.jsonl" 2> "$TMP/err"
if [ "$(grep -c '"intent":{"label":"\(GetWeather\|PlayMusic\|BookRestaurant\)"' "$TMP/out.jsonl")" -eq 2 ] \
    && [ "$(grep -o '"intents":\[[^]]*\]' "$TMP/out.jsonl" | head -1 | grep -o '"label"' | wc -l)" -eq 2 ] \
    && grep -q '"slots":\[' "$TMP/out.jsonl"; then pass dialogue_command; else fail dialogue_command "$TMP/err"; fi
# The slot tagger loads as a token classifier: bert ner reads the same directory.
if echo '{"text": "weather in rome tomorrow"}' | "$BERT" ner "$TMP/a/best" --aggregation first > "$TMP/ner.jsonl" 2> "$TMP/err"; then
    pass ner_reads_the_slot_tagger; else fail ner_reads_the_slot_tagger "$TMP/err"; fi

# JSONL turns with the turns before as context.
"$BERT" finetune "$MLM" --task-type dialogue --train "$DLG/turns.jsonl" --dev "$DLG/turns.jsonl" --context-turns 2 \
    --max-seq-len 48 --output-dir "$TMP/c" $ARGS > /dev/null 2> "$TMP/c.err"
if grep -q '"dialogue_context_turns":[[:space:]]*2' "$TMP/c/best/config.json" && grep -q '"dialogue_max_length":[[:space:]]*48' "$TMP/c/best/config.json" \
    && grep -q '"context_turns":[[:space:]]*2' "$TMP/c/report.json" \
    && printf '{"text": "same as before please", "history": [{"speaker": "user", "text": "weather in lima"}]}\n' |
        "$BERT" dialogue "$TMP/c/best" > "$TMP/c.out" 2>> "$TMP/c.err" && grep -q '"intent"' "$TMP/c.out"; then
    pass finetune_with_context; else fail finetune_with_context "$TMP/c.err"; fi

"$BERT" eval "$TMP/a/best" --task-type dialogue --dev "$DLG/layout/valid" --output-dir "$TMP/e" > /dev/null 2> "$TMP/err"
if grep -q '"sentence_accuracy"' "$TMP/e/report.json"; then pass eval_scores_a_joint_model; else fail eval_scores_a_joint_model "$TMP/err"; fi

# transformers: BertForTokenClassification loads the slot tagger (classifier, id2label) with nothing
# missing; the intent head is the unused part. Its logits equal bert ner's scores.
if py=$(sh tools/pyenv.sh transformers 2> "$TMP/err"); then
    "$py" - "$TMP/a/best" > "$TMP/py" 2>&1 <<'PY'
import sys
from transformers import AutoModelForTokenClassification
m, info = AutoModelForTokenClassification.from_pretrained(sys.argv[1], output_loading_info=True)
assert not info["missing_keys"], info["missing_keys"]
assert any(k.startswith("intent_classifier") for k in info["unexpected_keys"]), info
assert "B-city" in m.config.id2label.values()
print("ok")
PY
    if grep -q '^ok$' "$TMP/py"; then pass transformers_loads_the_slot_tagger; else fail transformers_loads_the_slot_tagger "$TMP/py"; fi
else
    skip transformers_loads_the_slot_tagger "python peers unavailable: $(tail -n1 "$TMP/err")"
fi

# POST /dialogue on bert serve answers what bert dialogue writes (127.0.0.1, a free port, bounded waits).
if command -v curl > /dev/null 2>&1; then
    : > "$TMP/serve.log"
    "$BERT" serve "$TMP/a/best" --port 0 --threads 1 2> "$TMP/serve.log" &
    spid=$!
    port="" i=0
    while [ -z "$port" ] && [ $i -lt 300 ] && kill -0 $spid 2> /dev/null; do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\)\/$/\1/p' "$TMP/serve.log")
        [ -n "$port" ] || sleep 0.1
        i=$((i + 1))
    done
    printf '{"text": "weather in rome tomorrow"}\n' | "$BERT" dialogue "$TMP/a/best" --threads 1 > "$TMP/cli.json" 2> /dev/null
    code=$(curl -s --max-time 30 -o "$TMP/http.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data '{"text": "weather in rome tomorrow"}' "http://127.0.0.1:$port/dialogue")
    bad=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data '{"text": "hi", "history": [5]}' "http://127.0.0.1:$port/dialogue")
    kill $spid 2> /dev/null
    wait $spid 2> /dev/null
    if [ "$code" = 200 ] && [ "$(cat "$TMP/http.json")" = "$(cat "$TMP/cli.json")" ] && [ "$bad" = 422 ]; then
        pass serve_route; else echo "  http $code / $bad"; fail serve_route "$TMP/http.json"; fi
else
    skip serve_route "curl is not installed"
fi

# bert eval reads a model the way it was trained: its context turns from config.json.
"$BERT" eval "$TMP/c/best" --task-type dialogue --dev "$DLG/turns.jsonl" --output-dir "$TMP/ec" > /dev/null 2> "$TMP/err"
if grep -q '"context_turns":[[:space:]]*2' "$TMP/ec/report.json"; then pass eval_uses_the_trained_context; else fail eval_uses_the_trained_context "$TMP/err"; fi

expect_error not_joint "not a joint intent + slot model" "$BERT" dialogue "$MLM" --input "$TMP/in.jsonl"
expect_error bad_top_k "--top-k needs an integer in 1..1000" "$BERT" dialogue "$TMP/a/best" --top-k 0
printf '{"text": "ab", "intent": "x", "slots": [["s", 0, 9]]}\n' > "$TMP/bad.jsonl"
expect_error bad_span "bad.jsonl:1: a slot is [name, start, end]" "$BERT" finetune "$MLM" --task-type dialogue \
    --train "$TMP/bad.jsonl" --dev "$TMP/bad.jsonl" --output-dir "$TMP/x"
expect_error context_for_dialogue_only "--context-turns is for dialogue tasks" "$BERT" finetune "$MLM" \
    --train tests/fixtures/finetune/train.tsv --dev tests/fixtures/finetune/dev.tsv --context-turns 2 --output-dir "$TMP/x"
expect_error no_dev "needs --train and --dev" "$BERT" finetune "$MLM" --task-type dialogue --train "$DLG/turns.jsonl" --output-dir "$TMP/x"
