#!/bin/sh
# test_harness.sh — the hostile-input and crash harness, briefly: each
# libFuzzer target of fuzz/ (FUZZ_SECONDS each, default 4: under a minute
# for the 13 targets; SKIP without clang's libFuzzer runtime; the first run
# builds build-fuzz, minutes), fault injection for writes (FAULTS_PER_OP
# calls of each kind per scenario, default 4; tests/faults/run_faults.sh),
# what an interrupted run leaves and how the next one treats it, and the
# kill -9 trial (KILL_TRIALS, default 5; tests/killtrial.sh).
# Needs $BERT; the shim and fs_copy beside it (make BUILD/fail_io.so BUILD/fs_copy).
BERT=${BERT:-build/bert}
build=$(dirname "$BERT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=harness_
. tests/cli/lib.sh
TASKS=tests/fixtures/tasks
FT=tests/fixtures/finetune

# --- fuzz targets ------------------------------------------------------------
if ! command -v clang > /dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a > /dev/null 2>&1; then
    for f in fuzz/*.c; do skip "fuzz_$(basename "$f" .c)" "no clang libFuzzer runtime: tools/install-deps.sh --fuzz"; done
elif ! make --no-print-directory -s -j2 fuzz-build > "$TMP/fuzz-build.log" 2>&1; then
    fail fuzz_build "$TMP/fuzz-build.log"
else
    fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-4}" | sed 's/^\(PASS\|FAIL\|SKIP\) fuzz_/\1 harness_fuzz_/'
fi

# --- fault injection for writes ---------------------------------------------------
FTA="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 1 --batch-size 8
     --save-steps 1 --eval-steps 1 --save-total-limit 2 --seed 5 --threads 1"
if [ -f "$build/fail_io.so" ] && [ -x "$build/fs_copy" ]; then
    sh tests/faults/run_faults.sh "$build" "${FAULTS_PER_OP:-4}" | sed 's/^\(PASS\|FAIL\) faults_/\1 harness_faults_/'
else
    skip faults "$build/fail_io.so or $build/fs_copy not built"
fi

# The swap of a new best/ into place fails: the previous best/ is still there and loads.
if [ -f "$build/fail_io.so" ]; then
    "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/sw" $FTA > /dev/null 2>&1
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LD_PRELOAD="$(cd "$build" && pwd)/fail_io.so" \
        FAIL_IO_UNDER="$TMP/sw" FAIL_IO_MATCH=/best.tmp FAIL_IO_OP=rename FAIL_IO_N=1 FAIL_IO_LOG="$TMP/sw.log" \
        "$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/sw" $FTA > /dev/null 2> "$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] && grep -q "FAILED rename" "$TMP/sw.log" && "$BERT" info "$TMP/sw/best" > /dev/null 2>&1; then
        pass faults_best_swap_keeps_the_previous_best
    else
        echo "  exit $rc; $(cat "$TMP/sw.log" 2> /dev/null | grep FAILED); best/: $(ls "$TMP/sw" | grep best | tr '\n' ' ')"
        fail faults_best_swap_keeps_the_previous_best "$TMP/err"
    fi
fi

# --- leftovers of an interrupted run ----------------------------------------------
# A finished fine-tuning run, then what a killed run would leave beside it.
ARGS="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 1 --batch-size 8
      --save-steps 1 --eval-steps 1 --save-total-limit 2 --seed 5 --threads 1"
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ft" $ARGS --stop-at-step 2 > /dev/null 2>&1
dead=$(sh -c 'echo $$')
mkdir -p "$TMP/ft/checkpoint-9.tmp" "$TMP/ft/.checkpoint-1.removing.$dead.0" "$TMP/ft/.best.copying.$dead" "$TMP/ft/mine.old"
echo '{' > "$TMP/ft/report.json.tmp.$dead"
echo 'half' > "$TMP/ft/checkpoint-9.tmp/config.json"
mv "$TMP/ft/best" "$TMP/ft/best.old" # killed between bert_trainer_save's two renames
"$BERT" finetune "$TASKS/mlm" --output-dir "$TMP/ft" $ARGS --resume "$TMP/ft/checkpoint-2" > /dev/null 2> "$TMP/err"
left=$(ls -a "$TMP/ft" | grep -E '\.(tmp|old)$|\.(tmp|removing|copying)\.' | grep -v '^mine.old$')
if [ -z "$left" ] && grep -q "cleaned 5 leftover(s) of an interrupted run" "$TMP/err" && [ -d "$TMP/ft/mine.old" ] \
    && "$BERT" info "$TMP/ft/best" > /dev/null 2>&1 && [ -d "$TMP/ft/checkpoint-3" ]; then
    pass leftovers_cleaned_by_the_next_run
else
    echo "  left: $left"; fail leftovers_cleaned_by_the_next_run "$TMP/err"
fi
# A bare pretrain --resume takes the newest checkpoint under a final name, not a leftover's.
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/pt" --corpus "$FT/pretrain_corpus.txt" --epochs 1 --batch-size 4 \
    --save-steps 1 --stop-at-step 1 --heldout-docs 2 --threads 1 > /dev/null 2>&1
mkdir -p "$TMP/pt/checkpoint-99.tmp" "$TMP/pt/.checkpoint-98.removing.$dead.0" "$TMP/pt/.checkpoint-97.copying.$dead"
"$BERT" pretrain "$TASKS/mlm" --output-dir "$TMP/pt" --corpus "$FT/pretrain_corpus.txt" --epochs 1 --batch-size 4 \
    --save-steps 1 --stop-at-step 2 --heldout-docs 2 --threads 1 --resume > /dev/null 2> "$TMP/err"
if grep -q -- "--resume: $TMP/pt/checkpoint-1\$" "$TMP/err" && [ -d "$TMP/pt/checkpoint-2" ] \
    && [ -z "$(ls -a "$TMP/pt" | grep -E 'checkpoint-9[789]')" ]; then
    pass bare_resume_ignores_leftovers
else
    fail bare_resume_ignores_leftovers "$TMP/err"
fi

# A model directory with an interrupted writer's temporaries in it loads as it is.
cp -r "$TASKS/mlm" "$TMP/model"
echo garbage > "$TMP/model/model.safetensors.tmp.$dead"
echo '{' > "$TMP/model/.config.json.tmp.$dead"
mkdir -p "$TMP/model/.model.safetensors.copying.$dead"
if "$BERT" info "$TMP/model" > "$TMP/info2" 2> "$TMP/err" && "$BERT" info "$TASKS/mlm" > "$TMP/info1" 2>&1 \
    && [ "$(sed 1d "$TMP/info1")" = "$(sed 1d "$TMP/info2")" ]; then
    pass model_loading_ignores_temporaries
else
    fail model_loading_ignores_temporaries "$TMP/err"
fi

# --- the kill -9 trial ------------------------------------------------------------
sh tests/killtrial.sh "$build" "${KILL_TRIALS:-5}" "$(date +%s)" | sed 's/^\(PASS\|FAIL\) killtrial/\1 harness_killtrial/'
