#!/bin/sh
# tests/gpu/run.sh [BUILD_DIR] — the GPU path (--device cuda) where an NVIDIA
# GPU is; not part of `make test` (CI machines have none). Checks:
#  1. the unit tests that run it: every fixture model's padded and ragged
#     batches against the PyTorch reference's outputs (1e-4), each sequence
#     alone equal to it in a batch (1e-5), with the fused attention and with
#     the batched one (BERT_CUDA_ATTENTION=batched); the attention plan;
#     training with the layers on the GPU: every head against the PyTorch
#     autograd goldens (1e-4), and GPU vs CPU trainers with dropout (train_cuda);
#  2. the task commands on the bundled models and the task fixtures,
#     --device cuda against --device cpu (embed, classify, ner, fill-mask,
#     qa, nsp, rerank; numbers within 1e-4, labels and words equal);
#  3. a 12-layer model of the bert-base shape at 5..512 tokens in one ragged
#     batch, per-token hidden states GPU vs CPU (1e-3: twelve layers of f32
#     sums in other orders); --dtype bf16 on the GPU against f32 on the CPU
#     (the mini model and that batch: every token's cosine >= 0.999), and
#     --dtype tf32 (that batch) and f16 (both) likewise, >= 0.9999;
#  4. where PYTHON's torch sees the GPU: tools/bert_reference.py on the GPU
#     against bert.c on the GPU (the same 12-layer batch, 1e-3);
#  5. (after 1) compute-sanitizer's memcheck, racecheck, synccheck and
#     initcheck on the unit check, fused and batched attention, and on the
#     training check with dropout;
#  6. where BUILD_DIR/minilm is (tests/gpu/pack.sh) and PYTHON has
#     sentence-transformers and a GPU: all-MiniLM-L6-v2 (its matrices rounded
#     to int8, restored to float32) embedded by bert.c on the GPU against
#     sentence-transformers on the GPU, f32 1e-4, bf16 and f16 cos >= 0.999.
# They run in the order 1 2 3 4 6 5: check 5 is the slowest and the least
# likely to fail, so a run cut short by the lent machine's time keeps the
# others' results.
# Prints one PASS/FAIL/SKIP line per check and, on stderr, the seconds each
# part took. Exit 0 when all passed, 1 on a failure, 77 when this machine has
# no GPU (nothing was run).
# Knobs (the defaults are the proof's; tests/gpu/rehearse.sh shrinks them to
# run this script on the CPU emulator): UNITS ("forward_cuda cuda_plan
# train_cuda": test_bert's test names, or their beginnings, for check 1; the
# forward_cuda ones run twice, fused and batched); BASE_LAYERS (12) and BASE_LENGTHS
# ("5 17 64 128 128 300 511 512") for check 3; PEER_DEVICE (cuda) where checks
# 4 and 6 run PyTorch and sentence-transformers; MINILM_TEXTS (the 320 real
# texts) for check 6; CHECKS ("1 2 3 4 6 5"): which checks run, in that order
# (3 reads 2's output, 4 reads 3's).
# A BUILD_DIR made by tests/gpu/pack.sh (binaries and their libraries, for a
# GPU machine without this project's build packages) is used as it is.
# PYTHON (default python3): the interpreter whose torch may see the GPU.
build=${1:-build}
PY=${PYTHON:-python3}
BASE_LAYERS=${BASE_LAYERS:-12}
BASE_LENGTHS=${BASE_LENGTHS:-5 17 64 128 128 300 511 512}
PEER_DEVICE=${PEER_DEVICE:-cuda}
S=${MINILM_TEXTS:-tests/fixtures/realstack/sentences.jsonl}
CHECKS=${CHECKS:-1 2 3 4 6 5}
UNITS=${UNITS:-forward_cuda cuda_plan train_cuda}
if [ ! -f "$build/.prebuilt" ]; then # a tests/gpu/pack.sh folder is used as it is
    make -s -j"$(nproc)" BUILD="$build" "$build/bert" "$build/test_bert" "$build/json_close" "$build/bench_forward" "$build/bench_train" >/dev/null || exit 1
fi
why=$("$build/bert" --version | sed -n 's/^cuda: //p')
gpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
case "$why" in
yes*) ;;
*)
    if [ "${gpu:-0}" -gt 0 ]; then # a GPU is here, so a build or driver problem is a failure, not a skip
        echo "FAIL gpu (a GPU is here but bert.c's CUDA path is not: $why)"
        cat "$build/.cuda-probe" 2>/dev/null | sed 's/^/  nvcc probe: /'
        exit 1
    fi
    echo "SKIP gpu (no GPU path here: $why)"; exit 77 ;;
esac
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
t0=$(date +%s)
took() { # PART: how long the part just ended took, on stderr
    t1=$(date +%s); echo "tests/gpu/run.sh: $1 took $((t1 - t0)) s" >&2; t0=$t1
}
unit() { # NAME [VAR=VALUE]: test_bert's tests named NAME, in that environment (a SKIP fails: the GPU is here)
    env $2 "$build/test_bert" "$1" > "$TMP/unit.out" 2>&1
    grep -E '^(PASS|FAIL|SKIP)|^  ' "$TMP/unit.out"
    grep -q '^PASS' "$TMP/unit.out" && ! grep -qE '^(FAIL|SKIP)' "$TMP/unit.out" || fail=1
}

# same NAME TOL CMD MODEL [ARGS...] < INPUT: the command on the CPU and the GPU,
# outputs within TOL. Called with a redirection, never at the end of a pipe:
# a pipe would run it in a subshell, and its fail=1 would be lost.
same() {
    name=$1 tol=$2
    shift 2
    cat > "$TMP/in.jsonl"
    cpu="$TMP/$name.cpu.jsonl" gpu="$TMP/$name.gpu.jsonl" # kept: the checks below read them
    if "$build/bert" "$@" --device cpu --input "$TMP/in.jsonl" > "$cpu" 2> "$TMP/err" &&
        "$build/bert" "$@" --device cuda --input "$TMP/in.jsonl" > "$gpu" 2>> "$TMP/err" &&
        [ -s "$gpu" ] && "$build/json_close" "$cpu" "$gpu" "$tol" > "$TMP/diff" 2>&1; then
        echo "PASS gpu_$name"
    else
        echo "FAIL gpu_$name"
        cat "$TMP/err" "$TMP/diff" | head -5 | sed 's/^/  /'
        fail=1
    fi
}

# bf16 (the dense products with bf16 operands, f32 sums) and tf32 (cuBLAS's
# TF32 math) on the GPU against f32 on the CPU (the output of the `same`
# check named F32): every token's hidden state at cosine >= MIN (bf16 0.999,
# tf32 0.9999), and not equal to it (which would mean the products ran in
# f32).
# low_cosine NAME DTYPE MIN F32 MODEL INPUT [ARGS...]
low_cosine() {
    name=$1 dtype=$2 min=$3 f32="$TMP/$4.cpu.jsonl" model=$5 input=$6
    shift 6
    rm -f "$TMP/cos"
    if "$build/bert" embed "$model" --pooling none "$@" --dtype $dtype --device cuda --input "$input" > "$TMP/low.jsonl" 2> "$TMP/err" &&
        "$PY" - "$f32" "$TMP/low.jsonl" "$min" > "$TMP/cos" 2>&1 <<'PY'
import json, math, sys
a, b = open(sys.argv[1]).readlines(), open(sys.argv[2]).readlines()
worst, n, diff = 1.0, 0, 0.0
for la, lb in zip(a, b):
    ta, tb = json.loads(la)["token_embeddings"], json.loads(lb)["token_embeddings"]
    if len(ta) != len(tb):
        sys.exit("a sequence's token count differs")
    for x, y in zip(ta, tb):
        dot = sum(p * q for p, q in zip(x, y))
        worst = min(worst, dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y)))
        diff = max(diff, max(abs(p - q) for p, q in zip(x, y)))
        n += 1
print(f"{len(a)} sequences, {n} tokens: worst cosine {worst:.7f}, max |diff| from f32 {diff:.3g}")
sys.exit(0 if len(a) == len(b) and n > 0 and worst >= float(sys.argv[3]) and diff > 0 else 1)
PY
    then
        echo "PASS gpu_$name"
        sed 's/^/  /' "$TMP/cos"
    else
        echo "FAIL gpu_$name"
        cat "$TMP/err" "$TMP/cos" 2>/dev/null | tail -5 | sed 's/^/  /'
        fail=1
    fi
}

# torch_on DEVICE [MODULE]: PYTHON imports torch (and MODULE) and its torch can run on DEVICE
torch_on() {
    "$PY" -c 'import importlib, sys, torch
for m in sys.argv[2:]: importlib.import_module(m)
sys.exit(0 if sys.argv[1] != "cuda" or torch.cuda.is_available() else "torch " + torch.__version__ + " sees no GPU")' "$@"
}

# the texts of check 2, and of check 3's mini-model cases
texts='{"text": "A charming and often affecting journey."}
{"text": "Unflinchingly bleak and desperate, and far too long for what it has to say."}
{"text": "ok"}
{"text": "The acting, costumes, music, cinematography and sound are all astounding given the production'"'"'s austere locales."}'
echo "$texts" > "$TMP/texts.jsonl"

# 1. the unit tests that run on the GPU
check1() {
    for u in $UNITS; do
        unit "$u"
        case $u in forward_cuda*) unit "$u" BERT_CUDA_ATTENTION=batched ;; esac
    done
}

# 2. the task commands, GPU against CPU
check2() {
    same embed 1e-4 embed models/bertc-mini-uncased < "$TMP/texts.jsonl"
    same embed_none 1e-4 embed models/bertc-mini-uncased --pooling none < "$TMP/texts.jsonl"
    same classify 1e-4 classify models/bertc-mini-uncased-sst2 < "$TMP/texts.jsonl"
    printf '%s\n' '{"text": "Jean-Luc Picard commands the USS Enterprise near Qo'"'"'noS."}' '{"text": "EU rejects German call to boycott British lamb."}' > "$TMP/ner.jsonl"
    same ner 1e-4 ner models/bertc-mini-uncased-conll03 < "$TMP/ner.jsonl"
    printf '%s\n' '{"text": "the capital of france is [MASK]."}' '{"text": "she bought three [MASK] at the market."}' > "$TMP/mask.jsonl"
    same fill_mask 1e-4 fill-mask models/bertc-mini-uncased < "$TMP/mask.jsonl"
    # the heads the bundled models lack, on the task fixtures (the GPU's QA, NSP and one-logit classifier)
    TASKS=tests/fixtures/tasks
    same qa 1e-4 qa "$TASKS/qa" --max-seq-len 64 --doc-stride 16 < "$TASKS/qa/inputs_qa.jsonl"
    same nsp 1e-4 nsp "$TASKS/mlm" < "$TASKS/mlm/inputs_nsp.jsonl"
    same rerank 1e-4 rerank "$TASKS/cross-encoder" < "$TASKS/cross-encoder/inputs_rerank.jsonl"
}

# 3. a 12-layer bert-base-shaped model (random weights; BASE_LAYERS), one
# ragged batch of 5..512 tokens (BASE_LENGTHS), GPU against CPU; then bf16,
# tf32 and f16 on the GPU against f32 on the CPU, there and on the mini model
# (check 2's output)
check3() {
    "$build/bench_forward" --layers "$BASE_LAYERS" --model-dir "$base12" --write-only > /dev/null || { echo "FAIL gpu (cannot write $base12)"; exit 1; }
    # shellcheck disable=SC2086
    "$PY" -c 'import random, sys
random.seed(7)
for n in map(int, sys.argv[1:]):
    print("{\"input_ids\": [101, " + ", ".join(str(random.randrange(1000, 29000)) for _ in range(n - 2)) + ", 102]}")' $BASE_LENGTHS > "$TMP/ragged.jsonl"
    same base12_ragged_512 1e-3 embed "$base12" --pooling none --batch-size 8 < "$TMP/ragged.jsonl"
    low_cosine bf16_mini bf16 0.999 embed_none models/bertc-mini-uncased "$TMP/texts.jsonl"
    low_cosine bf16_base12_ragged_512 bf16 0.999 base12_ragged_512 "$base12" "$TMP/ragged.jsonl" --batch-size 8
    low_cosine tf32_base12_ragged_512 tf32 0.9999 base12_ragged_512 "$base12" "$TMP/ragged.jsonl" --batch-size 8
    low_cosine f16_mini f16 0.9999 embed_none models/bertc-mini-uncased "$TMP/texts.jsonl"
    low_cosine f16_base12_ragged_512 f16 0.9999 base12_ragged_512 "$base12" "$TMP/ragged.jsonl" --batch-size 8
}

# 4. PyTorch on the GPU (PYTHON's torch where it has CUDA; PEER_DEVICE) against
# bert.c on the GPU, on check 3's batch
check4() {
    if torch_on "$PEER_DEVICE" 2> "$TMP/probe"; then
        if [ -s "$TMP/base12_ragged_512.gpu.jsonl" ] &&
            "$PY" - "$base12" "$TMP/ragged.jsonl" "$TMP/base12_ragged_512.gpu.jsonl" "$PEER_DEVICE" > "$TMP/torch.out" 2>&1 <<'PY'
import json, sys
import torch
sys.path.insert(0, "tools")
import bert_reference
torch.backends.cuda.matmul.allow_tf32 = False
dev = torch.device(sys.argv[4])
cfg, sd = bert_reference.load_model_dir(sys.argv[1])
sd = {k: v.to(dev) for k, v in sd.items()}
worst = 0.0
lines, gots = open(sys.argv[2]).readlines(), open(sys.argv[3]).readlines()
if len(lines) != len(gots) or not lines:
    sys.exit(f"{len(lines)} sequences in, {len(gots)} embedded by bert.c")
for line, got in zip(lines, gots):
    ids = torch.tensor([json.loads(line)["input_ids"]], device=dev)
    with torch.inference_mode():
        out = bert_reference.forward(cfg, sd, ids, torch.zeros_like(ids), torch.ones_like(ids))
    h = out["last_hidden_state"][0].cpu()
    g = torch.tensor(json.loads(got)["token_embeddings"])
    worst = max(worst, (h - g).abs().max().item())
print(f"max |bert.c cuda - pytorch {dev}| =", worst)
sys.exit(0 if worst <= 1e-3 else 1)
PY
        then
            echo "PASS gpu_pytorch_cuda_parity"
            sed 's/^/  /' "$TMP/torch.out"
        else
            echo "FAIL gpu_pytorch_cuda_parity"
            sed 's/^/  /' "$TMP/torch.out" | tail -5
            fail=1
        fi
    else
        echo "SKIP gpu_pytorch_cuda_parity ($PY: $(tail -1 "$TMP/probe"))"
    fi
}

# 6. all-MiniLM-L6-v2 as tests/gpu/pack.sh packs it (BUILD_DIR/minilm: tools/gpu_minilm.py,
# its vocabulary cut to the real-text fixture's tokens, its matrices rounded per row to
# int8, back to float32 here): `bert embed --device cuda` against sentence-transformers
# on the GPU (float32, TF32 off) on the same weights and the 320 real texts, f32 within
# 1e-4 (cos >= 0.99999), bf16 and f16 at cos >= 0.999; and against bert.c on the CPU.
check6() {
    mini="$build/minilm"
    if [ ! -f "$mini/weights.q8.safetensors" ]; then
        echo "SKIP gpu_minilm (no $mini: tests/gpu/pack.sh packs it where tools/fetch_real_models.sh has the model)"
    elif ! "$PY" tools/gpu_minilm.py restore "$mini" 2> "$TMP/err"; then
        echo "FAIL gpu_minilm (restoring $mini with $PY)"; sed 's/^/  /' "$TMP/err" | tail -3; fail=1
    else
        specs=""
        for dt in f32 bf16 f16; do
            if "$build/bert" embed "$mini" --truncate --device cuda --dtype $dt --input "$S" --output "$TMP/mini_$dt.jsonl" 2> "$TMP/err"; then
                case $dt in f32) specs="$specs gpu_minilm_f32 $TMP/mini_$dt.jsonl 0.99999 1e-4" ;;
                *) specs="$specs gpu_minilm_$dt $TMP/mini_$dt.jsonl 0.999 -" ;; esac
            else
                echo "FAIL gpu_minilm_$dt"; sed 's/^/  /' "$TMP/err" | head -5; fail=1
            fi
        done
        if [ -z "$specs" ]; then
            :
        elif ! torch_on "$PEER_DEVICE" sentence_transformers 2> "$TMP/probe"; then
            echo "SKIP gpu_minilm_sentence_transformers ($PY: $(tail -1 "$TMP/probe"))"
        # shellcheck disable=SC2086
        elif ! HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 REALSTACK_DEVICE=$PEER_DEVICE "$PY" tools/realstack_check.py embed "$mini" "$S" $specs > "$TMP/st.out" 2>&1; then
            grep -q '^FAIL' "$TMP/st.out" || echo "FAIL gpu_minilm_sentence_transformers (tools/realstack_check.py stopped)"
            tail -8 "$TMP/st.out"; fail=1
        else
            cat "$TMP/st.out"
        fi
        if "$build/bert" embed "$mini" --truncate --device cpu --input "$S" --output "$TMP/mini_cpu.jsonl" 2> "$TMP/err" &&
            "$build/json_close" "$TMP/mini_cpu.jsonl" "$TMP/mini_f32.jsonl" 1e-4 > "$TMP/diff" 2>&1; then
            echo "PASS gpu_minilm_cpu"
        else
            echo "FAIL gpu_minilm_cpu"; cat "$TMP/err" "$TMP/diff" | head -5 | sed 's/^/  /'; fail=1
        fi
    fi
}

# 5. NVIDIA's compute-sanitizer (where the machine has it) on the unit check,
# fused and batched attention: out-of-bounds and misaligned accesses
# (memcheck), shared-memory races (racecheck: what the CPU emulator's one
# schedule cannot show), barrier misuse (synccheck), uninitialised device
# reads (initcheck).
check5() {
    if [ "${gpu:-0}" -eq 0 ]; then
        echo "SKIP gpu_sanitizer (nvidia-smi lists no GPU here)"
    elif command -v compute-sanitizer > /dev/null; then
        for tool in memcheck racecheck synccheck initcheck; do
            for att in fused batched; do
                if env BERT_CUDA_ATTENTION=$att compute-sanitizer --tool $tool --error-exitcode 3 \
                    "$build/test_bert" forward_cuda_matches > "$TMP/san.out" 2>&1 && grep -q '^PASS' "$TMP/san.out"; then
                    echo "PASS gpu_sanitizer_${tool}_$att"
                else
                    echo "FAIL gpu_sanitizer_${tool}_$att"
                    grep -E '=====|FAIL' "$TMP/san.out" | head -8 | sed 's/^/  /'
                    fail=1
                fi
            done
            # the training pass's kernels (GPU vs CPU with dropout)
            if compute-sanitizer --tool $tool --error-exitcode 3 "$build/test_bert" train_cuda_dropout > "$TMP/san.out" 2>&1 &&
                grep -q '^PASS' "$TMP/san.out"; then
                echo "PASS gpu_sanitizer_${tool}_train"
            else
                echo "FAIL gpu_sanitizer_${tool}_train"
                grep -E '=====|FAIL' "$TMP/san.out" | head -8 | sed 's/^/  /'
                fail=1
            fi
        done
    else
        echo "SKIP gpu_sanitizer (no compute-sanitizer here)"
    fi
}

base12="$build/bench-model-L$BASE_LAYERS" # check 3 writes it, check 4 reads it
for c in $CHECKS; do
    case $c in
    [1-6]) check$c; took "check $c" ;;
    *) echo "FAIL gpu (CHECKS names check $c: there are 1 to 6)"; fail=1 ;;
    esac
done
exit $fail
