#!/bin/sh
# test_cli.sh — the `bert` command end to end on the fixture models.
# Prints one PASS/FAIL line per check. Needs $BERT (path to the binary).
# Numeric outputs are compared with the PyTorch reference's expected JSONL
# (tools/make_fixtures.py) at an absolute tolerance of 1e-4.
BERT=${BERT:-build/bert}
FIX=tests/fixtures/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=cli_
. tests/cli/lib.sh

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

# --profile / --profile-json: the same output, a table on stderr, one JSON
# object counting every pass (inputs in batches of 2) and every layer.
n_in=$(grep -c . "$FIX/tiny-pretraining/inputs.jsonl")
"$BERT" embed "$FIX/tiny-pretraining" --pooling mean --batch-size 2 --threads 1 --profile --profile-json "$TMP/prof.json" \
    < "$FIX/tiny-pretraining/inputs.jsonl" > "$TMP/prof.out" 2> "$TMP/prof.err"
"$BERT" embed "$FIX/tiny-pretraining" --pooling mean --batch-size 2 --threads 1 < "$FIX/tiny-pretraining/inputs.jsonl" > "$TMP/plain.out"
if cmp -s "$TMP/prof.out" "$TMP/plain.out" && grep -q '^products ' "$TMP/prof.err" && grep -q '^total ' "$TMP/prof.err" &&
    grep -q "\"calls\":$(((n_in + 1) / 2))," "$TMP/prof.json" && grep -q '"layers":\[{"convert"' "$TMP/prof.json"; then
    pass embed_profile; else fail embed_profile "$TMP/prof.err"; fi

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
expect_error bad_pooling "--pooling must be" "$BERT" embed "$FIX/tiny-pretraining" --pooling maximum
# every command answers --help with its usage on stdout and status 0
bad_help=""
for c in info tokenize embed fill-mask classify ner qa rerank nsp finetune eval plot sweep init vocab prepare pretrain; do
    "$BERT" $c --help > "$TMP/help.out" 2> /dev/null && grep -q "^usage: bert" "$TMP/help.out" || bad_help="$bad_help $c"
done
if [ -z "$bad_help" ]; then pass help_for_every_command; else echo "no --help:$bad_help" > "$TMP/help.err"; fail help_for_every_command "$TMP/help.err"; fi
expect_error bad_dtype "--dtype must be f32, bf16, int8, tf32 or f16" "$BERT" embed "$FIX/tiny-pretraining" --dtype int4
expect_error bad_dtype_task "--dtype must be f32, bf16, int8, tf32 or f16" "$BERT" fill-mask models/bertc-tiny-uncased --dtype fp8
# --dtype bf16 / int8: where this machine can run it, fill-mask's top-1 matches f32 on a plain
# sentence; where it cannot, the command fails and says why (bert version names the reason).
echo '{"text":"the cat sat on the [MASK] ."}' > "$TMP/mask.jsonl"
"$BERT" fill-mask models/bertc-tiny-uncased --top-k 1 --input "$TMP/mask.jsonl" > "$TMP/f32.out" 2>&1
for d in bf16 int8; do
    if "$BERT" version | grep -q "$d: yes"; then
        "$BERT" fill-mask models/bertc-tiny-uncased --top-k 1 --dtype $d --input "$TMP/mask.jsonl" > "$TMP/$d.out" 2>&1
        if grep -q '"token":' "$TMP/$d.out" && [ "$(grep -o '"token":[0-9]*' "$TMP/f32.out")" = "$(grep -o '"token":[0-9]*' "$TMP/$d.out")" ]; then
            pass dtype_${d}_fill_mask; else fail dtype_${d}_fill_mask "$TMP/$d.out"; fi
    else
        expect_error dtype_${d}_unavailable "$d needs" "$BERT" fill-mask models/bertc-tiny-uncased --dtype $d --input "$TMP/mask.jsonl"
    fi
done
# --device: cpu or cuda; where the GPU path cannot run (no GPU, no driver, a build without
# nvcc) --device cuda fails naming why, for embed and the task commands alike (tests/gpu/run.sh
# checks the GPU's answers where one is).
expect_error bad_device "--device must be cpu or cuda" "$BERT" embed "$FIX/tiny-pretraining" --device gpu
expect_error bad_device_task "--device must be cpu or cuda" "$BERT" classify models/bertc-mini-uncased-sst2 --device tpu
echo '{"input_ids": [101, 7592, 102]}' > "$TMP/ids.jsonl"
expect_error dtype_tf32_needs_cuda "tf32 runs on --device cuda only" "$BERT" embed "$FIX/tiny-pretraining" --dtype tf32 \
    --input "$TMP/ids.jsonl"
expect_error dtype_f16_needs_cuda "f16 runs on --device cuda only (on a CPU, use bf16)" "$BERT" classify \
    models/bertc-mini-uncased-sst2 --dtype f16 --input "$TMP/ids.jsonl"
if ! "$BERT" version | grep -q "^cuda: yes"; then
    why=$("$BERT" version | sed -n 's/^cuda: //p')
    expect_error device_cuda_unavailable_embed "--device cuda: $why" "$BERT" embed "$FIX/tiny-pretraining" --device cuda --input "$TMP/ids.jsonl"
    expect_error device_cuda_unavailable_task "--device cuda: $why" "$BERT" fill-mask models/bertc-tiny-uncased --device cuda --input "$TMP/mask.jsonl"
    expect_error device_cuda_unavailable_serve "--device cuda: $why" "$BERT" serve models/bertc-tiny-uncased --device cuda --port 0
    expect_error device_cuda_unavailable_finetune "--device cuda: $why" "$BERT" finetune models/bertc-tiny-uncased \
        --output-dir "$TMP/ftcuda" --train tests/fixtures/finetune/multi_train.tsv --dev tests/fixtures/finetune/multi_dev.tsv \
        --text-column sentence --label-column genres --problem multi_label --device cuda
fi
expect_error bad_device_train "--device must be cpu or cuda" "$BERT" pretrain models/bertc-tiny-uncased --device gpu
expect_error finetune_int8_is_inference_only "int8, tf32 and f16 are for inference" "$BERT" finetune models/bertc-tiny-uncased \
    --output-dir "$TMP/ft8" --train tests/fixtures/finetune/multi_train.tsv --dev tests/fixtures/finetune/multi_dev.tsv \
    --text-column sentence --label-column genres --problem multi_label --dtype int8
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
awk 'BEGIN { printf "{\"text\": \""; for (i = 0; i < 600; i++) printf "the "; print "\"}" }' > "$TMP/long_words.jsonl"
expect_error embed_text_too_long "long_words.jsonl:1: 602 tokens; the model takes at most max_position_embeddings = 512" \
    "$BERT" embed models/random-tiny-uncased --input "$TMP/long_words.jsonl"
if "$BERT" embed models/random-tiny-uncased --truncate --input "$TMP/long_words.jsonl" > /dev/null 2>&1; then
    pass embed_truncate; else fail embed_truncate; fi

# --- task commands against the PyTorch reference (tools/make_task_fixtures.py) ---
TASKS=tests/fixtures/tasks
JSON_CLOSE="$(dirname "$BERT")/json_close"
# task NAME EXPECTED_FILE CMD...: output equals the expected file (numbers within 1e-4)
task() {
    name=$1 want=$2
    shift 2
    "$@" > "$TMP/task.jsonl" 2> "$TMP/err"
    if "$JSON_CLOSE" "$want" "$TMP/task.jsonl" 1e-4 > "$TMP/diff" 2>&1; then pass "$name"; else
        cat "$TMP/err" >> "$TMP/diff"; fail "$name" "$TMP/diff"; fi
}
# task_goldens PREFIX BIN [FLAGS...]: each task golden, the commands run by BIN with FLAGS added,
# the tests named PREFIX...
task_goldens() {
    tp=$1 bin=$2
    shift 2
    task "${tp}fill_mask" "$TASKS/mlm/expected_fill_mask.jsonl" "$bin" fill-mask "$TASKS/mlm" --input "$TASKS/mlm/inputs_fill_mask.jsonl" "$@"
    task "${tp}fill_mask_batch1" "$TASKS/mlm/expected_fill_mask.jsonl" "$bin" fill-mask "$TASKS/mlm" --batch-size 1 --threads 1 --input "$TASKS/mlm/inputs_fill_mask.jsonl" "$@"
    task "${tp}nsp" "$TASKS/mlm/expected_nsp.jsonl" "$bin" nsp "$TASKS/mlm" --input "$TASKS/mlm/inputs_nsp.jsonl" "$@"
    task "${tp}classify_softmax" "$TASKS/classifier/expected_classify.jsonl" "$bin" classify "$TASKS/classifier" --top-k 3 --input "$TASKS/classifier/inputs_classify.jsonl" "$@"
    task "${tp}classify_single_logit_sigmoid" "$TASKS/cross-encoder/expected_classify.jsonl" "$bin" classify "$TASKS/cross-encoder" --input "$TASKS/cross-encoder/inputs_classify.jsonl" "$@"
    task "${tp}rerank" "$TASKS/cross-encoder/expected_rerank.jsonl" "$bin" rerank "$TASKS/cross-encoder" --input "$TASKS/cross-encoder/inputs_rerank.jsonl" "$@"
    for a in none simple first average max; do
        task "${tp}ner_$a" "$TASKS/ner/expected_ner_$a.jsonl" "$bin" ner "$TASKS/ner" --aggregation "$a" --input "$TASKS/ner/inputs_ner_$a.jsonl" "$@"
    done
    task "${tp}qa_windows" "$TASKS/qa/expected_qa.jsonl" "$bin" qa "$TASKS/qa" --max-seq-len 64 --doc-stride 16 --input "$TASKS/qa/inputs_qa.jsonl" "$@"
    task "${tp}qa_top3_impossible" "$TASKS/qa/expected_qa_top3_impossible.jsonl" "$bin" qa "$TASKS/qa" --max-seq-len 64 --doc-stride 16 \
        --top-k 3 --handle-impossible --input "$TASKS/qa/inputs_qa.jsonl" "$@"
    task "${tp}embed_sentence_transformers" "$TASKS/sentence-transformer/expected_embed.jsonl" "$bin" embed "$TASKS/sentence-transformer" \
        --input "$TASKS/sentence-transformer/inputs_embed.jsonl" "$@"
}
task_goldens "" "$BERT"
# the same on the GPU path (the encoder and the heads) run by the CPU emulator: bert-cuda-emu
EMU="$(dirname "$BERT")/bert-cuda-emu"
if [ -x "$EMU" ]; then task_goldens cuda_emulated_ "$EMU" --device cuda; else skip cuda_emulated_tasks "no $EMU"; fi
# top-1 classify is the first entry of the full ranking
"$BERT" classify "$TASKS/classifier" --input "$TASKS/classifier/inputs_classify.jsonl" > "$TMP/top1.jsonl"
if [ "$(wc -l < "$TMP/top1.jsonl")" -eq 5 ] && ! grep -q '},{' "$TMP/top1.jsonl"; then pass classify_top1; else fail classify_top1 "$TMP/top1.jsonl"; fi
# targets restrict fill-mask to the given tokens
printf '{"text": "the cat sat on the [MASK]."}\n' > "$TMP/fm.jsonl"
"$BERT" fill-mask "$TASKS/mlm" --targets mat,cat,zzzz --input "$TMP/fm.jsonl" > "$TMP/fm_out.jsonl" 2> "$TMP/err"
if [ "$(grep -o '"token_str"' "$TMP/fm_out.jsonl" | wc -l)" -eq 3 ] && grep -q '"token_str":"mat"' "$TMP/fm_out.jsonl"; then
    pass fill_mask_targets; else fail fill_mask_targets "$TMP/fm_out.jsonl"; fi
# Without clean_up_tokenization_spaces in tokenizer_config.json (transformers >= 4.45: false), the
# sequence keeps the decoder's spaces: "didn ' t" (with it: "didn't", as expected_fill_mask.jsonl has).
mkdir -p "$TMP/nocleanup" && cp "$TASKS/mlm/"* "$TMP/nocleanup/" && grep -v clean_up "$TASKS/mlm/tokenizer_config.json" \
    | sed 's/"BertTokenizer",/"BertTokenizer"/' > "$TMP/nocleanup/tokenizer_config.json"
printf '{"text": "She bought three [MASK] at the market, didn'"'"'t she?"}\n' > "$TMP/apos.jsonl"
"$BERT" fill-mask "$TMP/nocleanup" --top-k 1 --input "$TMP/apos.jsonl" > "$TMP/apos1.out" 2> "$TMP/err"
"$BERT" fill-mask "$TASKS/mlm" --top-k 1 --input "$TMP/apos.jsonl" > "$TMP/apos2.out" 2>> "$TMP/err"
if grep -q "didn ' t she?" "$TMP/apos1.out" && grep -q "didn't she?" "$TMP/apos2.out"; then
    pass fill_mask_clean_up_follows_tokenizer_config; else fail fill_mask_clean_up_follows_tokenizer_config "$TMP/apos1.out"; fi
# per-line errors, and --on-error skip keeps going with one output line per input
printf '{"text": "no mask here"}\n{"text": "a [MASK] here"}\n' > "$TMP/nomask.jsonl"
expect_error fill_mask_no_mask "nomask.jsonl:1: no mask token ([MASK]) in the text" "$BERT" fill-mask "$TASKS/mlm" --input "$TMP/nomask.jsonl"
printf '{"text": "a [MASK] here"}\n{"text": "no mask"}\nnot json\n{"text": "b [MASK]"}\n' > "$TMP/skip.jsonl"
"$BERT" fill-mask "$TASKS/mlm" --on-error skip --input "$TMP/skip.jsonl" > "$TMP/skip_out.jsonl" 2> "$TMP/skip_err"; rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l < "$TMP/skip_out.jsonl")" -eq 4 ] && sed -n 2p "$TMP/skip_out.jsonl" | grep -q '"error":.*"line":2' \
    && sed -n 3p "$TMP/skip_out.jsonl" | grep -q '"line":3' && sed -n 4p "$TMP/skip_out.jsonl" | grep -q '"score"' \
    && grep -q "2 line(s) failed" "$TMP/skip_err"; then pass on_error_skip; else cat "$TMP/skip_err"; fail on_error_skip "$TMP/skip_out.jsonl"; fi
printf '{"query": "q", "documents": []}\n' > "$TMP/rr.jsonl"
expect_error rerank_empty_documents "rr.jsonl:1: the documents list is empty" "$BERT" rerank "$TASKS/cross-encoder" --input "$TMP/rr.jsonl"
printf '{"text": "only one"}\n' > "$TMP/nsp1.jsonl"
expect_error nsp_needs_pair "nsp1.jsonl:1: needs a \"text_pair\" string" "$BERT" nsp "$TASKS/mlm" --input "$TMP/nsp1.jsonl"
awk 'BEGIN { printf "{\"question\": \""; for (i = 0; i < 64; i++) printf "the "; print "?\", \"context\": \"the mat\"}" }' > "$TMP/longq.jsonl"
expect_error qa_question_too_long "longq.jsonl:1: the question has 65 tokens; at most --max-question-len = 64" "$BERT" qa "$TASKS/qa" --input "$TMP/longq.jsonl"
expect_error classify_without_head "no classifier head" sh -c "echo '{\"text\": \"x\"}' | '$BERT' classify '$TASKS/mlm'"
awk 'BEGIN { printf "{\"text\": \""; for (i = 0; i < 200; i++) printf "the "; print "\"}" }' > "$TMP/long200.jsonl"
expect_error classify_too_long "long200.jsonl:1: 202 tokens; the model takes at most 128" "$BERT" classify "$TASKS/classifier" --input "$TMP/long200.jsonl"
if "$BERT" classify "$TASKS/classifier" --truncate --truncation-side left --input "$TMP/long200.jsonl" > /dev/null 2>&1; then
    pass classify_truncate; else fail classify_truncate; fi

# --- bert finetune --------------------------------------------------------------------------
FT=tests/fixtures/finetune
FTARGS="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 3 --batch-size 4 --lr 1e-3 --save-steps 4 --save-total-limit 10 --seed 5"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftA" $FTARGS > /dev/null 2> "$TMP/ftA.err"
if [ -f "$TMP/ftA/report.json" ] && grep -q '"steps": 18' "$TMP/ftA/report.json" && grep -q "created from seed 5" "$TMP/ftA.err" \
    && [ "$(grep -c '"eval_loss"' "$TMP/ftA/log.jsonl")" -eq 3 ] && echo '{"text": "a lovely film"}' | "$BERT" classify "$TMP/ftA/best" > "$TMP/ftA.cls" \
    && grep -q '"label":"[01]"' "$TMP/ftA.cls"; then pass finetune_runs_and_saves_a_usable_model; else cat "$TMP/ftA.err"; fail finetune_runs_and_saves_a_usable_model "$TMP/ftA/report.json"; fi
# Resuming from step 8 ends exactly where the uninterrupted run ended.
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftB" $FTARGS --resume "$TMP/ftA/checkpoint-8" > /dev/null 2> "$TMP/ftB.err"
if cmp -s "$TMP/ftA/checkpoint-18/model.safetensors" "$TMP/ftB/checkpoint-18/model.safetensors" \
    && cmp -s "$TMP/ftA/checkpoint-18/optimizer.safetensors" "$TMP/ftB/checkpoint-18/optimizer.safetensors"; then
    pass finetune_resume_bit_identical; else cat "$TMP/ftB.err"; fail finetune_resume_bit_identical; fi
"$BERT" plot "$TMP/ftA/log.jsonl" --output "$TMP/curves.png" 2> "$TMP/err" && "$BERT" plot "$TMP/ftA/log.jsonl" --output "$TMP/curves.svg" 2>> "$TMP/err"
if [ "$(head -c 4 "$TMP/curves.png" | od -An -c | tr -d ' ')" = "211PNG" ] && grep -q "<svg" "$TMP/curves.svg" && [ ! -e "$TMP/curves.png.tmp"* ]; then
    pass plot_png_and_svg; else fail plot_png_and_svg "$TMP/err"; fi
expect_error plot_bad_extension "must end in .png or .svg" "$BERT" plot "$TMP/ftA/log.jsonl" --output "$TMP/curves.jpg"
# The tool built without PLplot and libmicrohttpd (make BUILD/bert-bare, as HTTP=none PLOT=none links
# it) loads neither, says so for plot and serve (exit 1), and runs the rest.
BARE="$(dirname "$BERT")/bert-bare"
if [ -x "$BARE" ] && ! ldd "$BARE" | grep -qE 'libplplot|libmicrohttpd' \
    && "$BARE" embed "$FIX/tiny-pretraining" --pooling mean < "$FIX/tiny-pretraining/inputs.jsonl" > "$TMP/bare.emb" 2> "$TMP/err" \
    && "$BERT" embed "$FIX/tiny-pretraining" --pooling mean < "$FIX/tiny-pretraining/inputs.jsonl" > "$TMP/full.emb" && [ -s "$TMP/full.emb" ] \
    && cmp -s "$TMP/bare.emb" "$TMP/full.emb"; then
    pass bare_tool_runs_without_plot_and_server_libraries
else fail bare_tool_runs_without_plot_and_server_libraries "$TMP/err"; fi
expect_error bare_tool_has_no_plot "built without PLplot (PLOT=none)" "$BARE" plot "$TMP/ftA/log.jsonl" --output "$TMP/bare.png"
expect_error bare_tool_has_no_server "built without libmicrohttpd (HTTP=none)" "$BARE" serve "$FIX/tiny-pretraining" --port 0
"$BERT" sweep "$TASKS/mlm" --output-dir "$TMP/sweep" --lrs 1e-3,1e-5 --epochs 1 --batch-sizes 8 --seeds 1,2 -- \
    --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence --label-column label > "$TMP/sweep.txt" 2> "$TMP/err"
if [ "$(grep -c '^[1-4] ' "$TMP/sweep.txt")" -eq 4 ] && [ "$(wc -l < "$TMP/sweep/sweep.jsonl")" -eq 4 ] && ! grep -q failed "$TMP/sweep.txt"; then
    pass sweep_table; else fail sweep_table "$TMP/sweep.txt"; fi
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftM" --train "$FT/multi_train.tsv" --dev "$FT/multi_dev.tsv" --text-column sentence \
    --label-column genres --problem multi_label --epochs 2 --batch-size 4 --metric f1 > /dev/null 2> "$TMP/err"
if grep -q '"multi_label_classification"' "$TMP/ftM/best/config.json" && grep -q '"romance"' "$TMP/ftM/best/config.json" \
    && grep -q '"best_f1"' "$TMP/ftM/report.json"; then pass finetune_multi_label; else fail finetune_multi_label "$TMP/err"; fi
"$BERT" finetune "$TASKS/mlm" --task-type token --output-dir "$TMP/ftNER" --train "$FT/ner_train.jsonl" --dev "$FT/ner_dev.conll" \
    --test "$FT/ner_dev.conll" --epochs 8 --batch-size 4 --lr 3e-3 > /dev/null 2> "$TMP/err"
if grep -q '"f1"' "$TMP/ftNER/report.json" && [ "$(grep -c . "$TMP/ftNER/test_predictions.conll")" -eq "$(grep -c . "$FT/ner_dev.conll")" ] \
    && grep -q '"BertForTokenClassification"' "$TMP/ftNER/best/config.json" \
    && echo '{"text": "Alice Smith likes Oslo"}' | "$BERT" ner "$TMP/ftNER/best" --aggregation simple > "$TMP/ner_out.jsonl"; then
    pass finetune_ner_end_to_end; else fail finetune_ner_end_to_end "$TMP/err"; fi
"$BERT" finetune "$TASKS/qa" --task-type qa --output-dir "$TMP/ftQA" --train "$FT/qa_train.json" --dev "$FT/qa_dev.json" \
    --epochs 2 --batch-size 4 --max-seq-len 64 --doc-stride 16 --lr 1e-3 > /dev/null 2> "$TMP/err"
if grep -q '"dev_f1"' "$TMP/ftQA/report.json" && grep -q '"dev-0-0"' "$TMP/ftQA/dev_predictions.json" \
    && echo '{"question": "Where?", "context": "The cat sat on the mat."}' | "$BERT" qa "$TMP/ftQA/best" > /dev/null; then
    pass finetune_qa_end_to_end; else fail finetune_qa_end_to_end "$TMP/err"; fi
# `bert eval` scores a saved model the way training scored it.
"$BERT" eval "$TMP/ftNER/best" --task-type token --train "$FT/ner_train.jsonl" --dev "$FT/ner_dev.conll" --output-dir "$TMP/evNER" 2> "$TMP/err"
best_f1=$(sed -n 's/.*"dev": {[^}]*"f1": \([0-9.]*\).*/\1/p' "$TMP/ftNER/report.json" | head -1)
eval_f1=$(sed -n 's/.*"dev": {[^}]*"f1": \([0-9.]*\).*/\1/p' "$TMP/evNER/report.json" | head -1)
if [ -n "$best_f1" ] && [ "$best_f1" = "$eval_f1" ]; then pass eval_ner_reproduces_training_score; else
    echo "  $best_f1 vs $eval_f1"; fail eval_ner_reproduces_training_score "$TMP/err"; fi
"$BERT" eval "$TMP/ftQA/best" --task-type qa --dev "$FT/qa_dev.json" --output-dir "$TMP/evQA" --max-seq-len 64 --doc-stride 16 2> "$TMP/err"
if grep -q "$(sed -n 's/.*"dev_f1": \([0-9.]*\).*/\1/p' "$TMP/ftQA/report.json")" "$TMP/evQA/report.json"; then
    pass eval_qa_reproduces_training_score; else fail eval_qa_reproduces_training_score "$TMP/err"; fi
# Pre-training lowers the held-out MLM loss; the result fine-tunes.
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/pt" --corpus "$FT/pretrain_corpus.txt" --epochs 8 --batch-size 4 --lr 3e-3 \
    --heldout-docs 2 --eval-steps 0 --whole-word > /dev/null 2> "$TMP/err"
before=$(sed -n 's/.*"heldout_before": {"mlm_loss": \([0-9.]*\).*/\1/p' "$TMP/pt/report.json")
after=$(sed -n 's/.*"heldout_after": {"mlm_loss": \([0-9.]*\).*/\1/p' "$TMP/pt/report.json")
if [ -n "$before" ] && awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b) }' \
    && grep -q '"BertForPreTraining"' "$TMP/pt/model/config.json" \
    && printf '{"text": "the cat sat on the [MASK] ."}\n' | "$BERT" fill-mask "$TMP/pt/model" > /dev/null; then
    pass pretrain_lowers_heldout_loss; else echo "  before $before after $after"; fail pretrain_lowers_heldout_loss "$TMP/err"; fi
printf 'one single document\nwithout blank lines\n' > "$TMP/onedoc.txt"
expect_error pretrain_bad_dtype "--dtype must be f32, bf16 or int8" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptD" \
    --corpus "$FT/pretrain_corpus.txt" --dtype fp8
expect_error finetune_ner_bad_dtype "--dtype must be f32, bf16 or int8" "$BERT" finetune "$TASKS/mlm" --task-type token \
    --output-dir "$TMP/ftD" --train "$FT/ner_train.jsonl" --dev "$FT/ner_dev.conll" --dtype int4
expect_error finetune_bad_dtype "--dtype must be f32, bf16 or int8" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftD2" \
    --train "$FT/multi_train.tsv" --dev "$FT/multi_dev.tsv" --dtype half
expect_error pretrain_needs_two_documents "NSP needs at least 2" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/pt2" --corpus "$TMP/onedoc.txt"
# A prepared (binary) corpus trains exactly as the text it came from; a run stopped and resumed
# from its checkpoint ends with the same weights as one that never stopped.
PT="--corpus $FT/pretrain_corpus.txt --epochs 6 --batch-size 4 --lr 3e-3 --heldout-docs 2 --eval-steps 0 --threads 1"
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptA" $PT > /dev/null 2>&1
"$BERT" prepare "$TASKS/mlm" --corpus "$FT/pretrain_corpus.txt" --output "$TMP/corpus.bin" 2> "$TMP/err"
PTB=$(echo "$PT" | sed "s|--corpus [^ ]*|--corpus $TMP/corpus.bin|")
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptB" $PTB > /dev/null 2>&1
if grep -q "12 documents" "$TMP/err" && cmp -s "$TMP/ptA/model/model.safetensors" "$TMP/ptB/model/model.safetensors"; then
    pass prepared_corpus_trains_like_text; else fail prepared_corpus_trains_like_text "$TMP/err"; fi
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptC" $PT --save-steps 5 --stop-at-step 7 > /dev/null 2>&1
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptC" $PT --save-steps 5 --resume > /dev/null 2> "$TMP/err"
if grep -q "resuming at step 7" "$TMP/err" && cmp -s "$TMP/ptA/model/model.safetensors" "$TMP/ptC/model/model.safetensors" \
    && grep -q '"resumed": true' "$TMP/ptC/report.json"; then
    pass pretrain_resume_is_bit_identical; else fail pretrain_resume_is_bit_identical "$TMP/err"; fi
expect_error pretrain_binary_corpus_alone "must be the only --corpus" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptD" \
    --corpus "$TMP/corpus.bin" --corpus "$FT/pretrain_corpus.txt"
expect_error pretrain_binary_corpus_other_vocab "different vocabulary" "$BERT" pretrain models/random-tiny-uncased \
    --output-dir "$TMP/ptD" --corpus "$TMP/corpus.bin"
head -c 100 "$TMP/corpus.bin" > "$TMP/cut.bin"
expect_error pretrain_binary_corpus_truncated "truncated" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptD" --corpus "$TMP/cut.bin"
expect_error prepare_refuses_prepared "already a prepared corpus" "$BERT" prepare "$TASKS/mlm" --corpus "$TMP/corpus.bin" --output "$TMP/x.bin"
# Static masking (dupe factor) and sequence-length phases.
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptE" $PT --dupe-factor 2 --seq-phases 32:0.5,64:0.5 --max-predictions 4 \
    > /dev/null 2> "$TMP/err"
if grep -q '"masking": "static"' "$TMP/ptE/report.json" && grep -q "phase 2: 64 tokens" "$TMP/err"; then
    pass pretrain_static_masking_and_phases; else fail pretrain_static_masking_and_phases "$TMP/err"; fi
expect_error pretrain_bad_phases "fractions adding up to 1" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptD" \
    --corpus "$FT/pretrain_corpus.txt" --seq-phases 128:0.5,512:0.3
# bert init: a new model from sizes and a vocabulary.
"$BERT" init "$TMP/new" --vocab "$TASKS/mlm/vocab.txt" --layers 1 --hidden 16 --heads 2 --max-position 64 \
    --positions sinusoidal 2> "$TMP/err"
if "$BERT" info "$TMP/new" 2>> "$TMP/err" | grep -q "64 (absolute, fixed sinusoidal)" \
    && grep -q '"sinusoidal_position_embeddings":[[:space:]]*true' "$TMP/new/config.json" \
    && printf '{"text": "the cat [MASK] ."}\n' | "$BERT" fill-mask "$TMP/new" > /dev/null 2>> "$TMP/err" \
    && "$BERT" pretrain "$TMP/new" --output-dir "$TMP/ptF" --corpus "$FT/pretrain_corpus.txt" --max-seq-len 64 --epochs 1 \
       --batch-size 4 --heldout-docs 2 > /dev/null 2>> "$TMP/err"; then
    pass init_creates_a_trainable_model; else fail init_creates_a_trainable_model "$TMP/err"; fi
# bert vocab: a WordPiece vocabulary learned from text feeds bert init, and tokenizes its own text without [UNK].
"$BERT" vocab --corpus "$FT/pretrain_corpus.txt" --output "$TMP/voc" --vocab-size 100 2> "$TMP/err"
if [ "$(wc -l < "$TMP/voc/vocab.txt")" = 100 ] && head -5 "$TMP/voc/vocab.txt" | tr '\n' ' ' | grep -q '^\[PAD\] \[UNK\] \[CLS\] \[SEP\] \[MASK\]' \
    && "$BERT" init "$TMP/vocmodel" --vocab "$TMP/voc/vocab.txt" --layers 1 --hidden 16 --heads 2 2>> "$TMP/err" \
    && head -3 "$FT/pretrain_corpus.txt" | sed 's/"/\\"/g; s/.*/{"text": "&"}/' | "$BERT" tokenize "$TMP/vocmodel" > "$TMP/voctok" 2>> "$TMP/err" \
    && ! grep -q '"\[UNK\]"' "$TMP/voctok" && [ -s "$TMP/voctok" ]; then
    pass vocab_trains_a_usable_vocabulary; else fail vocab_trains_a_usable_vocabulary "$TMP/err"; fi
: > "$TMP/empty.txt"
expect_error vocab_empty_corpus "holds no words" "$BERT" vocab --corpus "$TMP/empty.txt" --output "$TMP/voc_empty"
expect_error vocab_needs_output "usage: bert vocab" "$BERT" vocab --corpus "$FT/pretrain_corpus.txt"
# BioASQ factoid scoring: snippets "<qid>_<n>" pooled per question. Gold for q1 = the model's own
# top answer (from a first pass), for q2 something never predicted: strict = lenient = MRR = 50.
cat > "$TMP/bio_dev.json" <<'EOF2'
{"data": [{"title": "b", "paragraphs": [
 {"context": "The cat sat on the mat. The mat was red.", "qas": [{"id": "q1_001", "question": "Where did the cat sit?", "answers": []}]},
 {"context": "Paris is the capital of France. It lies on the Seine.", "qas": [{"id": "q1_002", "question": "Where did the cat sit?", "answers": []},
   {"id": "q2_001", "question": "What is the capital of France?", "answers": []}]}]}]}
EOF2
printf '{"questions": [{"id": "q1", "type": "factoid", "exact_answer": [["x"]]}, {"id": "q2", "type": "factoid", "exact_answer": [["never-predicted"], ["nor this"]]}, {"id": "q3", "type": "yesno", "exact_answer": "yes"}]}' > "$TMP/bio_gold.json"
"$BERT" eval "$TMP/ftQA/best" --task-type qa --dev "$TMP/bio_dev.json" --bioasq-golden "$TMP/bio_gold.json" --output-dir "$TMP/bio1" --max-seq-len 64 --doc-stride 16 2> "$TMP/err"
top=$(grep '"q1"' "$TMP/bio1/bioasq_predictions.json" | sed 's/^[^[]*\["\([^"]*\)".*/\1/')
printf '{"questions": [{"id": "q1", "type": "factoid", "exact_answer": [["other", "%s"]]}, {"id": "q2", "type": "factoid", "exact_answer": [["never-predicted"]]}]}' "$top" > "$TMP/bio_gold.json"
"$BERT" eval "$TMP/ftQA/best" --task-type qa --dev "$TMP/bio_dev.json" --bioasq-golden "$TMP/bio_gold.json" --output-dir "$TMP/bio2" --max-seq-len 64 --doc-stride 16 2>> "$TMP/err"
if [ -n "$top" ] && grep -q '"bioasq_factoid_questions": 2, "strict_accuracy": 50.0000, "lenient_accuracy": 50.0000, "mrr": 50.0000' "$TMP/bio2/report.json"; then
    pass bioasq_factoid_scoring; else cat "$TMP/bio2/report.json" >> "$TMP/err"; fail bioasq_factoid_scoring "$TMP/err"; fi
# One-file QA sets: --dev-split holds out whole contexts; answer_start values that miss their text
# (a leading space, a shifted start: COVID-QA has both) are moved to the text.
cat > "$TMP/onefile.json" <<'EOF2'
{"data": [{"title": "a", "paragraphs": [
 {"context": "The cat sat on the mat. The mat was red.", "qas": [{"id": 1, "question": "Where did the cat sit?", "answers": [{"text": " on the mat", "answer_start": 12}]}]},
 {"context": "Paris is the capital of France.", "qas": [{"id": 2, "question": "What is the capital of France?", "answers": [{"text": "Paris", "answer_start": 3}]}]},
 {"context": "The dog ran to the park.", "qas": [{"id": 3, "question": "Where did the dog run?", "answers": [{"text": "the park", "answer_start": 15}]}]},
 {"context": "The sun is hot.", "qas": [{"id": 4, "question": "What is hot?", "answers": [{"text": "The sun", "answer_start": 0}]}]}]}]}
EOF2
"$BERT" finetune "$TASKS/qa" --task-type qa --train "$TMP/onefile.json" --dev-split 0.5 --output-dir "$TMP/onefile" \
    --epochs 1 --batch-size 2 --max-seq-len 64 --doc-stride 16 > /dev/null 2> "$TMP/err"
if grep -q "2 answer_start(s) moved to their text" "$TMP/err" && grep -q "dev questions (no context in both)" "$TMP/err" \
    && [ -f "$TMP/onefile/report.json" ]; then
    pass qa_dev_split_and_answer_alignment; else fail qa_dev_split_and_answer_alignment "$TMP/err"; fi
expect_error qa_dev_split_needs_no_dev "give no --dev" "$BERT" finetune "$TASKS/qa" --task-type qa --train "$TMP/onefile.json" \
    --dev "$TMP/onefile.json" --dev-split 0.5 --output-dir "$TMP/onefile2"
# SubjQA CSV: quoted fields (commas, "" quotes, a newline), rows repeated per q_review_id, spans as
# review[start:end], ANSWERNOTFOUND = unanswerable (SQuAD 2.0 scoring).
cat > "$TMP/subj.csv" <<'EOF2'
item_id,domain,q_review_id,question,review,human_ans_spans,human_ans_indices
i1,electronics,q1,"How is the sound?","The sound is great, really ""clear"". ANSWERNOTFOUND",The sound is great,"(0, 18)"
i1,electronics,q1,"How is the sound?","The sound is great, really ""clear"". ANSWERNOTFOUND",really,"(20, 26)"
i2,electronics,q2,What about the battery?,"Battery died
after a week. ANSWERNOTFOUND",ANSWERNOTFOUND,"(31, 45)"
i3,electronics,q3,Is the screen good?,"The screen is bright. ANSWERNOTFOUND",bright,"(14, 20)"
EOF2
"$BERT" finetune "$TASKS/qa" --task-type qa --train "$TMP/subj.csv" --dev "$TMP/subj.csv" --output-dir "$TMP/subj" \
    --epochs 1 --batch-size 2 --max-seq-len 64 --doc-stride 16 > /dev/null 2> "$TMP/err"
if grep -q '"train_questions": 3' "$TMP/subj/report.json" && grep -q '"HasAns_total": 2' "$TMP/subj/report.json" \
    && grep -q '"NoAns_total": 1' "$TMP/subj/report.json"; then
    pass subjqa_csv_reader; else cat "$TMP/subj/report.json" >> "$TMP/err" 2>/dev/null; fail subjqa_csv_reader "$TMP/err"; fi
# Tag schemes: IOE is detected and --tag-scheme iob2 rewrites it (entity ends -> entity starts), incl.
# two adjacent entities of one type and a one-word entity.
printf 'john I-PER\nsmith E-PER\nmet O\nmary E-PER\nin O\nparis E-LOC\n\na I-ORG\nb E-ORG\nc I-ORG\nd E-ORG\n' > "$TMP/ioe.conll"
"$BERT" finetune "$TASKS/mlm" --task-type token --train "$TMP/ioe.conll" --dev "$TMP/ioe.conll" --test "$TMP/ioe.conll" \
    --tag-scheme iob2 --epochs 1 --batch-size 2 --output-dir "$TMP/ioe" > /dev/null 2> "$TMP/err"
gold=$(awk 'NF { printf "%s ", $2 }' "$TMP/ioe/test_predictions.conll")
if grep -q "IOE (converted to IOB2)" "$TMP/err" && [ "$gold" = "B-PER I-PER O B-PER O B-LOC B-ORG I-ORG B-ORG I-ORG " ]; then
    pass ner_ioe_to_iob2; else echo "  gold: $gold"; fail ner_ioe_to_iob2 "$TMP/err"; fi
mkdir -p "$TMP/xquad/xquad_en" # a data directory of its own: the default, ../shared/data, is not beside every checkout
expect_error xquad_has_no_train_split "no training split" "$BERT" finetune "$TASKS/qa" --task xquad --data-dir "$TMP/xquad" \
    --output-dir "$TMP/xq"
expect_error init_refuses_existing_dir "already exists" "$BERT" init "$TMP/new" --vocab "$TASKS/mlm/vocab.txt"
printf 'a\nb\n' > "$TMP/novocab.txt"
expect_error init_needs_special_tokens "not in the vocabulary" "$BERT" init "$TMP/new2" --vocab "$TMP/novocab.txt"
expect_error init_bad_positions "--positions must be" "$BERT" init "$TMP/new3" --vocab "$TASKS/mlm/vocab.txt" --positions rotary
expect_error init_bad_heads "not a multiple of num_attention_heads" "$BERT" init "$TMP/new4" --vocab "$TASKS/mlm/vocab.txt" \
    --hidden 30 --heads 4
"$BERT" eval "$TMP/ftQA/best" --task-type qa --dev "$FT/qa_dev_v2.json" --output-dir "$TMP/evQA2" --max-seq-len 64 --doc-stride 16 2> "$TMP/err"
if grep -q '"NoAns_total": 1' "$TMP/evQA2/report.json" && grep -q '"HasAns_total": 4' "$TMP/evQA2/report.json" \
    && grep -q '"best_f1"' "$TMP/evQA2/report.json" && grep -q '"dev-0-x"' "$TMP/evQA2/dev_predictions.json" \
    && [ "$(grep -c '"probability"' "$TMP/evQA2/dev_nbest_predictions.json")" -gt 5 ]; then
    pass eval_squad_v2_metrics; else fail eval_squad_v2_metrics "$TMP/evQA2/report.json"; fi
expect_error finetune_divergence_stops "the loss is NaN: training diverged" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftN" \
    --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence --label-column label --lr 1e12 --max-grad-norm 0 --warmup-steps 0
expect_error finetune_unknown_label "bad_label.tsv:3: unknown label 'maybe'" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftC" \
    --train "$FT/train.tsv" --dev "$FT/bad_label.tsv" --text-column sentence --label-column label
expect_error finetune_wrong_columns "bad_columns.tsv:3: 1 columns, need at least 2" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftC" \
    --train "$FT/bad_columns.tsv" --dev "$FT/dev.tsv" --text-column sentence --label-column label
expect_error finetune_missing_column "no column 'text'" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftC" \
    --train "$FT/train.tsv" --dev "$FT/dev.tsv"

# --- the training commands' options (one table: parsing, --help, hints) ---------------------
# expect_one_line NAME WANT_TEXT CMD...: non-zero exit, exactly one stderr line, containing WANT_TEXT.
expect_one_line() {
    name=$1 want=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -qF -- "$want" "$TMP/err" && [ ! -s "$TMP/out" ]; then pass "$name"; else
        echo "  exit $rc, stderr:"; fail "$name" "$TMP/err"; fi
}
"$BERT" finetune --help > "$TMP/fthelp" 2>&1
missing=""
for w in sst2 cola mrpc rte stsb wnli ncbi bc5cdr conll2003 sec squad tydi xquad bioasq covid_qa subjqa; do
    grep "^presets (--task):" "$TMP/fthelp" | grep -qw -- "$w" || missing="$missing $w"
done
for w in --max-steps --eval-steps --save-steps --save-total-limit --resume --patience --grad-accum --schedule --metric \
    --log-steps --tag-scheme --label-all-tokens --test --doc-stride --dev-split --bioasq-golden --subjqa-domain --text-column \
    --problem --labels --dropout --bert-adam --warmup-steps --max-grad-norm --weight-decay --stop-at-step --max-dev; do
    grep -q -- "^  $w " "$TMP/fthelp" || missing="$missing $w"
done
if [ -z "$missing" ]; then pass finetune_help_lists_presets_and_options; else echo "missing:$missing" > "$TMP/x"; fail finetune_help_lists_presets_and_options "$TMP/x"; fi
"$BERT" eval --help > "$TMP/evhelp" 2>&1
if head -1 "$TMP/evhelp" | grep -q "^usage: bert eval MODEL_DIR" && ! grep -q -- "--lr \|--epochs " "$TMP/evhelp" \
    && grep -q -- "^  --dev " "$TMP/evhelp"; then pass eval_help_is_its_own; else fail eval_help_is_its_own "$TMP/evhelp"; fi
"$BERT" pretrain --help > "$TMP/pthelp" 2>&1
if grep -q -- "^  --corpus " "$TMP/pthelp" && grep -q -- "^  --resume \[CHECKPOINT\]" "$TMP/pthelp" && grep -q -- "^  --patience " "$TMP/pthelp"; then
    pass pretrain_help_lists_loop_options; else fail pretrain_help_lists_loop_options "$TMP/pthelp"; fi
expect_one_line finetune_needs_output_dir "bert finetune: needs --output-dir OUT" "$BERT" finetune "$TASKS/mlm" --task sst2
expect_one_line eval_needs_output_dir "bert eval: needs --output-dir OUT" "$BERT" eval "$TASKS/mlm" --task-type token --dev "$FT/ner_dev.conll"
expect_one_line finetune_typo_suggestion "unknown option '--max-step'; did you mean --max-steps?" "$BERT" finetune "$TASKS/mlm" \
    --output-dir "$TMP/typo" --task sst2 --max-step 3
expect_one_line pretrain_typo_suggestion "unknown option '--dopout'; did you mean --dropout?" "$BERT" pretrain "$TASKS/mlm" \
    --output-dir "$TMP/typo" --corpus "$FT/pretrain_corpus.txt" --dopout 0.1
expect_one_line finetune_error_names_the_flag "--max-seq-len needs an integer >= 8 (got 'long')" "$BERT" finetune "$TASKS/mlm" \
    --output-dir "$TMP/typo" --task sst2 --max-seq-len long
expect_one_line finetune_flag_of_another_task "--doc-stride is for qa tasks" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/typo" \
    --task-type token --train "$FT/ner_train.jsonl" --dev "$FT/ner_dev.conll" --doc-stride 32
expect_one_line finetune_missing_data_dir "$TMP/nodata/glue/SST-2 does not exist; pass --data-dir DIR" "$BERT" finetune "$TASKS/mlm" \
    --output-dir "$TMP/nodata_out" --task sst2 --data-dir "$TMP/nodata"
expect_one_line unknown_option_one_line "unknown option or missing value: '--frobnicate'; usage: bert classify" "$BERT" classify \
    "$TASKS/classifier" --frobnicate
# NER and QA take every option of the loop: --max-steps, --eval-steps, --save-steps, --resume; a resumed run ends where the
# uninterrupted one did; dev loss is logged; a run without --test reports no "test".
NERARGS="--task-type token --train $FT/ner_train.jsonl --dev $FT/ner_dev.conll --batch-size 4 --lr 3e-3 --max-steps 6 --save-steps 2 --save-total-limit 0 --eval-steps 3 --seed 3"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/nerA" $NERARGS > /dev/null 2> "$TMP/err"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/nerB" $NERARGS --resume "$TMP/nerA/checkpoint-2" > /dev/null 2>> "$TMP/err"
if [ -f "$TMP/nerA/checkpoint-6/model.safetensors" ] && cmp -s "$TMP/nerA/checkpoint-6/model.safetensors" "$TMP/nerB/checkpoint-6/model.safetensors" \
    && grep -q '"step":3,"eval_loss"' "$TMP/nerA/log.jsonl" && ! grep -q '"test"' "$TMP/nerA/report.json"; then
    pass finetune_ner_max_steps_and_resume; else fail finetune_ner_max_steps_and_resume "$TMP/err"; fi
QAARGS="--task-type qa --train $FT/qa_train.json --dev $FT/qa_dev.json --batch-size 4 --max-seq-len 64 --doc-stride 16 --lr 1e-3 --max-steps 4 --save-steps 2 --save-total-limit 0 --seed 3"
"$BERT" finetune "$TASKS/qa" --output-dir "$TMP/qaA" $QAARGS > /dev/null 2> "$TMP/err"
"$BERT" finetune "$TASKS/qa" --output-dir "$TMP/qaB" $QAARGS --resume "$TMP/qaA/checkpoint-2" > /dev/null 2>> "$TMP/err"
if [ -f "$TMP/qaA/checkpoint-4/model.safetensors" ] && cmp -s "$TMP/qaA/checkpoint-4/model.safetensors" "$TMP/qaB/checkpoint-4/model.safetensors" \
    && grep -q '"dev_f1"' "$TMP/qaB/report.json"; then
    pass finetune_qa_max_steps_and_resume; else fail finetune_qa_max_steps_and_resume "$TMP/err"; fi
# `bert eval` needs no training file.
"$BERT" eval "$TMP/ftNER/best" --task-type token --dev "$FT/ner_dev.conll" --output-dir "$TMP/evNER2" 2> "$TMP/err"
if [ -n "$best_f1" ] && [ "$(sed -n 's/.*"dev": {[^}]*"f1": \([0-9.]*\).*/\1/p' "$TMP/evNER2/report.json" | head -1)" = "$best_f1" ]; then
    pass eval_without_train; else fail eval_without_train "$TMP/err"; fi
# JSONL of single texts: the pair field is optional.
printf '{"text": "a lovely film", "label": "1"}\n{"text": "a dull film", "label": "0"}\n{"text": "great fun", "label": "1"}\n{"text": "boring", "label": "0"}\n' > "$TMP/single.jsonl"
if "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftJ" --train "$TMP/single.jsonl" --dev "$TMP/single.jsonl" --epochs 1 --batch-size 2 \
    > /dev/null 2> "$TMP/err" && [ -f "$TMP/ftJ/report.json" ]; then pass finetune_jsonl_single_texts; else fail finetune_jsonl_single_texts "$TMP/err"; fi
# SIGINT during training: a checkpoint, the command that resumes it, exit status 130.
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/sig" --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence \
    --label-column label --batch-size 1 --epochs 500 --save-steps 2 --save-total-limit 0 --threads 2 > /dev/null 2> "$TMP/sig.err" &
pid=$!
i=0; while [ $i -lt 300 ] && [ ! -d "$TMP/sig/checkpoint-2" ]; do sleep 0.1; i=$((i + 1)); done
# No thread that computes runs the stop signals' handler (a signal landing
# inside oneDNN's JIT GEMM corrupts the heap): every thread, the OpenMP
# workers included, blocks SIGINT, SIGTERM and SIGUSR1 (mask 0x4202), but
# the one that takes them, bert-signals.
threads=0; open=""
for task in /proc/$pid/task/*; do
    blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$task/status" 2> /dev/null) || continue
    [ -n "$blk" ] || continue
    threads=$((threads + 1))
    [ $(( 0x$blk & 0x4202 )) -eq $(( 0x4202 )) ] || open="$open $(cat "$task/comm" 2> /dev/null)"
done
if [ $threads -ge 3 ] && [ "$open" = " bert-signals" ]; then pass training_threads_block_the_stop_signals
else echo "  $threads threads; with a stop signal unblocked:$open (bert-signals alone expected)" > "$TMP/blk.err"
    fail training_threads_block_the_stop_signals "$TMP/blk.err"; fi
kill -INT $pid 2> /dev/null
i=0; while [ $i -lt 300 ] && kill -0 $pid 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
kill -KILL $pid 2> /dev/null
wait $pid; rc=$?
ckpt=$(sed -n 's/.*resume with: bert finetune .* --resume \([^ ]*\)$/\1/p' "$TMP/sig.err")
if [ $rc -eq 130 ] && [ -n "$ckpt" ] && [ -f "$ckpt/trainer_state.json" ] && grep -q "interrupted at step [0-9]*; resume with: bert finetune $TASKS/mlm --output-dir $TMP/sig" "$TMP/sig.err"; then
    pass finetune_sigint_checkpoints_and_prints_resume; else echo "  exit $rc"; fail finetune_sigint_checkpoints_and_prints_resume "$TMP/sig.err"; fi
# A command that does not train ends at the first SIGTERM, by the signal
# (its input still open), once its signal thread runs.
if python3 - "$BERT" "$TASKS/mlm" > "$TMP/err" 2>&1 << 'EOF'
import glob, signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "embed", sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
def named():
    for comm in glob.glob("/proc/%d/task/*/comm" % p.pid):
        try:
            if open(comm).read().strip() == "bert-signals": return True
        except OSError: pass
    return False
for _ in range(300):
    if named(): break
    time.sleep(0.1)
p.send_signal(signal.SIGTERM)
try: rc = p.wait(timeout=10)
except subprocess.TimeoutExpired: p.kill(); rc = p.wait()
p.stdin.close()
print("exit", rc)
sys.exit(0 if rc == -signal.SIGTERM else 1)
EOF
then pass sigterm_ends_a_command_that_does_not_train; else fail sigterm_ends_a_command_that_does_not_train "$TMP/err"; fi
# The printed command resumes (stopped again at the next step).
if [ -n "$ckpt" ] && eval "\"$BERT\" $(sed -n 's/.*resume with: bert \(.*\)$/\1/p' "$TMP/sig.err") --stop-at-step $(( ${ckpt##*-} + 1 ))" > /dev/null 2> "$TMP/err" \
    && [ -d "$TMP/sig/checkpoint-$(( ${ckpt##*-} + 1 ))" ]; then pass finetune_resume_command_runs; else fail finetune_resume_command_runs "$TMP/err"; fi
# sweep ranks NER runs by entity F1 and shows it.
"$BERT" sweep "$TASKS/mlm" --output-dir "$TMP/sweepNER" --lrs 3e-3 --epochs 2 --batch-sizes 4 --seeds 1,2 -- --task-type token \
    --train "$FT/ner_train.jsonl" --dev "$FT/ner_dev.conll" > "$TMP/sweepNER.txt" 2> "$TMP/err"
if head -1 "$TMP/sweepNER.txt" | grep -q " f1 " && [ "$(grep -c '^[12] ' "$TMP/sweepNER.txt")" -eq 2 ] \
    && awk 'NR == 2 { a = $6 } NR == 3 { b = $6 } END { exit !(a >= b) }' "$TMP/sweepNER.txt"; then
    pass sweep_ranks_ner_by_f1; else cat "$TMP/sweepNER.txt" >> "$TMP/err"; fail sweep_ranks_ner_by_f1 "$TMP/err"; fi
expect_one_line sweep_checks_passthrough_once "did you mean --max-steps?" "$BERT" sweep "$TASKS/mlm" --output-dir "$TMP/sweepX" -- \
    --task sst2 --max-step 2
# plot draws NER logs (every eval_* series) and logs that repeat steps after a resume.
"$BERT" plot "$TMP/ftNER/log.jsonl" --output "$TMP/ner.png" 2> "$TMP/err"
cat "$TMP/nerA/log.jsonl" "$TMP/nerA/log.jsonl" > "$TMP/repeat.jsonl"
"$BERT" plot "$TMP/repeat.jsonl" --output "$TMP/repeat.svg" 2>> "$TMP/err"
if [ "$(head -c 4 "$TMP/ner.png" | od -An -c | tr -d ' ')" = "211PNG" ] && grep -q "<svg" "$TMP/repeat.svg"; then
    pass plot_ner_log; else fail plot_ner_log "$TMP/err"; fi
# Pre-training: --resume takes a checkpoint path too.
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptG" $PT --save-steps 5 --save-total-limit 0 --stop-at-step 7 > /dev/null 2>&1
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptG" $PT --save-steps 5 --save-total-limit 0 --resume "$TMP/ptG/checkpoint-7" > /dev/null 2> "$TMP/err"
if grep -q "resuming at step 7" "$TMP/err" && cmp -s "$TMP/ptA/model/model.safetensors" "$TMP/ptG/model/model.safetensors"; then
    pass pretrain_resume_from_path; else fail pretrain_resume_from_path "$TMP/err"; fi
# Task commands are streaming filters: a line's answer comes out while the input stays open.
mkfifo "$TMP/fifo"
timeout 60 "$BERT" classify "$TASKS/classifier" < "$TMP/fifo" > "$TMP/stream.out" 2> "$TMP/err" &
spid=$!
exec 9> "$TMP/fifo"
echo '{"text": "a first line"}' >&9
i=0; while [ $i -lt 150 ] && [ ! -s "$TMP/stream.out" ]; do sleep 0.1; i=$((i + 1)); done
lines_while_open=$(wc -l < "$TMP/stream.out")
exec 9>&-
wait $spid
if [ "$lines_while_open" -eq 1 ] && grep -q '"label"' "$TMP/stream.out"; then pass classify_streams_while_input_open; else
    fail classify_streams_while_input_open "$TMP/err"; fi

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
