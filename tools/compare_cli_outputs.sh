#!/bin/sh
# Run the same CLI commands with two `bert` binaries and show where their
# outputs differ: inference on the test fixtures and the bundled models, the
# demo, and fine-tuning / pre-training runs (their reports and logs with the
# timing fields removed, their weights by checksum).
#
# Usage: tools/compare_cli_outputs.sh OLD_BERT NEW_BERT [WORK_DIR]
#   e.g. git worktree add /tmp/old <rev> && make -C /tmp/old BUILD=build build/bert
#        tools/compare_cli_outputs.sh /tmp/old/build/bert build/bert
# Exit status 0 when every output is identical, 1 otherwise (the diff says
# which). Run from the repository root.
set -u
old=$1
new=$2
work=${3:-$(mktemp -d)}
T=tests/fixtures/tasks
FT=tests/fixtures/finetune

# One set of outputs from binary $1 into directory $2.
outputs() {
    B=$1
    O=$2
    mkdir -p "$O"
    run() { # name, command...: stdout and stderr (minus timings) and the exit status
        name=$1
        shift
        "$@" > "$O/$name.out" 2> "$O/$name.err" < /dev/null
        echo "exit $?" >> "$O/$name.out"
    }
    runin() { # name, input file, command...
        name=$1
        input=$2
        shift 2
        "$@" > "$O/$name.out" 2> "$O/$name.err" < "$input"
        echo "exit $?" >> "$O/$name.out"
    }
    runin embed "$T/sentence-transformer/inputs_embed.jsonl" "$B" embed "$T/sentence-transformer" --threads 1
    runin tokenize "$T/classifier/inputs_classify.jsonl" "$B" tokenize "$T/classifier"
    runin fill_mask "$T/mlm/inputs_fill_mask.jsonl" "$B" fill-mask "$T/mlm" --threads 1
    runin nsp "$T/mlm/inputs_nsp.jsonl" "$B" nsp "$T/mlm" --threads 1
    runin classify "$T/classifier/inputs_classify.jsonl" "$B" classify "$T/classifier" --threads 1
    runin rerank "$T/cross-encoder/inputs_rerank.jsonl" "$B" rerank "$T/cross-encoder" --threads 1
    for a in none simple first average max; do
        runin "ner_$a" "$T/ner/inputs_ner_$a.jsonl" "$B" ner "$T/ner" --aggregation "$a" --threads 1
    done
    runin qa "$T/qa/inputs_qa.jsonl" "$B" qa "$T/qa" --threads 1
    run info "$B" info models/bertc-mini-uncased
    run demo sh -c "tools/demo.sh $(dirname "$B")"
    # Training runs: report.json and log.jsonl without timing fields; weights by checksum.
    run ft "$B" finetune "$T/mlm" --output-dir "$O/ft" --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence \
        --label-column label --epochs 3 --batch-size 4 --lr 1e-3 --save-steps 4 --save-total-limit 10 --seed 5 --threads 1
    run ft_multi "$B" finetune "$T/mlm" --output-dir "$O/ftM" --train "$FT/multi_train.tsv" --dev "$FT/multi_dev.tsv" \
        --text-column sentence --label-column genres --problem multi_label --epochs 2 --batch-size 4 --metric f1 --threads 1
    run ft_ner "$B" finetune "$T/mlm" --task-type token --output-dir "$O/ftNER" --train "$FT/ner_train.jsonl" \
        --dev "$FT/ner_dev.conll" --test "$FT/ner_dev.conll" --epochs 8 --batch-size 4 --lr 3e-3 --threads 1
    run ft_qa "$B" finetune "$T/qa" --task-type qa --output-dir "$O/ftQA" --train "$FT/qa_train.json" --dev "$FT/qa_dev.json" \
        --epochs 2 --batch-size 4 --max-seq-len 64 --doc-stride 16 --lr 1e-3 --threads 1
    run pt "$B" pretrain "$T/mlm" --output-dir "$O/pt" --corpus "$FT/pretrain_corpus.txt" --epochs 6 --batch-size 4 \
        --lr 3e-3 --heldout-docs 2 --eval-steps 0 --threads 1
    for d in ft ftM ftNER ftQA pt; do
        for f in report.json log.jsonl; do
            [ -f "$O/$d/$f" ] && sed -E 's/"(seconds|tokens_per_s)": ?[0-9.e+-]+,? ?//g; s|'"$O"'|OUT|g' "$O/$d/$f" > "$O/$d.$f"
        done
        find "$O/$d" -name '*.safetensors' | sort | while read -r f; do
            printf '%s %s\n' "$(cksum < "$f")" "${f#"$O"/}"
        done > "$O/$d.weights"
        find "$O/$d" -name 'test_predictions.conll' -o -name 'dev_predictions.json' | sort | while read -r f; do
            cp "$f" "$O/$d.$(basename "$f")"
        done
        rm -rf "${O:?}/$d"
    done
    # stderr: drop throughput and time figures
    for f in "$O"/*.err; do sed -E 's/[0-9.]+ (tok\/s|s\b)/N \1/g; s/ETA [0-9.]+ s/ETA N s/g; s|'"$O"'|OUT|g' "$f" > "$f.cmp" && rm "$f"; done
}

outputs "$old" "$work/old" > /dev/null 2>&1
outputs "$new" "$work/new" > /dev/null 2>&1
if diff -r "$work/old" "$work/new" > "$work/diff.txt"; then
    echo "identical: every output of $new equals $old's ($work)"
    exit 0
fi
echo "outputs differ ($work/diff.txt):"
diff -rq "$work/old" "$work/new"
exit 1
