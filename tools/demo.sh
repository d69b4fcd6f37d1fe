#!/bin/sh
# make demo: run bert.c on the model bundled in models/.
# Usage: tools/demo.sh BUILD_DIR
set -e
BERT=${1:-build}/bert
MODEL=models/bertc-tiny-uncased
echo "== bert.c demo =="
echo "NOTE: $MODEL is bert.c's own pre-trained model: deliberately TINY (2 layers,"
echo "      hidden 32, 1 M parameters, 11 minutes of MLM+NSP pre-training on 9 MB of text; see"
echo "      its MODEL_CARD.md). It shows the machinery working; its predictions are weak"
echo "      (it has learned roughly which words are frequent)."
echo
echo "\$ bert info $MODEL"
"$BERT" info "$MODEL"
echo
INPUT='{"text": "Hello, world!"}
{"text": "The café sat on the mat 😀"}
{"text": "Who wrote Hamlet?", "text_pair": "Hamlet is a tragedy by William Shakespeare."}'
echo "\$ bert tokenize $MODEL   (the same tokens Hugging Face's tokenizer gives)"
echo "$INPUT" | "$BERT" tokenize "$MODEL" | cut -c1-160
echo
echo "\$ bert embed $MODEL --pooling mean --normalize   (3 JSONL lines of text on stdin)"
echo "$INPUT" | "$BERT" embed "$MODEL" --pooling mean --normalize |
    awk '{ n = split($0, a, ","); printf "%s, ... (%d values)\n", substr($0, 1, 70), n }'
echo
echo "\$ bert fill-mask $MODEL --top-k 3   ({\"text\": \"The cat sat on the [MASK].\"})"
echo '{"text": "The cat sat on the [MASK]."}' | "$BERT" fill-mask "$MODEL" --top-k 3 |
    grep -o '"token_str":"[^"]*","sequence":"[^"]*"' | sed 's/^/  /'
echo
echo "demo finished: model loaded, 3 texts tokenized and embedded in one ragged batch, one mask filled."
