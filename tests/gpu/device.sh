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
#   more:  bench/gpu.sh's training step, its forward table again with
#          torch.compile beside eager (COMPILE=1, PEERS "hf hfc" unless
#          PEERS is set), then run.sh's check 5 (compute-sanitizer).
# DIR (default build-gpupack: tests/gpu/pack.sh) is unpacked from DIR.tar.gz
# where it is not there yet. Each part gets what is left of BUDGET seconds
# (default 540, under the call's 600) and is stopped at its end (timeout),
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
deadline=$((start + ${BUDGET:-540}))
if [ ! -d "$dir" ]; then
    [ -f "$dir.tar.gz" ] || { echo "tests/gpu/device.sh: neither $dir nor $dir.tar.gz is here (tests/gpu/pack.sh makes them)" >&2; exit 1; }
    tar xzf "$dir.tar.gz" || exit 1
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
    "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1
} | tee "$logs/$stage-machine.txt"
status=0
# part LOG CMD...: CMD with what is left of the budget, its output appended to LOG
part() {
    log=$1
    shift
    left=$((deadline - $(date +%s)))
    if [ "$left" -lt 20 ]; then
        echo "SKIP $* (no time left of the budget)" | tee -a "$log"
        status=1
        return
    fi
    t=$(date +%s)
    timeout "$left" "$@" >> "$log" 2>&1
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
else
    part "$benchlog" env BUILD="$dir" PARTS=train sh bench/gpu.sh "$L" "$R"
    part "$benchlog" env BUILD="$dir" PARTS=forward COMPILE=1 PEERS="${PEERS-hf hfc}" sh bench/gpu.sh "$L" "$R"
    part "$runlog" env CHECKS=5 sh tests/gpu/run.sh "$dir"
fi
echo "== summary, stage $stage, $(($(date +%s) - start)) s (logs: $logs)"
grep -E '^(PASS|FAIL|SKIP) ' "$runlog"
grep -E 'took|ended with' "$runlog" | sed 's/^/  /'
cat "$benchlog"
exit $status
