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
PREFIX=hostile_
NO_CRASH=1
. tests/cli/lib.sh

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

# --- F4: --resume from a checkpoint whose trainer_state.json was tampered with ------------------
# Every field read back is validated: a clear error naming the file or field, never a read out
# of bounds (position -7), an overflowing cast (epoch 1e300) or a silently wrong state.
FTARGS="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 1 --batch-size 4 --lr 1e-3 --save-steps 2 --save-total-limit 0 --seed 5"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ft" $FTARGS > /dev/null 2> "$TMP/ft.err"
[ -f "$TMP/ft/checkpoint-4/trainer_state.json" ] || { echo "  no checkpoint-4"; fail resume_setup "$TMP/ft.err"; }
# tamper NAME SED_EXPR WANT: resume from a copy of checkpoint-4 edited by SED_EXPR; expect WANT.
tamper() {
    rm -rf "$TMP/ck" "$TMP/ftR" && cp -R "$TMP/ft/checkpoint-4" "$TMP/ck"
    sed "$2" "$TMP/ft/checkpoint-4/trainer_state.json" > "$TMP/ck/trainer_state.json"
    if cmp -s "$TMP/ft/checkpoint-4/trainer_state.json" "$TMP/ck/trainer_state.json"; then echo "  sed changed nothing"; fail "resume_$1"; return; fi
    expect_error "resume_$1" "$3" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/ck"
}
tamper position_negative 's/"position":[^,]*/"position": -7/' "data position"
tamper position_past_data 's/"position":[^,]*/"position": 24/' "data position"
tamper position_fraction 's/"position":[^,]*/"position": 1.5/' "data position"
tamper position_string 's/"position":[^,]*/"position": "3"/' "data position"
tamper epoch_huge 's/"epoch":[^,]*/"epoch": 1e300/' "data position"
tamper epoch_past_int 's/"epoch":[^,]*/"epoch": 2147483648/' "data position"
tamper seed_negative 's/"shuffle_seed":[^,}]*/"shuffle_seed": -1/' "data position"
tamper step_negative 's/"step":[^,]*/"step": -5/' "\"step\" must be an integer >= 0"
tamper step_huge 's/"step":[^,]*/"step": 1e300/' "\"step\" must be an integer >= 0"
tamper step_fraction 's/"step":[^,]*/"step": 2.5/' "\"step\" must be an integer >= 0"
tamper rng_state_text 's/"rng_state":[^,]*/"rng_state": "abc"/' "\"rng_state\" / \"rng_inc\" must be"
tamper rng_inc_negative 's/"rng_inc":[^,]*/"rng_inc": "-1"/' "\"rng_state\" / \"rng_inc\" must be"
tamper rng_inc_even 's/"rng_inc":[^,]*/"rng_inc": "108"/' "\"rng_state\" / \"rng_inc\" must be"
tamper rng_state_overflow 's/"rng_state":[^,]*/"rng_state": "99999999999999999999"/' "\"rng_state\" / \"rng_inc\" must be"
tamper best_infinite 's/"best":[^,]*/"best": 1e999/' "\"extra\" must be an object of finite numbers"
tamper best_text 's/"best":[^,]*/"best": "high"/' "extra.loop.best is not valid"
tamper best_step_huge 's/"best_step":[^,]*/"best_step": 1e300/' "extra.loop.best_step is not valid"
tamper bad_evals_text 's/"bad_evals":[^,}]*/"bad_evals": "x"/' "extra.loop.bad_evals is not valid"
tamper bad_evals_negative 's/"bad_evals":[^,}]*/"bad_evals": -2/' "extra.loop.bad_evals is not valid"
tamper loop_not_object 's/"loop":/"loop": 5, "unused":/' "extra.loop is not valid"
tamper extra_not_object 's/"extra":/"extra": "str", "unused":/' "\"extra\" must be an object of finite numbers"
tamper step_past_total 's/"step":[^,]*/"step": 1000/' "\"step\" 1000 is past its run's \"total_steps\" 6"
tamper total_steps_text 's/"total_steps":[^,]*/"total_steps": "x"/' "\"total_steps\" / \"grad_accum\" must be integers"
tamper epoch_past_run 's/"epoch":[^,]*/"epoch": 1/' "data position is not {\"epoch\" <= 1"
# Not trainer_state.json but the rest of the checkpoint: checkpoint-N at another step, a head or a
# layer gone (config.json of one layer where the files hold two), a log that is a symbolic link.
rm -rf "$TMP/named" "$TMP/ftR" && mkdir -p "$TMP/named" && cp -R "$TMP/ft/checkpoint-4" "$TMP/named/checkpoint-6"
expect_error resume_named_other_step "trainer_state.json is at step 4, not 6" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/named/checkpoint-6"
rm -rf "$TMP/ck" "$TMP/ftR" && cp -R "$TMP/ft/checkpoint-4" "$TMP/ck"
python3 - "$TMP/ck/model.safetensors" classifier.weight classifier.bias <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h, data = json.loads(b[8:8 + n]), b[8 + n:]
out, nd = {}, b""
for k, t in h.items():
    if k in sys.argv[2:]:
        continue
    if k != "__metadata__":
        s, e = t["data_offsets"]
        t = dict(t, data_offsets=[len(nd), len(nd) + e - s])
        nd += data[s:e]
    out[k] = t
hb = json.dumps(out).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(hb)) + hb + nd)
PY
expect_error resume_head_missing "model.safetensors lacks the classifier head the run trained" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/ck"
rm -rf "$TMP/ck" "$TMP/ftR" && cp -R "$TMP/ft/checkpoint-4" "$TMP/ck"
sed 's/"num_hidden_layers":[[:space:]]*2/"num_hidden_layers": 1/' "$TMP/ft/checkpoint-4/config.json" > "$TMP/ck/config.json"
expect_error resume_config_one_layer_of_two "optimizer.safetensors: 41 tensors, where this trainer (config.json) has 25" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/ck"
rm -rf "$TMP/ftR" && mkdir -p "$TMP/ftR" && echo keep > "$TMP/outside.txt" && ln -s "$TMP/outside.txt" "$TMP/ftR/log.jsonl"
expect_error log_symlink_refused "log.jsonl: cannot create: a symbolic link" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/ft/checkpoint-4"
[ "$(cat "$TMP/outside.txt")" = keep ] && pass log_symlink_target_untouched || fail log_symlink_target_untouched "$TMP/outside.txt"
# The untouched checkpoint still resumes (the checks refuse only what is wrong).
rm -rf "$TMP/ftR"
if "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftR" $FTARGS --resume "$TMP/ft/checkpoint-4" > /dev/null 2> "$TMP/err" \
    && cmp -s "$TMP/ft/checkpoint-6/model.safetensors" "$TMP/ftR/checkpoint-6/model.safetensors"; then
    pass resume_untouched_checkpoint; else fail resume_untouched_checkpoint "$TMP/err"; fi
# Pre-training's data position: the pair position, epoch and phase are checked as well.
PT="--corpus $FT/pretrain_corpus.txt --epochs 2 --batch-size 4 --lr 3e-3 --heldout-docs 2 --eval-steps 0 --threads 1 --save-steps 2 --save-total-limit 0"
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/pt" $PT --stop-at-step 2 > /dev/null 2> "$TMP/pt.err"
ptamper() {
    rm -rf "$TMP/pck" "$TMP/ptR" && cp -R "$TMP/pt/checkpoint-2" "$TMP/pck"
    sed "$2" "$TMP/pt/checkpoint-2/trainer_state.json" > "$TMP/pck/trainer_state.json"
    if cmp -s "$TMP/pt/checkpoint-2/trainer_state.json" "$TMP/pck/trainer_state.json"; then echo "  sed changed nothing"; fail "pretrain_resume_$1"; return; fi
    expect_error "pretrain_resume_$1" "$3" "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptR" $PT --resume "$TMP/pck"
}
ptamper pos_past_pairs 's/"pos":[^,]*/"pos": 100000/' "pair position 100000 is past this epoch's"
ptamper pos_negative 's/"pos":[^,]*/"pos": -7/' "no pre-training data position"
ptamper epoch_huge 's/"epoch":[^,]*/"epoch": 1e300/' "no pre-training data position"
ptamper phase_fraction 's/"phase":[^,]*/"phase": 0.5/' "no pre-training data position"
ptamper before_loss_infinite 's/"before_loss":[^,]*/"before_loss": -1e999/' "\"extra\" must be an object of finite numbers"
rm -rf "$TMP/ptR"
if "$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/ptR" $PT --resume "$TMP/pt/checkpoint-2" > /dev/null 2> "$TMP/err"; then
    pass pretrain_resume_untouched_checkpoint; else fail pretrain_resume_untouched_checkpoint "$TMP/err"; fi

# --- F9 (training): resuming a finished run writes no infinity or NaN and names no best/ that
# does not exist (the new output directory has none: nothing was evaluated there).
# no_nonfinite FILE...: no bare inf/nan tokens in JSON files.
no_nonfinite() { ! grep -Eiq '(^|[^a-z_"])-?(inf|infinity|nan)([^a-z_"]|$)' "$@"; }
rm -rf "$TMP/ftF"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ftF" $FTARGS --resume "$TMP/ft/checkpoint-6" > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -eq 0 ] && [ -f "$TMP/ftF/report.json" ] && no_nonfinite "$TMP/ftF/report.json" "$TMP/out" "$TMP/err" \
    && ! grep -q best_model "$TMP/ftF/report.json" && ! grep -q "$TMP/ftF/best" "$TMP/err" "$TMP/out" "$TMP/ftF/report.json"; then
    pass resume_finished_run; else echo "  exit $rc"; cat "$TMP/ftF/report.json"; fail resume_finished_run "$TMP/err"; fi
NERARGS="--task-type token --train $FT/ner_train.jsonl --dev $FT/ner_dev.conll --batch-size 4 --lr 3e-3 --max-steps 4 --save-steps 2 --save-total-limit 0 --seed 3"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/nerA" $NERARGS > /dev/null 2> "$TMP/err"
rm -rf "$TMP/nerF"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/nerF" $NERARGS --resume "$TMP/nerA/checkpoint-4" > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -eq 0 ] && [ -f "$TMP/nerF/report.json" ] && no_nonfinite "$TMP/nerF/report.json" "$TMP/out" "$TMP/err" \
    && ! grep -q "$TMP/nerF/best" "$TMP/err" "$TMP/out" "$TMP/nerF/report.json"; then
    pass resume_finished_ner_run; else echo "  exit $rc"; cat "$TMP/nerF/report.json"; fail resume_finished_ner_run "$TMP/err"; fi

# --- F5 / F8: NER data with an empty tag; errors in the middle of a sentence ------------------
# (an empty tag overflowed the scheme detection; a sentence being read leaked on an error —
# the sanitizer build of this script catches the leak)
printf '{"tokens": ["Alice", "likes", "Oslo"], "tags": ["B-PER", "O", "B-LOC"]}\n{"tokens": ["Bob", "x"], "tags": ["B-PER", ""]}\n' > "$TMP/empty_tag.jsonl"
expect_error ner_jsonl_empty_tag "empty_tag.jsonl:2: tag 2 is empty" "$BERT" finetune "$TASKS/mlm" --task-type token \
    --output-dir "$TMP/nerE" --train "$TMP/empty_tag.jsonl" --dev "$FT/ner_dev.conll" --epochs 1
printf '{"tokens": ["Alice"], "tags": ["B-PER"]}\n{"tokens": ["Bob", "x"], "tags": ["B-PER", 7]}\n' > "$TMP/bad_tag.jsonl"
expect_error ner_jsonl_error_mid_file "bad_tag.jsonl:2: tokens and tags must be strings" "$BERT" finetune "$TASKS/mlm" \
    --task-type token --output-dir "$TMP/nerE" --train "$TMP/bad_tag.jsonl" --dev "$FT/ner_dev.conll" --epochs 1
printf 'Alice B-PER\nSmith I-PER\nlikes\nOslo B-LOC\n' > "$TMP/mid.conll"
expect_error conll_error_mid_sentence "mid.conll:3: a token line needs a word and a tag" "$BERT" finetune "$TASKS/mlm" \
    --task-type token --output-dir "$TMP/nerE" --train "$TMP/mid.conll" --dev "$FT/ner_dev.conll" --epochs 1

# --- F6: shell metacharacters in --output-dir run nothing ----------------------------------------
# Training with checkpoint pruning (save-total-limit 1 removes older checkpoints) and pre-training
# write under a directory named like an injection; no command may run, and pruning still works.
# The commands run in $TMP/inj, where an injected `touch` would leave its files.
ROOT=$(pwd)
case $BERT in /*) ABS_BERT=$BERT ;; *) ABS_BERT=$ROOT/$BERT ;; esac
mkdir -p "$TMP/inj"
INJ="out'; touch INJECTED; echo '\$(touch INJ2)\`touch INJ3\`;x"
(cd "$TMP/inj" && "$ABS_BERT" finetune "$ROOT/$TASKS/mlm" --output-dir "$INJ" --train "$ROOT/$FT/train.tsv" --dev "$ROOT/$FT/dev.tsv" \
    --text-column sentence --label-column label --epochs 2 --batch-size 4 --save-steps 1 --save-total-limit 1 > /dev/null 2> "$TMP/err")
rc=$?
(cd "$TMP/inj" && "$ABS_BERT" pretrain "$ROOT/$TASKS/mlm" --output-dir "p$INJ" --corpus "$ROOT/$FT/pretrain_corpus.txt" --epochs 1 \
    --batch-size 4 --heldout-docs 2 --eval-steps 0 --save-steps 1 --save-total-limit 1 > /dev/null 2>> "$TMP/err")
rc2=$?
n_ck=$(ls -d "$TMP/inj/$INJ"/checkpoint-* 2> /dev/null | wc -l)
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ "$n_ck" -eq 1 ] && [ -f "$TMP/inj/$INJ/best/model.safetensors" ] \
    && [ -z "$(find "$TMP" -name 'INJ*' -print)" ] && [ "$(ls -d "$TMP/inj/p$INJ"/checkpoint-* | wc -l)" -eq 1 ]; then
    pass output_dir_injection; else echo "  exit $rc/$rc2, $n_ck checkpoints"; find "$TMP" -name 'INJ*'; fail output_dir_injection "$TMP/err"; fi
# No source file calls the shell or another program (the CLI's one execv re-runs itself).
if ! grep -rnE '\b(system|popen|execl|execlp|execvp|posix_spawn[p]?)[[:space:]]*\(' src/ > "$TMP/calls" \
    && [ "$(grep -rnE '\bexecv[[:space:]]*\(' src/ | grep -vc '"/proc/self/exe"')" -eq 0 ]; then
    pass no_shell_calls_in_sources; else fail no_shell_calls_in_sources "$TMP/calls"; fi

# --- F9: NaN / infinite weights: an error naming the input line, never a bare nan -------------
# nanify SRC DST BYTE: a copy of model SRC whose every weight is NaN (BYTE 192) or +inf (128).
nanify() {
    rm -rf "$2" && cp -R "$1" "$2"
    f=$2/model.safetensors
    hl=$(od -An -tu8 -N8 "$f" | tr -d ' ')
    n=$(( ($(wc -c < "$f") - 8 - hl) / 4 ))
    LC_ALL=C awk -v n="$n" -v b="$3" 'BEGIN { for (i = 0; i < n; i++) printf "%c%c%c%c", 0, 0, b, 127 }' > "$TMP/nan.bin"
    dd if="$TMP/nan.bin" of="$f" bs=4096 seek=$((8 + hl)) oflag=seek_bytes conv=notrunc status=none
}
NOTFIN="stdin:2: the model's output is not finite"
# not_finite NAME MODEL ARGS... < two input lines: the second line's model output is checked (the first
# line is a blank-free valid one too, so the error must name line 2 of a batch of two).
for kind in nan:192 inf:128; do
    k=${kind%%:*} b=${kind#*:}
    for m in sentence-transformer classifier cross-encoder mlm ner qa; do nanify "$TASKS/$m" "$TMP/$k-$m" "$b"; done
    printf '\n{"text": "hello world"}\n' > "$TMP/in"
    expect_error "embed_$k" "$NOTFIN" sh -c "'$BERT' embed '$TMP/$k-sentence-transformer' < '$TMP/in'"
    printf '\n{"input_ids": [3, 100, 4]}\n' > "$TMP/in"
    expect_error "embed_ids_$k" "$NOTFIN" sh -c "'$BERT' embed '$TMP/$k-sentence-transformer' --pooling none < '$TMP/in'"
    printf '\n{"text": "hello world"}\n' > "$TMP/in"
    expect_error "classify_$k" "$NOTFIN" sh -c "'$BERT' classify '$TMP/$k-classifier' < '$TMP/in'"
    printf '\n{"query": "q", "documents": ["a b", "c"]}\n' > "$TMP/in"
    expect_error "rerank_$k" "$NOTFIN" sh -c "'$BERT' rerank '$TMP/$k-cross-encoder' < '$TMP/in'"
    printf '\n{"text": "a", "text_pair": "b"}\n' > "$TMP/in"
    expect_error "nsp_$k" "$NOTFIN" sh -c "'$BERT' nsp '$TMP/$k-mlm' < '$TMP/in'"
    printf '\n{"text": "the [MASK] sat"}\n' > "$TMP/in"
    expect_error "fill_mask_$k" "$NOTFIN" sh -c "'$BERT' fill-mask '$TMP/$k-mlm' < '$TMP/in'"
    printf '\n{"text": "Alice likes Oslo"}\n' > "$TMP/in"
    expect_error "ner_$k" "$NOTFIN" sh -c "'$BERT' ner '$TMP/$k-ner' --aggregation none < '$TMP/in'"
    printf '\n{"question": "who?", "context": "Alice likes Oslo"}\n' > "$TMP/in"
    expect_error "qa_$k" "$NOTFIN" sh -c "'$BERT' qa '$TMP/$k-qa' < '$TMP/in'"
done

# --- F10: a FIFO in place of a model file is refused at once, never waited on -----------------
for f in config.json model.safetensors vocab.txt tokenizer.json tokenizer_config.json; do
    rm -rf "$TMP/fifo" && cp -R "$TASKS/sentence-transformer" "$TMP/fifo" && rm -f "$TMP/fifo/$f" && mkfifo "$TMP/fifo/$f"
    printf '{"text": "hi"}\n' > "$TMP/in"
    expect_error "fifo_$f" "$f" timeout 30 "$BERT" embed "$TMP/fifo" --input "$TMP/in"
    timeout 30 "$BERT" info "$TMP/fifo" > /dev/null 2>&1
    rc=$?
    if [ $rc -lt 2 ]; then pass "fifo_info_$f"; else echo "  exit $rc"; fail "fifo_info_$f"; fi
done

# --- F10: documented limits, each refused with a clear error -----------------------------------
echo '{"text": "hi"}' > "$TMP/hi.jsonl"
expect_error pad_to_multiple_of_bound "padding to 2147483647 tokens: at most 65536 (BERT_MAX_PADDED_LENGTH)" \
    "$BERT" tokenize "$TASKS/mlm" --padding longest --pad-to-multiple-of 2147483647 --input "$TMP/hi.jsonl"
awk 'BEGIN { printf "{\"question\": \"who?\", \"context\": \""; for (i = 0; i < 10000; i++) printf "the cat "; print "\"}" }' > "$TMP/longctx.jsonl"
expect_error qa_windows_bound "longctx.jsonl:1: the context needs 2857 windows of 16 tokens; at most 1024 (BERT_QA_MAX_WINDOWS)" \
    "$BERT" qa "$TASKS/qa" --max-seq-len 16 --doc-stride 4 --input "$TMP/longctx.jsonl"
awk 'BEGIN { printf "{\"query\": \"q\", \"documents\": ["; for (i = 0; i < 10001; i++) printf "%s\"d\"", i ? "," : ""; print "]}" }' > "$TMP/rr.jsonl"
expect_error rerank_documents_bound "rr.jsonl:1: 10001 documents: at most 10000 (BERT_RERANK_MAX_DOCUMENTS)" \
    "$BERT" rerank "$TASKS/cross-encoder" --input "$TMP/rr.jsonl"
# Under the limits, long inputs run in groups: 300 documents score as each does alone (within 1e-5),
# and 600 QA windows answer.
awk 'BEGIN { printf "{\"query\": \"the cat\", \"documents\": ["; for (i = 0; i < 300; i++) printf "%s\"the cat %d sat\"", i ? "," : "", i; print "]}" }' > "$TMP/rr300.jsonl"
"$BERT" rerank "$TASKS/cross-encoder" --input "$TMP/rr300.jsonl" > "$TMP/rr300.out" 2> "$TMP/err"
first=$(sed 's/.*"index":\([0-9]*\),"score":\([^,]*\),.*/\1 \2/' "$TMP/rr300.out" | head -1)
idx=${first%% *}
printf '{"query": "the cat", "documents": ["the cat %s sat"]}\n' "$idx" > "$TMP/rr1.jsonl"
one=$("$BERT" rerank "$TASKS/cross-encoder" --input "$TMP/rr1.jsonl" | sed 's/.*"score":\([^,]*\),.*/\1/')
if [ -n "$idx" ] && [ -n "$one" ] && awk -v a="${first#* }" -v b="$one" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' && [ "$(grep -o '"index"' "$TMP/rr300.out" | wc -l)" -eq 300 ]; then
    pass rerank_in_groups; else echo "  $first vs $one"; fail rerank_in_groups "$TMP/err"; fi
awk 'BEGIN { printf "{\"question\": \"who?\", \"context\": \""; for (i = 0; i < 2400; i++) printf "the cat "; print "\"}" }' > "$TMP/ctx600.jsonl"
if "$BERT" qa "$TASKS/qa" --max-seq-len 16 --doc-stride 4 --input "$TMP/ctx600.jsonl" > "$TMP/out" 2> "$TMP/err" && grep -q '"answer"' "$TMP/out"; then
    pass qa_windows_in_groups; else fail qa_windows_in_groups "$TMP/err"; fi
# One input line is at most 2 MiB (the tokenizer takes ~170 bytes per byte of text).
awk 'BEGIN { printf "{\"text\": \""; for (i = 0; i < 300000; i++) printf "the cat "; print "\"}" }' > "$TMP/bigline.jsonl"
for c in tokenize classify embed; do
    m=$TASKS/classifier
    expect_error "line_bytes_bound_$c" "bigline.jsonl:1: the line is longer than 2097152 bytes" "$BERT" "$c" "$m" --input "$TMP/bigline.jsonl"
done
expect_error threads_bound "--threads 100000: at most" "$BERT" classify "$TASKS/classifier" --threads 100000 --input "$TMP/hi.jsonl"
expect_error threads_bound_embed "--threads 100000: at most" "$BERT" embed "$TASKS/classifier" --threads 100000 --input "$TMP/hi.jsonl"
expect_error http_threads_bound "--http-threads must be at most 256" "$BERT" serve "$TASKS/classifier" --http-threads 100000 --port 0

# --- minor findings ----------------------------------------------------------------------------
# embed shows the tokenizer's own load error, not "needs tokenizer files"
model_with badtok "$TASKS/sentence-transformer" && printf '{"model": {"type": "BPE"}}\n' > "$TMP/badtok/tokenizer.json"
expect_error embed_tokenizer_error "model is not WordPiece" "$BERT" embed "$TMP/badtok" --input "$TMP/hi.jsonl"
# a text_pair that is not a string is an error, not ignored
printf '{"text": "a", "text_pair": 5}\n' > "$TMP/pair5.jsonl"
expect_error classify_text_pair_number 'pair5.jsonl:1: "text_pair" must be a string' "$BERT" classify "$TASKS/classifier" --input "$TMP/pair5.jsonl"
# an escaped backslash followed by the text u0000 is no NUL; a real \u0000 escape is refused
printf '{"text": "C:\\\\u0000"}\n' > "$TMP/bs.jsonl"
if "$BERT" classify "$TASKS/classifier" --input "$TMP/bs.jsonl" > "$TMP/out" 2> "$TMP/err" && grep -q '"label"' "$TMP/out"; then
    pass escaped_backslash_u0000_accepted; else fail escaped_backslash_u0000_accepted "$TMP/err"; fi
printf '{"text": "C:\\\\\\u0000"}\n' > "$TMP/nul.jsonl"
expect_error real_u0000_refused "nul.jsonl:1: text contains U+0000" "$BERT" classify "$TASKS/classifier" --input "$TMP/nul.jsonl"
# --on-error skip: messages come out in line order (a bad JSON line after a too-long text)
awk 'BEGIN { print "{\"text\": \"ok\"}"; printf "{\"text\": \""; for (i = 0; i < 300; i++) printf "the "; print "\"}"; print "not json"; print "{\"text\": \"ok\"}" }' > "$TMP/order.jsonl"
"$BERT" classify "$TASKS/classifier" --on-error skip --input "$TMP/order.jsonl" > "$TMP/out" 2> "$TMP/err"
if [ "$(sed -n 's/.*order.jsonl:\([0-9]*\):.*/\1/p' "$TMP/err" | tr '\n' ' ')" = "2 3 " ] && [ "$(wc -l < "$TMP/out")" -eq 4 ] \
    && sed -n 2p "$TMP/out" | grep -q '"line":2' && sed -n 3p "$TMP/out" | grep -q '"line":3'; then
    pass on_error_skip_line_order; else fail on_error_skip_line_order "$TMP/err"; fi
expect_error threads_bound_training "n_threads 100000: at most" "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/thr" \
    --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence --label-column label --threads 100000
