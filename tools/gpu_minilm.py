#!/usr/bin/env python3
"""gpu_minilm.py — all-MiniLM-L6-v2 in a form small enough to travel to a lent
GPU machine (whose copy of the working tree is limited to 64 MiB, with no
network there), and back into a model directory there.

    PY gpu_minilm.py pack    SRC_DIR SENTENCES OUT_DIR
    PY gpu_minilm.py restore DIR

pack (here, in tools/pyenv.sh's venv: numpy, transformers): from the
sentence-transformers model directory SRC_DIR (tools/fetch_real_models.sh)
writes OUT_DIR with
  - the vocabulary cut to the tokens that SENTENCES (JSONL, {"text"} or
    {"text", "text_pair"}) tokenize to, the special tokens kept, in the
    original order (vocab.txt; config.json's vocab_size follows). WordPiece
    picks the longest piece in the vocabulary, and every piece it picked for
    these texts is kept, so they tokenize to the same pieces (but where the
    whole vocabulary left a word [UNK], which the cut one may split): checked
    here with transformers' tokenizer of SRC_DIR against one of OUT_DIR;
  - every matrix of the checkpoint but the token-type table rounded per row
    to int8 with a float32 scale, max |row| / 127 (weights.q8.safetensors);
    the word table's kept rows only; vectors and the token-type table
    exactly;
  - the tokenizer's and sentence-transformers' configuration files as they
    are (not tokenizer.json, which holds the whole vocabulary).
About 12 MB instead of 91.

restore (there; numpy alone): DIR/model.safetensors, float32, each rounded
matrix as q * scale in float32 — the same bytes on any machine. bert.c and
sentence-transformers then load the same weights from DIR: a real
checkpoint's shapes, activations and tokenizer, with its weights rounded.

Exit status 0, or 1 with the reason on stderr.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

KEEP_FILES = ["tokenizer_config.json", "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
              "config_sentence_transformers.json", "1_Pooling/config.json"]
DTYPES = {"F32": np.float32, "I8": np.int8, "I64": np.int64, "F16": np.float16}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def die(msg):
    print(f"gpu_minilm: {msg}", file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    """{name: array} of a safetensors file (the dtypes in DTYPES)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        if n > 100 << 20:
            die(f"{path}: a header of {n} bytes")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in DTYPES:
            die(f"{path}: {name}: dtype {t['dtype']}")
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors {name: array} as a safetensors file, written to a temporary name, synced, renamed."""
    header, at = {"__metadata__": {"format": "pt"}}, 0  # transformers reads the format
    for name, a in tensors.items():
        n = a.nbytes
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + n]}
        at += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_items(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tokens_of(tok, items):
    return [tok.convert_ids_to_tokens(tok(i["text"], i.get("text_pair"))["input_ids"]) for i in items]


def pack(src, sentences, out):
    from transformers import AutoTokenizer
    for name in KEEP_FILES + ["vocab.txt", "config.json", "PROVENANCE.txt", "model.safetensors"]:
        if not os.path.isfile(os.path.join(src, name)):
            die(f"{src}: no {name} (a directory of tools/fetch_real_models.sh)")
    full = AutoTokenizer.from_pretrained(src)
    items = read_items(sentences)
    with open(os.path.join(src, "vocab.txt"), encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    keep = set(full.all_special_ids)
    for i in items:
        keep.update(full(i["text"], i.get("text_pair"))["input_ids"])
    kept = sorted(keep)
    if os.path.exists(out):
        die(f"{out} exists")
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "1_Pooling"))
    with open(os.path.join(tmp, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(vocab[i] + "\n" for i in kept))
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["vocab_size"] = len(kept)
    if config.get("pad_token_id") is not None:
        config["pad_token_id"] = kept.index(config["pad_token_id"])
    with open(os.path.join(tmp, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    for name in KEEP_FILES:
        shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
    with open(os.path.join(tmp, "PROVENANCE.txt"), "w", encoding="utf-8") as f:
        with open(os.path.join(src, "PROVENANCE.txt"), encoding="utf-8") as g:
            f.write(g.read())
        f.write(f"packed by tools/gpu_minilm.py: {len(kept)} of {len(vocab)} tokens (those of {os.path.basename(sentences)}),"
                " matrices rounded per row to int8\n")
    small = AutoTokenizer.from_pretrained(tmp)
    if tokens_of(small, items) != tokens_of(full, items):
        die("the cut vocabulary tokenizes the sentences differently")
    q = {}
    for name, a in read_safetensors(os.path.join(src, "model.safetensors")).items():
        if name.endswith("word_embeddings.weight"):
            a = a[kept]
        elif a.ndim >= 1 and a.shape[0] == len(vocab):
            die(f"{name}: a tensor over the vocabulary besides the word table (an MLM head?): not cut here")
        if a.dtype == np.float32 and a.ndim == 2 and "token_type" not in name:
            scale = np.abs(a).max(axis=1).astype(np.float32) / np.float32(127)
            safe = np.where(scale > 0, scale, np.float32(1))
            q[name] = np.clip(np.rint(a / safe[:, None]), -127, 127).astype(np.int8)
            q[name + ".q8_scale"] = scale
        else:
            q[name] = np.ascontiguousarray(a)
    write_safetensors(os.path.join(tmp, "weights.q8.safetensors"), q)
    os.replace(tmp, out)


def restore(d):
    q = read_safetensors(os.path.join(d, "weights.q8.safetensors"))
    out = {}
    for name, a in q.items():
        if name.endswith(".q8_scale"):
            continue
        if a.dtype == np.int8:
            out[name] = a.astype(np.float32) * q[name + ".q8_scale"][:, None]
        else:
            out[name] = a
    write_safetensors(os.path.join(d, "model.safetensors"), out)


def main(argv):
    if len(argv) == 5 and argv[1] == "pack":
        pack(argv[2], argv[3], argv[4])
    elif len(argv) == 3 and argv[1] == "restore":
        restore(argv[2])
    else:
        die("usage: gpu_minilm.py pack SRC_DIR SENTENCES OUT_DIR | restore DIR")


if __name__ == "__main__":
    main(sys.argv)
