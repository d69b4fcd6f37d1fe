#!/bin/sh
# test_torchbin.sh — pytorch_model.bin checkpoints through the `bert` command:
# `bert info` names the weight file and format, `bert convert` writes a
# loadable model.safetensors and refuses what it must; then, with
# transformers from the project venv (tools/pyenv.sh), every fixture and its
# converted copy load in transformers to the twin's tensors (SKIP when the
# venv cannot be made). Needs $BERT (path to the binary).
BERT=${BERT:-build/bert}
TFIX=tests/fixtures/torch
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=torchbin_
. tests/cli/lib.sh

# --- bert info: which file and format ---------------------------------------
check_info() { # fixture, expected weights line
    if "$BERT" info "$TFIX/$1" > "$TMP/info" 2>&1 && grep -qxF "weights:        $2" "$TMP/info"; then pass "info_$1"; else
        fail "info_$1" "$TMP/info"; fi
}
check_info zip-f32-shared "pytorch_model.bin (torch zip)"
check_info legacy-f16 "pytorch_model.bin (torch legacy)"
check_info zip-bf16 "pytorch_model.bin (torch zip)"
check_info sharded "pytorch_model.bin.index.json (torch zip + torch legacy, 2 shards)"
if "$BERT" info tests/fixtures/models/tiny-pretraining --json > "$TMP/json" 2>&1 &&
    grep -qF '"source":"model.safetensors (safetensors)"' "$TMP/json"; then pass info_json_source; else fail info_json_source "$TMP/json"; fi

# --- bert convert ------------------------------------------------------------
for fx in zip-f32-shared legacy-f32 legacy-f16 zip-bf16 zip-f16-deflated sharded; do
    if "$BERT" convert "$TFIX/$fx" "$TMP/conv-$fx" > "$TMP/out" 2>&1 && [ -f "$TMP/conv-$fx/model.safetensors" ] &&
        [ -f "$TMP/conv-$fx/config.json" ] && [ ! -e "$TMP/conv-$fx.tmp" ] &&
        "$BERT" info "$TMP/conv-$fx" > "$TMP/info" 2>&1 && grep -qxF "weights:        model.safetensors (safetensors)" "$TMP/info" &&
        "$BERT" info "$TFIX/$fx" | grep -v '^\(model\|weights\|ignored\):' > "$TMP/a" && grep -v '^\(model\|weights\|ignored\):' "$TMP/info" > "$TMP/b" &&
        cmp -s "$TMP/a" "$TMP/b"; then pass "convert_$fx"; else fail "convert_$fx" "$TMP/out"; fi
done
if "$BERT" convert "$TFIX/zip-bf16" "$TMP/conv-f16" --dtype f16 > "$TMP/out" 2>&1 &&
    "$BERT" info "$TMP/conv-f16" | grep -qxF "dtypes:         F16"; then pass convert_dtype_f16; else fail convert_dtype_f16 "$TMP/out"; fi
expect_error convert_refuses_existing "exists; bert convert does not overwrite" "$BERT" convert "$TFIX/zip-bf16" "$TMP/conv-zip-bf16"
expect_error convert_bad_dtype "--dtype must be f32, f16 or bf16" "$BERT" convert "$TFIX/zip-bf16" "$TMP/x" --dtype f8
expect_error convert_needs_out "needs MODEL_DIR and OUT_DIR" "$BERT" convert "$TFIX/zip-bf16"
mkdir "$TMP/evil"
cp "$TFIX/zip-bf16/config.json" "$TMP/evil/"
# a legacy stream (magic number, protocol 1001, system info) whose state dict calls os.system
printf '\200\002\212\012\154\374\234\106\371\040\152\250\120\031.\200\002M\351\003.\200\002}.' > "$TMP/evil/pytorch_model.bin"
printf '\200\002cos\nsystem\nX\002\000\000\000ls\205R.' >> "$TMP/evil/pytorch_model.bin"
expect_error refuses_os_system "global 'os.system'" "$BERT" info "$TMP/evil"
if [ ! -e "$TMP/x" ] && [ ! -e "$TMP/x.tmp" ]; then pass convert_failure_leaves_nothing; else fail convert_failure_leaves_nothing; fi

# a sentence-transformers directory: module folders and tokenizer copied, the same embeddings
ST=tests/fixtures/tasks/sentence-transformer
if "$BERT" convert "$ST" "$TMP/st" > "$TMP/out" 2>&1 && [ -f "$TMP/st/1_Pooling/config.json" ] &&
    echo '{"text":"hello world"}' | "$BERT" embed "$ST" > "$TMP/e1" 2>> "$TMP/out" &&
    echo '{"text":"hello world"}' | "$BERT" embed "$TMP/st" > "$TMP/e2" 2>> "$TMP/out" && [ -s "$TMP/e1" ] && cmp -s "$TMP/e1" "$TMP/e2"; then
    pass convert_sentence_transformers; else fail convert_sentence_transformers "$TMP/out"; fi

# --- transformers: the fixtures and the converted copies ---------------------
if py=$(tools/pyenv.sh transformers 2> "$TMP/pyenv.err"); then
    for fx in zip-f32-shared legacy-f32 legacy-f16 zip-bf16 zip-f16-deflated sharded; do
        twin=$(cat "$TFIX/$fx/TWIN")
        if "$py" tools/check_torch_fixtures.py "$TFIX/$fx" "$twin" "$TMP/conv-$fx" > "$TMP/py" 2>&1; then pass "transformers_$fx"; else
            fail "transformers_$fx" "$TMP/py"; tail -3 "$TMP/py" | sed 's/^/  /'; fi
    done
else
    echo "SKIP torchbin_transformers ($(tail -1 "$TMP/pyenv.err"))"
fi
