#!/usr/bin/env python3
"""unicode_oracle.py — ask Hugging Face's tokenizer (the Rust `tokenizers`
library, PyPI binding, pinned in tools/python-requirements.txt) how it
classifies every code point, for tools/unicode_diff to compare with bert.c's
utf8proc-based classes.

    $(tools/pyenv.sh tokenizers) tools/unicode_oracle.py > build/unicode_oracle.txt

Prints one line per code point whose behaviour is not the default:
  <hex cp> <control 0/1> <whitespace 0/1> <punct 0/1> <strip-accents hex,...|-> <lowercase hex,...|-> <split-as-space 0/1>
where strip-accents / lowercase give the code points the normalizer produces
for that single character ('-' = unchanged, 'empty' = removed).
"""
import sys

from tokenizers import normalizers, pre_tokenizers


def hexes(s):
    """The code points of S as comma-separated lowercase hex ('empty' for none)."""
    return ",".join(format(ord(ch), "x") for ch in s) or "empty"


def main():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    out = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        c = clean.normalize_str(ch)
        control = 1 if c == "" else 0
        ws = 1 if c == " " else 0
        # A punctuation character is isolated: "a" ch "b" gives three pieces.
        pieces = len(pre.pre_tokenize_str("a" + ch + "b"))
        punct = 1 if pieces == 3 else 0
        prews = 1 if pieces == 2 else 0
        s = strip.normalize_str(ch)
        low = lower.normalize_str(ch)
        sv = "-" if s == ch else hexes(s)
        lv = "-" if low == ch else hexes(low)
        if control or ws or punct or prews or sv != "-" or lv != "-":
            out.append(f"{cp:x} {control} {ws} {punct} {sv} {lv} {prews}\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
