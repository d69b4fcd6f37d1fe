#!/bin/sh
# Joint intent + slot filling on SNIPS and ATIS: the bundled pre-trained
# model against the same shape randomly initialised (bert init), same
# recipe and seeds. Figures: test-set intent accuracy, slot F1 (seqeval,
# entity level) and sentence accuracy of the best dev model (by sentence
# accuracy), from each run's report.json.
#
# Usage: bench/dialogue_results.sh [OUT]    (from the repository root, after make)
# Env:   MODEL (models/bertc-mini-uncased), DATA (../shared/data), SEEDS ("1 2 3"),
#        EPOCHS (5), LR (5e-4), THREADS (2), TASKS ("snips atis"),
#        EXTRA (more finetune flags, e.g. --split-intents for ATIS's multi-label reading)
# Writes OUT/results.jsonl ({"init","task","seed","split","intent_accuracy","slot_f1","sentence_accuracy"})
# and prints a Markdown table.
set -eu
out=${1:-build/dialogue-results}
model=${MODEL:-models/bertc-mini-uncased}
data=${DATA:-../shared/data}
seeds=${SEEDS:-1 2 3}
epochs=${EPOCHS:-5}
lr=${LR:-5e-4}
threads=${THREADS:-2}
tasks=${TASKS:-snips atis}
bert=${BERT:-build/bert}
mkdir -p "$out"
random=$out/random-init
[ -f "$random/config.json" ] || $bert init "$random" --vocab "$model/vocab.txt" --layers 2 --hidden 128 --heads 2 --seed 1 > /dev/null
res=$out/results.jsonl
: > "$res"
for seed in $seeds; do
    for t in $tasks; do
        for init in pretrained random; do
            m=$model
            [ "$init" = random ] && m=$random
            d=$out/$t-$init-$seed
            [ -f "$d/report.json" ] || $bert finetune "$m" --task "$t" --data-dir "$data" --output-dir "$d" --epochs "$epochs" \
                --lr "$lr" --batch-size 32 --seed "$seed" --threads "$threads" --save-total-limit 1 ${EXTRA:-} > "$d.log" 2>&1 ||
                { echo "FAILED $d"; tail -3 "$d.log"; continue; }
            python3 - "$init" "$t" "$seed" "$d/report.json" >> "$res" <<'PY'
import json, sys
init, task, seed, path = sys.argv[1:5]
r = json.load(open(path))
for split in ("dev", "test"):
    if split in r:
        m = r[split]
        print(json.dumps({"init": init, "task": task, "seed": int(seed), "split": split,
                          **{k: m[k] for k in ("intent_accuracy", "slot_f1", "sentence_accuracy")}}))
PY
        done
    done
done
python3 - "$res" <<'PY'
import json, statistics, sys
from collections import defaultdict
cells = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["split"] == "test":
        for k in ("intent_accuracy", "slot_f1", "sentence_accuracy"):
            cells[(r["task"], r["init"], k)].append(100 * r[k])
print("| task | init | intent acc | slot F1 | sentence acc |")
print("|---|---|---|---|---|")
for (task, init) in sorted({(t, i) for t, i, _ in cells}):
    f = lambda k: "%.1f ± %.1f" % (statistics.mean(cells[(task, init, k)]), statistics.stdev(cells[(task, init, k)]) if len(cells[(task, init, k)]) > 1 else 0)
    print(f"| {task} | {init} | {f('intent_accuracy')} | {f('slot_f1')} | {f('sentence_accuracy')} |")
PY
