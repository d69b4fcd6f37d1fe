#!/bin/sh
# bench/extras.sh — what matters besides latency, in one run:
#   1. the machine's matrix-product ceiling (build/bench_gemm: OpenBLAS sgemm,
#      bert.c's fp32 product, oneDNN bf16), 1 and all threads;
#   2. peak memory (max RSS) of each runtime running the same forward passes
#      (bert-base shape, LAYERS layers, batches 1 and 8 x 128 tokens, 3 reps);
#   3. cold start: a fresh process that loads the model and answers one
#      sentence (`bert embed`, tokenization included) against PyTorch
#      (import torch + load + forward of the same ids) and ONNX Runtime
#      (session creation + one run), median of ROUNDS.
#   bench/extras.sh [LAYERS] [ROUNDS]     (defaults 2, 5); run bench/compare.sh first
#   (it installs the peers and exports the ONNX model).
set -e
LAYERS=${1:-2}
ROUNDS=${2:-5}
cd "$(dirname "$0")/.."
make -s build/bench_gemm build/bench_forward build/bert
MODEL=build/bench-model-L$LAYERS
./build/bench_forward --layers "$LAYERS" --write-only
for f in vocab.txt tokenizer_config.json special_tokens_map.json; do cp -n models/random-tiny-uncased/$f "$MODEL/" 2>/dev/null || true; done
hint=$(./build/bert version | sed -n 's/.*core: \([A-Za-z]*\).*/\1/p')
: "${OPENBLAS_CORETYPE:=$hint}"
export OPENBLAS_CORETYPE
ORT=no
[ -f "$MODEL/model.onnx" ] && ORTPY=$(tools/pyenv.sh onnxruntime) && ORT=yes
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)  cores: $(nproc)"

echo "== 1. matrix-product ceiling"
for t in 1 $(nproc); do ./build/bench_gemm --threads "$t" --reps 15; done

echo "== 2. peak RSS (MB), forward batches 1 and 8 x 128, $LAYERS layers, model file $(du -m "$MODEL/model.safetensors" | cut -f1) MB"
rss() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
for t in 1 $(nproc); do
    b=$(rss ./build/bench_forward --layers "$LAYERS" --threads "$t" --reps 3)
    p=$(rss /usr/bin/python3 bench/torch_forward.py "$MODEL" --threads "$t" --reps 3)
    o=-; [ $ORT = no ] || o=$(rss "$ORTPY" bench/ort_forward.py "$MODEL" --threads "$t" --reps 3)
    echo "threads $t: bert.c $((b / 1024))  pytorch $((p / 1024))  onnxrt $([ "$o" = - ] && echo - || echo $((o / 1024)))"
done

echo "== 3. cold start (ms, fresh process, one sentence), median of $ROUNDS"
printf '{"text": "The quick brown fox jumps over the lazy dog."}\n' > build/cold.jsonl
cat > build/cold_torch.py <<EOF
import sys, torch
sys.path.insert(0, "tools")
import bert_reference
torch.set_num_threads(1)
cfg, sd = bert_reference.load_model_dir("$MODEL")
ids = torch.tensor([[101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102]])
with torch.inference_mode():
    bert_reference.forward(cfg, sd, ids, torch.zeros_like(ids), torch.ones_like(ids))
EOF
cat > build/cold_ort.py <<EOF
import numpy as np, onnxruntime as ort
so = ort.SessionOptions()
so.intra_op_num_threads = 1
s = ort.InferenceSession("$MODEL/model.onnx", so, providers=["CPUExecutionProvider"])
ids = np.array([[101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102]], dtype=np.int64)
s.run(None, {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": np.ones_like(ids)})
EOF
ms() { s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - s) / 1000000)); }
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cb=""; cp=""; co=""
for r in $(seq "$ROUNDS"); do
    cb="$cb $(ms ./build/bert embed "$MODEL" --threads 1 --input build/cold.jsonl)"
    cp="$cp $(ms /usr/bin/python3 build/cold_torch.py)"
    [ $ORT = no ] || co="$co $(ms "$ORTPY" build/cold_ort.py)"
done
echo "bert.c $(echo $cb | tr ' ' '\n' | med)  pytorch $(echo $cp | tr ' ' '\n' | med)  onnxrt $([ $ORT = no ] && echo - || echo $co | tr ' ' '\n' | med)"
