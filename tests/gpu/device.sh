#!/bin/sh
# tests/gpu/device.sh [STAGE] [DIR] — what one call on a lent GPU machine runs.
# Such a machine is lent for minutes (600 s a call, 15 min a session, its
# start included), so the checks are split into two stages of one call each,
# the proof first:
#   proof (default): tests/gpu/run.sh's checks 1 2 3 4 6 (parity: the unit
#          tests, the task commands, the bert-base-shaped batch in f32, bf16,
#          tf32 and f16, PyTorch on the GPU, all-MiniLM-L6-v2 against
#          sentence-transformers), then bench/gpu.sh's forward table (bert.c
#          against PyTorch eager, batches 1/8/32 at 128 and 512) and profile;
#   more:  run.sh's check 5 (compute-sanitizer), bench/gpu.sh's training
#          step, its forward table at sequence 128 (SEQS) with torch.compile
#          beside eager (COMPILE=1, PEERS "hf hfc" unless PEERS is set).
# The proof fails when any of its checks is skipped or PyTorch is missing.
# DIR (default build-gpupack: tests/gpu/pack.sh) is unpacked from DIR.tar.gz
# when the tarball is newer. Each part gets what is left of BUDGET seconds
# (default 540, under the call's 600; for the second stage pass what the
# session has left, status's budget_left_s less a minute) and is stopped at
# its end (timeout, then a kill),
# so a slow part costs the parts after it, never the call's output. Each
# part's output goes to OUT (the device machine's folder that comes back;
# else DIR/logs) as STAGE-run.log and STAGE-bench.log, and the end of this
# script's output is the summary: every check's PASS/FAIL/SKIP line and the
# tables. Exit 0 when every part ran and passed, 1 otherwise (77: no GPU).
# The knobs of run.sh and bench/gpu.sh pass through the environment;
# BENCH_LAYERS (12) and BENCH_REPS (20) are bench/gpu.sh's arguments.
# tests/gpu/rehearse.sh runs both stages on the CPU emulator.
stage=${1:-proof}
dir=${2:-build-gpupack}
cd "$(dirname "$0")/../.." || exit 1
case $stage in proof | more) ;; *) echo "tests/gpu/device.sh: STAGE is proof or more, not $stage" >&2; exit 2 ;; esac
start=$(date +%s)
PY=${PYTHON:-python3}
deadline=$((start + ${BUDGET:-540}))
case $dir in /*) echo "tests/gpu/device.sh: DIR is relative to the repository root, not $dir" >&2; exit 2 ;; esac
# unpacked whenever the tarball is newer than the folder: a warm machine keeps
# the last call's folder, and a repacked tarball must replace it
if [ -f "$dir.tar.gz" ] && { [ ! -f "$dir/.prebuilt" ] || [ "$dir.tar.gz" -nt "$dir/.prebuilt" ]; }; then
    rm -rf "$dir" && tar xzf "$dir.tar.gz" && touch "$dir/.prebuilt" || exit 1
fi
[ -d "$dir" ] || { echo "tests/gpu/device.sh: neither $dir nor $dir.tar.gz is here (tests/gpu/pack.sh makes them)" >&2; exit 1; }
# cuBLAS: the CUDA folder bert was built against, else the loader's path; where
# the machine has it only in a Python wheel (nvidia-cublas, beside torch), that
# wheel's lib folder is put on the loader's path
cuda=$("$dir/bert" --version 2>&1 | grep '^cuda:')
if [ "${cuda#cuda: yes}" = "$cuda" ] &&
    wheel=$("$PY" -c 'import os, nvidia.cublas as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null) &&
    [ -d "$wheel" ]; then
    LD_LIBRARY_PATH="$wheel${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    cuda=$("$dir/bert" --version 2>&1 | grep '^cuda:')
fi
logs=${OUT:-$dir/logs}
mkdir -p "$logs" || exit 1
runlog="$logs/$stage-run.log" benchlog="$logs/$stage-bench.log"
: > "$runlog"
: > "$benchlog"
{
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), stage $stage, $dir"
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
    echo "$cuda"
    [ -z "${LD_LIBRARY_PATH:-}" ] || echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1
} | tee "$logs/$stage-machine.txt"
status=0
# part LOG CMD...: CMD with what is left of the budget, its output appended to LOG
part() {
    log=$1
    shift
    left=$((deadline - $(date +%s) - 15)) # 15 s for the kill below and the summary
    if [ "$left" -lt 20 ]; then
        echo "SKIP $* (no time left of the budget)" | tee -a "$log"
        status=1
        return
    fi
    t=$(date +%s)
    timeout -k 10 "$left" "$@" >> "$log" 2>&1
    rc=$?
    echo "tests/gpu/device.sh: '$*' ended with $rc after $(($(date +%s) - t)) s" | tee -a "$log"
    case $rc in
    0) ;;
    77) [ $status = 0 ] && status=77 ;;
    124 | 137) echo "FAIL $* (stopped at the budget's end)" >> "$log"; status=1 ;;
    *) status=1 ;;
    esac
}
L=${BENCH_LAYERS:-12}
R=${BENCH_REPS:-20}
if [ "$stage" = proof ]; then
    part "$runlog" env CHECKS="1 2 3 4 6" sh tests/gpu/run.sh "$dir"
    part "$benchlog" env BUILD="$dir" PARTS="forward profile" sh bench/gpu.sh "$L" "$R"
    # the proof is not made by a check that was skipped, or a table without its peer
    if [ $status != 77 ] && { grep -q '^SKIP ' "$runlog" || grep -q 'no PyTorch peer' "$benchlog"; }; then
        echo "FAIL proof (a check was skipped or PyTorch was missing: no proof without them)" | tee -a "$runlog"
        status=1
    fi
else
    # compute-sanitizer first (the stage's one correctness check), then the
    # training step, then torch.compile at sequence 128 only (a compile a shape)
    part "$runlog" env CHECKS=5 sh tests/gpu/run.sh "$dir"
    part "$benchlog" env BUILD="$dir" PARTS=train sh bench/gpu.sh "$L" "$R"
    part "$benchlog" env BUILD="$dir" PARTS=forward COMPILE=1 PEERS="${PEERS-hf hfc}" SEQS="${SEQS:-128}" sh bench/gpu.sh "$L" "$R"
fi
echo "== summary, stage $stage, $(($(date +%s) - start)) s (logs: $logs)"
grep -E '^(PASS|FAIL|SKIP) ' "$runlog"
grep -E 'took|ended with' "$runlog" | sed 's/^/  /'
cat "$benchlog"
exit $status
