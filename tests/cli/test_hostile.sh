#!/bin/sh
# test_hostile.sh — hostile files and requests through the `bert` command: each check is the
# reproducer of a crash, hang, injection or invalid output found by fuzzing, kept as a
# regression test. Prints one PASS/FAIL line per check. Needs $BERT (path to the binary).
# Run under the sanitizer build, the same checks catch leaks and out-of-bounds reads.
BERT=${BERT:-build/bert}
TASKS=tests/fixtures/tasks
FT=tests/fixtures/finetune
HOST=tests/fixtures/hostile
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "PASS hostile_$1"; }
fail() { echo "FAIL hostile_$1"; [ -n "$2" ] && sed 's/^/  /' "$2" | head -5; }

# expect_error NAME WANT_TEXT CMD...: non-zero exit (not a crash), WANT_TEXT on stderr, nothing on stdout.
expect_error() {
    name=$1 want=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qF -- "$want" "$TMP/err" && [ ! -s "$TMP/out" ]; then pass "$name"; else
        echo "  exit $rc, stderr:"; fail "$name" "$TMP/err"; fi
}

# model_with NAME SRC FILE...: $TMP/NAME, a copy of the fixture model SRC plus FILEs.
model_with() {
    d="$TMP/$1" src=$2
    shift 2
    rm -rf "$d" && mkdir -p "$d" && cp -R "$src"/. "$d"/
    for f in "$@"; do cp "$f" "$d/"; done
}

# --- F1: an added token whose id lies outside the vocabulary ------------------------------------
# (tokenizer.json's added_tokens give [MASK] the id 1e8; the tokenizer reads ids past its table)
model_with f1 "$TASKS/mlm" && cp "$HOST/tokenizer_added_id_1e8.json" "$TMP/f1/tokenizer.json"
echo '{"text": "the [MASK] sat"}' > "$TMP/mask.jsonl"
"$BERT" tokenize "$TMP/f1" --input "$TMP/mask.jsonl" > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"input_ids":\[3,206,5,[0-9]*,4\]' "$TMP/out" && grep -q '"\[MASK\]"' "$TMP/out"; then
    pass added_token_id_outside_vocab_tokenize; else echo "  exit $rc"; fail added_token_id_outside_vocab_tokenize "$TMP/out"; fi
if "$BERT" fill-mask "$TMP/f1" --input "$TMP/mask.jsonl" > "$TMP/out" 2> "$TMP/err" && grep -q '"token_str"' "$TMP/out"; then
    pass added_token_id_outside_vocab_fill_mask; else fail added_token_id_outside_vocab_fill_mask "$TMP/err"; fi

# --- F2: added-token id 2147483647 (overflow, endless loop) and a vocabulary id of 1e8 -----------
model_with f2 "$TASKS/mlm" && cp "$HOST/tokenizer_added_id_int_max.json" "$TMP/f2/tokenizer.json"
echo '{"text": "[NEW] sat"}' > "$TMP/new.jsonl"
timeout 60 "$BERT" tokenize "$TMP/f2" --input "$TMP/new.jsonl" > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"input_ids":\[3,242,' "$TMP/out"; then pass added_token_int_max_id; else
    echo "  exit $rc"; fail added_token_int_max_id "$TMP/err"; fi
model_with f2b "$TASKS/mlm" && cp "$HOST/tokenizer_vocab_id_1e8.json" "$TMP/f2b/tokenizer.json"
expect_error vocab_id_beyond_file "vocab entry 'zzzz' has no valid id" "$BERT" tokenize "$TMP/f2b" --input "$TMP/new.jsonl"

# --- F3: fill-mask --targets naming a token the model's vocabulary does not reach ---------------
model_with f3 "$TASKS/mlm" && printf 'zzzz\n' >> "$TMP/f3/vocab.txt"
expect_error fill_mask_target_beyond_model_vocab "target 'zzzz' is token 242, outside the model's vocabulary (vocab_size 242)" \
    "$BERT" fill-mask "$TMP/f3" --targets the,zzzz --input "$TMP/mask.jsonl"
