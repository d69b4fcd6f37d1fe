#!/bin/sh
# test_cli.sh — the `bert` command end to end on the fixture models.
# Prints one PASS/FAIL line per check. Needs $BERT (path to the binary).
# Numeric outputs are compared with the PyTorch reference's expected JSONL
# (tools/make_fixtures.py) at an absolute tolerance of 1e-4.
BERT=${BERT:-build/bert}
FIX=tests/fixtures/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "PASS cli_$1"; }
fail() { echo "FAIL cli_$1"; [ -n "$2" ] && sed 's/^/  /' "$2" | head -5; }

# numbers_close EXPECTED ACTUAL TOL: same lines, same count of numbers, each within TOL.
numbers_close() {
    awk -v tol="$3" '
        function nums(s, arr) { gsub(/"[^"]*"/, "", s); gsub(/[][{}:,]/, " ", s); return split(s, arr, " ") }
        NR == FNR { exp_line[FNR] = $0; n_exp = FNR; next }
        {
            if (!(FNR in exp_line)) { print "extra output line " FNR; bad = 1; exit }
            ne = nums(exp_line[FNR], e); na = nums($0, a)
            if (ne != na) { print "line " FNR ": " na " numbers, expected " ne; bad = 1; exit }
            for (i = 1; i <= ne; i++) { d = e[i] - a[i]; if (d < 0) d = -d; if (d > tol || d != d) { print "line " FNR " value " i ": " a[i] " vs " e[i]; bad = 1; exit } }
            n_act = FNR
        }
        END { if (!bad && n_act != n_exp) { print n_act " output lines, expected " n_exp; bad = 1 } exit bad }
    ' "$1" "$2"
}

# expect_error NAME WANT_TEXT CMD...: non-zero exit, one line on stderr containing WANT_TEXT.
expect_error() {
    name=$1 want=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] && grep -qF -- "$want" "$TMP/err" && [ ! -s "$TMP/out" ]; then pass "$name"; else
        echo "  exit $rc, stderr:"; fail "$name" "$TMP/err"; fi
}

# --- bert info -------------------------------------------------------------
for m in tiny-pretraining f16-bertmodel bf16-mlm-gamma sharded-512 classifier-4l; do
    if "$BERT" info "$FIX/$m" > "$TMP/info" 2>&1 && grep -q "^layers:" "$TMP/info" && grep -q "^parameters:" "$TMP/info"; then
        pass "info_$m"; else fail "info_$m" "$TMP/info"; fi
done
"$BERT" info --json "$FIX/classifier-4l" > "$TMP/info.json" 2>&1
if grep -q '"labels":\["negative","neutral","positive"\]' "$TMP/info.json" && grep -q '"heads":\["pooler","classifier"\]' "$TMP/info.json" \
    && grep -q '"dtypes":"F32"' "$TMP/info.json" && grep -q '"ignored_tensors":1' "$TMP/info.json"; then
    pass info_json; else fail info_json "$TMP/info.json"; fi
"$BERT" info "$FIX/f16-bertmodel" > "$TMP/info" 2>&1
if grep -q "dtypes: *F16" "$TMP/info" && grep -q "heads: *pooler$" "$TMP/info"; then pass info_f16_dtypes; else fail info_f16_dtypes "$TMP/info"; fi

# --- bert embed: numbers against the reference -------------------------------
for m in tiny-pretraining f16-bertmodel bf16-mlm-gamma sharded-512 classifier-4l; do
    "$BERT" embed "$FIX/$m" --pooling mean --normalize --batch-size 2 < "$FIX/$m/inputs.jsonl" > "$TMP/mean" 2> "$TMP/err"
    if numbers_close "$FIX/$m/expected_mean_normalized.jsonl" "$TMP/mean" 1e-4 > "$TMP/diff"; then pass "embed_mean_$m"; else
        fail "embed_mean_$m" "$TMP/diff"; cat "$TMP/err"; fi
    "$BERT" embed "$FIX/$m" --pooling cls --input "$FIX/$m/inputs.jsonl" --output "$TMP/cls.jsonl" 2> "$TMP/err"
    if numbers_close "$FIX/$m/expected_cls.jsonl" "$TMP/cls.jsonl" 1e-4 > "$TMP/diff"; then pass "embed_cls_$m"; else
        fail "embed_cls_$m" "$TMP/diff"; cat "$TMP/err"; fi
done

# --pooling none: one vector per token; its first vector is the CLS embedding.
"$BERT" embed "$FIX/tiny-pretraining" --pooling none < "$FIX/tiny-pretraining/inputs.jsonl" > "$TMP/none" 2> "$TMP/err"
first_tokens=$(sed 's/{"token_embeddings":\[\(\[[^]]*\]\).*/{"embedding":\1}/' "$TMP/none")
echo "$first_tokens" > "$TMP/none_first"
vectors=$(head -1 "$TMP/none" | grep -o '\[[^][]*\]' | wc -l)
tokens=$(head -1 "$FIX/tiny-pretraining/inputs.jsonl" | sed 's/.*"input_ids": \[\([^]]*\)\].*/\1/' | tr ',' '\n' | wc -l)
if [ "$vectors" -eq "$tokens" ] && numbers_close "$FIX/tiny-pretraining/expected_cls.jsonl" "$TMP/none_first" 1e-4 > "$TMP/diff"; then
    pass embed_none_per_token; else echo "  $vectors vectors for $tokens tokens"; fail embed_none_per_token "$TMP/diff"; fi

# Batch size does not change results (ragged batches, no padding).
"$BERT" embed "$FIX/sharded-512" --batch-size 1 < "$FIX/sharded-512/inputs.jsonl" > "$TMP/b1"
"$BERT" embed "$FIX/sharded-512" --batch-size 3 --threads 1 < "$FIX/sharded-512/inputs.jsonl" > "$TMP/b3"
if numbers_close "$TMP/b1" "$TMP/b3" 1e-5 > "$TMP/diff"; then pass embed_batch_size_invariant; else fail embed_batch_size_invariant "$TMP/diff"; fi

# --- errors: one clear line, non-zero exit, no partial output --------------
expect_error missing_dir "no such model directory" "$BERT" info "$TMP/nope"
expect_error no_args_usage "usage" "$BERT" info
expect_error unknown_option "unknown option" "$BERT" embed "$FIX/tiny-pretraining" --frobnicate
expect_error bad_pooling "--pooling must be" "$BERT" embed "$FIX/tiny-pretraining" --pooling max
expect_error bad_batch_size "--batch-size needs an integer" "$BERT" embed "$FIX/tiny-pretraining" --batch-size 0
expect_error unknown_command "unknown command" "$BERT" frobnicate
printf '{"input_ids": [1, 2, 3]}\n{"input_ids": [1, 2,\n' > "$TMP/malformed.jsonl"
expect_error malformed_json "stdin:2: not a JSON object" sh -c "'$BERT' embed '$FIX/tiny-pretraining' < '$TMP/malformed.jsonl'"
printf '{"input_ids": [1, 2]}\n\n{"input_ids": [5, 99]}\n' > "$TMP/oov.jsonl"
expect_error out_of_vocabulary "oov.jsonl:3: position 1: input id 99 is outside the vocabulary [0, 99)" \
    "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/oov.jsonl"
printf '{"input_ids": []}\n' > "$TMP/empty_ids.jsonl"
expect_error empty_sequence "empty_ids.jsonl:1: empty" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/empty_ids.jsonl"
: > "$TMP/empty.jsonl"
expect_error empty_input "no input" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/empty.jsonl"
awk 'BEGIN { printf "{\"input_ids\": [1"; for (i = 0; i < 64; i++) printf ", 2"; print "]}" }' > "$TMP/long.jsonl"
expect_error too_long "65 tokens; the model takes at most max_position_embeddings = 64" \
    "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/long.jsonl"
printf '{"input_ids": [1, 2], "token_type_ids": [0]}\n' > "$TMP/len.jsonl"
expect_error length_mismatch "token_type_ids has 1 entries, input_ids 2" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/len.jsonl"
printf '{"input_ids": [1, 2.5]}\n' > "$TMP/float.jsonl"
expect_error non_integer_id "'input_ids'[1] is not an integer" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/float.jsonl"
printf '{"text": "hello"}\n' > "$TMP/text.jsonl"
expect_error text_needs_tokenizer "needs tokenizer files" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/text.jsonl"
expect_error missing_input_file "cannot open" "$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/absent.jsonl"

# --- bert tokenize and text input -------------------------------------------
TOK=tests/fixtures/tokenizer/uncased
printf '{"text": "Hello, world!"}\n{"text": "Who?", "text_pair": "Paris is nice."}\n' > "$TMP/texts.jsonl"
"$BERT" tokenize "$TOK" --input "$TMP/texts.jsonl" > "$TMP/tok.jsonl" 2> "$TMP/err"
if grep -q '^{"input_ids":\[101,7592,1010,2088,999,102\],"tokens":\["\[CLS\]","hello",",","world","!","\[SEP\]"\],"token_type_ids":\[0,0,0,0,0,0\],"attention_mask":\[1,1,1,1,1,1\],"offsets":\[\[0,0\],\[0,5\],\[5,6\],\[7,12\],\[12,13\],\[0,0\]\]' "$TMP/tok.jsonl" \
    && sed -n 2p "$TMP/tok.jsonl" | grep -q '"token_type_ids":\[0,0,0,0,1,1,1,1,1\]'; then
    pass tokenize_text_and_pair; else fail tokenize_text_and_pair "$TMP/tok.jsonl"; cat "$TMP/err"; fi
"$BERT" tokenize "$TOK" --input "$TMP/texts.jsonl" --padding longest --pad-to-multiple-of 4 > "$TMP/pad.jsonl"
if sed -n 1p "$TMP/pad.jsonl" | grep -q '"input_ids":\[101,7592,1010,2088,999,102,0,0,0,0,0,0\]'; then
    pass tokenize_padding; else fail tokenize_padding "$TMP/pad.jsonl"; fi
printf '{"text": "one two three four five six seven eight nine ten"}\n' > "$TMP/long_text.jsonl"
"$BERT" tokenize "$TOK" --input "$TMP/long_text.jsonl" --max-length 6 --stride 2 --return-overflowing > "$TMP/ovf.jsonl"
if grep -q '"input_ids":\[\[101,2028,2048,2093,2176,102\],\[101,2093,2176,2274,2416,102\],\[101,2274,2416,2698,2809,102\],\[101,2698,2809,3157,2702,102\]\]' "$TMP/ovf.jsonl"; then
    pass tokenize_overflowing_windows; else fail tokenize_overflowing_windows "$TMP/ovf.jsonl"; fi
printf '{"text": "ok"}\n{"text": "bad \377 byte"}\n' > "$TMP/bad_utf8.jsonl"
expect_error tokenize_invalid_utf8 "bad_utf8.jsonl:2: invalid UTF-8 at byte 4 of the text" "$BERT" tokenize "$TOK" --input "$TMP/bad_utf8.jsonl"
printf '{"text": "a\\u0000b"}\n' > "$TMP/nul.jsonl"
expect_error tokenize_nul_escape "nul.jsonl:1: text contains U+0000" "$BERT" tokenize "$TOK" --input "$TMP/nul.jsonl"
expect_error tokenize_no_tokenizer "no tokenizer.json or vocab.txt" "$BERT" tokenize "$FIX/tiny-pretraining" --input "$TMP/texts.jsonl"
expect_error tokenize_bad_text "\"text\" must be a string" sh -c "echo '{\"text\": 5}' | '$BERT' tokenize '$TOK'"
# Text input to embed gives what the same token ids give.
printf '{"text": "hello world"}\n{"input_ids": [101, 7592, 2088, 102]}\n' > "$TMP/mixed.jsonl"
"$BERT" embed models/random-tiny-uncased --input "$TMP/mixed.jsonl" > "$TMP/mixed_out.jsonl" 2> "$TMP/err"
sed -n 1p "$TMP/mixed_out.jsonl" > "$TMP/m1"; sed -n 2p "$TMP/mixed_out.jsonl" > "$TMP/m2"
if [ -s "$TMP/m1" ] && numbers_close "$TMP/m1" "$TMP/m2" 0 > "$TMP/diff"; then pass embed_text_input; else fail embed_text_input "$TMP/err"; fi
awk 'BEGIN { printf "{\"text\": \""; for (i = 0; i < 600; i++) printf "word "; print "\"}" }' > "$TMP/long_words.jsonl"
expect_error embed_text_too_long "long_words.jsonl:1: 602 tokens; the model takes at most max_position_embeddings = 512" \
    "$BERT" embed models/random-tiny-uncased --input "$TMP/long_words.jsonl"
if "$BERT" embed models/random-tiny-uncased --truncate --input "$TMP/long_words.jsonl" > /dev/null 2>&1; then
    pass embed_truncate; else fail embed_truncate; fi

# Every code point is classified as Hugging Face's tokenizer classifies it.
if [ -x "$(dirname "$BERT")/unicode_diff" ]; then
    gzip -dc tests/fixtures/tokenizer/unicode_oracle.txt.gz > "$TMP/oracle.txt"
    if "$(dirname "$BERT")/unicode_diff" "$TMP/oracle.txt" --check > "$TMP/diff" 2>&1; then pass unicode_classes_every_code_point; else
        fail unicode_classes_every_code_point "$TMP/diff"; fi
else
    fail unicode_classes_every_code_point_tool_missing
fi

# A failed run with --output leaves neither the output nor a temporary file.
"$BERT" embed "$FIX/tiny-pretraining" --input "$TMP/oov.jsonl" --output "$TMP/out.jsonl" 2> /dev/null
if [ ! -e "$TMP/out.jsonl" ] && [ -z "$(ls "$TMP" | grep 'out.jsonl.tmp')" ]; then pass output_atomic_on_error; else
    fail output_atomic_on_error; fi
exit 0
