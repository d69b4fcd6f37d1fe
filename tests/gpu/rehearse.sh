#!/bin/sh
# tests/gpu/rehearse.sh [BUILD_DIR] — the lent GPU machine's call, rehearsed
# on the CPU emulator (tests/cuda_emu): a folder laid out as tests/gpu/pack.sh
# lays one out, but holding the emulator's builds (bert-cuda-emu as bert,
# test_cuda_emu as test_bert, bench_forward-cuda-emu, bench_train-cuda-emu)
# and MiniLM's small form packed for a few texts, goes into a tarball;
# tests/gpu/device.sh then unpacks it and runs both its stages with the
# shapes shrunk (BERT-Tiny's for the benchmarks, one layer for run.sh's
# bert-base-shaped check, short sequences, one rep) and PyTorch on the CPU
# standing in for PyTorch on the GPU. So a lent machine's minutes are not
# lost to a script's own mistake: every check of tests/gpu/run.sh must print
# PASS (check 5 SKIP: no GPU here), and every cell of
# bench/gpu.sh's forward table, training rows and profile must hold a
# number. The numbers are the emulator's, meaningless as speed.
# Prints PASS/FAIL/SKIP lines (on stderr, how long each part took); MiniLM's
# check is a SKIP (named) where the real model cannot be had here
# (tools/fetch_real_models.sh). Exit 1 on a failure.
build=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
# built by `make test` (and `make test-asan` into build-asan)
for p in bert-cuda-emu test_cuda_emu json_close bench_forward-cuda-emu bench_train-cuda-emu; do
    [ -x "$build/$p" ] || { echo "FAIL gpu_rehearsal (no $build/$p: make $build/$p)"; exit 1; }
done
case $build in /*) echo "FAIL gpu_rehearsal (BUILD_DIR is relative to the repository root, not $build)"; exit 1 ;; esac
dir="$build/gpu-rehearsal"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$dir" "$dir.tar.gz"' EXIT
rm -rf "$dir" "$dir.tar.gz"
mkdir -p "$dir" || exit 1
cp "$build/bert-cuda-emu" "$dir/bert" && cp "$build/test_cuda_emu" "$dir/test_bert" &&
    cp "$build/json_close" "$dir/json_close" && cp "$build/bench_forward-cuda-emu" "$dir/bench_forward" &&
    cp "$build/bench_train-cuda-emu" "$dir/bench_train" && touch "$dir/.prebuilt" || exit 1
# six of the real texts, short ones: the emulator's products are slow
awk 'length($0) < 160' tests/fixtures/realstack/sentences.jsonl | head -n 6 > "$TMP/texts.jsonl"
# the peers: the venv's torch, transformers and sentence-transformers
# (tools/pyenv.sh), else Debian's torch alone (tools/bert_reference.py's column
# and check 4; no BertModel column, no check 6)
PY=/usr/bin/python3 peers=ref mini="" allow='^$'
if py=$(sh tools/pyenv.sh tokenizers transformers sentence-transformers 2> "$TMP/why"); then
    PY=$py peers="ref hf"
    if model=$(sh tools/fetch_real_models.sh 2> "$TMP/why") &&
        HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$py" tools/gpu_minilm.py pack "$model" "$TMP/texts.jsonl" "$dir/minilm" > /dev/null 2> "$TMP/why"; then
        mini=yes
    else
        echo "SKIP gpu_rehearsal_minilm ($(tail -n1 "$TMP/why"))"
        allow='^SKIP gpu_minilm'
    fi
else
    echo "SKIP gpu_rehearsal_transformers ($(tail -n1 "$TMP/why"): the BertModel column and check 6 left out)"
    allow='^SKIP gpu_minilm'
fi
npeers=$(echo $peers | wc -w)
tar czf "$dir.tar.gz" "$dir" && rm -rf "$dir" || exit 1
fail=0
for stage in proof more; do
    mkdir -p "$TMP/$stage"
    env OUT="$TMP/$stage" PYTHON="$PY" PEER_DEVICE=cpu UNITS="forward_cuda_matches cuda_plan train_cuda_dropout" \
        BASE_LAYERS=1 BASE_LENGTHS="5 17 40" MINILM_TEXTS="$TMP/texts.jsonl" BENCH_LAYERS=1 BENCH_REPS=1 \
        SHAPE=tiny SEQS="4 8" BATCHES=1,2 TRAIN_SEQ=4 TRAIN_BATCHES=2 PEERS="$peers" BUDGET=600 \
        sh tests/gpu/device.sh $stage "$dir" > "$TMP/$stage.out" 2>&1
    echo "rc $?" >> "$TMP/$stage.out"
done
# a budget already spent: every part is skipped, saying so, and the stage fails
env OUT="$TMP/spent" BUDGET=20 sh tests/gpu/device.sh proof "$dir" > "$TMP/spent.out" 2>&1
echo "rc $?" >> "$TMP/spent.out"
# expect NAME FILE PATTERN: FILE has a line matching the extended regex PATTERN
expect() {
    if grep -qE "$3" "$2"; then echo "PASS gpu_rehearsal_$1"; else
        echo "FAIL gpu_rehearsal_$1 (no line like '$3' in $(basename "$2"))"; fail=1; fi
}
P="$TMP/proof/proof-run.log"
if [ "$allow" = '^$' ]; then
    expect proof_exit "$TMP/proof.out" '^rc 0$'
else # a skipped check is no proof: the stage fails, saying so
    expect proof_exit "$TMP/proof.out" '^rc 1$'
    expect proof_refused "$P" '^FAIL proof \(a check was skipped'
fi
if grep -E '^(FAIL|SKIP) ' "$P" | grep -vE "$allow" | grep -v '^FAIL proof (a check was skipped' > "$TMP/bad"; [ -s "$TMP/bad" ]; then
    echo "FAIL gpu_rehearsal_checks (run.sh said:)"; sed 's/^/  /' "$TMP/bad" | head -10; fail=1
else
    echo "PASS gpu_rehearsal_checks ($(grep -c '^PASS ' "$P") PASS lines, no FAIL)"
fi
for c in embed embed_none classify ner fill_mask qa nsp rerank base12_ragged_512 bf16_mini \
    bf16_base12_ragged_512 tf32_base12_ragged_512 f16_mini f16_base12_ragged_512 pytorch_cuda_parity; do
    expect "check_$c" "$P" "^PASS gpu_$c\$"
done
expect unit_forward "$P" '^PASS forward_cuda_matches'
expect unit_train "$P" '^PASS train_cuda_dropout'
if [ -n "$mini" ]; then
    for c in minilm_f32 minilm_bf16 minilm_f16 minilm_cpu; do expect "check_$c" "$P" "^PASS gpu_$c"; done
fi
# the forward table: every (sequence, batch) row with a number in each bert.c column and each peer's, and a ratio
B="$TMP/proof/proof-bench.log"
n=0
for s in 4 8; do
    for b in 1 2; do
        expect "table_${s}_$b" "$B" "^$s +$b +([0-9.]+ +){5}([0-9.]+ +[0-9.]+ *){$npeers}\$"
    done
done
expect table_header "$B" '^seq +batch +bert.c ms +batched ms +bf16 ms +f16 ms +tf32 ms'
expect profile_f32 "$B" '^profile, --dtype f32'
expect profile_bf16 "$B" '^profile, --dtype bf16'
if [ "$(grep -cE '^total +[0-9.]+$' "$B")" = 2 ] && [ "$(grep -cE '^products +[0-9.]+ +[0-9.]+%$' "$B")" = 2 ]; then
    echo "PASS gpu_rehearsal_profile_rows"
else
    echo "FAIL gpu_rehearsal_profile_rows (not two profiles with their products and total)"; fail=1
fi
expect spent_exit "$TMP/spent.out" '^rc 1$'
if [ "$(grep -hE '^SKIP .*\(no time left of the budget\)$' "$TMP/spent/proof-run.log" "$TMP/spent/proof-bench.log" | grep -c .)" = 2 ]; then echo "PASS gpu_rehearsal_spent_budget"
else echo "FAIL gpu_rehearsal_spent_budget (not both parts skipped for the budget)"; fail=1; fi
M="$TMP/more"
expect more_exit "$TMP/more.out" '^rc 0$'
expect more_sanitizer "$M/more-run.log" '^SKIP gpu_sanitizer \(nvidia-smi lists no GPU here\)$'
# bench_train's rows (bert.c-cuda, bert.c-cuda-bf16) and bench/torch_train.py's, each task
for who in bert.c-cuda pytorch; do
    for d in "" -bf16; do
        expect "train_$who${d}_sequence" "$M/more-bench.log" "^$who$d +train-step layers 2 .* batch 2 seq 4 median_ms [0-9.]+"
        expect "train_$who${d}_pretraining" "$M/more-bench.log" "^$who$d +train-step pretraining layers 2 .* median_ms [0-9.]+"
    done
done
expect more_table "$M/more-bench.log" "^8 +2 +([0-9.]+ +){5}([0-9.]+ +[0-9.]+ *){$npeers}\$"
grep -hE "took|ended with" "$TMP/proof.out" "$TMP/more.out" | sort -u >&2
if [ $fail = 1 ]; then
    for stage in proof more; do echo "  -- $stage:"; tail -n 25 "$TMP/$stage.out" | sed 's/^/  /'; done
fi
exit $fail
