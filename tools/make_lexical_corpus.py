#!/usr/bin/python3
"""Lexical and evaluative English text from Debian packages, for pre-training (bertc-mini's slice 7).

usage: tools/make_lexical_corpus.py EXTRACTED_ROOT OUT.txt
  where EXTRACTED_ROOT holds the packages unpacked, e.g.
    apt-get download wordnet-base fortunes fortunes-min && for f in *.deb; do dpkg -x $f root; done

wordnet-base (WordNet 3.0 licence, permissive): one line per synset, "words: gloss. examples.",
documents = 25 consecutive synsets of one data file (satellite adjectives sit next to their head,
so neighbours are related). fortunes (fortune-mod data, Debian main): one line per fortune,
documents = 20 consecutive fortunes of one file."""
import glob, os, re, sys
if len(sys.argv) != 3:
    sys.exit(__doc__)
src, out = sys.argv[1], sys.argv[2]
docs = []
for pos in ("adj", "adv", "verb", "noun"):
    cur = []
    for line in open(os.path.join(src, "usr/share/wordnet/data." + pos), encoding="latin-1"):
        if line.startswith("  ") or "|" not in line:
            continue
        head, gloss = line.split("|", 1)
        f = head.split()
        n = int(f[3], 16)
        words = [f[4 + 2 * i].replace("_", " ") for i in range(n)]
        words = [re.sub(r"\(.*?\)$", "", w) for w in words]
        parts = [p.strip() for p in gloss.strip().split(";") if p.strip()]
        defs = [p for p in parts if not p.startswith('"')]
        exs = [p.strip('"').strip() for p in parts if p.startswith('"')]
        text = ", ".join(words) + ": " + "; ".join(defs) + "."
        for e in exs:
            e = e.rstrip('"')
            if e:
                text += " " + e[0].upper() + e[1:] + ("" if e[-1] in ".!?" else ".")
        cur.append(text)
        if len(cur) == 25:
            docs.append(cur); cur = []
    if cur: docs.append(cur)
for path in sorted(glob.glob(os.path.join(src, "usr/share/games/fortunes/*"))):
    if path.endswith(".dat") or os.path.islink(path) or os.path.isdir(path):
        continue
    raw = open(path, encoding="utf-8", errors="replace").read()
    items = [" ".join(x.split()) for x in raw.split("\n%\n")]
    items = [x for x in items if len(x) > 20 and "\ufffd" not in x]
    for i in range(0, len(items), 20):
        docs.append(items[i:i + 20])
with open(out, "w", encoding="utf-8") as o:
    for d in docs:
        o.write("\n".join(d) + "\n\n")
print(len(docs), "documents", sum(len(d) for d in docs), "lines", file=sys.stderr)
