#!/bin/sh
# bench/gpu.sh [LAYERS] [REPS] — bert.c with --device cuda against PyTorch
# on the same GPU (bench/torch_forward.py: tools/bert_reference.py and
# transformers' BertModel, f32 with TF32 off on both sides), bert-base shape (default 12 layers),
# batches 1, 8, 32 at sequences 128 and 512; median ms of REPS (default 20)
# after a warm-up, and bert.c / PyTorch. Runs only where an NVIDIA GPU is
# (exit 77 otherwise); the PyTorch columns need PYTHON's (default python3)
# torch built with CUDA (else bert.c alone), the transformers ones its
# transformers; COMPILE=1 adds torch.compile (minutes: one compile a shape). BUILD (default build): the build
# folder, or one made by tests/gpu/pack.sh, used as it is. Both sides make
# the pooled output (bench_forward asks bert_forward for it, PyTorch returns
# pooler_output); bert.c's timings hold the whole call: the ids' copy to the
# GPU and the pooled output's copy back to the host, which PyTorch's do not
# (its output stays on the GPU). The hidden states stay on the GPU on both sides.
# Then a training step (forward + backward + AdamW, a sequence classifier,
# batches 8 and 32 at sequence 128, f32 and bf16): bench_train --device cuda (the layers
# and embeddings on the GPU, the heads too where the trainer holds them there: see
# train_gpu_heads_of in src/train/gpu.h; AdamW where each tensor is)
# against bench/torch_train.py --device cuda (the whole step on the GPU); and a
# pre-training step (MLM + NSP, every 7th token masked), whose heads train on
# the GPU too. Last, where the GPU's time goes (--profile).
# Knobs (the defaults are the proof's; tests/gpu/rehearse.sh shrinks them to
# run this script on the CPU emulator): SEQS ("128 512") and BATCHES
# ("1,8,32") for the forward; TRAIN_SEQ (128) and TRAIN_BATCHES ("8 32") for
# the training step; PARTS ("forward train profile"): which of the three run;
# PEERS (every peer that can run; from ref hf hf16 hfc); PEER_DEVICE (cuda):
# where PyTorch runs (hf16 only on cuda); SHAPE (base; tiny: BERT-Tiny's, 2
# layers of 128, LAYERS ignored).
LAYERS=${1:-12}
REPS=${2:-20}
build=${BUILD:-build}
PY=${PYTHON:-python3}
SEQS=${SEQS:-128 512}
BATCHES=${BATCHES:-1,8,32}
TRAIN_SEQ=${TRAIN_SEQ:-128}
TRAIN_BATCHES=${TRAIN_BATCHES:-8 32}
PARTS=${PARTS:-forward train profile}
PEER_DEVICE=${PEER_DEVICE:-cuda}
SHAPE=${SHAPE:-base}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
if [ ! -f "$build/.prebuilt" ]; then # a tests/gpu/pack.sh folder is used as it is
    make -s -j"$(nproc)" BUILD="$build" "$build/bert" "$build/bench_forward" "$build/bench_train" >/dev/null || exit 1
fi
why=$("$build/bert" --version | sed -n 's/^cuda: //p')
case "$why" in
yes*) ;;
*)
    if [ "$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')" -gt 0 ]; then
        echo "bench/gpu.sh: a GPU is here but bert.c's CUDA path is not: $why" >&2
        exit 1
    fi
    echo "bench/gpu.sh: no GPU path here: $why" >&2; exit 77 ;;
esac
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
case $SHAPE in
base) MODEL="$build/bench-model-L$LAYERS" shape_name=bert-base ;;
tiny) MODEL="$build/bench-model-tiny" LAYERS=2 shape_name=BERT-Tiny ;;
*) echo "bench/gpu.sh: SHAPE is base or tiny, not $SHAPE" >&2; exit 2 ;;
esac
"$build/bench_forward" --layers "$LAYERS" --shape "$SHAPE" --model-dir "$MODEL" --write-only >/dev/null || exit 1
TORCH=yes
probe=$("$PY" -c 'import torch, sys; sys.exit(0 if sys.argv[1] != "cuda" or torch.cuda.is_available() else "torch " + torch.__version__ + " sees no GPU")' "$PEER_DEVICE" 2>&1) ||
    { TORCH=no; echo "bench/gpu.sh: no PyTorch peer ($PY: $(echo "$probe" | tail -1)): bert.c alone" >&2; }
# the peers: tools/bert_reference.py eager, transformers' BertModel eager
# where transformers imports, and with COMPILE=1 BertModel under torch.compile
peers=""
if [ $TORCH = yes ]; then
    peers="ref"
    if "$PY" -c 'import transformers' 2>/dev/null; then
        peers="$peers hf"
        [ "$PEER_DEVICE" != cuda ] || peers="$peers hf16"
        [ "${COMPILE:-0}" = 0 ] || peers="$peers hfc"
    else
        echo "bench/gpu.sh: $PY has no transformers: no BertModel column" >&2
    fi
    [ -z "${PEERS+x}" ] || peers=$PEERS
fi
log=$(mktemp) out=$(mktemp)
trap 'rm -f "$log" "$out" "$out.rows"' EXIT
failed=0 # a failed run is reported and the rest still measured: the table is printed, the exit is 1
# measure NAME ROW CMD...: CMD's rows whose first field is ROW go into the log as NAME at this
# sequence length (batch, median ms); a failure is reported and remembered
measure() {
    name=$1 row=$2
    shift 2
    if "$@" > "$out" 2>&1; then
        awk -v s=$seq -v n=$name -v r=$row '$1 == r && $4 ~ /^[0-9]+$/ { print n, s, $4, $5 }' "$out" > "$out.rows"
        # each run's rows as they come (name seq batch median_ms), so a run cut short keeps them
        if [ -s "$out.rows" ]; then cat "$out.rows" >> "$log"; sed 's/^/measured /' "$out.rows"; else
            tail -5 "$out" >&2; echo "bench/gpu.sh: $name at sequence $seq printed no $row rows" >&2; failed=1; fi
    else
        tail -5 "$out" >&2; echo "bench/gpu.sh: $name failed at sequence $seq" >&2; failed=1
    fi
}
if part forward; then
    for seq in $SEQS; do
        for d in f32 bf16 f16 tf32; do # bench_forward's rows: bert.c, bert.c16, bert.ch, bert.ctf
            case $d in f32) name=bertc row=bert.c ;; bf16) name=bertc16 row=bert.c16 ;; f16) name=bertch row=bert.ch ;;
            tf32) name=bertctf row=bert.ctf ;; esac
            measure $name $row "$build/bench_forward" --layers "$LAYERS" --shape "$SHAPE" --model-dir "$MODEL" \
                --device cuda --dtype $d --seq $seq --batches "$BATCHES" --reps "$REPS"
        done
        # f32 with the batched attention (cuBLAS batched products + a softmax kernel) for the fused one's
        measure bertcb bert.c env BERT_CUDA_ATTENTION=batched "$build/bench_forward" --layers "$LAYERS" --shape "$SHAPE" \
            --model-dir "$MODEL" --device cuda --seq $seq --batches "$BATCHES" --reps "$REPS"
        for p in $peers; do
            case $p in ref) flags="" ;; hf) flags="--transformers" ;; hfc) flags="--transformers --compile" ;;
            hf16) flags="--transformers --half" ;; esac
            measure $p pytorch "$PY" bench/torch_forward.py "$MODEL" --device "$PEER_DEVICE" --seq $seq --batches "$BATCHES" \
                --reps "$REPS" --threads 1 $flags
        done
    done
    echo "$shape_name shape, $LAYERS layers, median ms of $REPS: bert.c f32 (TF32 off; fused attention), batched = the same"
    echo "with BERT_CUDA_ATTENTION=batched, --dtype bf16 / f16 (16-bit dense products, f32 sums), --dtype tf32; peers"
    echo "f32: ref = tools/bert_reference.py eager, hf = transformers BertModel eager, hfc = BertModel under torch.compile;"
    echo "hf16 = BertModel in float16 (.half()) eager; ratio = bert.c f32 / peer (hf16: bert.c f16 / peer)"
    awk '{ t[$1 " " $2 " " $3] = $4; k[$2 " " $3] = 1; if ($1 !~ /^bertc/) p[$1] = 1 }
         END { printf "%-5s %-5s %10s %10s %10s %10s %10s", "seq", "batch", "bert.c ms", "batched ms", "bf16 ms", "f16 ms", "tf32 ms"
               n = 0; for (q in p) names[++n] = q
               for (i = 1; i <= n; i++) printf " %10s %8s", names[i] " ms", "ratio"
               printf "\n"
               for (x in k) { split(x, a, " "); b = t["bertc " x]; h = t["bertc16 " x]; c = t["bertcb " x]; f = t["bertctf " x]
                   g = t["bertch " x]
                   printf "%-5s %-5s %10s %10s %10s %10s %10s", a[1], a[2], b ? b : "-", c ? c : "-", h ? h : "-", g ? g : "-", f ? f : "-"
                   for (i = 1; i <= n; i++) { v = t[names[i] " " x]; base = names[i] ~ /16$/ ? g : b
                       printf " %10s %8s", v ? v : "-", v && base ? sprintf("%.2f", base / v) : "-" }
                   printf "\n" } }' "$log" | sort -n -k1,1 -k2,2
fi
if part train; then
    # a training step: bert.c (layers on the GPU) against PyTorch (all on the GPU), f32 (TF32 off)
    # and mixed precision (bert.c --dtype bf16; PyTorch torch.autocast bf16)
    # (bert.c's host share — the heads but pre-training's, their dropout and AdamW — on every core)
    echo "training step, sequence $TRAIN_SEQ, median ms of $REPS (bert.c: dropout 0.1, $(nproc) CPU threads; PyTorch: no dropout):"
    for d in f32 bf16; do
        for task in sequence pretraining; do
            for b in $TRAIN_BATCHES; do
                if "$build/bench_train" "$MODEL" --device cuda --dtype $d --threads "$(nproc)" --batch $b --seq $TRAIN_SEQ \
                    --reps "$REPS" --task $task > "$out" 2>&1; then
                    cat "$out"; else tail -5 "$out" >&2; failed=1; fi
                if [ $TORCH = yes ]; then
                    if "$PY" bench/torch_train.py "$MODEL" --device "$PEER_DEVICE" $([ $d = bf16 ] && echo --bf16) --batch $b --seq $TRAIN_SEQ \
                        --reps "$REPS" --task $task > "$out" 2>&1; then
                        cat "$out"; else tail -5 "$out" >&2; failed=1; fi
                fi
            done
        done
    done
fi
if part profile; then
    pseq=${SEQS%% *}
    # where the GPU's time goes (CUDA events per step: products, attention, LayerNorm, embeddings)
    for d in f32 bf16; do
        echo "profile, --dtype $d, sequence $pseq, batch 8:"
        if "$build/bench_forward" --layers "$LAYERS" --shape "$SHAPE" --model-dir "$MODEL" --device cuda --dtype $d --seq $pseq --batches 8 \
            --reps "$REPS" --profile > "$out" 2>&1; then sed -n '/^profile/,$p' "$out"
        else tail -5 "$out" >&2; failed=1; fi
    done
fi
exit $failed
