#!/bin/sh
# test_conform_score.sh — bert.c's scoring against the peers users trust:
#   - `bert score-squad` prints the official SQuAD scripts' JSON byte for
#     byte (committed goldens of tests/fixtures/conformance/scoring, made by
#     tools/make_scoring_goldens.py from evaluate's squad / squad_v2 code)
#     and their stderr notes; its refusals;
#   - QA evaluation writes predictions.json / na_probs.json that score-squad
#     scores as the report does; `bert eval` refuses a model without a QA head;
#   - live, where the project venv (tools/pyenv.sh seqeval evaluate) has the
#     peers: seqeval 1.2.2 regenerates the seqeval goldens identically, and
#     the official scripts' code (evaluate.load, or a local copy of
#     huggingface/evaluate's metrics/ named by BERT_EVALUATE_METRICS offline)
#     prints what score-squad prints on the crafted files and on the real
#     SQuAD v1.1 dev set where ../shared/data has it. A peer that cannot be
#     had gives SKIP lines, never PASS.
# Needs $BERT (path to the binary).
BERT=${BERT:-build/bert}
SC=tests/fixtures/conformance/scoring
FT=tests/fixtures/finetune
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=conform_score_
FAIL_LINES=8
. tests/cli/lib.sh

# --- score-squad against the committed goldens --------------------------------
# golden_run NAME GOLDEN ARGS...: score-squad's stdout equals GOLDEN.
golden_run() {
    name=$1 golden=$2
    shift 2
    if "$BERT" score-squad "$@" > "$TMP/out" 2> "$TMP/err" && cmp -s "$TMP/out" "$golden"; then pass "$name"; else
        diff "$golden" "$TMP/out" > "$TMP/diff"; cat "$TMP/err" >> "$TMP/diff"; fail "$name" "$TMP/diff"; fi
}
golden_run squad_v1_golden $SC/squad_v1.expected.json $SC/squad_v1.json $SC/squad_v1_predictions.json
golden_run squad_v2_golden $SC/squad_v2.expected.json $SC/squad_v2.json $SC/squad_v2_predictions.json
golden_run squad_v2_na_golden $SC/squad_v2_na.expected.json $SC/squad_v2.json $SC/squad_v2_predictions.json \
    --na-prob $SC/squad_v2_na_probs.json
golden_run squad_v2_na_thresh_golden $SC/squad_v2_na_t05.expected.json $SC/squad_v2.json $SC/squad_v2_predictions.json \
    --na-prob-file $SC/squad_v2_na_probs.json --na-prob-thresh 0.5
golden_run squad_v2_na_int_golden $SC/squad_v2_na_int.expected.json $SC/squad_v2.json $SC/squad_v2_predictions.json \
    -n $SC/squad_v2_na_probs_int.json -t 0.5
"$BERT" score-squad $SC/squad_v1.json $SC/squad_v1_predictions.json > /dev/null 2> "$TMP/err"
if [ "$(cat "$TMP/err")" = "Unanswered question q13 will receive score 0." ]; then pass squad_v1_unanswered_note; else
    fail squad_v1_unanswered_note "$TMP/err"; fi
"$BERT" score-squad $SC/squad_v1.json $SC/squad_v1_predictions.json --output "$TMP/o.json" > "$TMP/out" 2> /dev/null
if cmp -s "$TMP/o.json" $SC/squad_v1.expected.json && [ ! -s "$TMP/out" ]; then pass squad_output_file; else fail squad_output_file; fi
expect_error squad_needs_two_files "needs DATA.json and PREDICTIONS.json" "$BERT" score-squad $SC/squad_v1.json
expect_error squad_bad_version "--version takes 1.1 or 2.0" "$BERT" score-squad $SC/squad_v1.json $SC/squad_v1_predictions.json --version 3
expect_error squad_bad_thresh "--na-prob-thresh needs a number" "$BERT" score-squad $SC/squad_v2.json $SC/squad_v2_predictions.json \
    --na-prob-thresh high
expect_error squad_na_prob_needs_v2 "no no-answer probabilities" "$BERT" score-squad $SC/squad_v1.json $SC/squad_v1_predictions.json \
    --na-prob $SC/squad_v2_na_probs.json
expect_error squad_v2_needs_every_prediction "no prediction for question q13" "$BERT" score-squad $SC/squad_v1.json \
    $SC/squad_v1_predictions.json --version 2.0
expect_error squad_unknown_flag "unknown flag --bogus" "$BERT" score-squad $SC/squad_v1.json $SC/squad_v1_predictions.json --bogus
if "$BERT" help | grep -q "score-squad"; then pass help_lists_score_squad; else fail help_lists_score_squad; fi

# --- QA evaluation's official-format files; eval refuses a model without a QA head ---
"$BERT" eval tests/fixtures/tasks/qa --task-type qa --dev $FT/qa_dev_v2.json --output-dir "$TMP/ev" --max-seq-len 64 \
    --doc-stride 16 > /dev/null 2> "$TMP/err"
"$BERT" score-squad $FT/qa_dev_v2.json "$TMP/ev/predictions.json" --na-prob "$TMP/ev/na_probs.json" > "$TMP/sq.json" 2>> "$TMP/err"
num() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$2" | head -1; }
if [ -s "$TMP/ev/predictions.json" ] && cmp -s "$TMP/ev/predictions.json" "$TMP/ev/dev_predictions.json" \
    && [ -s "$TMP/ev/dev_na_probs.json" ] && [ -n "$(num exact "$TMP/sq.json")" ] && grep -q '"best_f1_thresh"' "$TMP/sq.json" \
    && awk -v a="$(num exact "$TMP/sq.json")" -v b="$(num dev_exact_match "$TMP/ev/report.json")" \
           -v c="$(num f1 "$TMP/sq.json")" -v d="$(num dev_f1 "$TMP/ev/report.json")" \
           'BEGIN { x = a - b; y = c - d; exit !(b != "" && d != "" && x < 1e-4 && x > -1e-4 && y < 1e-4 && y > -1e-4) }'; then
    pass qa_eval_files_score_as_the_report; else cat "$TMP/sq.json" >> "$TMP/err"; fail qa_eval_files_score_as_the_report "$TMP/err"; fi
expect_error eval_refuses_model_without_qa_head "no trained QA head" "$BERT" eval tests/fixtures/tasks/classifier \
    --task-type qa --dev $FT/qa_dev.json --output-dir "$TMP/evno" --max-seq-len 64 --doc-stride 16

# --- the peers, live ---------------------------------------------------------------
LIVE="seqeval_live ner_report_is_seqevals squad_live_crafted squad_live_dev"
py=$(sh tools/pyenv.sh seqeval evaluate 2> "$TMP/err") || {
    for c in $LIVE; do skip "$c" "python peers unavailable: $(tail -n1 "$TMP/err")"; done
    exit 0
}
if "$py" tools/make_scoring_goldens.py seqeval "$TMP/gold" 2> "$TMP/err" \
    && "$py" - "$TMP/gold/seqeval_goldens.json" $SC/seqeval_goldens.json > "$TMP/diff" 2>&1 <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a["cases"] == b["cases"] else 1)
EOF
then pass seqeval_live; else cat "$TMP/diff" >> "$TMP/err"; fail seqeval_live "$TMP/err"; fi

# NER's report.json: seqeval's classification_report of the test predictions it wrote, default and strict.
"$BERT" eval tests/fixtures/tasks/ner --task-type token --dev $FT/ner_dev.conll --test $FT/ner_dev.conll --output-dir "$TMP/ner" \
    > /dev/null 2> "$TMP/err"
if "$py" - "$TMP/ner/test_predictions.conll" "$TMP/ner/report.json" >> "$TMP/err" 2>&1 <<'EOF'
import json, sys, warnings
from seqeval import scheme
from seqeval.metrics import classification_report
gold, pred, g, p = [], [], [], []
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.strip():
        gold.append(g), pred.append(p)
        g, p = [], []
        continue
    _, a, b = line.split()
    g.append(a), p.append(b)
test = json.load(open(sys.argv[2]))["test"]
warnings.simplefilter("ignore")
want = classification_report(gold, pred, output_dict=True)
strict = classification_report(gold, pred, output_dict=True, mode="strict", scheme=getattr(scheme, test["strict_scheme"]))
def same(a, b):
    return list(a) == list(b) and all(float(a[k][m]) == float(b[k][m]) for k in a for m in a[k])
sys.exit(0 if len(gold) > 3 and same(want, test["classification_report"]) and same(strict, test["classification_report_strict"]) else 1)
EOF
then pass ner_report_is_seqevals; else fail ner_report_is_seqevals "$TMP/err"; fi

# same_json A B: identical text, or, where Python's sum() compensates (3.12+), the same keys and numbers within 1e-12.
exact=$("$py" -c 'import sys; print(int(sys.version_info < (3, 12)))')
same_json() {
    cmp -s "$1" "$2" && return 0
    [ "$exact" = 1 ] && return 1
    "$py" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if list(a) == list(b) and all(abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(a[k])) for k in a) else 1)' "$1" "$2"
}
# live_squad NAME ARGS...: the official code and score-squad on the same files.
live_squad() {
    name=$1
    shift
    "$py" tools/make_scoring_goldens.py squad "$@" > "$TMP/peer.json" 2> "$TMP/peer.err"
    rc=$?
    [ $rc -eq 3 ] && return 3
    "$BERT" score-squad "$@" > "$TMP/mine.json" 2> "$TMP/mine.err"
    [ $rc -eq 0 ] && same_json "$TMP/peer.json" "$TMP/mine.json" && cmp -s "$TMP/peer.err" "$TMP/mine.err"
}
ok=1
for run in "$SC/squad_v1.json $SC/squad_v1_predictions.json" "$SC/squad_v2.json $SC/squad_v2_predictions.json" \
    "$SC/squad_v2.json $SC/squad_v2_predictions.json --na-prob $SC/squad_v2_na_probs.json --na-prob-thresh 0.5" \
    "$SC/squad_v2.json $SC/squad_v2_predictions.json --na-prob $SC/squad_v2_na_probs_int.json"; do
    # shellcheck disable=SC2086
    live_squad crafted $run
    rc=$?
    [ $rc -eq 3 ] && break
    [ $rc -ne 0 ] && ok=0 && diff "$TMP/peer.json" "$TMP/mine.json" >> "$TMP/fails" 2>&1
done
if [ $rc -eq 3 ]; then
    why=$(tail -n1 "$TMP/peer.err")
    skip squad_live_crafted "official SQuAD code unavailable: $why"
    skip squad_live_dev "official SQuAD code unavailable: $why"
    exit 0
fi
if [ $ok = 1 ]; then pass squad_live_crafted; else fail squad_live_crafted "$TMP/fails"; fi
DEV=../shared/data/squad_v1.1/dev-v1.1.json.gz
if [ ! -f "$DEV" ]; then skip squad_live_dev "no $DEV"; exit 0; fi
"$py" tools/make_scoring_goldens.py devpreds "$DEV" "$TMP/devpreds.json"
if live_squad dev "$DEV" "$TMP/devpreds.json"; then pass squad_live_dev; else
    diff "$TMP/peer.json" "$TMP/mine.json" > "$TMP/d" 2>&1; fail squad_live_dev "$TMP/d"; fi
