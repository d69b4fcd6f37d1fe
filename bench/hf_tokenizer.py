#!/usr/bin/env python3
"""The peer of bench_tokenizer.c: Hugging Face `tokenizers` (Rust, PyPI
binding pinned in tools/python-requirements.txt) on the same lines, single
thread (TOKENIZERS_PARALLELISM=false, RAYON_NUM_THREADS=1), the same way:
median of REPS runs, encode_batch and one encode per line.

    TOKENIZERS_PARALLELISM=false $(tools/pyenv.sh tokenizers) bench/hf_tokenizer.py TOKENIZER_JSON TEXT_FILE [REPS]
"""
import statistics
import sys
import time

from tokenizers import Tokenizer


def main():
    path, text_file = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    t = Tokenizer.from_file(path)
    t.no_truncation()
    t.no_padding()
    with open(text_file, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    nbytes = sum(len(line.encode("utf-8")) for line in lines)
    for mode in ("encode_batch", "encode"):
        times = []
        tokens = 0
        for _ in range(reps):
            t0 = time.perf_counter()
            if mode == "encode_batch":
                tokens = sum(len(e) for e in t.encode_batch(lines))
            else:
                tokens = sum(len(t.encode(line)) for line in lines)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"hf-{mode:<12} lines {len(lines)}  bytes {nbytes}  tokens {tokens}  median {med:.3f} s  "
              f"{nbytes / med / 1e6:.2f} MB/s  {tokens / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
