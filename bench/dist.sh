#!/bin/sh
# bench/dist.sh — data-parallel pre-training steps (MLM + NSP): 1 rank vs
# 2 ranks under mpirun, 1 thread each, per-rank batch 8 x sequence 128, on
# the bundled model's shape (models/bertc-mini-uncased) and the bert-base
# shape with 2 layers; 2 ranks with the gradient sums overlapping backward
# (default), after it (--no-overlap), and as bf16 (--compress bf16).
# Interleaved rounds; prints every line, then per shape the medians, the
# scaling efficiency (2-rank throughput / twice the 1-rank one) and the
# share of the step spent summing gradients (reduce: the communication
# thread's time; wait: what the step waited for).
#   bench/dist.sh [ROUNDS]     (default 3)
set -e
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
make -s build/bench_forward build/bench_dist
./build/bench_forward --layers 2 --write-only > /dev/null
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2"
out=$(mktemp)
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  cores: $(nproc)  $(mpirun --version | head -n 1)"
for r in $(seq "$ROUNDS"); do
    for m in models/bertc-mini-uncased build/bench-model-L2; do
        ./build/bench_dist "$m" --steps 5 | sed "s|^|$m |" | tee -a "$out"
        $MPIRUN ./build/bench_dist "$m" --steps 5 | sed "s|^|$m |" | tee -a "$out"
        $MPIRUN ./build/bench_dist "$m" --steps 5 --no-overlap | sed "s|^|$m |" | tee -a "$out"
        $MPIRUN ./build/bench_dist "$m" --steps 5 --compress bf16 | sed "s|^|$m |" | tee -a "$out"
    done
done
echo
echo "medians over $ROUNDS rounds (ms per step, sequences/s, summing time per step):"
awk '
function med(key, f,   n, i, j, t, a) {
    n = split(vals[key, f], a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
}
{
    c = $17; sub(/:$/, "", c)
    key = $1 " ranks " $3 " overlap " $15 " compress " c
    if (!(key in seen)) { seen[key] = 1; order[++n] = key; model[key] = $1 }
    for (i = 1; i < NF; i++) if ($i == "median_ms" || $i == "seqs_per_s" || $i == "reduce_ms" || $i == "wait_ms" || $i == "MB_per_step") vals[key, $i] = vals[key, $i] " " $(i + 1)
}
END {
    for (k = 1; k <= n; k++) {
        key = order[k]; step = med(key, "median_ms"); thr = med(key, "seqs_per_s")
        if (key ~ / ranks 1 /) one[model[key]] = thr
        printf "%-70s step %7.1f ms  %7.2f seq/s  reduce %6.1f ms (%4.1f%%)  wait %6.1f ms (%4.1f%%)  %6.1f MB", key, step, thr,
            med(key, "reduce_ms"), 100 * med(key, "reduce_ms") / step, med(key, "wait_ms"), 100 * med(key, "wait_ms") / step, med(key, "MB_per_step")
        if (key !~ / ranks 1 /) printf "  scaling efficiency %.2f", thr / (2 * one[model[key]])
        printf "\n"
    }
}' "$out"
rm -f "$out"
