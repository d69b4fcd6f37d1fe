#!/bin/sh
# make demo: run bert.c on the model bundled in models/.
# Usage: tools/demo.sh BUILD_DIR
set -e
BERT=${1:-build}/bert
MODEL=models/bertc-mini-uncased
SST2=models/bertc-mini-uncased-sst2
NER=models/bertc-mini-uncased-conll03
echo "== bert.c demo =="
echo "NOTE: $MODEL is bert.c's own pre-trained model: SMALL (BERT-Tiny shape: 2 layers,"
echo "      hidden 128, 4.4 M parameters, ~7 hours of MLM+NSP pre-training on 2 cores, ~250 M"
echo "      tokens seen; see its MODEL_CARD.md). The fine-tuned heads below ($SST2, $NER)"
echo "      show what it is for."
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
echo
if [ -d "$SST2" ]; then
    echo "\$ bert classify $SST2   (fine-tuned on SST-2 sentiment)"
    printf '{"text": "a gorgeous, witty and moving film."}\n{"text": "the plot is a tedious mess."}\n' |
        "$BERT" classify "$SST2" | sed 's/^/  /'
    echo
fi
if [ -d "$NER" ]; then
    echo "\$ bert ner $NER --aggregation first   (fine-tuned on CoNLL-2003; first/max tag whole words)"
    echo '{"text": "Angela Merkel met Emmanuel Macron in Paris on Monday."}' | "$BERT" ner "$NER" --aggregation first |
        sed 's/^/  /'
    echo
fi
echo "demo finished: model loaded, 3 texts tokenized and embedded in one ragged batch, one mask filled,"
echo "sentences classified and entities tagged."
