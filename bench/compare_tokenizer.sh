#!/bin/sh
# bench/compare_tokenizer.sh — bert.c's tokenizer against Hugging Face's
# (Rust `tokenizers`, PyPI binding), single thread, same lines, same run.
#   bench/compare_tokenizer.sh [ROUNDS]
# Needs ../shared (for the corpus) and PyPI (tools/pyenv.sh installs the peer).
set -e
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
PY=$(tools/pyenv.sh tokenizers)
make -s build/bench_tokenizer
[ -f build/tokenizer_corpus.jsonl ] || python3 tools/make_tokenizer_corpus.py
# Every text of the golden corpus plus WikiText-2 valid: ~2 MB of mixed real text.
python3 -c "
import json
with open('build/bench_tokenizer.txt', 'w') as out:
    for l in open('build/tokenizer_corpus.jsonl'):
        o = json.loads(l)
        for k in ('text', 'text_pair'):
            if o.get(k, '').strip(): out.write(' '.join(o[k].split('\n')) + '\n')
    for l in open('../shared/data/wikitext2/valid.txt'):
        if l.strip(): out.write(l)
"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for r in $(seq "$ROUNDS"); do
    taskset -c 0 ./build/bench_tokenizer tests/fixtures/tokenizer/uncased build/bench_tokenizer.txt 5
    TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 taskset -c 0 "$PY" bench/hf_tokenizer.py \
        ../shared/models/bert-base-uncased-tokenizer/tokenizer.json build/bench_tokenizer.txt 5
done
