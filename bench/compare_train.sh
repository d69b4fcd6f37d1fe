#!/bin/sh
# bench/compare_train.sh — one training step (forward + backward + AdamW,
# sequence classifier) of bert.c against PyTorch, bert-base shape, batch 8 x
# sequence 128, single thread, interleaved rounds; bert.c also with
# --dtype bf16 (mixed precision) where the machine can run it, and PyTorch
# also under torch.autocast(bfloat16).
#   bench/compare_train.sh [LAYERS] [ROUNDS]     (defaults: 2 layers, 3 rounds)
# The one-thread product ceilings (bench_gemm) are measured in the same run;
# the summary gives each runtime's median step and bert.c's GFLOP/s (as
# bench_train counts them) as a share of the ceiling of its dtype.
set -e
LAYERS=${1:-2}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
make -s build/bench_forward build/bench_train build/bench_gemm build/bert
./build/bench_forward --layers "$LAYERS" --write-only
hint=$(./build/bert version | sed -n 's/.*core: \([A-Za-z]*\).*/\1/p')
: "${OPENBLAS_CORETYPE:=$hint}"
export OPENBLAS_CORETYPE
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
./build/bench_gemm --threads 1 --reps 10 2>/dev/null | awk '$1 == "ceiling_gflops" { print "ceiling", $5, $7 }' >> "$log"
awk '$1 == "ceiling" { printf "ceiling (GFLOP/s, bench_gemm), 1 thread: f32 %s bf16 %s\n", $2, $3 }' "$log"
for r in $(seq "$ROUNDS"); do
    ./build/bench_train "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 | tee -a "$log"
    ./build/bench_train "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 --dtype bf16 | tee -a "$log" || true
    /usr/bin/python3 bench/torch_train.py "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 | tee -a "$log"
    /usr/bin/python3 bench/torch_train.py "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 --bf16 | tee -a "$log"
done
echo
echo "summary (median over $ROUNDS rounds of each runtime's median step; ratio = that runtime / PyTorch fp32)"
awk '$1 == "ceiling" { cf = $2; cb = $3; next }
     $2 == "train-step" { for (i = 3; i < NF; i++) if ($i == "median_ms") ms = $(i + 1); else if ($i == "gflops") g[$1] = $(i + 1)
                          v[$1, ++n[$1]] = ms; if (g[$1]) gf[$1] = g[$1] * ms }
     function med(rt,   m, i, j, t, a) { m = n[rt]; for (i = 1; i <= m; i++) a[i] = v[rt, i]
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
         return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
     END { base = n["pytorch"] ? med("pytorch") : 0
           split("bert.c bert.c-bf16 pytorch pytorch-bf16", rts, " ")
           for (i = 1; i <= 4; i++) { rt = rts[i]; if (!n[rt]) continue; m = med(rt); c = rt == "bert.c" ? cf : rt == "bert.c-bf16" ? cb : 0
               printf "%-13s %9.1f ms  %5s x PyTorch fp32  %s\n", rt, m, base ? sprintf("%.2f", m / base) : "-",
                      c && gf[rt] ? sprintf("%.0f %% of the %s ceiling", 100 * gf[rt] / m / c, rt == "bert.c" ? "f32" : "bf16") : "" } }' "$log"
