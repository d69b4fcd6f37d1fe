#!/bin/sh
# bench/compare_train.sh — one training step (forward + backward + AdamW,
# sequence classifier) of bert.c against PyTorch, bert-base shape, batch 8 x
# sequence 128, single thread, interleaved rounds; bert.c also with
# --dtype bf16 (mixed precision) where the machine can run it, and PyTorch
# also under torch.autocast(bfloat16).
#   bench/compare_train.sh [LAYERS] [ROUNDS]     (defaults: 2 layers, 3 rounds)
set -e
LAYERS=${1:-2}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
make -s build/bench_forward build/bench_train build/bert
./build/bench_forward --layers "$LAYERS" --write-only
hint=$(./build/bert version | sed -n 's/.*core: \([A-Za-z]*\).*/\1/p')
: "${OPENBLAS_CORETYPE:=$hint}"
export OPENBLAS_CORETYPE
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
for r in $(seq "$ROUNDS"); do
    ./build/bench_train "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1
    ./build/bench_train "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 --dtype bf16 || true
    /usr/bin/python3 bench/torch_train.py "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1
    /usr/bin/python3 bench/torch_train.py "build/bench-model-L$LAYERS" --batch 8 --seq 128 --reps 5 --threads 1 --bf16
done
