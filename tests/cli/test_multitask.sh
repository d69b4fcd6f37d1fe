#!/bin/sh
# test_multitask.sh — `bert multitask` end to end on the fixture model: a
# sequence and a token task from a tasks file, each task's own Hugging Face
# directory usable by `bert classify` / `bert ner` (and by transformers when
# the Python peers install), one task = `bert finetune` bit for bit, resume =
# the straight run bit for bit, a tiny task still drawn, clear errors.
BERT=${BERT:-build/bert}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=multitask_
. tests/cli/lib.sh
FT=$(pwd)/tests/fixtures/finetune
MLM=tests/fixtures/tasks/mlm
cat > "$TMP/tasks.json" <<JSON
{"tasks": [
  {"name": "sent", "train": "$FT/train.tsv", "dev": "$FT/dev.tsv", "text_column": "sentence", "label_column": "label"},
  {"name": "ner", "type": "token", "train": "$FT/ner_train.jsonl", "dev": "$FT/ner_dev.conll", "batch_size": 2}
]}
JSON
ARGS="--tasks-file $TMP/tasks.json --epochs 2 --batch-size 4 --lr 1e-3 --save-steps 4 --save-total-limit 0 --seed 5 --threads 1"
"$BERT" multitask "$MLM" --output-dir "$TMP/a" $ARGS > "$TMP/out" 2> "$TMP/a.err"
if [ -f "$TMP/a/report.json" ] && grep -q '"BertForSequenceClassification"' "$TMP/a/sent/config.json" \
    && grep -q '"BertForTokenClassification"' "$TMP/a/ner/config.json" && grep -q '"B-PER"' "$TMP/a/ner/config.json" \
    && grep -q '"BertModel"' "$TMP/a/shared/config.json" && [ -f "$TMP/a/shared/heads.json" ] \
    && grep -q '"eval_sent/accuracy"' "$TMP/a/log.jsonl" && grep -q '"eval_ner/f1"' "$TMP/a/log.jsonl" \
    && grep -q '"eval_score"' "$TMP/a/log.jsonl" && [ "$(grep -c '"drawn"' "$TMP/a/log-ner.jsonl")" -eq 2 ] \
    && [ ! -s "$TMP/out" ] && grep -q "^done: best score" "$TMP/a.err"; then
    pass runs_and_writes_every_model; else fail runs_and_writes_every_model "$TMP/a.err"; fi
if echo '{"text": "a lovely film"}' | "$BERT" classify "$TMP/a/sent" > "$TMP/cls" 2> "$TMP/err" && grep -q '"label":"[01]"' "$TMP/cls" \
    && echo '{"text": "Alice Smith likes Oslo"}' | "$BERT" ner "$TMP/a/ner" > "$TMP/ner" 2>> "$TMP/err"; then
    pass task_models_serve_their_commands; else fail task_models_serve_their_commands "$TMP/err"; fi

# Resuming from step 4 ends exactly where the straight run ended.
last=$(ls -d "$TMP"/a/checkpoint-* | sed 's/.*checkpoint-//' | sort -n | tail -1)
"$BERT" multitask "$MLM" --output-dir "$TMP/b" $ARGS --resume "$TMP/a/checkpoint-4" > /dev/null 2> "$TMP/b.err"
ok=1
for f in model.safetensors heads.safetensors optimizer.safetensors optimizer_sq.safetensors trainer_state.json; do
    cmp -s "$TMP/a/checkpoint-$last/$f" "$TMP/b/checkpoint-$last/$f" || ok=0
done
if [ "$ok" -eq 1 ] && [ "$last" -gt 4 ] && cmp -s "$TMP/a/sent/model.safetensors" "$TMP/b/sent/model.safetensors"; then
    pass resume_bit_identical; else fail resume_bit_identical "$TMP/b.err"; fi
# Each head's update count is checked against the step: none of the two heads updated in 4 steps
# (their AdamW bias correction would restart) is a damaged checkpoint.
rm -rf "$TMP/ck" "$TMP/c" && cp -R "$TMP/a/checkpoint-4" "$TMP/ck"
sed 's/"head_steps":[[:space:]]*\[[0-9, ]*\]/"head_steps": [0, 0]/; s/"pooler_steps":[[:space:]]*[0-9]*/"pooler_steps": 0/' \
    "$TMP/a/checkpoint-4/trainer_state.json" > "$TMP/ck/trainer_state.json"
"$BERT" multitask "$MLM" --output-dir "$TMP/c" $ARGS --resume "$TMP/ck" > /dev/null 2> "$TMP/c.err"
rc=$?
if [ $rc -ne 0 ] && grep -qF '"head_steps" (sum 0) and "pooler_steps" (0) do not fit step 4' "$TMP/c.err"; then
    pass resume_head_steps_checked; else echo "  exit $rc"; fail resume_head_steps_checked "$TMP/c.err"; fi

# One task is the single-task fine-tuning of that task, bit for bit.
cat > "$TMP/one.json" <<JSON
[{"name": "sent", "train": "$FT/train.tsv", "dev": "$FT/dev.tsv", "text_column": "sentence", "label_column": "label"}]
JSON
ONE="--epochs 2 --batch-size 4 --lr 1e-3 --seed 5 --threads 1"
"$BERT" multitask "$MLM" --output-dir "$TMP/one" --tasks-file "$TMP/one.json" $ONE > /dev/null 2> "$TMP/err1"
"$BERT" finetune "$MLM" --output-dir "$TMP/ft" --train "$FT/train.tsv" --dev "$FT/dev.tsv" --text-column sentence \
    --label-column label $ONE > /dev/null 2>> "$TMP/err1"
if cmp -s "$TMP/one/sent/model.safetensors" "$TMP/ft/best/model.safetensors"; then
    pass one_task_is_finetune; else fail one_task_is_finetune "$TMP/err1"; fi

# A task of 9 examples beside one of 24 is still drawn (proportional: p = 9/33).
cat > "$TMP/tiny.json" <<JSON
[{"name": "big", "train": "$FT/train.tsv", "dev": "$FT/dev.tsv", "text_column": "sentence"},
 {"name": "tiny", "train": "$FT/dev.tsv", "dev": "$FT/dev.tsv", "text_column": "sentence", "batch_size": 2}]
JSON
"$BERT" multitask "$MLM" --output-dir "$TMP/tiny" --tasks-file "$TMP/tiny.json" --epochs 1 --batch-size 4 --threads 1 > /dev/null 2> "$TMP/err"
drawn=$(sed -n 's/.*"drawn":\([0-9]*\).*/\1/p' "$TMP/tiny/log-tiny.jsonl" | tail -1)
if [ -n "$drawn" ] && [ "$drawn" -gt 0 ] && [ -f "$TMP/tiny/tiny/config.json" ]; then
    pass tiny_task_is_drawn; else fail tiny_task_is_drawn "$TMP/err"; fi

for s in uniform temperature annealed round-robin; do
    "$BERT" multitask "$MLM" --output-dir "$TMP/s-$s" --tasks-file "$TMP/tiny.json" --epochs 1 --batch-size 4 --threads 1 \
        --sampling "$s" > /dev/null 2> "$TMP/err" && grep -q "\"sampling\":.*\"$s\"" "$TMP/s-$s/report.json" || { fail "sampling_$s" "$TMP/err"; continue; }
    pass "sampling_$s"
done

# MT-DNN's second stage: each task alone from OUT/TASK.
"$BERT" multitask "$MLM" --output-dir "$TMP/two" --tasks-file "$TMP/tasks.json" --epochs 1 --batch-size 4 --threads 1 \
    --then-finetune --finetune-epochs 1 > /dev/null 2> "$TMP/err"
if [ -f "$TMP/two/finetune/sent/report.json" ] && [ -f "$TMP/two/finetune/ner/best/config.json" ] \
    && [ "$(grep -c '"finetuned_best"' "$TMP/two/report.json")" -eq 2 ] && grep -q "fine-tuning sent alone" "$TMP/err"; then
    pass then_finetune; else fail then_finetune "$TMP/err"; fi

# Sixteen tasks (the most): every evaluation line whole JSON with every task's metrics and the
# score, and a checkpoint (every task's data position) that resumes.
JSON_CLOSE=$(dirname "$BERT")/json_close
printf '[' > "$TMP/16.json"
for k in $(seq 0 15); do
    [ "$k" -gt 0 ] && printf ',' >> "$TMP/16.json"
    printf '{"name": "t%d", "train": "%s/train.tsv", "dev": "%s/dev.tsv", "text_column": "sentence"}' "$k" "$FT" "$FT" >> "$TMP/16.json"
done
printf ']' >> "$TMP/16.json"
"$BERT" multitask "$MLM" --output-dir "$TMP/16" --tasks-file "$TMP/16.json" --max-steps 6 --save-steps 3 --eval-steps 3 \
    --batch-size 8 --threads 1 --sampling uniform > /dev/null 2> "$TMP/err" &&
    "$BERT" multitask "$MLM" --output-dir "$TMP/16b" --tasks-file "$TMP/16.json" --max-steps 6 --save-steps 3 --eval-steps 3 \
        --batch-size 8 --threads 1 --sampling uniform --resume "$TMP/16/checkpoint-3" > /dev/null 2>> "$TMP/err"
if "$JSON_CLOSE" "$TMP/16/log.jsonl" "$TMP/16/log.jsonl" 0 > /dev/null 2>&1 && tail -n 1 "$TMP/16/log.jsonl" | grep -q '"eval_t15/mcc"' \
    && tail -n 1 "$TMP/16/log.jsonl" | grep -q '"eval_score"' && [ -f "$TMP/16/t15/config.json" ] \
    && cmp -s "$TMP/16/checkpoint-6/heads.safetensors" "$TMP/16b/checkpoint-6/heads.safetensors"; then
    pass sixteen_tasks; else fail sixteen_tasks "$TMP/err"; fi
expect_error seventeen_tasks "at most 16 tasks" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/16.json" --task sst2

# transformers loads the task directories unchanged and agrees with bert classify.
if py=$(sh tools/pyenv.sh transformers 2> "$TMP/err"); then
    "$py" - "$TMP/a/sent" "$TMP/a/ner" "$TMP/cls" > "$TMP/py" 2>&1 <<'PY'
import json, sys, torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer
seq, tok_dir, cls = sys.argv[1:4]
tok = AutoTokenizer.from_pretrained(seq)
m = AutoModelForSequenceClassification.from_pretrained(seq).eval()
with torch.no_grad():
    p = torch.softmax(m(**tok("a lovely film", return_tensors="pt")).logits[0], -1)
ours = json.loads(open(cls).readline())
ours = ours[0] if isinstance(ours, list) else ours
label = int(max(range(len(p)), key=lambda i: p[i]))
assert m.config.id2label[label] == ours["label"], (m.config.id2label, ours)
assert abs(float(p[label]) - ours["score"]) < 1e-4, (float(p[label]), ours)
t = AutoModelForTokenClassification.from_pretrained(tok_dir)
assert t.config.id2label and "B-PER" in t.config.id2label.values()
print("ok")
PY
    if grep -q '^ok$' "$TMP/py"; then pass transformers_loads_task_models; else fail transformers_loads_task_models "$TMP/py"; fi
else
    skip transformers_loads_task_models "python peers unavailable: $(tail -n1 "$TMP/err")"
fi

expect_error needs_tasks "needs --task NAME" "$BERT" multitask "$MLM" --output-dir "$TMP/e"
expect_error qa_refused "multi-task runs train sequence and token tasks" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --task squad --data-dir tests/fixtures
expect_error twice "task 'sst2' given twice" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --task sst2 --task sst2 --data-dir "$TMP"
printf '[{"name": "shared", "train": "%s/train.tsv", "dev": "%s/dev.tsv", "text_column": "sentence"}]' "$FT" "$FT" > "$TMP/res.json"
expect_error reserved_name "task name 'shared' is reserved" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/res.json"
printf '[{"name": "x", "train": "a", "dev": "b", "colour": "red"}]' > "$TMP/bad.json"
expect_error tasks_file_key "task 1: key \"colour\": unknown key" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/bad.json"
printf '[{"name": "x.tmp", "train": "%s/train.tsv", "dev": "%s/dev.tsv", "text_column": "sentence"}]' "$FT" "$FT" > "$TMP/tmpname.json"
expect_error reserved_tmp_name "task name 'x.tmp' is reserved" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/tmpname.json"
printf '[{"name": "a/b", "train": "%s/train.tsv", "dev": "%s/dev.tsv", "text_column": "sentence"}]' "$FT" "$FT" > "$TMP/slash.json"
expect_error bad_name_before_data "task name 'a/b' must be 1..64" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/slash.json"
# The second stage keeps a task's problem type (regression here).
printf '[{"name": "reg", "train": "%s/train.tsv", "dev": "%s/dev.tsv", "text_column": "sentence", "problem": "regression"}]' "$FT" "$FT" > "$TMP/reg.json"
"$BERT" multitask "$MLM" --output-dir "$TMP/reg" --tasks-file "$TMP/reg.json" --epochs 1 --batch-size 8 --threads 1 --then-finetune \
    --finetune-epochs 1 > /dev/null 2> "$TMP/err"
if grep -q '"regression"' "$TMP/reg/reg/config.json" && grep -q '"regression"' "$TMP/reg/finetune/reg/best/config.json"; then
    pass then_finetune_keeps_problem_type; else fail then_finetune_keeps_problem_type "$TMP/err"; fi
expect_error bad_metric "use score or TASK/METRIC" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --tasks-file "$TMP/one.json" --metric sent/bleu
expect_error bad_sampling "--sampling must be proportional" "$BERT" multitask "$MLM" --output-dir "$TMP/e" --task sst2 --sampling greedy
# The curves: the training loss, the score, a panel per task (drawn as glyphs: the file is checked as an SVG).
if "$BERT" plot "$TMP/a/log.jsonl" --output "$TMP/curves.svg" 2> "$TMP/err" && grep -q "<svg" "$TMP/curves.svg"; then
    pass plot_multitask_log; else fail plot_multitask_log "$TMP/err"; fi
