#!/usr/bin/env python3
"""make_realstack_sentences.py — the real sentences the real-model parity test
(tests/cli/test_realstack.sh) embeds: tests/fixtures/realstack/sentences.jsonl.

    python3 tools/make_realstack_sentences.py      (needs ../shared/data)

Sources, both public domain: Project Gutenberg books of the NLTK corpus
(../shared/data/gutenberg_nltk) and US State of the Union addresses
(../shared/data/state_union, US government works). Files that are not valid
UTF-8 are skipped. Fixed seed, so the file is reproducible.

Lines, one JSON object each ({"text"} or {"text", "text_pair"}):
  200 single sentences of mixed length (50 short, 100 medium, 50 long),
   80 pairs of consecutive sentences,
   32 long texts (consecutive paragraphs, 250-700 words: over the model's
      256-token limit, some over 512),
   hand-written cases (accents, CJK, punctuation runs, an emoji).
"""
import glob
import json
import os
import random
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "tests", "fixtures", "realstack", "sentences.jsonl")
SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def paragraphs():
    """(source, [paragraph, ...]) per readable file, paragraphs whitespace-joined."""
    files = sorted(glob.glob(os.path.join(DATA, "gutenberg_nltk", "*.txt")))
    files += sorted(glob.glob(os.path.join(DATA, "state_union", "*.txt")))
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            continue
        blocks = re.split(r"\n\s*\n", text) if "gutenberg" in path else text.split("\n")
        paras = [" ".join(b.split()) for b in blocks]
        yield os.path.basename(path), [p for p in paras if len(p.split()) >= 3]


def main():
    rng = random.Random(25)
    short, medium, long_, pairs, longtexts = [], [], [], [], []
    for _, paras in paragraphs():
        for i, p in enumerate(paras):
            sents = [s for s in SPLIT.split(p) if s]
            for j, s in enumerate(sents):
                n = len(s.split())
                (short if n <= 8 else medium if n <= 30 else long_ if n <= 90 else []).append(s)
                if j + 1 < len(sents) and 5 <= n <= 40 and 5 <= len(sents[j + 1].split()) <= 40:
                    pairs.append((s, sents[j + 1]))
            words = []
            for q in paras[i:i + 12]:
                words += q.split()
                if len(words) >= 250:
                    break
            if 250 <= len(words) <= 700:
                longtexts.append(" ".join(words))
    out = [{"text": s} for s in rng.sample(short, 50) + rng.sample(medium, 100) + rng.sample(long_, 50)]
    out += [{"text": a, "text_pair": b} for a, b in rng.sample(pairs, 80)]
    out += [{"text": t} for t in rng.sample(longtexts, 32)]
    out += [{"text": t} for t in (
        "Café naïve résumé: the Œuvre of Ångström and Dvořák.",
        "北京是中国的首都。 Tokyo (東京) is Japan's capital.",
        "Wait... what?!? -- no way!!! (really?) [yes] {maybe} <ok>",
        "The price rose 12.5% to $1,234.56 on 2024-03-01 at 09:30.",
        "I love this 😀 and that 🫠 too.",
        "ALL CAPS SENTENCE WITH MIXED Case and lower case.",
        "e-mail: someone@example.com, url: https://example.org/a?b=c",
        "Straße, façade, coöperate, naïveté, Øresund, İstanbul.",
    )]
    rng.shuffle(out)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = OUT + ".tmp.sentences"
    with open(tmp, "w", encoding="utf-8") as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, OUT)
    print(f"{len(out)} lines -> {OUT}")


if __name__ == "__main__":
    main()
