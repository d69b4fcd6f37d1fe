#!/bin/sh
# killtrial.sh — the kill -9 trial. `bert finetune` on the fixture model with
# a checkpoint every step and pruning (--save-steps 1 --save-total-limit 2)
# is killed with SIGKILL, itself and its process group, at a random moment
# (uniform over the first 80 % of the time an uninterrupted run takes here);
# then every directory under a final name (checkpoint-STEP, best) must load
# (`bert info`) and every checkpoint must resume (`--resume` for one step,
# into a scratch directory). Each trial continues in the same output
# directory: odd trials resume its newest checkpoint (unless that is the
# last step), even ones start over,
# so runs start among what killed runs left (and clean it).
#
# Usage: tests/killtrial.sh BUILD_DIR [TRIALS (5)] [SEED (1)]
# Prints "PASS killtrial (...counts...)" or FAIL lines naming the trial.
build=${1:?usage: killtrial.sh BUILD_DIR [TRIALS] [SEED]}
trials=${2:-5}
seed=${3:-1}
BERT=$build/bert
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FT=tests/fixtures/finetune
MODEL=tests/fixtures/tasks/mlm
ARGS="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 8 --batch-size 8
      --save-steps 1 --save-total-limit 2 --eval-steps 2 --seed 5 --threads 1 --lr 1e-3"
OUT=$T/out
total=24 # steps of a whole run: 24 examples / 8 a batch x 8 epochs
# How long a whole run takes here (ms, the faster of two): the kills fall
# uniformly within the first 80 % of it.
run_ms=0
for k in 1 2; do
    t0=$(date +%s%N)
    "$BERT" finetune "$MODEL" --output-dir "$T/calibrate" $ARGS > /dev/null 2>&1 || { echo "FAIL killtrial (the uninterrupted run failed)"; exit 1; }
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ $run_ms -eq 0 ] || [ $ms -lt $run_ms ] && run_ms=$ms
    rm -rf "$T/calibrate"
done
# Random delays (ms) for the kills, from the seed.
awk -v s="$seed" -v n="$trials" -v d="$run_ms" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%d\n", int(rand() * d * 0.8) }' > "$T/delays"
killed=0 finished=0 loaded=0 resumed=0 leftovers=0 bad=0 i=0
while read -r ms; do
    i=$((i + 1))
    newest=$(ls "$OUT" 2> /dev/null | sed -n 's/^checkpoint-\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1)
    set --
    [ $((i % 2)) -eq 1 ] && [ -n "$newest" ] && [ "$newest" -lt $total ] && set -- --resume "$OUT/checkpoint-$newest"
    setsid "$BERT" finetune "$MODEL" --output-dir "$OUT" $ARGS "$@" > /dev/null 2> "$T/run.err" &
    pid=$!
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    if kill -0 "$pid" 2> /dev/null; then
        kill -KILL -- "-$pid" 2> /dev/null
        kill -KILL "$pid" 2> /dev/null
        killed=$((killed + 1))
    else
        finished=$((finished + 1))
    fi
    wait "$pid" 2> /dev/null
    ls -a "$OUT" 2> /dev/null | grep -q -E '\.(tmp|old)$|\.(tmp|removing|copying|replaced)\.[0-9]' && leftovers=$((leftovers + 1))
    for d in "$OUT"/checkpoint-* "$OUT"/best; do
        [ -e "$d" ] || continue
        name=${d##*/}
        case $name in checkpoint-*[!0-9]*) continue ;; esac
        if "$BERT" info "$d" > /dev/null 2> "$T/info.err"; then loaded=$((loaded + 1)); else
            echo "FAIL killtrial_$i ($name does not load after a kill at ${ms} ms: $(head -n 1 "$T/info.err"))"
            bad=$((bad + 1))
            continue
        fi
        case $name in checkpoint-*) ;; *) continue ;; esac
        step=${name#checkpoint-}
        rm -rf "$T/r"
        if "$BERT" finetune "$MODEL" --output-dir "$T/r" $ARGS --resume "$d" --stop-at-step $((step + 1)) > /dev/null 2> "$T/resume.err"; then
            resumed=$((resumed + 1))
        else
            echo "FAIL killtrial_$i ($name does not resume after a kill at ${ms} ms: $(tail -n 1 "$T/resume.err"))"
            bad=$((bad + 1))
        fi
    done
done < "$T/delays"
summary="$trials trials over a ${run_ms} ms run, $killed killed mid-run, $finished ended first, $leftovers left temporary names, $loaded directories loaded, $resumed checkpoints resumed"
if [ $bad -eq 0 ] && [ $loaded -gt 0 ] && [ $killed -gt 0 ]; then echo "PASS killtrial ($summary)"; else echo "FAIL killtrial ($summary; $bad failed checks)"; fi
[ $bad -eq 0 ]
