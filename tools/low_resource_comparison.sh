#!/bin/sh
# The issue-7 experiment with few labels: a pre-trained model against the same
# architecture from random init, fine-tuned on the first N training examples
# of SST-2 and CoNLL-2003, several seeds each (pre-training's advantage is
# largest when labelled data is scarce). Needs ../shared/data. Prints one line
# per run and the mean per (task, N, init); results in RUNS/*/report.json.
#
#   tools/low_resource_comparison.sh PT_MODEL RI_MODEL RUNS [THREADS] [SEEDS]
set -e
PT=$1 RI=$2 R=$3 T=${4:-1} SEEDS=${5:-"1 2 3"}
[ -n "$R" ] || { sed -n '2,8p' "$0"; exit 2; }
B=${BERT:-build/bert}
mkdir -p "$R"
run() { # name model args...
    name=$1 model=$2
    shift 2
    [ -f "$R/$name/report.json" ] || $B finetune "$model" --output-dir "$R/$name" --threads "$T" "$@" > "$R/$name.log" 2>&1
}
for n in 500 2000; do
    for s in $SEEDS; do
        for src in pt ri; do
            if [ $src = pt ]; then M=$PT; else M=$RI; fi
            run "sst2-n$n-$src-s$s" "$M" --task sst2 --max-train $n --epochs 5 --batch-size 32 --lr 5e-4 --warmup-ratio 0.06 \
                --seed $s
        done
    done
done
for n in 1000; do
    for s in $SEEDS; do
        for src in pt ri; do
            if [ $src = pt ]; then M=$PT; else M=$RI; fi
            run "conll-n$n-$src-s$s" "$M" --task conll2003 --max-train $n --epochs 5 --batch-size 16 --lr 1e-3 --seed $s
        done
    done
done
# summary: SST-2 best/final dev accuracy, CoNLL dev/test F1
for f in "$R"/sst2-*/report.json; do
    d=$(basename "$(dirname "$f")")
    printf '%s %s %s\n' "$d" "$(sed -n 's/.*"best_accuracy": \([0-9.]*\).*/\1/p' "$f")" \
        "$(sed -n 's/.*"final_accuracy": \([0-9.]*\).*/\1/p' "$f")"
done | awk '{ split($1, p, "-"); k = p[1] "-" p[2] "-" p[3]; b[k] += $2; f[k] += $3; c[k]++; print }
    END { for (k in c) printf "mean %s (%d seeds): best dev acc %.4f, final %.4f\n", k, c[k], b[k] / c[k], f[k] / c[k] }'
for f in "$R"/conll-*/report.json; do
    d=$(basename "$(dirname "$f")")
    dev=$(tr -d '\n' < "$f" | sed -n 's/.*"dev": {[^}]*"f1": \([0-9.]*\).*/\1/p')
    test=$(tr -d '\n' < "$f" | sed -n 's/.*"test": {"precision": [0-9.]*, "recall": [0-9.]*, "f1": \([0-9.]*\).*/\1/p')
    printf '%s %s %s\n' "$d" "$dev" "$test"
done | awk '{ split($1, p, "-"); k = p[1] "-" p[2] "-" p[3]; d[k] += $2; t[k] += $3; c[k]++; print }
    END { for (k in c) printf "mean %s (%d seeds): dev F1 %.4f, test F1 %.4f\n", k, c[k], d[k] / c[k], t[k] / c[k] }'
