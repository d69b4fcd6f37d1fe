#!/bin/sh
# test_embed_modules.sh — `bert embed` on sentence-transformers directories
# with every Pooling mode, several modes at once, Dense and Normalize
# modules gives what SentenceTransformer.encode gave (the committed goldens
# of tests/fixtures/conformance/st_embeddings.jsonl, made by
# tools/make_conformance_goldens.py), within 1e-5. Cases with a prompt are
# left out: bert embed adds none (bert serve and bert_embed_texts do).
BERT=${BERT:-build/bert}
JSON_CLOSE=$(dirname "$BERT")/json_close
C=tests/fixtures/conformance
BASE=tests/fixtures/tasks/sentence-transformer
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=embed_modules_
FAIL_LINES=8
. tests/cli/lib.sh
# One case per golden line: the model's name, its texts as JSONL input, the
# expected {"embedding": ...} lines.
python3 - "$C/st_embeddings.jsonl" "$C" "$TMP" <<'PY' || { fail goldens_readable; exit 0; }
import json, os, sys
src, conf, tmp = sys.argv[1:4]
n = 0
for i, line in enumerate(open(src, encoding="utf-8")):
    d = json.loads(line)
    cfg = os.path.join(conf, d["model"], "config_sentence_transformers.json")
    default_prompt = os.path.exists(cfg) and json.load(open(cfg)).get("default_prompt_name")
    if d.get("prompt") or d.get("prompt_name") or default_prompt:
        continue
    with open(os.path.join(tmp, "case%d.in" % i), "w", encoding="utf-8") as f:
        for t in d["texts"]:
            f.write(json.dumps({"text": t}) + "\n")
    with open(os.path.join(tmp, "case%d.want" % i), "w") as f:
        for e in d["embeddings"]:
            f.write(json.dumps({"embedding": e}) + "\n")
    open(os.path.join(tmp, "case%d.model" % i), "w").write(d["model"])
    n += 1
sys.exit(0 if n else 1)
PY
n=0
bad=0
for want in "$TMP"/case*.want; do
    [ -f "$want" ] || continue
    case_=${want%.want}
    model=$(cat "$case_.model")
    dir="$case_.dir"
    mkdir -p "$dir" && cp "$BASE/config.json" "$BASE/model.safetensors" "$BASE/vocab.txt" "$BASE/tokenizer_config.json" "$dir/" &&
        cp -R "$C/$model"/. "$dir/"
    n=$((n + 1))
    if ! "$BERT" embed "$dir" --input "$case_.in" > "$case_.got" 2> "$case_.err" ||
        ! "$JSON_CLOSE" "$want" "$case_.got" 1e-5 >> "$case_.err" 2>&1; then
        echo "$model:" >> "$TMP/bad"
        cat "$case_.err" >> "$TMP/bad"
        bad=$((bad + 1))
    fi
done
if [ "$n" -ge 10 ] && [ "$bad" -eq 0 ]; then pass equal_sentence_transformers; else
    echo "  $bad of $n cases differ" > "$TMP/why"; cat "$TMP/bad" >> "$TMP/why" 2>/dev/null
    fail equal_sentence_transformers "$TMP/why"; fi
# An explicit --pooling mode is one mode over the hidden states, no Dense.
printf '{"text": "the cat sat on the mat"}\n' > "$TMP/one.jsonl"
dir=$(ls -d "$TMP"/case*.dir | head -1)
ok=1
for mode in cls mean max mean_sqrt_len weightedmean lasttoken; do
    "$BERT" embed "$dir" --pooling "$mode" --input "$TMP/one.jsonl" > "$TMP/m.out" 2> "$TMP/m.err" || ok=0
    vals=$(tr ',' '\n' < "$TMP/m.out" | grep -c .)
    [ "$vals" -eq 32 ] || ok=0
done
if [ $ok -eq 1 ]; then pass every_pooling_flag; else fail every_pooling_flag "$TMP/m.err"; fi
