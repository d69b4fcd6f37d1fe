#!/bin/sh
# tests/cuda_emu/run.sh BUILD_DIR — the tests that need a GPU (named
# forward_cuda and train_cuda), run on the CPU by the CUDA emulator (BUILD_DIR/test_cuda_emu,
# see include/cuda_runtime.h here); their PASS/FAIL lines are marked
# "cuda-emulated:"; then the reference check, the launch count and the head sizes again with
# the batched attention (BERT_CUDA_ATTENTION=batched), marked so. An emulator abort (a kernel or copy out of bounds, a
# barrier no thread can pass) ends the program with no FAIL line and a
# non-zero status, which tests/run.sh counts as a failure. Last, the task
# commands with --device cuda (BUILD_DIR/bert-cuda-emu: the tool on the
# emulator; the encoder and the heads on the GPU, the pipelines' post-
# processing on the CPU) against the PyTorch reference's outputs that
# tests/cli/test_cli.sh checks the CPU against (numbers within 1e-4).
build=${1:-build}
out=$(mktemp)
rc=0
for t in forward_cuda train_cuda; do
    "$build/test_cuda_emu" $t > "$out" 2>&1 || rc=1
    sed 's/^\(PASS\|FAIL\|SKIP\) /\1 cuda-emulated: /' "$out"
done
for t in forward_cuda_matches forward_cuda_emulated_attention forward_cuda_emulated_head_sizes; do
    BERT_CUDA_ATTENTION=batched "$build/test_cuda_emu" $t > "$out" 2>&1 || rc=1
    sed 's/^\(PASS\|FAIL\|SKIP\) /\1 cuda-emulated, batched attention: /' "$out"
done
TASKS=tests/fixtures/tasks
# task NAME EXPECTED CMD MODEL [ARGS...]: the tool's output on the emulated GPU equals EXPECTED
task() {
    name=$1 want=$2 cmd=$3
    shift 3
    if "$build/bert-cuda-emu" "$cmd" "$@" --device cuda > "$out.jsonl" 2> "$out.err" &&
        "$build/json_close" "$want" "$out.jsonl" 1e-4 > "$out.diff" 2>&1; then
        echo "PASS cuda-emulated: task_$name"
    else
        echo "FAIL cuda-emulated: task_$name"
        cat "$out.err" "$out.diff" | head -5 | sed 's/^/  /'
        rc=1
    fi
}
task fill_mask "$TASKS/mlm/expected_fill_mask.jsonl" fill-mask "$TASKS/mlm" --input "$TASKS/mlm/inputs_fill_mask.jsonl"
task nsp "$TASKS/mlm/expected_nsp.jsonl" nsp "$TASKS/mlm" --input "$TASKS/mlm/inputs_nsp.jsonl"
task classify_softmax "$TASKS/classifier/expected_classify.jsonl" classify "$TASKS/classifier" --top-k 3 \
    --input "$TASKS/classifier/inputs_classify.jsonl"
task classify_single_logit_sigmoid "$TASKS/cross-encoder/expected_classify.jsonl" classify "$TASKS/cross-encoder" \
    --input "$TASKS/cross-encoder/inputs_classify.jsonl"
task rerank "$TASKS/cross-encoder/expected_rerank.jsonl" rerank "$TASKS/cross-encoder" \
    --input "$TASKS/cross-encoder/inputs_rerank.jsonl"
task ner_simple "$TASKS/ner/expected_ner_simple.jsonl" ner "$TASKS/ner" --aggregation simple \
    --input "$TASKS/ner/inputs_ner_simple.jsonl"
task qa_windows "$TASKS/qa/expected_qa.jsonl" qa "$TASKS/qa" --max-seq-len 64 --doc-stride 16 \
    --input "$TASKS/qa/inputs_qa.jsonl"
task embed_sentence_transformers "$TASKS/sentence-transformer/expected_embed.jsonl" embed \
    "$TASKS/sentence-transformer" --input "$TASKS/sentence-transformer/inputs_embed.jsonl"
rm -f "$out" "$out.jsonl" "$out.err" "$out.diff"
exit $rc
