#!/bin/sh
# real_finetune_comparison.sh — fine-tuning from a real pre-trained checkpoint against the bundled
# bertc-mini and against random initialisation, same data, budget and seed, learning rates swept.
#
#   tools/real_finetune_comparison.sh RUNS [THREADS] [TASKS]     (TASKS default: "sst2 conll2003 squad")
#
# Needs ../shared/data (SST-2, CoNLL-2003, SQuAD v1.1) and the real all-MiniLM-L6-v2
# (tools/fetch_real_models.sh). The three starting points:
#   minilm   sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7 M parameters
#   mini     models/bertc-mini-uncased: the bundled model, 2 layers, hidden 128, 4.4 M parameters
#   random   `bert init` with MiniLM's shape and vocabulary (seed 42): what pre-training is worth
# Budgets (one seed, 42; dev scored at each --eval-steps and at the end):
#   sst2       1,000 steps x 32 sentences, 64 tokens, warmup 6 %; dev accuracy (872 sentences)
#   conll2003  1 epoch (878 steps x 16 sentences, 128 tokens); dev entity F1 (seqeval, 3,250 sentences)
#   squad      300 steps x 16 windows of 256 tokens (stride 128); official EM/F1 on the first
#              1,000 dev questions (the runs are long: fewer learning rates)
# Tasks may run at once in separate processes (one per core: THREADS 1). Each (task, model) is one
# `bert sweep` over the learning rates below; RUNS/TASK-MODEL/sweep.jsonl
# holds the best scores, RUNS/TASK-MODEL/lr*/log.jsonl the curves. Runs one after another; a sweep
# whose sweep.jsonl exists is skipped, so the script continues where it stopped.
set -u
R=${1:?usage: tools/real_finetune_comparison.sh RUNS [THREADS] [TASKS]}
T=${2:-2}
TASKS=${3:-"sst2 conll2003 squad"}
cd "$(dirname "$0")/.." || exit 1
B=${BERT:-build/bert}
D=${DATA:-../shared/data}
[ -d "$D/glue/SST-2" ] || { echo "real_finetune_comparison: needs $D (../shared/data)" >&2; exit 2; }
MINILM=$(tools/fetch_real_models.sh | head -n1) || { echo "real_finetune_comparison: no real model" >&2; exit 3; }
mkdir -p "$R" || exit 1
if [ ! -f "$R/random-minilm-shape/model.safetensors" ]; then
    $B init "$R/random-minilm-shape" --vocab "$MINILM/vocab.txt" --layers 6 --hidden 384 --heads 12 \
        --intermediate 1536 --seed 42 || exit 1
fi

sweep() { # TASK MODEL_NAME MODEL_DIR LRS FINETUNE_OPTIONS...
    task=$1 name=$2 dir=$3 lrs=$4
    shift 4
    out=$R/$task-$name
    [ -f "$out/sweep.jsonl" ] && return 0
    echo "$(date -u +%FT%TZ) $task $name lrs $lrs" >&2
    $B sweep "$dir" --output-dir "$out" --lrs "$lrs" --epochs 1 --batch-sizes "$BS" --seeds 42 -- \
        --task "$task" --data-dir "$D" --threads "$T" "$@" > "$out.log" 2>&1 ||
        echo "real_finetune_comparison: $task $name failed (see $out.log)" >&2
}

for task in $TASKS; do
    case $task in
        sst2)
            BS=32
            set -- --max-steps 1000 --max-seq-len 64 --warmup-ratio 0.06 --eval-steps 250 --save-total-limit 1 ;;
        conll2003)
            BS=16
            set -- --eval-steps 250 --save-total-limit 1 ;;
        squad)
            BS=16
            set -- --max-steps 300 --max-seq-len 256 --doc-stride 128 --max-dev 1000 --eval-steps 150 \
                   --save-total-limit 1 ;;
        *) echo "real_finetune_comparison: unknown task $task" >&2; exit 2 ;;
    esac
    case $task in
        sst2)
            sweep "$task" minilm "$MINILM" 2e-5,5e-5,1e-4 "$@"
            sweep "$task" mini models/bertc-mini-uncased 2e-5,5e-5,1e-4,5e-4 "$@"
            sweep "$task" random "$R/random-minilm-shape" 2e-5,5e-5,1e-4,5e-4 "$@" ;;
        conll2003)
            sweep "$task" minilm "$MINILM" 2e-5,5e-5,1e-4 "$@"
            sweep "$task" mini models/bertc-mini-uncased 5e-5,1e-4,5e-4 "$@"
            sweep "$task" random "$R/random-minilm-shape" 1e-4,5e-4 "$@" ;;
        squad)
            sweep "$task" minilm "$MINILM" 5e-5,1e-4 "$@"
            sweep "$task" mini models/bertc-mini-uncased 1e-4,5e-4 "$@"
            sweep "$task" random "$R/random-minilm-shape" 1e-4 "$@" ;;
    esac
done
