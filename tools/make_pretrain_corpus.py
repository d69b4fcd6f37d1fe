#!/usr/bin/env python3
"""Pre-training corpora for `bert pretrain`, from ../shared/data (Python stdlib only).

Writes text files in the layout `bert prepare` / `bert pretrain` read: one
paragraph per line, a blank line between documents (`--split-sentences`
then cuts paragraphs into sentences). Documents are shuffled with a fixed
seed, so the held-out documents (the last ones) mix every source.

  general.txt  openly licensed English:
               - WikiText-2 valid + test (CC BY-SA 3.0), one document per article
                 ("= Title =" lines), the tokenisation marks undone (" @-@ " -> "-",
                 " , " -> ", " ...), "<unk>" dropped;
               - SQuAD v1.1 *train* contexts (CC BY-SA 4.0, Wikipedia), one document
                 per article. Train articles only: SQuAD dev / XQuAD contexts are
                 never seen, so QA scores on them are not inflated;
               - Project Gutenberg books from NLTK (public domain): hard-wrapped
                 paragraphs joined, a document per chapter (or per 40 paragraphs);
               - US State of the Union addresses 1945-2005 (public domain), one per
                 document. Latin-1 files are decoded as Latin-1.
  ncbi.txt     biomedical domain text: the NCBI-disease PubMed abstracts (train
               set; title line + abstract line per document). The NER test set's
               abstracts are left out.

usage: tools/make_pretrain_corpus.py OUT_DIR [--shared ../shared/data]
"""
import gzip
import json
import os
import random
import re
import sys


def read_text(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def wikitext(path):
    docs, cur = [], []
    for line in read_text(path).split("\n"):
        s = line.strip()
        if not s:
            continue
        if re.fullmatch(r"= [^=].*[^=] =", s):  # a new article
            if cur:
                docs.append(cur)
            cur = []
            continue
        if s.startswith("= ="):  # section headings
            continue
        s = s.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk>", "")
        s = re.sub(r" ([,.;:!?)'])", r"\1", s)
        s = re.sub(r"\( ", "(", s)
        s = re.sub(r"\s+", " ", s).strip()
        if s:
            cur.append(s)
    if cur:
        docs.append(cur)
    return docs


def squad_train(path):
    data = json.load(gzip.open(path, "rt", encoding="utf-8"))["data"]
    return [[" ".join(p["context"].split()) for p in art["paragraphs"]] for art in data]


def prose(path):
    paras, cur = [], []
    for line in read_text(path).split("\n"):
        if line.strip():
            cur.append(line.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    docs, doc = [], []
    for p in paras:
        if re.match(r"^(CHAPTER|Chapter|BOOK|Book|ACT|Actus|VOLUME)\b", p) and doc:
            docs.append(doc)
            doc = []
        doc.append(p)
        if len(doc) >= 40:
            docs.append(doc)
            doc = []
    if doc:
        docs.append(doc)
    return docs


def speech(path):
    lines = [l.strip() for l in read_text(path).split("\n") if l.strip()]
    return [lines]


def pubtator(path):
    docs, cur = [], []
    for line in read_text(path).split("\n"):
        m = re.match(r"^\d+\|[ta]\|(.*)$", line)
        if m:
            cur.append(m.group(1).strip())
        elif not line.strip() and cur:
            docs.append(cur)
            cur = []
    if cur:
        docs.append(cur)
    return docs


def write(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            for p in d:
                f.write(p + "\n")
            f.write("\n")
    n = sum(len(d) for d in docs)
    size = os.path.getsize(path)
    print(f"{path}: {len(docs)} documents, {n} paragraphs, {size / 1e6:.1f} MB")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    shared = sys.argv[sys.argv.index("--shared") + 1] if "--shared" in sys.argv else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "data")
    os.makedirs(out, exist_ok=True)
    docs = []
    for name in ("valid.txt", "test.txt"):
        p = os.path.join(shared, "wikitext2", name)
        if not os.path.exists(p):
            p = [os.path.join(shared, "wikitext2", f) for f in sorted(os.listdir(os.path.join(shared, "wikitext2")))
                 if name.split(".")[0] in f][0]
        docs += wikitext(p)
    docs += squad_train(os.path.join(shared, "squad_v1.1", "train-v1.1.json.gz"))
    g = os.path.join(shared, "gutenberg_nltk")
    for f in sorted(os.listdir(g)):
        if f.endswith(".txt"):
            docs += prose(os.path.join(g, f))
    s = os.path.join(shared, "state_union")
    for f in sorted(os.listdir(s)):
        if f.endswith(".txt"):
            docs += speech(os.path.join(s, f))
    random.Random(1).shuffle(docs)  # `bert pretrain` holds out the last documents: a mix of all sources
    write(os.path.join(out, "general.txt"), docs)
    write(os.path.join(out, "ncbi.txt"),
          pubtator(os.path.join(shared, "ncbi_disease_abstracts", "NCBItrainset_corpus.txt")))


if __name__ == "__main__":
    main()
