#!/bin/sh
# Schema-Guided Dialogue with 0, 1 and 3 earlier turns as context (segment
# B, most recent first): the same recipe and seed each time; figures from
# report.json: intent accuracy over all user turns and over the turns whose
# intent only the history tells (history_intent_accuracy: the turn has an
# active intent but no INFORM_INTENT act), slot F1 and sentence accuracy,
# on dev (the first MAX_DEV turns) and test.
#
# Usage: bench/dialogue_context.sh [OUT]    (from the repository root, after make)
# Env:   MODEL (models/bertc-mini-uncased), DATA (../shared/data), CONTEXTS ("0 1 3"),
#        EPOCHS (1), LR (5e-4), SEED (1), MAX_DEV (5000), THREADS (2)
set -eu
out=${1:-build/dialogue-context}
model=${MODEL:-models/bertc-mini-uncased}
data=${DATA:-../shared/data}
bert=${BERT:-build/bert}
mkdir -p "$out"
for k in ${CONTEXTS:-0 1 3}; do
    d=$out/sgd-context-$k
    [ -f "$d/report.json" ] || $bert finetune "$model" --task sgd --data-dir "$data" --context-turns "$k" --output-dir "$d" \
        --epochs "${EPOCHS:-1}" --lr "${LR:-5e-4}" --batch-size 32 --max-seq-len 128 --seed "${SEED:-1}" \
        --max-dev "${MAX_DEV:-5000}" --threads "${THREADS:-2}" --save-total-limit 1 > "$d.log" 2>&1 || { echo "FAILED $d"; tail -3 "$d.log"; }
done
python3 - "$out" ${CONTEXTS:-0 1 3} <<'PY'
import json, sys
out, ks = sys.argv[1], sys.argv[2:]
print("| context turns | split | intent acc | intent acc, history-only turns (n) | slot F1 | sentence acc |")
print("|---|---|---|---|---|---|")
for k in ks:
    r = json.load(open(f"{out}/sgd-context-{k}/report.json"))
    for split in ("dev", "test"):
        m = r.get(split)
        if m:
            print(f"| {k} | {split} | {100*m['intent_accuracy']:.1f} | {100*m.get('history_intent_accuracy', float('nan')):.1f} "
                  f"({int(m.get('history_turns', 0))}) | {100*m['slot_f1']:.1f} | {100*m['sentence_accuracy']:.1f} |")
PY
