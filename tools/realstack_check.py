#!/usr/bin/env python3
"""realstack_check.py — compare bert.c's outputs on a real checkpoint with the
real Python libraries (tests/cli/test_realstack.sh runs it in the venv that
tools/pyenv.sh makes).

    PY realstack_check.py embed    MODEL_DIR INPUT NAME BERT_OUT MIN_COS MAX_DIFF [NAME BERT_OUT MIN_COS MAX_DIFF ...]
    PY realstack_check.py hidden   NAME MODEL_DIR INPUT BERT_OUT MAX_DIFF
    PY realstack_check.py tokenize NAME MODEL_DIR INPUT BERT_OUT plain|file

INPUT is JSONL ({"text"} or {"text", "text_pair"}), BERT_OUT bert.c's JSONL
for the same lines (embed takes several, one check each, against one
reference run):
  embed     `bert embed MODEL_DIR --truncate` against
            sentence-transformers' SentenceTransformer(MODEL_DIR).encode (a pair
            is encoded as sentence-transformers encodes a [text, text_pair]
            item; on the device REALSTACK_DEVICE names, default "cpu", in
            float32 with TF32 off); each row's cosine >= MIN_COS and, unless
            MAX_DIFF is "-", every |difference| <= MAX_DIFF;
  hidden    `bert embed MODEL_DIR --pooling none --truncate` (a directory
            without the sentence-transformers files, so nothing is normalised)
            against transformers' BertModel last_hidden_state, one text at a
            time, truncated at the model's 512 positions: every |difference|
            <= MAX_DIFF;
  tokenize  `bert tokenize` against `tokenizers`' Tokenizer.from_file of
            MODEL_DIR/tokenizer.json: "plain" with its truncation and padding
            off (as transformers and sentence-transformers call it), "file"
            with the file's own truncation and padding (bert tokenize given the
            same --max-length / --padding max_length); ids, type ids, attention
            mask, offsets and word ids must be identical.
Prints one line per check, `PASS NAME (...)` or `FAIL NAME (...)`, and exits
0 when all pass, 1 otherwise.
"""
import json
import os
import sys

import numpy as np


def read_jsonl(path):
    """The JSON objects of PATH, one per non-empty line."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def verdict(name, ok, detail):
    """Print the PASS/FAIL line; the exit status."""
    print(f"{'PASS' if ok else 'FAIL'} {name} ({detail})")
    return 0 if ok else 1


def st_reference(model_dir, items):
    """SentenceTransformer(model_dir).encode of ITEMS, one row per item."""
    import torch
    from sentence_transformers import SentenceTransformer
    torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default, stated: f32 products in f32
    torch.backends.cudnn.allow_tf32 = False
    st = SentenceTransformer(model_dir, device=os.environ.get("REALSTACK_DEVICE", "cpu"))
    # One call for the single texts, one for the pairs: sentence-transformers
    # reads a batch as pairs or singles from its first item.
    ref = np.zeros((len(items), st.get_sentence_embedding_dimension()), dtype=np.float32)
    for is_pair in (False, True):
        rows = [n for n, i in enumerate(items) if ("text_pair" in i) == is_pair]
        inputs = [[items[n]["text"], items[n]["text_pair"]] if is_pair else items[n]["text"] for n in rows]
        if rows:
            ref[rows] = st.encode(inputs, batch_size=32, convert_to_numpy=True)
    return ref


def check_embed(name, items, ref, bert_rows, min_cos, max_diff):
    """bert.c's pooled embeddings BERT_ROWS against the reference REF."""
    got = np.array([r["embedding"] for r in bert_rows], dtype=np.float64)
    if got.shape != ref.shape:
        return verdict(name, False, f"shape {got.shape} vs sentence-transformers {ref.shape}")
    ref = ref.astype(np.float64)
    cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    diff = np.abs(got - ref).max(1)
    worst = int(cos.argmin())
    ok = cos.min() >= min_cos and (max_diff is None or diff.max() <= max_diff)
    bound = f"cos >= {min_cos}" + ("" if max_diff is None else f", |diff| <= {max_diff}")
    where = os.environ.get("REALSTACK_DEVICE", "cpu")
    return verdict(name, ok, f"{len(items)} texts vs sentence-transformers ({where}): min cos {cos.min():.8f} "
                             f"(line {worst + 1}), mean cos {cos.mean():.8f}, max |diff| {diff.max():.2e}; "
                             f"want {bound}")


def check_hidden(name, model_dir, items, bert_rows, max_diff):
    """bert.c's per-token hidden states against transformers' BertModel."""
    import torch
    from transformers import AutoTokenizer, BertModel
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    worst, worst_line = 0.0, 0
    for n, (item, row) in enumerate(zip(items, bert_rows), 1):
        enc = tok(item["text"], item.get("text_pair"), truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            ref = model(**enc).last_hidden_state[0].double().numpy()
        got = np.array(row["token_embeddings"], dtype=np.float64)
        if got.shape != ref.shape:
            return verdict(name, False, f"line {n}: shape {got.shape} vs transformers {ref.shape}")
        d = float(np.abs(got - ref).max())
        if d > worst:
            worst, worst_line = d, n
    ok = worst <= max_diff and len(items) == len(bert_rows)
    return verdict(name, ok, f"{len(items)} texts vs transformers {__import__('transformers').__version__} "
                             f"BertModel: max |diff| {worst:.2e} (line {worst_line}); want <= {max_diff}")


def check_tokenize(name, model_dir, items, bert_rows, mode):
    """bert tokenize against the model's own tokenizer.json run by `tokenizers`."""
    import tokenizers
    t = tokenizers.Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    if mode == "plain":
        t.no_truncation()
        t.no_padding()
    if len(items) != len(bert_rows):
        return verdict(name, False, f"{len(bert_rows)} output lines for {len(items)} inputs")
    for n, (item, row) in enumerate(zip(items, bert_rows), 1):
        e = t.encode(item["text"], item.get("text_pair"))
        want = {"input_ids": e.ids, "token_type_ids": e.type_ids, "attention_mask": e.attention_mask,
                "offsets": [list(o) for o in e.offsets], "word_ids": e.word_ids}
        for key, value in want.items():
            if row.get(key) != value:
                return verdict(name, False, f"line {n}: {key} differs from tokenizers {tokenizers.__version__}")
    return verdict(name, True, f"{len(items)} texts: ids, type ids, masks, offsets, word ids identical to "
                               f"tokenizers {tokenizers.__version__} ({mode} settings)")


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    if sys.argv[1] == "embed" and (len(sys.argv) - 4) % 4 == 0:
        model_dir, items = sys.argv[2], read_jsonl(sys.argv[3])
        ref = st_reference(model_dir, items)
        rc = 0
        for k in range(4, len(sys.argv), 4):
            name, out, min_cos, max_diff = sys.argv[k:k + 4]
            rc |= check_embed(name, items, ref, read_jsonl(out), float(min_cos),
                              None if max_diff == "-" else float(max_diff))
        return rc
    cmd, name, model_dir, inp, out = sys.argv[1:6]
    items, rows = read_jsonl(inp), read_jsonl(out)
    if cmd == "hidden":
        return check_hidden(name, model_dir, items, rows, float(sys.argv[6]))
    if cmd == "tokenize":
        return check_tokenize(name, model_dir, items, rows, sys.argv[6])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
