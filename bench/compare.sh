#!/bin/sh
# bench/compare.sh — bert.c against PyTorch and ONNX Runtime on the same
# random bert-base-shaped model, same batches, same thread count,
# interleaved runs.
#
#   bench/compare.sh [LAYERS] [ROUNDS]     (defaults: 2 layers, 3 rounds)
#   env: SEQ (128), BATCHES (1,8), THREADS ("1 <all cores>"), REPS (10; 50
#        with SHAPE=tiny, whose ~1 ms passes are cheap to repeat: there bert.c
#        bf16's medians of 10 ran 10-20 % above those of 60, while fp32's and
#        the peers' showed no such difference; every runtime gets the count),
#        SHAPE (base | tiny: BERT-Tiny, 2 layers x 128 hidden, overhead-bound),
#        RAGGED=1 (one batch of the first 32 SST-2 dev sentences, real lengths:
#        bert.c runs them unpadded, the peers padded to the longest with an
#        attention mask, as transformers' padding=True does; needs
#        ../shared/data/glue/SST-2/dev.tsv)
#
# The machine's product ceilings per dtype and thread count are measured in
# the same run (bench_gemm); the summary gives each bert.c row's GFLOP/s as
# a share of the ceiling of its dtype (f32, bf16, int8).
# Needs Debian's python3-torch for the PyTorch peer and the ONNX export
# (installed when missing), and PyPI's onnxruntime (CPU) in the project venv
# (tools/pyenv.sh). Where that cannot be installed the ONNX Runtime column is
# left out, with a message. Never run in CI. Both sides use OpenBLAS; OPENBLAS_CORETYPE is set for both to
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
make -s build/bench_forward build/bench_gemm build/bert
if [ "${SHAPE:-base}" = tiny ]; then SHAPEARG="--shape tiny"; MODEL=build/bench-model-tiny
else SHAPEARG="--layers $LAYERS"; MODEL=build/bench-model-L$LAYERS; fi
./build/bench_forward $SHAPEARG --write-only
if [ -n "$RAGGED" ]; then
    sst=../shared/data/glue/SST-2/dev.tsv
    [ -f "$sst" ] || { echo "compare.sh: RAGGED needs $sst" >&2; exit 1; }
    # the bert-base-uncased vocabulary (models/random-tiny-uncased has it)
    sed -n '2,33p' "$sst" | cut -f1 | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/{"text": "&"}/' |
        ./build/bert tokenize models/random-tiny-uncased | sed 's/^{"input_ids":\[\([0-9,]*\)\].*/\1/; s/,/ /g' > build/bench-ragged32.txt
    awk '{ n += NF; if (NF > m) m = NF } END { printf "ragged batch: %d sequences, %d tokens, longest %d (padded: %d)\n", NR, n, m, NR * m }' build/bench-ragged32.txt
fi
ORT=yes
ORTPY=$(tools/pyenv.sh onnxruntime) || { echo "compare.sh: no ONNX Runtime peer (tools/pyenv.sh onnxruntime failed)" >&2; ORT=no; }
if [ $ORT = yes ] && [ ! -f "$MODEL/model.onnx" ]; then
    /usr/bin/python3 bench/onnx_export.py "$MODEL" >/dev/null 2>&1 ||
        { echo "compare.sh: ONNX export failed: no ONNX Runtime peer" >&2; ORT=no; }
fi
NO_BF16=$(./build/bert version | grep -q "bf16: yes" || echo yes)
[ -z "$NO_BF16" ] || echo "compare.sh: bf16 unavailable here (see bert version): no bert.c bf16 column" >&2
NO_INT8=$(./build/bert version | grep -q "int8: yes" || echo yes)
[ -z "$NO_INT8" ] || echo "compare.sh: int8 unavailable here (see bert version): no bert.c int8 column" >&2
hint=$(./build/bert version | sed -n 's/.*core: \([A-Za-z]*\).*/\1/p')
: "${OPENBLAS_CORETYPE:=$hint}"
export OPENBLAS_CORETYPE
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  cores: $(nproc)"
echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
if [ "${SHAPE:-base}" = tiny ]; then REPS=${REPS:-50}; else REPS=${REPS:-10}; fi
SEQ=${SEQ:-128}
BATCHES=${BATCHES:-1,8}
THREADS=${THREADS:-"1 $(nproc)"}
ARGS="--seq $SEQ --batches $BATCHES --reps $REPS"
[ -z "$RAGGED" ] || ARGS="--ragged build/bench-ragged32.txt --reps $REPS"
echo "model $MODEL, sequence $SEQ, batches $BATCHES, threads $THREADS${RAGGED:+ (ragged batch)}"
log=$(mktemp)
for t in $THREADS; do
    ./build/bench_gemm --threads "$t" --reps 10 | tee /dev/stderr | awk '$1 == "ceiling_gflops" { print "ceiling", $3, $5, $7, $9 }' >> "$log"
done 2> /dev/null
grep '^ceiling' "$log" | awk '{ printf "ceiling (GFLOP/s, bench_gemm), %s thread(s): f32 %s bf16 %s int8 %s\n", $2, $3, $4, $5 }'
for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        ./build/bench_forward $SHAPEARG --threads "$t" $ARGS | awk '$1 == "bert.c" && $4 ~ /^R?[0-9]+$/ && $5 ~ /^[0-9.]+$/' | tee -a "$log"
        [ -n "$NO_BF16" ] || ./build/bench_forward $SHAPEARG --threads "$t" $ARGS --dtype bf16 |
            awk '$1 == "bert.c16" && $4 ~ /^R?[0-9]+$/ && $5 ~ /^[0-9.]+$/' | tee -a "$log"
        [ -n "$NO_INT8" ] || ./build/bench_forward $SHAPEARG --threads "$t" $ARGS --dtype int8 |
            awk '$1 == "bert.c8" && $4 ~ /^R?[0-9]+$/ && $5 ~ /^[0-9.]+$/' | tee -a "$log"
        /usr/bin/python3 bench/torch_forward.py "$MODEL" --threads "$t" $ARGS |
            awk '$1 == "pytorch" && $4 ~ /^R?[0-9]+$/ && $5 ~ /^[0-9.]+$/' | tee -a "$log"
        [ $ORT = no ] || "$ORTPY" bench/ort_forward.py "$MODEL" --threads "$t" $ARGS |
            awk '$1 == "onnxrt" && $4 ~ /^R?[0-9]+$/ && $5 ~ /^[0-9.]+$/' | tee -a "$log"
    done
done
# Summary: median over rounds of each (runtime, threads, batch) median, and the ratio.
echo
echo "summary (median over $ROUNDS rounds; ratios = bert.c latency / peer latency; bf16/best, int8/best = bert.c bf16 or int8 / fastest fp32 peer)"
awk '$1 == "ceiling" { cf[$2] = $3; cb[$2] = $4; ci[$2] = $5; next }
     { k = $3 " " $4; v[$1, k, ++n[$1, k]] = $5; keys[k] = 1; if (NF >= 8) gflop[$1, k] = $8 * $5 / 1e3 }
     function med(rt, k,   m, i, j, t, a) { m = n[rt, k]; for (i = 1; i <= m; i++) a[i] = v[rt, k, i];
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
         return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
     function pct(rt, k, ms, c) { return ms && c && gflop[rt, k] ? sprintf("%.0f%%", 100 * gflop[rt, k] / (ms / 1e3) / c) : "-" }
     END { printf "%-8s %-6s %10s %11s %10s %9s %9s %10s %10s %10s %10s %7s %7s %7s\n", "threads", "batch", "bert.c ms", "pytorch ms", "onnxrt ms",
                  "vs torch", "vs ort", "bf16 ms", "bf16/best", "int8 ms", "int8/best", "f32 %", "bf16 %", "int8 %"
           for (k in keys) { split(k, p, " "); b = med("bert.c", k); t = med("pytorch", k)
               o = n["onnxrt", k] ? med("onnxrt", k) : 0
               h = n["bert.c16", k] ? med("bert.c16", k) : 0
               q = n["bert.c8", k] ? med("bert.c8", k) : 0
               best = o && o < t ? o : t
               printf "%-8s %-6s %10.2f %11.2f %10s %9.2f %9s %10s %10s %10s %10s %7s %7s %7s\n", p[1], p[2], b, t,
                      o ? sprintf("%.2f", o) : "-", b / t, o ? sprintf("%.2f", b / o) : "-",
                      h ? sprintf("%.2f", h) : "-", h ? sprintf("%.2f", h / best) : "-",
                      q ? sprintf("%.2f", q) : "-", q ? sprintf("%.2f", q / best) : "-",
                      pct("bert.c", k, b, cf[p[1]]), pct("bert.c16", k, h, cb[p[1]]), pct("bert.c8", k, q, ci[p[1]]) } }' seq="$SEQ" "$log" | sort -n
echo "(f32 %, bf16 %, int8 %: bert.c's GFLOP/s at that row's median over the ceiling of its dtype and thread count)"
rm -f "$log"
