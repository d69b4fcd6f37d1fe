#!/bin/sh
# bench/dtype_accuracy.sh — how much --dtype bf16 and --dtype int8 change task
# answers on real text, against the exact f32 path of the same model.
#
#   bench/dtype_accuracy.sh MLM_MODEL_DIR CLASSIFIER_DIR [SST2_DEV_TSV]
#
# fill-mask: each sentence of SST-2 dev (GLUE) with its middle word replaced
# by [MASK]; reports how often the top-1 token is the same in f32 and in
# bf16 / int8 (each where `bert version` says it can run).
# classify: the same sentences through CLASSIFIER_DIR (a fine-tuned
# sequence classifier); reports label agreement and both accuracies against
# the gold labels (labels "0"/"1", "LABEL_k" or negative/positive). Needs jq. Default data: ../shared/data/glue/SST-2/dev.tsv.
set -e
MLM=${1:?usage: bench/dtype_accuracy.sh MLM_MODEL_DIR CLASSIFIER_DIR [SST2_DEV_TSV]}
CLS=${2:?usage: bench/dtype_accuracy.sh MLM_MODEL_DIR CLASSIFIER_DIR [SST2_DEV_TSV]}
cd "$(dirname "$0")/.."
TSV=${3:-../shared/data/glue/SST-2/dev.tsv}
command -v jq >/dev/null || { echo "dtype_accuracy.sh: needs jq (apt-get install jq)" >&2; exit 1; }
make -s build/bert
dtypes=""
for d in bf16 int8; do
    if ./build/bert version | grep -q "$d: yes"; then dtypes="$dtypes $d"; else echo "dtype_accuracy.sh: $d unavailable here" >&2; fi
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tail -n +2 "$TSV" | cut -f1 | jq -R -c '{text: .}' > "$dir/texts.jsonl"
tail -n +2 "$TSV" | cut -f2 > "$dir/gold"
jq -c '.text | split(" ") | map(select(. != "")) | (length / 2 | floor) as $m | .[$m] = "[MASK]" | {text: join(" ")}' \
    "$dir/texts.jsonl" > "$dir/masked.jsonl"
for d in f32 $dtypes; do
    ./build/bert fill-mask "$MLM" --top-k 1 --dtype "$d" --input "$dir/masked.jsonl" | jq -r '.[0].token' > "$dir/fill.$d"
    ./build/bert classify "$CLS" --top-k 1 --dtype "$d" --input "$dir/texts.jsonl" | jq -r '.[0].label | if . == "negative" then "0" elif . == "positive" then "1" else sub("^LABEL_"; "") end' > "$dir/cls.$d"
done
n=$(wc -l < "$dir/gold")
for d in $dtypes; do
    paste "$dir/fill.f32" "$dir/fill.$d" | awk -v n="$n" -v d="$d" '$1 == $2 { s++ } END { printf "fill-mask top-1 agreement f32 vs %s: %d / %d (%.2f %%)\n", d, s, n, 100 * s / n }'
    paste "$dir/cls.f32" "$dir/cls.$d" "$dir/gold" | awk -v n="$n" -v d="$d" '
        $1 == $2 { agree++ } $1 == $3 { a32++ } $2 == $3 { a16++ }
        END { printf "classify label agreement f32 vs %s: %d / %d (%.2f %%); accuracy f32 %.2f %%, %s %.2f %%\n",
                     d, agree, n, 100 * agree / n, 100 * a32 / n, d, 100 * a16 / n }'
done
