#!/bin/sh
# bench/gpu.sh [LAYERS] [REPS] — bert.c with --device cuda against PyTorch
# eager on the same GPU (tools/bert_reference.py through bench/torch_forward.py,
# f32 with TF32 off on both sides), bert-base shape (default 12 layers),
# batches 1, 8, 32 at sequences 128 and 512; median ms of REPS (default 20)
# after a warm-up, and bert.c / PyTorch. Runs only where an NVIDIA GPU is
# (exit 77 otherwise); the PyTorch column needs Debian's python3-torch built
# with CUDA (else bert.c alone). torch.compile needs PyTorch 2; Debian's 1.13
# has none, so no compiled column.
LAYERS=${1:-12}
REPS=${2:-20}
make -s -j"$(nproc)" build/bert build/bench_forward >/dev/null || exit 1
why=$(build/bert --version | sed -n 's/^cuda: //p')
case "$why" in
yes*) ;;
*) echo "bench/gpu.sh: no GPU path here: $why" >&2; exit 77 ;;
esac
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
build/bench_forward --layers "$LAYERS" --write-only >/dev/null
MODEL=build/bench-model-L$LAYERS
TORCH=yes
/usr/bin/python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null || TORCH=no
[ $TORCH = yes ] || echo "bench/gpu.sh: python3-torch here has no CUDA: bert.c alone" >&2
log=$(mktemp)
for seq in 128 512; do
    build/bench_forward --layers "$LAYERS" --device cuda --seq $seq --batches 1,8,32 --reps "$REPS" |
        awk -v s=$seq '$1 == "bert.c" { print "bertc", s, $4, $5 }' >> "$log"
    [ $TORCH = yes ] && /usr/bin/python3 bench/torch_forward.py "$MODEL" --device cuda --seq $seq --batches 1,8,32 \
        --reps "$REPS" --threads 1 | awk -v s=$seq '$1 == "pytorch" { print "torch", s, $4, $5 }' >> "$log"
done
echo "bert-base shape, $LAYERS layers, f32 (TF32 off), median ms of $REPS"
awk '{ t[$1 " " $2 " " $3] = $4; k[$2 " " $3] = 1 }
     END { printf "%-6s %-6s %12s %12s %10s\n", "seq", "batch", "bert.c ms", "pytorch ms", "ratio"
           for (x in k) { split(x, a, " "); b = t["bertc " x]; p = t["torch " x]
               printf "%-6s %-6s %12s %12s %10s\n", a[1], a[2], b, p ? p : "-", p ? sprintf("%.2f", b / p) : "-" } }' "$log" | sort -n -k1,1 -k2,2
rm -f "$log"
