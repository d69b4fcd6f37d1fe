#!/bin/sh
# Single-task vs multi-task fine-tuning on GLUE dev (and NER + a sentence
# task), same budget for both arms: each multi-task epoch draws every
# task's batches once, so E multi-task epochs train on as many batches as
# the E-epoch single-task runs of all the tasks together. Same optimizer
# settings in both arms; the per-task figure is the best dev score of the
# task's own metric over the evaluations at epoch ends (OUT/TASK for
# multi-task, OUT/best for single-task).
#
# Usage: bench/multitask_glue.sh [OUT]     (from the repository root, after make)
# Env:   MODEL (models/bertc-mini-uncased), DATA (../shared/data), SEEDS ("1 2 3"),
#        EPOCHS (2), MAX_TRAIN (4000), THREADS (2), LR (5e-4: the bundled model's fine-tuning rate),
#        STRATEGIES ("proportional uniform temperature annealed round-robin"), NER (conll2003)
# Writes OUT/results.jsonl ({"arm","strategy","seed","task","metric","value"} per line)
# and prints the table (tools/multitask_table.py).
set -eu
out=${1:-build/mt-results}
model=${MODEL:-models/bertc-mini-uncased}
data=${DATA:-../shared/data}
seeds=${SEEDS:-1 2 3}
epochs=${EPOCHS:-2}
max_train=${MAX_TRAIN:-4000}
threads=${THREADS:-2}
strategies=${STRATEGIES:-proportional uniform temperature annealed round-robin}
ner=${NER:-conll2003}
bert=${BERT:-build/bert}
glue="rte mrpc stsb cola sst2"
mkdir -p "$out"
res=$out/results.jsonl
common="--data-dir $data --epochs $epochs --max-train $max_train --threads $threads --lr ${LR:-5e-4} --batch-size 32 --max-seq-len 128 --save-total-limit 1"

# report.json -> result lines. $1 arm, $2 strategy, $3 seed, $4 report, $5 task (single) or "" (multi)
collect() {
    python3 - "$@" >> "$res" <<'PY'
import json, sys
arm, strategy, seed, path, task = sys.argv[1:6]
r = json.load(open(path))
if task:  # single-task report.json: best_METRIC (sequence) or the best dev scores (token: f1)
    if "dev" in r:
        rows = [(task, "f1", r["dev"]["f1"])]
    else:
        k = [k for k in r if k.startswith("best_") and k not in ("best_step", "best_model", "best_epoch")][0]
        rows = [(task, k[5:], r[k])]
else:
    rows = [(t["name"], t["metric"], t.get("best")) for t in r["tasks"]]
for name, metric, value in rows:
    print(json.dumps({"arm": arm, "strategy": strategy, "seed": int(seed), "task": name, "metric": metric, "value": value}))
PY
}

for seed in $seeds; do
    for t in $glue $ner; do
        d=$out/single-$t-$seed
        [ -f "$d/report.json" ] || $bert finetune "$model" --output-dir "$d" --task "$t" --seed "$seed" $common > "$d.log" 2>&1 || { echo "FAILED $d"; tail -3 "$d.log"; }
        [ -f "$d/report.json" ] && collect single - "$seed" "$d/report.json" "$t"
    done
    for s in $strategies; do
        d=$out/multi-$s-$seed
        tasks=""
        for t in $glue; do tasks="$tasks --task $t"; done
        [ -f "$d/report.json" ] || $bert multitask "$model" --output-dir "$d" $tasks --sampling "$s" --seed "$seed" $common > "$d.log" 2>&1 || { echo "FAILED $d"; tail -3 "$d.log"; }
        [ -f "$d/report.json" ] && collect multi "$s" "$seed" "$d/report.json" ""
    done
    d=$out/multi-ner-sst2-$seed
    [ -f "$d/report.json" ] || $bert multitask "$model" --output-dir "$d" --task "$ner" --task sst2 --seed "$seed" $common > "$d.log" 2>&1 || { echo "FAILED $d"; tail -3 "$d.log"; }
    [ -f "$d/report.json" ] && collect multi ner+sst2 "$seed" "$d/report.json" ""
done
python3 tools/multitask_table.py "$res"
