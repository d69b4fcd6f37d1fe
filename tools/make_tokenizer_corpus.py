#!/usr/bin/env python3
"""Build the tokenizer golden corpus: build/tokenizer_corpus.jsonl (input of
tools/make_tokenizer_golden.py, which stores the texts with the results).

Real text from openly licensed sets in ../shared/data (see
tests/fixtures/tokenizer/README.md for sources and licences) plus a
hand-written set of hard cases. Each line is {"text": ...} or
{"text": ..., "text_pair": ...}. Deterministic: same input, same file.

    python3 tools/make_tokenizer_corpus.py
"""
import csv
import gzip
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "build", "tokenizer_corpus.jsonl")


def sample(items, n, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items[:n]


def squad_like(path):
    d = json.load(open(path, encoding="utf-8"))
    for art in d["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                yield qa["question"], p["context"]


def lines_of(path, encoding="utf-8"):
    with open(path, encoding=encoding, errors="strict") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def hard_cases():
    w99, w100, w101 = "a" * 99, "b" * 100, "c" * 101
    cases = [
        # accents and scripts
        "Café naïve résumé — Ångström, Øresund, Łódź, Ñandú, Ægir, façade, coöperate",
        "Ελληνικά: Καλημέρα κόσμε, ΆΈΉΊΌΎΏ άέήίόύώ ΐΰ ς σ Σ",
        "Русский текст: Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЖИК ёжик Й й",
        "العربية: مرحبا بالعالم، كيف حالك؟ ١٢٣٤٥ ﷺ",
        "עברית: שָׁלוֹם עוֹלָם, מה שלומך?",
        "हिन्दी: नमस्ते दुनिया। क्षत्रिय ज्ञान ॐ",
        "ภาษาไทย: สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
        "한국어: 안녕하세요 세계! 한글 자모 ㄱㄴㄷ ᄀᄁ",
        "日本語: こんにちは世界、カタカナ ﾊﾝｶｸ ひらがな。漢字の読み方",
        "中文：你好，世界！我爱北京天安门。",
        "CJK ext B-G: 𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𰀀 𱍐 and compat 豈更車 and 丽丸",
        "Ext boundary: \U0002B81F \U0002B820 \U0002B8FF \U0002B91F \U0002B920 \U0002CEAF",
        # emoji
        "Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷 🥰 🫠 🪿 #️⃣ keycap",
        "new emoji 🫨🩷🪼 and ZWJ 🧑🏿‍🚀",
        # control, format, spaces
        "tab\there\nnewline\rreturn\x0bvt\x0cff\x1cfs\x85nel",
        "zero\u200bwidth\u200cjoiner\u200dnon\ufeffbom\u2060wj\u00adsoft\u00ad-hyphen",
        "spaces:\u00a0nbsp\u1680ogham\u2000en\u2001em\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028ls\u2029ps\u202f\u205f\u3000ideo",
        "bidi \u202aLRE\u202c \u2066iso\u2069 \u200emark\u200f rtl",
        "nul\x00byte and replacement \ufffd char and private \ue000\uf8ff \U000f0000",
        "unassigned \u0378 \U0001fbff \U000e0080 noncharacter \ufdd0 \uffff",
        # combining marks
        "combining: e\u0301 a\u0300 n\u0303 o\u0308 c\u0327 i\u0307 Z\u0335\u0336\u0337 zalgo h\u0334\u0335e\u0336\u0337",
        "precomposed vs decomposed: \u00e9 e\u0301 \u1e9b\u0323 \u212b \u2126",
        # case
        "Turkish: İstanbul ISTANBUL ıi İi KIRIKKALE kırıkkale",
        "German: Straße STRASSE ß ẞ Maß",
        "Ligatures: ﬁﬂﬀﬃﬄ ﬅﬆ æ œ Ĳ ĳ ǅ ǈ ǋ",
        "Full-width: ＡＢＣ ａｂｃ １２３ ！？ （括弧） ＠＃",
        "Greek final sigma ΟΔΟΣ οδος and title case ǲ",
        "Cherokee Ꭰ ꭰ and Georgian Ა ა and Glagolitic Ⰰ ⰰ",
        # long words
        w99, w100, w101, "x " + w100 + " y", "##pre ##fix words",
        "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        # URLs, numbers, punctuation
        "https://example.com/path?query=1&b=2#frag mailto:someone@example.org",
        "Numbers: 3.14159, 1,000,000, -42, +7, 1e-10, 0x1F, 50%, $9.99, €20, £5, ¥100, 12:30pm",
        "Quotes: “smart” ‘quotes’ «guillemets» „low“ — en–dash … ellipsis ¡Hola! ¿Qué?",
        "Symbols: © ® ™ ° ± × ÷ ∞ ≠ ≤ ≥ √ ∑ ∫ → ← ↑ ↓ ♠ ♥ ★ ☆ § ¶ † ‡ • ‰",
        "Brackets ([{<>}]) and math a+b=c; x^2 | y & z ~ w `code` _under_ @at #hash",
        "don't can't won't it's I'm you're we've they'll",
        "[MASK] [CLS] [SEP] [PAD] [UNK] [mask] [ MASK ] x[MASK]y [MASK][MASK] [MASK.",
        "The capital of France is [MASK].",
        "",
        " ",
        "   leading and trailing   ",
        ".",
        "a",
        "?!...",
        "\u0301\u0301 marks alone",
        "mixed 中文English日本語한국어 text",
        "ALL CAPS SHOUTING TEXT WITH ÀCCÉNTS",
        "Hyphen-ated well-known state-of-the-art",
        "snake_case camelCase PascalCase kebab-case",
        "e-mail: first.last+tag@sub.domain.co.uk",
        "C++ C# F# .NET node.js",
        "tabs\t\tand\t\tmultiple    spaces",
        "\u00a0\u00a0",
        "Ⅻ ⅻ ① ⑳ ㊿ ½ ¾ ⁴ ₂",
        "Mathematical 𝐀𝐁𝐂 𝓐𝓑𝓒 𝔸𝔹ℂ",
        "Deseret 𐐀𐐨 and Osage 𐒰𐓘 case pairs",
        "Vertical forms ︐︑ and small forms ﹐﹑﹒",
        # adjacency: where Rust and Python (or old and new Unicode tables) differ
        "a\U0002B820b x\U0002B91Fy z\U0002B920w 中文abc漢字def",
        "new emoji inside words: a🫠b c🥰d e🪿f and new scripts a\U00011F00b",
        "newer marks: e\u0898f k\U00011938l and unassigned x\u0378y",
        "İstanbul'da KIRIKKALE'de ǅemal ﬁnancial",
        "word\u00adbreak soft\u200bhyphen join\u200dme",
    ]
    pairs = [
        ("", "second only"), ("first only", ""), ("", ""),
        ("What is the capital of France?", "Paris is the capital and most populous city of France."),
        ("Who?", "A " * 200), ("x " * 150, "y " * 150), ("Café?", "Naïve résumé 中文 😀"),
        ("[MASK] question", "[SEP] context [CLS]"),
    ]
    return [{"text": c} for c in cases] + [{"text": a, "text_pair": b} for a, b in pairs]


def main():
    out = hard_cases()
    qa = list(squad_like(os.path.join(DATA, "xquad_en", "xquad.en.json")))
    ty = list(squad_like(os.path.join(DATA, "tydiqa_goldp_en", "english_tydiqa_dev.json")))
    for q, c in sample(qa, 250, 1) + sample(ty, 150, 2):
        out.append({"text": q, "text_pair": c})
    contexts = sorted({c for _, c in qa + ty})
    out += [{"text": c} for c in sample(contexts, 200, 3)]
    out += [{"text": l} for l in sample(lines_of(os.path.join(DATA, "wikitext2", "valid.txt")), 400, 4)]
    gut = []
    for f in sorted(os.listdir(os.path.join(DATA, "gutenberg_nltk"))):
        if f.endswith(".txt"):
            gut += lines_of(os.path.join(DATA, "gutenberg_nltk", f), "latin-1")
    out += [{"text": l} for l in sample(gut, 400, 5)]
    su = []
    for f in sorted(os.listdir(os.path.join(DATA, "state_union"))):
        if f.endswith(".txt"):
            su += lines_of(os.path.join(DATA, "state_union", f), "latin-1")
    out += [{"text": l} for l in sample(su, 300, 6)]
    with open(os.path.join(DATA, "banking77", "train.csv"), encoding="utf-8") as f:
        bank = [r["text"] for r in csv.DictReader(f)]
    out += [{"text": t} for t in sample(bank, 300, 7)]
    with gzip.open(os.path.join(DATA, "clinc150", "data_full.json.gz"), "rt", encoding="utf-8") as f:
        clinc = [t for t, _ in json.load(f)["train"]]
    out += [{"text": t} for t in sample(clinc, 300, 8)]
    sts = []
    with open(os.path.join(DATA, "glue", "STS-B", "dev.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 10:
                sts.append((cols[7], cols[8]))
    out += [{"text": a, "text_pair": b} for a, b in sample(sts, 250, 9)]
    ner = []
    for name in ("ncbi_disease/test.tsv", "bc5cdr/test.tsv"):
        words = []
        for line in open(os.path.join(DATA, name), encoding="utf-8"):
            line = line.rstrip("\n")
            if not line:
                if words:
                    ner.append(" ".join(words))
                words = []
            else:
                words.append(line.split("\t")[0])
    out += [{"text": t} for t in sample(ner, 200, 10)]
    with open(OUT, "w", encoding="utf-8") as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(f"{len(out)} lines -> {OUT}")


if __name__ == "__main__":
    main()
