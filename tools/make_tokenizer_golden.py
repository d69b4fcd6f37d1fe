#!/usr/bin/env python3
"""make_tokenizer_golden.py — run Hugging Face's own tokenizer (the Rust
`tokenizers` library, PyPI binding, version pinned in
tools/python-requirements.txt) on the golden corpus and store what it
returns: tests/fixtures/tokenizer/golden.jsonl.gz.

    python3 tools/make_tokenizer_corpus.py             # build/tokenizer_corpus.jsonl
    $(tools/pyenv.sh tokenizers) tools/make_tokenizer_golden.py [OUT]

Each output line is one case:
  {"tok": "uncased"|"cased", "text": ..., "text_pair": ... (optional),
   "params": {max_length, truncation, stride, side, overflow, padding, multiple, pad_side, special},
   "expect": [ {ids, types, offsets (flat start,end,...), words (-1 = None), special, mask}, ... ]}
or, for a batch: {"tok", "batch": [{text, text_pair}], "params", "expect": [[...], ...]},
or, for decoding: {"tok", "decode": ids, "skip_special": bool, "expect_text": "..."},
or, when Hugging Face refuses the input: {"tok", "text", ..., "params", "error": "message"}.
"uncased" is bert-base-uncased's tokenizer.json (../shared/models); "cased" the
same with lowercase off (tests/fixtures/tokenizer/cased). OUT defaults to the
fixture; the file is written atomically, gzip level 9 with no name and mtime 0.
"""
import json
import os
import sys
import zlib

from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load(path):
    """The tokenizer in PATH with its own truncation and padding off."""
    t = Tokenizer.from_file(path)
    t.no_truncation()
    t.no_padding()
    return t


def pack(e):
    """One encoding as the golden record's window object."""
    return {
        "ids": e.ids, "types": e.type_ids, "offsets": [v for o in e.offsets for v in o],
        "words": [-1 if w is None else w for w in e.word_ids],
        "special": e.special_tokens_mask, "mask": e.attention_mask,
    }


def configure(t, p):
    """Set T's truncation and padding to the case parameters P."""
    t.no_truncation()
    t.no_padding()
    if p.get("max_length") and p.get("truncation") != "none":
        t.enable_truncation(p["max_length"], stride=p.get("stride", 0), strategy=p["truncation"],
                            direction="left" if p.get("side") == "left" else "right")
    if p.get("padding"):
        t.enable_padding(direction="left" if p.get("pad_side") == "left" else "right", pad_id=0,
                         pad_token="[PAD]",
                         length=p["max_length"] if p["padding"] == "max_length" else None,
                         pad_to_multiple_of=p.get("multiple"))


def run(t, c, p):
    """Encode case C under P: {"expect": windows} or {"error": message}."""
    configure(t, p)
    try:
        e = t.encode(c["text"], c.get("text_pair"), add_special_tokens=p.get("special", True) is not False)
    except Exception as err:  # the library's refusal is the expected answer
        return {"error": str(err)}
    windows = [pack(e)]
    if p.get("overflow"):
        windows += [pack(o) for o in e.overflowing]
    return {"expect": windows}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "tokenizer",
                                                                  "golden.jsonl.gz")
    with open(os.path.join(ROOT, "build", "tokenizer_corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    uncased = load(os.path.join(ROOT, "..", "shared", "models", "bert-base-uncased-tokenizer", "tokenizer.json"))
    cased = load(os.path.join(ROOT, "tests", "fixtures", "tokenizer", "cased", "tokenizer.json"))
    out = []

    def emit(o):
        out.append(json.dumps(o, ensure_ascii=False, separators=(",", ":")))

    for c in corpus:
        pair = "text_pair" in c
        base = {"text": c["text"]}
        if pair:
            base["text_pair"] = c["text_pair"]
        emit({"tok": "uncased", **base, "params": {}, **run(uncased, c, {})})
        emit({"tok": "cased", **base, "params": {}, **run(cased, c, {})})
        if pair:
            trunc = [
                {"max_length": 64, "truncation": "only_second", "stride": 16, "overflow": True},
                {"max_length": 48, "truncation": "longest_first"},
                {"max_length": 40, "truncation": "longest_first", "stride": 4, "overflow": True},
                {"max_length": 32, "truncation": "only_first"},
            ]
        else:
            trunc = [
                {"max_length": 32, "truncation": "longest_first", "stride": 8, "overflow": True},
                {"max_length": 20, "truncation": "longest_first", "stride": 5, "overflow": True, "side": "left"},
                {"max_length": 16, "truncation": "longest_first", "special": False},
            ]
        for p in trunc:
            emit({"tok": "uncased", **base, "params": p, **run(uncased, c, p)})
    # Padding: batches of 5 single texts.
    singles = [c for c in corpus if "text_pair" not in c]
    pads = [
        {"padding": "longest"}, {"padding": "longest", "multiple": 8, "pad_side": "left"},
        {"padding": "max_length", "max_length": 48, "truncation": "longest_first"},
    ]
    i = k = 0
    while i + 5 <= len(singles) and k < 60:
        batch = singles[i:i + 5]
        p = pads[k % len(pads)]
        configure(uncased, p)
        encs = uncased.encode_batch([c["text"] for c in batch])
        emit({"tok": "uncased", "batch": batch, "params": p, "expect": [[pack(e)] for e in encs]})
        i += 37
        k += 1
    # Decoding: ids of some encodings back to text.
    configure(uncased, {})
    for c in corpus[::9]:
        ids = uncased.encode(c["text"], c.get("text_pair")).ids
        for skip in (True, False):
            emit({"tok": "uncased", "decode": ids, "skip_special": skip,
                  "expect_text": uncased.decode(ids, skip_special_tokens=skip)})
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = z.compress(("\n".join(out) + "\n").encode("utf-8")) + z.flush()
    tmp = out_path + ".tmp.golden"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)
    print(f"{len(out)} cases -> {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
