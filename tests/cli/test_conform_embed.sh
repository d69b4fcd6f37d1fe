#!/bin/sh
# test_conform_embed.sh — added tokens and sentence embeddings against the
# peers themselves, run live: Hugging Face `tokenizers` and
# sentence-transformers (the project venv, tools/pyenv.sh) remake the
# conformance goldens from scratch (tools/make_conformance_goldens.py) in a
# temporary directory, then
#   - `bert tokenize` encodes the same texts with the tokenizer.json files
#     the peer just wrote: ids and offsets must be identical;
#   - the C conformance tests run against the fresh goldens
#     (BERT_CONFORMANCE_DIR): tokens, decode, and every sentence-transformers
#     embedding within 1e-5.
# Without the venv each check prints SKIP (never PASS); the committed
# goldens are still checked by test_bert.
BERT=${BERT:-build/bert}
TEST_BERT=$(dirname "$BERT")/test_bert
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=conform_
FAIL_LINES=8
. tests/cli/lib.sh

checks="peers_remake_goldens bert_tokenize_added_tokens added_tokens_fresh_goldens st_embeddings_fresh_goldens"
if ! py=$(tools/pyenv.sh tokenizers sentence-transformers transformers safetensors 2> "$TMP/pyenv.err"); then
    reason=$(grep -m1 . "$TMP/pyenv.err")
    for c in $checks; do skip "$c" "python peers: ${reason:-tools/pyenv.sh failed}"; done
    exit 0
fi

# --- the peers remake the goldens -------------------------------------------
if "$py" tools/make_conformance_goldens.py --out "$TMP/g" > "$TMP/gen.log" 2>&1 &&
    [ -s "$TMP/g/added_tokens.jsonl" ] && [ -s "$TMP/g/st_embeddings.jsonl" ]; then
    pass peers_remake_goldens
else
    fail peers_remake_goldens "$TMP/gen.log"
    exit 0
fi

# --- bert tokenize vs tokenizers, on the tokenizer.json the peer wrote ------
ok=1
for name in uncased cased; do
    "$py" - "$TMP/g/added_tokens.jsonl" "added-$name" "$TMP/in-$name.jsonl" <<'EOF'
import json, sys
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        c = json.loads(line)
        if c["tokenizer"] == sys.argv[2]:
            rec = {"text": c["text"]}
            if c["pair"] is not None:
                rec["text_pair"] = c["pair"]
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
EOF
    if ! "$BERT" tokenize "$TMP/g/added-$name" --input "$TMP/in-$name.jsonl" > "$TMP/out-$name.jsonl" 2> "$TMP/err"; then
        ok=0
        cat "$TMP/err" >> "$TMP/tok.log"
        continue
    fi
    "$py" - "$TMP/g/added_tokens.jsonl" "added-$name" "$TMP/out-$name.jsonl" >> "$TMP/tok.log" <<'EOF' || ok=0
import json, sys
want = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want = [c for c in want if c["tokenizer"] == sys.argv[2]]
got = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
bad = 0
if len(got) != len(want):
    print(f"{sys.argv[2]}: {len(got)} outputs for {len(want)} inputs")
    sys.exit(1)
for w, g in zip(want, got):
    if w["ids"] != g["input_ids"] or w["offsets"] != g["offsets"]:
        bad += 1
        print(f"{sys.argv[2]} {w['text']!r}: {g['input_ids']} vs tokenizers {w['ids']}")
print(f"{sys.argv[2]}: {len(want)} texts, {bad} differ")
sys.exit(1 if bad else 0)
EOF
done
if [ $ok -eq 1 ]; then pass bert_tokenize_added_tokens; else fail bert_tokenize_added_tokens "$TMP/tok.log"; fi

# --- the C conformance tests on the fresh goldens ---------------------------
if [ ! -x "$TEST_BERT" ]; then
    skip added_tokens_fresh_goldens "no $TEST_BERT"
    skip st_embeddings_fresh_goldens "no $TEST_BERT"
    exit 0
fi
for pair in "added_tokens_fresh_goldens added_tokens_match_hugging_face_tokenizers" \
    "st_embeddings_fresh_goldens pooling_st_matches_sentence_transformers"; do
    set -- $pair
    if BERT_CONFORMANCE_DIR="$TMP/g" "$TEST_BERT" "$2" > "$TMP/c.log" 2>&1 && grep -q "^PASS $2" "$TMP/c.log"; then
        pass "$1"
    else
        fail "$1" "$TMP/c.log"
    fi
done
