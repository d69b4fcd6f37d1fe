#!/bin/sh
# bench/modes.sh — does a dtype run at one speed on this host, or at
# several? Runs the same forward pass in many fresh processes, one after
# another over minutes, and prints each process's median and minimum pass
# time, then the spread of the medians.
#
#   bench/modes.sh [PROCESSES] [DTYPES]     (defaults: 12, "bf16 int8")
#   env: SEQ (512), THREADS ("1 <all cores>"), REPS (5 passes a process),
#        LAYERS (2), ASLR=off (each process under `setarch -R`, addresses
#        the same in every process: tells an alignment effect from others)
#
# Why: on an Intel Xeon with AMX (2026-11-27) bf16 ran at two speeds ~1.7x
# apart that changed between processes, int8 not; PERFORMANCE.md says what
# this script found since. The per-process lines go to build/modes.log.
# Never run in CI; run nothing else meanwhile.
set -e
PROCESSES=${1:-12}
DTYPES=${2:-"bf16 int8"}
cd "$(dirname "$0")/.."
make -s build/bench_forward build/bert
SEQ=${SEQ:-512}
REPS=${REPS:-5}
LAYERS=${LAYERS:-2}
THREADS=${THREADS:-"1 $(nproc)"}
PREFIX=""
[ "${ASLR:-on}" != off ] || PREFIX="setarch $(uname -m) -R"
./build/bench_forward --layers "$LAYERS" --write-only
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  cores: $(nproc)"
./build/bert version | head -1
echo "model build/bench-model-L$LAYERS, sequence $SEQ, batch 1, $REPS passes a process, $PROCESSES processes a cell${PREFIX:+, ASLR off}"
log=build/modes.log
: > "$log"
for p in $(seq "$PROCESSES"); do
    for d in $DTYPES; do
        for t in $THREADS; do
            # shellcheck disable=SC2086
            $PREFIX ./build/bench_forward --layers "$LAYERS" --threads "$t" --seq "$SEQ" --batches 1 --reps "$REPS" --dtype "$d" |
                awk -v d="$d" -v t="$t" -v p="$p" '$1 ~ /^bert\.c/ && $3 == t && $4 == 1 && $5 ~ /^[0-9.]+$/ { print d, t, p, $5, $6 }' >> "$log"
        done
    done
done
echo "dtype threads  processes  median of medians  min  max  max/min   (ms; each process's median of $REPS passes)"
sort -k1,1 -k2,2n -k4,4n "$log" | awk '
    function flush() { if (n) printf "%-6s %7s  %9d  %17.2f  %5.2f  %5.2f  %7.2f\n", d, t, n, v[int((n + 1) / 2)], v[1], v[n], v[n] / v[1] }
    $1 != d || $2 != t { flush(); d = $1; t = $2; n = 0 }
    { v[++n] = $4 }
    END { flush() }'
echo "(max/min above ~1.3 with a gap between two groups: two speeds; see $log per process)"
