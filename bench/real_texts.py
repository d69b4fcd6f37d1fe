#!/usr/bin/env python3
"""real_texts.py — N real English sentences of mixed length for bench/real_model.sh,
as JSONL ({"text": ...} a line), from the SQuAD v1.1 dev set in ../shared/data:
half questions (3-40 words), half sentences of the Wikipedia paragraphs (split
after '.', '?' or '!' and a space; 1-200 words), in a fixed pseudo-random
order — the queries and the passage sentences of a retrieval workload.

    python3 bench/real_texts.py OUT.jsonl [N] [--data ../shared/data]

Exit status 3 when the data set is not there (the caller falls back to the
repository's 320 texts). Standard library only.
"""
import argparse
import gzip
import json
import os
import random
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("n", nargs="?", type=int, default=10000)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    a = ap.parse_args()
    src = os.path.join(a.data, "squad_v1.1", "dev-v1.1.json.gz")
    if not os.path.isfile(src):
        print(f"real_texts: {src} not found", file=sys.stderr)
        return 3
    with gzip.open(src, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    sentences, questions = [], []
    for article in data:
        for para in article["paragraphs"]:
            sentences.extend(s.strip() for s in re.split(r"(?<=[.?!])\s+", para["context"]) if s.strip())
            questions.extend(qa["question"].strip() for qa in para["qas"])
    half = a.n // 2
    texts = questions[:a.n - half] + sentences[:half]
    random.Random(42).shuffle(texts)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    os.replace(tmp, a.out)
    words = sorted(len(t.split()) for t in texts)
    print(f"real_texts: {len(texts)} texts in {a.out}, words per text: median {words[len(words) // 2]}, "
          f"max {words[-1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
