#!/bin/sh
# test_mpi.sh — data-parallel training under mpirun (Open MPI) on the fixture
# models, dropout on (each rank draws its piece of the whole batch's masks):
# N ranks x batch b give the weights of one process x batch N*b (within
# 1e-5 of each tensor's largest value: measured up to 7e-7 in the release
# build, 7e-6 in the -O1 sanitizer build, the float sums taken in another
# order; tensors whose true gradient is zero, ZERO_GRAD below, within 1e-2
# absolute: st_close says why) and the same logged losses, gradient norms
# and evaluation scores (1e-5 relative; AdamW's update hardly changes when
# every gradient is scaled alike, the norm does), for a sequence (with a
# test set), a token (3 uneven ranks, one with an empty share, gradient
# accumulation), a QA, a dialogue, a pre-training and a multi-task run; a
# 2-rank checkpoint resumes in one process, resuming under 2 ranks equals the
# straight run bit for bit; --device cuda ranks (on the CUDA emulator, a GPU
# each, sums by NCCL or on the host) equal one CPU process, and a
# before_step hook sees the ranks' sum (tests/cuda_emu/dist_hook.c); bf16 gradients stay near f32; SIGUSR1 stops
# every rank at one step; a killed or hung rank ends the job within a
# bounded time; the collectives (tests/dist_check.c). SKIP where mpirun is
# missing or the binary was built without MPI.
BERT=${BERT:-build/bert}
BUILD=$(dirname "$BERT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=mpi_
. tests/cli/lib.sh
FT=tests/fixtures/finetune
M=models/bertc-tiny-uncased
mpi_or_skip
SAME="$BUILD/st_close"

# same NAME RUN_A RUN_B CHECKPOINTS...: every checkpoint's weights within the
# bound (ZERO_GRAD: the tensors with a true gradient of zero, st_close says why).
ZERO_GRAD=key.bias
same() {
    name=$1 a=$2 b=$3
    shift 3
    ok=1
    : > "$TMP/same.txt"
    for c in "$@"; do
        for f in model heads; do
            [ -f "$a/$c/$f.safetensors" ] || continue
            "$SAME" "$a/$c/$f.safetensors" "$b/$c/$f.safetensors" 1e-5 "$ZERO_GRAD" 1e-2 >> "$TMP/same.txt" 2>&1 || ok=0
        done
        [ -f "$b/$c/model.safetensors" ] || ok=0
    done
    grep -h '^exit ' "$a.err" "$b.err" >> "$TMP/same.txt" && ok=0 # a run (a rank) failed
    # The training lines' loss and grad_norm, in order, within 1e-5 relative
    # (a resumed run's log holds the last lines).
    for f in loss grad_norm eval_loss eval_accuracy eval_f1 eval_mlm_loss eval_mlm_accuracy; do
        grep -o "\"$f\":[-0-9.e]*" "$b/log.jsonl" | cut -d: -f2 > "$TMP/lb"
        grep -o "\"$f\":[-0-9.e]*" "$a/log.jsonl" | cut -d: -f2 | tail -n "$(wc -l < "$TMP/lb")" > "$TMP/la"
        [ -s "$TMP/la" ] || [ $f != loss ] || ok=0
        paste "$TMP/la" "$TMP/lb" | awk -v f=$f '{ d = $1 - $2; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1
            if ($2 == "" || d > 1e-5 * m + 1e-6) { print f ": " $1 " vs " $2; bad = 1 } } END { exit bad }' >> "$TMP/same.txt" || ok=0
    done
    if [ $ok -eq 1 ]; then pass "$name"; else fail "$name" "$TMP/same.txt"; fi
}

# A sequence task: 2 ranks x 4 = 1 x 8.
SEQ="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 2 --lr 1e-3 --seed 5 --threads 1 --save-steps 3 --save-total-limit 0 --log-steps 1"
"$BERT" finetune $M --output-dir "$TMP/s1" $SEQ --batch-size 8 > /dev/null 2> "$TMP/s1.err" || echo "exit $?" >> "$TMP/s1.err"
$MPIRUN -np 2 "$BERT" finetune $M --output-dir "$TMP/s2" $SEQ --batch-size 4 --test $FT/dev.tsv > /dev/null 2> "$TMP/s2.err" || echo "exit $?" >> "$TMP/s2.err"
same sequence_2_ranks_equal_the_global_batch "$TMP/s1" "$TMP/s2" checkpoint-3 checkpoint-6
# The test set is scored by rank 0 alone, after the others have left.
if grep -q '"test_accuracy"' "$TMP/s2/report.json" 2> /dev/null && ! grep -q '^exit ' "$TMP/s2.err"; then
    pass test_set_scored_by_rank_0; else fail test_set_scored_by_rank_0 "$TMP/s2.err"; fi
# Rank 0 alone prints the run's lines.
if [ "$(grep -c 'done: best' "$TMP/s2.err")" -eq 1 ] && [ "$(grep -c '^step 6/6' "$TMP/s2.err")" -eq 1 ]; then
    pass rank_0_speaks_for_the_job; else fail rank_0_speaks_for_the_job "$TMP/s2.err"; fi

# A token task on 3 ranks: 29 examples in global batches of 9 (the last, of 2,
# leaves rank 0 an empty share), 2 micro-batches per step.
TOK="--task-type token --train $FT/ner_train.jsonl --dev $FT/ner_dev.conll --max-train 29 --epochs 3 --grad-accum 2 --lr 3e-3 --seed 3 --threads 1 --save-steps 2 --save-total-limit 0 --log-steps 1"
"$BERT" finetune $M --output-dir "$TMP/t1" $TOK --batch-size 9 > /dev/null 2> "$TMP/t1.err" || echo "exit $?" >> "$TMP/t1.err"
$MPIRUN -np 3 "$BERT" finetune $M --output-dir "$TMP/t3" $TOK --batch-size 3 > /dev/null 2> "$TMP/t3.err" || echo "exit $?" >> "$TMP/t3.err"
same token_3_uneven_ranks_equal_the_global_batch "$TMP/t1" "$TMP/t3" checkpoint-2 checkpoint-4 checkpoint-6

# --device cuda on the CUDA emulator (the tool built against it,
# bert-cuda-emu, listing BERT_EMU_GPUS GPUs): each rank trains its layers
# on the GPU of its rank on the machine, the ranks' sums of their gradients
# taken on the GPUs by NCCL (the emulator's stand-in sums over MPI) where
# each rank has a GPU of its own (3 GPUs), else on the host (one GPU for
# all; or BERT_CUDA_ALLREDUCE=host); 2 ranks (sequence) and 3 uneven ones
# with an empty share and gradient accumulation (token) equal one CPU
# process with the global batch; every rank launched kernels on its GPU,
# freed what it allocated, and summed by NCCL once a step (6 steps each) or
# never.
EMU="$BUILD/bert-cuda-emu"
# emu_ran NAME N SUMS SHARED ERRFILE: N ranks' emulator reports, each with
# kernels launched, nothing left, SUMS NCCL all-reduces (0: NCCL never
# loaded or never summed), on GPUs 0 .. N-1 (SHARED 1: all on GPU 0).
emu_ran() {
    grep -o '^cuda-emu: [1-9][0-9]* kernels launched, 0 allocations left, GPUs made current: [0-9]*$' "$5" |
        sed 's/.* //' | sort -n | tr '\n' ' ' > "$TMP/gpus"
    want=$(i=0; while [ $i -lt $2 ]; do [ $4 = 1 ] && echo 0 || echo $i; i=$((i + 1)); done | tr '\n' ' ')
    if [ "$(cat "$TMP/gpus")" = "$want" ] &&
        { [ "$(grep -c "^cuda-emu: NCCL summed $3 times$" "$5")" -eq "$2" ] || { [ $3 = 0 ] && ! grep -q 'NCCL summed' "$5"; }; }; then
        pass "$1"; else echo "GPUs: $(cat "$TMP/gpus")(want $want)" >> "$5"; fail "$1" "$5"; fi
}
if [ -x "$EMU" ]; then
    for sums in nccl shared host; do
        n=6 gpus=3 env=nccl shared=0
        [ $sums = shared ] && n=0 gpus=1 shared=1
        [ $sums = host ] && n=0 env=host
        BERT_EMU_GPUS=$gpus BERT_CUDA_ALLREDUCE=$env BERT_EMU_REPORT=1 $MPIRUN -x BERT_EMU_GPUS -x BERT_EMU_REPORT -x BERT_CUDA_ALLREDUCE \
            -np 2 "$EMU" finetune $M --output-dir "$TMP/sg$sums" $SEQ --batch-size 4 --device cuda > /dev/null 2> "$TMP/sg$sums.err" ||
            echo "exit $?" >> "$TMP/sg$sums.err"
        same cuda_${sums}_sequence_2_ranks_equal_one_cpu_process "$TMP/s1" "$TMP/sg$sums" checkpoint-3 checkpoint-6
        emu_ran cuda_${sums}_sequence_every_rank_on_its_gpu 2 $n $shared "$TMP/sg$sums.err"
        BERT_EMU_GPUS=$gpus BERT_CUDA_ALLREDUCE=$env BERT_EMU_REPORT=1 $MPIRUN -x BERT_EMU_GPUS -x BERT_EMU_REPORT -x BERT_CUDA_ALLREDUCE \
            -np 3 "$EMU" finetune $M --output-dir "$TMP/tg$sums" $TOK --batch-size 3 --device cuda > /dev/null 2> "$TMP/tg$sums.err" ||
            echo "exit $?" >> "$TMP/tg$sums.err"
        same cuda_${sums}_token_3_uneven_ranks_equal_one_cpu_process "$TMP/t1" "$TMP/tg$sums" checkpoint-2 checkpoint-4 checkpoint-6
        emu_ran cuda_${sums}_token_every_rank_on_its_gpu 3 $n $shared "$TMP/tg$sums.err"
    done
    # The loop's before_step hook taking the gradient block: every rank sees
    # the ranks' sum there (NCCL's sums of the layers taken first), the weights
    # stay equal (compared after every step); NCCL summed once, then the host.
    BERT_EMU_GPUS=2 BERT_EMU_REPORT=1 $MPIRUN -x BERT_EMU_GPUS -x BERT_EMU_REPORT -np 2 "$BUILD/dist_hook_emu" \
        tests/fixtures/train/single-label "$TMP/hook" > "$TMP/hook.out" 2>&1
    if [ $? -eq 0 ] && [ "$(grep -c '^ok$' "$TMP/hook.out")" -eq 2 ] && [ "$(grep -c '^cuda-emu: NCCL summed 1 times$' "$TMP/hook.out")" -eq 2 ]; then
        pass cuda_nccl_before_step_sees_the_ranks_sum; else fail cuda_nccl_before_step_sees_the_ranks_sum "$TMP/hook.out"; fi
else
    skip cuda_data_parallel "no $EMU (make $EMU)"
fi

# Extractive QA (3 ranks, uneven) and joint intent + slots (2 ranks): in QA,
# qa_outputs.bias and the last layer's output LayerNorm bias shift every
# token's start and end logits alike, so their true gradient is zero too.
QA="--task-type qa --train $FT/qa_train.json --dev $FT/qa_dev.json --epochs 1 --max-seq-len 64 --doc-stride 16 --lr 1e-3 --seed 3 --threads 1 --save-steps 1 --save-total-limit 0 --log-steps 1"
"$BERT" finetune tests/fixtures/tasks/qa --output-dir "$TMP/q1" $QA --batch-size 6 > /dev/null 2> "$TMP/q1.err" || echo "exit $?" >> "$TMP/q1.err"
$MPIRUN -np 3 "$BERT" finetune tests/fixtures/tasks/qa --output-dir "$TMP/q3" $QA --batch-size 2 > /dev/null 2> "$TMP/q3.err" || echo "exit $?" >> "$TMP/q3.err"
ZERO_GRAD=key.bias,qa_outputs.bias,layer.1.output.LayerNorm.bias
same qa_3_ranks_equal_the_global_batch "$TMP/q1" "$TMP/q3" checkpoint-1 checkpoint-2
DLG="--task-type dialogue --train tests/fixtures/dialogue/layout/train --dev tests/fixtures/dialogue/layout/valid --epochs 2 --lr 3e-3 --seed 3 --threads 1 --save-steps 2 --save-total-limit 0 --log-steps 1"
"$BERT" finetune tests/fixtures/tasks/mlm --output-dir "$TMP/g1" $DLG --batch-size 8 > /dev/null 2> "$TMP/g1.err" || echo "exit $?" >> "$TMP/g1.err"
$MPIRUN -np 2 "$BERT" finetune tests/fixtures/tasks/mlm --output-dir "$TMP/g2" $DLG --batch-size 4 > /dev/null 2> "$TMP/g2.err" || echo "exit $?" >> "$TMP/g2.err"
# The same on emulated GPUs, the heads there too (QA's qa_outputs; the joint
# model's pooler and two classifiers, its two dropout masks a part's pieces):
# equal to one CPU process with the global batch.
if [ -x "$EMU" ]; then
    BERT_EMU_GPUS=3 $MPIRUN -x BERT_EMU_GPUS -np 3 "$EMU" finetune tests/fixtures/tasks/qa --output-dir "$TMP/qg" $QA --batch-size 2 \
        --device cuda > /dev/null 2> "$TMP/qg.err" || echo "exit $?" >> "$TMP/qg.err"
    same cuda_qa_3_ranks_equal_one_cpu_process "$TMP/q1" "$TMP/qg" checkpoint-1 checkpoint-2
fi
ZERO_GRAD=key.bias
same dialogue_2_ranks_equal_the_global_batch "$TMP/g1" "$TMP/g2" checkpoint-2 checkpoint-4
if [ -x "$EMU" ]; then
    BERT_EMU_GPUS=2 $MPIRUN -x BERT_EMU_GPUS -np 2 "$EMU" finetune tests/fixtures/tasks/mlm --output-dir "$TMP/gg" $DLG --batch-size 4 \
        --device cuda > /dev/null 2> "$TMP/gg.err" || echo "exit $?" >> "$TMP/gg.err"
    same cuda_dialogue_2_ranks_equal_one_cpu_process "$TMP/g1" "$TMP/gg" checkpoint-2 checkpoint-4
fi

# Pre-training (MLM + NSP): 2 ranks x 3 = 1 x 6.
PT="--corpus $FT/pretrain_corpus.txt --epochs 2 --lr 3e-3 --heldout-docs 2 --eval-steps 0 --save-steps 2 --threads 1 --save-total-limit 0 --seed 3 --log-steps 1 --checksum-steps 1"
"$BERT" pretrain $M --output-dir "$TMP/p1" $PT --batch-size 6 > /dev/null 2> "$TMP/p1.err" || echo "exit $?" >> "$TMP/p1.err"
$MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/p2" $PT --batch-size 3 > /dev/null 2> "$TMP/p2.err" || echo "exit $?" >> "$TMP/p2.err"
same pretraining_2_ranks_equal_the_global_batch "$TMP/p1" "$TMP/p2" checkpoint-2 checkpoint-4 checkpoint-8
# Pre-training with its heads on the (emulated) GPUs: the MLM and NSP terms
# divided by the whole batch's counts there, summed by NCCL or on the host.
if [ -x "$EMU" ]; then
    for sums in nccl host; do
        n=8 env=nccl
        [ $sums = host ] && n=0 env=host
        BERT_EMU_GPUS=2 BERT_CUDA_ALLREDUCE=$env BERT_EMU_REPORT=1 $MPIRUN -x BERT_EMU_GPUS -x BERT_EMU_REPORT -x BERT_CUDA_ALLREDUCE \
            -np 2 "$EMU" pretrain $M --output-dir "$TMP/pg$sums" $PT --batch-size 3 --device cuda > /dev/null 2> "$TMP/pg$sums.err" ||
            echo "exit $?" >> "$TMP/pg$sums.err"
        same cuda_${sums}_pretraining_2_ranks_equal_one_cpu_process "$TMP/p1" "$TMP/pg$sums" checkpoint-2 checkpoint-4 checkpoint-8
        emu_ran cuda_${sums}_pretraining_every_rank_on_its_gpu 2 $n 0 "$TMP/pg$sums.err"
    done
    # A rank whose NCCL sum never ends (the emulator's BERT_EMU_NCCL_HANG:
    # rank 1's third, so rank 0's waits for it for ever too, as when a rank
    # stops) ends the job after --dist-timeout with NCCL's message instead of
    # hanging; the checkpoint before it loads.
    rm -rf "$TMP/nh"
    BERT_EMU_GPUS=2 BERT_EMU_NCCL_HANG=3@1 timeout 120 $MPIRUN -x BERT_EMU_GPUS -x BERT_EMU_NCCL_HANG -np 2 "$EMU" pretrain $M \
        --output-dir "$TMP/nh" $PT --batch-size 3 --device cuda --dist-timeout 2 > "$TMP/nh.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && "$BERT" info "$TMP/nh/checkpoint-2" > /dev/null 2>&1 &&
        grep -q "NCCL: summing the gradients over the ranks: no answer from the other ranks in 2 s" "$TMP/nh.out"; then
        pass cuda_nccl_sum_without_an_end_ends_the_job; else echo "exit $rc" >> "$TMP/nh.out"; fail cuda_nccl_sum_without_an_end_ends_the_job "$TMP/nh.out"; fi
fi
# A 2-rank checkpoint resumes in one process with the same global batch.
"$BERT" pretrain $M --output-dir "$TMP/p1r" $PT --batch-size 6 --resume "$TMP/p2/checkpoint-4" > /dev/null 2> "$TMP/p1r.err" || echo "exit $?" >> "$TMP/p1r.err"
same resume_under_another_rank_count "$TMP/p1" "$TMP/p1r" checkpoint-8
# Resuming under 2 ranks (dropout on: each rank's own stream) = the straight 2-rank run, bit for bit.
$MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/d2" $PT --batch-size 3 > /dev/null 2> "$TMP/d2.err" || echo "exit $?" >> "$TMP/d2.err"
$MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/d2r" $PT --batch-size 3 --resume "$TMP/d2/checkpoint-4" > /dev/null 2> "$TMP/d2r.err" || echo "exit $?" >> "$TMP/d2r.err"
if ! grep -q '^exit ' "$TMP/d2.err" "$TMP/d2r.err" && cmp -s "$TMP/d2/checkpoint-8/model.safetensors" "$TMP/d2r/checkpoint-8/model.safetensors" &&
    cmp -s "$TMP/d2/checkpoint-8/optimizer.safetensors" "$TMP/d2r/checkpoint-8/optimizer.safetensors"; then
    pass resume_under_2_ranks_bit_identical; else fail resume_under_2_ranks_bit_identical "$TMP/d2r.err"; fi

# bf16 gradient compression: the run completes and stays near the f32 one
# (bf16 keeps 8 bits of mantissa: 1e-2 of each tensor's largest value).
$MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/c2" $PT --batch-size 3 --grad-compression bf16 > /dev/null 2> "$TMP/c2.err" || echo "exit $?" >> "$TMP/c2.err"
if [ -f "$TMP/c2/checkpoint-8/model.safetensors" ] && ! grep -q '^exit ' "$TMP/c2.err" &&
    "$SAME" "$TMP/p2/checkpoint-8/model.safetensors" "$TMP/c2/checkpoint-8/model.safetensors" 1e-2 key.bias 1e-1 > "$TMP/c2.cmp" 2>&1 &&
    ! "$SAME" "$TMP/p2/checkpoint-8/model.safetensors" "$TMP/c2/checkpoint-8/model.safetensors" 1e-6 key.bias 1e-1 > /dev/null 2>&1; then
    pass bf16_gradients_near_f32; else cat "$TMP/c2.cmp"; fail bf16_gradients_near_f32 "$TMP/c2.err"; fi

# Multi-task: per-rank batch sizes in the tasks file, 2 ranks = 1 process with twice them.
for b in 1 2; do
    cat > "$TMP/tasks$b.json" <<JSON
{"tasks": [
  {"name": "sent", "train": "$(pwd)/$FT/train.tsv", "dev": "$(pwd)/$FT/dev.tsv", "text_column": "sentence", "label_column": "label", "batch_size": $((2 * b))},
  {"name": "ner", "type": "token", "train": "$(pwd)/$FT/ner_train.jsonl", "dev": "$(pwd)/$FT/ner_dev.conll", "batch_size": $b}
]}
JSON
done
MT="--epochs 1 --max-steps 8 --lr 1e-3 --save-steps 4 --save-total-limit 0 --seed 5 --threads 1 --log-steps 1"
"$BERT" multitask tests/fixtures/tasks/mlm --output-dir "$TMP/m1" --tasks-file "$TMP/tasks2.json" $MT > /dev/null 2> "$TMP/m1.err" || echo "exit $?" >> "$TMP/m1.err"
$MPIRUN -np 2 "$BERT" multitask tests/fixtures/tasks/mlm --output-dir "$TMP/m2" --tasks-file "$TMP/tasks1.json" $MT > /dev/null 2> "$TMP/m2.err" || echo "exit $?" >> "$TMP/m2.err"
same multitask_2_ranks_equal_the_global_batch "$TMP/m1" "$TMP/m2" checkpoint-4 checkpoint-8

# A rank killed (SIGKILL) or hung (SIGSTOP, --dist-timeout 3) mid-run ends the
# job with a message within 30 s; the newest checkpoint loads.
SIGS="KILL STOP"
command -v pgrep > /dev/null 2>&1 || { skip killed_and_hung_ranks "no pgrep (procps) to find a rank"; SIGS=; }
LONG="--corpus $FT/pretrain_corpus.txt --epochs 2000 --batch-size 3 --heldout-docs 2 --eval-steps 0 --save-steps 20 --threads 1 --dist-timeout 3"
for sig in $SIGS; do
    rm -rf "$TMP/k"
    $MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/k" $LONG > "$TMP/k.out" 2>&1 &
    job=$!
    i=0
    while [ $i -lt 300 ] && ! ls "$TMP/k" 2> /dev/null | grep -q checkpoint-; do sleep 0.1; i=$((i + 1)); done
    victim=$(pgrep -f "^$BERT pretrain $M --output-dir $TMP/k" | sort -n | tail -n 1)
    [ -n "$victim" ] && kill -$sig "$victim"
    i=0
    while [ $i -lt 300 ] && kill -0 $job 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
    if kill -0 $job 2> /dev/null; then
        kill -9 $job; pkill -9 -f "^$BERT pretrain $M --output-dir $TMP/k"; fail "${sig}ed_rank_ends_the_job" "$TMP/k.out"; continue
    fi
    wait $job
    rc=$?
    newest=$(ls -d "$TMP"/k/checkpoint-* | grep -E 'checkpoint-[0-9]+$' | sort -t- -k2 -n | tail -n 1)
    want="exited on signal"
    [ $sig = STOP ] && want="no answer from the other ranks in 3 s"
    if [ -n "$victim" ] && [ $rc -ne 0 ] && grep -q "$want" "$TMP/k.out" && "$BERT" info "$newest" > /dev/null 2>&1; then
        pass "${sig}ed_rank_ends_the_job"; else fail "${sig}ed_rank_ends_the_job" "$TMP/k.out"; fi
done

# Two machines: network namespaces joined by a veth pair, the ranks talking
# TCP (btl tcp, as across a cluster's network) and started through an rsh
# agent that enters each namespace: 2 ranks across them equal one process.
# Needs root and iproute2's netns (else SKIP).
NS=bm$$
if [ "$(id -u)" -eq 0 ] && command -v ip > /dev/null 2>&1 && ip netns add ${NS}a 2> /dev/null; then
    trap 'ip netns del ${NS}a 2> /dev/null; ip netns del ${NS}b 2> /dev/null; rm -rf "$TMP"' EXIT
    ip netns add ${NS}b && ip link add ${NS}x type veth peer name ${NS}y && ip link set ${NS}x netns ${NS}a &&
        ip link set ${NS}y netns ${NS}b && ip -n ${NS}a addr add 10.254.77.1/24 dev ${NS}x &&
        ip -n ${NS}b addr add 10.254.77.2/24 dev ${NS}y && ip -n ${NS}a link set ${NS}x up && ip -n ${NS}b link set ${NS}y up &&
        ip -n ${NS}a link set lo up && ip -n ${NS}b link set lo up
    printf '#!/bin/sh\nhost=$1\nshift\ncase $host in 10.254.77.1) ns=%sa ;; *) ns=%sb ;; esac\nexec ip netns exec "$ns" sh -c "$*"\n' \
        "$NS" "$NS" > "$TMP/agent.sh"
    chmod +x "$TMP/agent.sh"
    here=$(pwd)
    case $BERT in /*) bin=$BERT ;; *) bin=$here/$BERT ;; esac
    ip netns exec ${NS}a mpirun --allow-run-as-root -H 10.254.77.1,10.254.77.2 -np 2 --mca plm_rsh_agent "$TMP/agent.sh" \
        --mca btl self,tcp --mca btl_tcp_if_include 10.254.77.0/24 --mca oob_tcp_if_include 10.254.77.0/24 \
        "$bin" pretrain "$here/$M" --output-dir "$TMP/n2" --corpus "$here/$FT/pretrain_corpus.txt" --epochs 2 --lr 3e-3 \
        --heldout-docs 2 --eval-steps 0 --save-steps 2 --threads 1 --save-total-limit 0 --seed 3 --log-steps 1 --checksum-steps 1 \
        --batch-size 3 > /dev/null 2> "$TMP/n2.err" || echo "exit $?" >> "$TMP/n2.err"
    same two_hosts_over_tcp_equal_one_process "$TMP/p1" "$TMP/n2" checkpoint-2 checkpoint-8
else
    skip two_hosts_over_tcp_equal_one_process "needs root and ip netns"
fi

# SIGUSR1 to mpirun (forwarded to every rank; SIGTERM is followed by SIGKILL
# a second later): every rank stops at the same step, one checkpoint, the
# command that resumes it (with mpirun -np 2), exit 130.
rm -rf "$TMP/u"
$MPIRUN -np 2 "$BERT" pretrain $M --output-dir "$TMP/u" --corpus $FT/pretrain_corpus.txt --epochs 2000 --batch-size 3 \
    --heldout-docs 2 --eval-steps 0 --save-steps 100000 --threads 1 > "$TMP/u.out" 2>&1 &
job=$!
i=0
while [ $i -lt 300 ] && ! grep -q '^step 100/' "$TMP/u.out"; do sleep 0.1; i=$((i + 1)); done
kill -USR1 $job
i=0
while [ $i -lt 300 ] && kill -0 $job 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
kill -9 $job 2> /dev/null
wait $job
step=$(sed -n 's/.*interrupted at step \([0-9]*\);.*/\1/p' "$TMP/u.out")
if [ -n "$step" ] && grep -q "resume with: mpirun -np 2 bert pretrain" "$TMP/u.out" && [ "$(grep -c 'interrupted at step' "$TMP/u.out")" -eq 1 ] &&
    "$BERT" info "$TMP/u/checkpoint-$step" > /dev/null 2>&1; then
    pass sigusr1_stops_every_rank_at_one_step; else fail sigusr1_stops_every_rank_at_one_step "$TMP/u.out"; fi

# The collectives themselves: sums, the digest comparison, gathering, shares.
for n in 2 3; do
    if $MPIRUN -np $n "$BUILD/dist_check" > "$TMP/dc.out" 2>&1 && [ "$(grep -c '^ok' "$TMP/dc.out")" -eq "$n" ]; then
        pass "collectives_on_${n}_ranks"; else fail "collectives_on_${n}_ranks" "$TMP/dc.out"; fi
done
