#!/bin/sh
# The issue-7 experiment: bert.c's pre-trained model against the same architecture from random init,
# on SST-2, CoNLL-2003 and NCBI-disease, plus domain adaptation on the NCBI abstracts. Needs
# ../shared/data and the two model directories (see models/bertc-mini-uncased/MODEL_CARD.md for how
# PT and RI were made). Runs one after another (~30 min on 2 cores); results in RUNS/*/report.json.
#
#   tools/pretrain_comparison.sh PT_MODEL RI_MODEL NCBI_CORPUS.bin RUNS [THREADS]
set -e
PT=$1 RI=$2 NCBI=$3 R=$4 T=${5:-2}
[ -n "$R" ] || { sed -n '2,7p' "$0"; exit 2; }
B=${BERT:-build/bert}
mkdir -p "$R"
for src in pt ri; do
  if [ $src = pt ]; then M=$PT; else M=$RI; fi
  $B finetune "$M" --task sst2 --output-dir "$R/sst2-$src" --epochs 3 --batch-size 32 --lr 5e-4 --warmup-ratio 0.06 \
     --eval-steps 1000 --threads "$T" --seed 42 > "$R/sst2-$src.log" 2>&1
  $B finetune "$M" --task conll2003 --output-dir "$R/conll-$src" --epochs 3 --batch-size 16 --lr 1e-3 --threads "$T" \
     --seed 42 > "$R/conll-$src.log" 2>&1
  $B finetune "$M" --task ncbi --output-dir "$R/ncbi-$src" --epochs 5 --batch-size 16 --lr 1e-3 --threads "$T" \
     --seed 42 > "$R/ncbi-$src.log" 2>&1
done
$B pretrain "$PT" --corpus "$NCBI" --output-dir "$R/ncbi-adapt" --epochs 10 --batch-size 32 --lr 5e-4 \
   --warmup-ratio 0.05 --heldout-docs 30 --eval-steps 100 --seed 42 --threads "$T" > "$R/ncbi-adapt.log" 2>&1
$B finetune "$R/ncbi-adapt/model" --task ncbi --output-dir "$R/ncbi-adapted" --epochs 5 --batch-size 16 --lr 1e-3 \
   --threads "$T" --seed 42 > "$R/ncbi-adapted.log" 2>&1
grep -h "^done" "$R"/*.log
