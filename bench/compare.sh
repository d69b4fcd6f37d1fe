#!/bin/sh
# bench/compare.sh — bert.c against PyTorch on the same random bert-base-
# shaped model, same batches, same thread count, interleaved runs.
#
#   bench/compare.sh [LAYERS] [ROUNDS]     (defaults: 2 layers, 3 rounds)
#
# Needs Debian's python3-torch for the peer (installed when missing; never
# run in CI). Both sides use OpenBLAS; OPENBLAS_CORETYPE is set for both to
# what bert.c detects, so neither runs the SSE3 fallback kernels.
set -e
LAYERS=${1:-2}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "compare.sh: installing python3-torch for the PyTorch peer" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-numpy >/dev/null
fi
make -s build/bench_forward build/bert
./build/bench_forward --layers "$LAYERS" --write-only
hint=$(./build/bert version | sed -n 's/.*core: \([A-Za-z]*\).*/\1/p')
: "${OPENBLAS_CORETYPE:=$hint}"
export OPENBLAS_CORETYPE
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  cores: $(nproc)"
echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
REPS=${REPS:-10}
log=$(mktemp)
for r in $(seq "$ROUNDS"); do
    for t in 1 "$(nproc)"; do
        ./build/bench_forward --layers "$LAYERS" --threads "$t" --reps "$REPS" | awk '$1 == "bert.c" && $4 ~ /^[0-9]+$/' | tee -a "$log"
        /usr/bin/python3 bench/torch_forward.py "build/bench-model-L$LAYERS" --threads "$t" --reps "$REPS" |
            awk '$1 == "pytorch" && $4 ~ /^[0-9]+$/' | tee -a "$log"
    done
done
# Summary: median over rounds of each (runtime, threads, batch) median, and the ratio.
echo
echo "summary (median over $ROUNDS rounds; ratio = bert.c / pytorch latency)"
awk '{ k = $3 " " $4; v[$1, k, ++n[$1, k]] = $5; keys[k] = 1 }
     function med(rt, k,   m, i, j, t, a) { m = n[rt, k]; for (i = 1; i <= m; i++) a[i] = v[rt, k, i];
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
         return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
     END { printf "%-8s %-6s %12s %12s %8s %14s\n", "threads", "batch", "bert.c ms", "pytorch ms", "ratio", "bert.c tok/s"
           for (k in keys) { split(k, p, " "); b = med("bert.c", k); t = med("pytorch", k)
               printf "%-8s %-6s %12.2f %12.2f %8.2f %14.0f\n", p[1], p[2], b, t, b / t, p[2] * 128 / (b / 1e3) } }' "$log" | sort -n
rm -f "$log"
