#!/bin/sh
# The programs in examples/ build against bert.h alone and do what they say.
# Usage: tests/examples/test_examples.sh BUILD_DIR   (from the repository root)
build=${1:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FT=tests/fixtures/finetune
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/  /' "$2" | tail -20; }
ex="$build/examples/finetune_ner"
if [ ! -x "$ex" ]; then
    fail example_finetune_ner_builds
    exit 0
fi
"$ex" tests/fixtures/tasks/mlm "$FT/ner_train.jsonl" "$FT/ner_dev.conll" "$TMP/ner" > "$TMP/out" 2> "$TMP/err"
rc=$?
# 8 epochs, one evaluation each; the best model is a token classifier bert ner can run.
if [ $rc -eq 0 ] && [ "$(grep -c 'dev entity F1' "$TMP/out")" -eq 8 ] && grep -q '^best dev F1 ' "$TMP/out" \
    && grep -q '"BertForTokenClassification"' "$TMP/ner/best/config.json" && [ -f "$TMP/ner/report.json" ] \
    && echo '{"text": "Alice Smith likes Oslo"}' | "$build/bert" ner "$TMP/ner/best" --aggregation first > /dev/null; then
    pass example_finetune_ner_trains_through_the_c_api
else
    cat "$TMP/err" >> "$TMP/out"
    fail example_finetune_ner_trains_through_the_c_api "$TMP/out"
fi
"$ex" tests/fixtures/tasks/mlm "$TMP/absent.conll" "$FT/ner_dev.conll" "$TMP/ner2" > /dev/null 2> "$TMP/err"
if [ $? -eq 1 ] && grep -q "absent.conll" "$TMP/err"; then pass example_finetune_ner_reports_a_missing_file; else
    fail example_finetune_ner_reports_a_missing_file "$TMP/err"; fi
