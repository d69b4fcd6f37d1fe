#!/bin/sh
# tests/cuda_emu/run.sh BUILD_DIR — the tests that need a GPU (named
# forward_cuda and train_cuda), run on the CPU by the CUDA emulator (BUILD_DIR/test_cuda_emu,
# see include/cuda_runtime.h here), and the emulator's own (cuda_emulator); their PASS/FAIL
# lines are marked "cuda-emulated:"; then every inference test (forward_cuda) again
# with the batched attention (BERT_CUDA_ATTENTION=batched), and every GPU test
# again with the kernels' blocks and threads run in drawn orders (BERT_EMU_SCHEDULE=shuffle:
# a kernel that leans on an order the GPU does not promise comes out wrong), marked so. An
# emulator abort (a kernel or copy out of bounds, a barrier no thread can pass) ends the
# program with no FAIL line and a non-zero status, which tests/run.sh counts as a failure.
out=$(mktemp)
rc=0
for t in cuda_emulator forward_cuda train_cuda; do
    "${1:-build}/test_cuda_emu" $t > "$out" 2>&1 || rc=1
    sed 's/^\(PASS\|FAIL\|SKIP\) /\1 cuda-emulated: /' "$out"
done
for t in forward_cuda; do
    BERT_CUDA_ATTENTION=batched "${1:-build}/test_cuda_emu" $t > "$out" 2>&1 || rc=1
    sed 's/^\(PASS\|FAIL\|SKIP\) /\1 cuda-emulated, batched attention: /' "$out"
done
for t in forward_cuda train_cuda; do
    BERT_EMU_SCHEDULE=shuffle BERT_EMU_SEED=2 "${1:-build}/test_cuda_emu" $t > "$out" 2>&1 || rc=1
    sed 's/^\(PASS\|FAIL\|SKIP\) /\1 cuda-emulated, shuffled schedule: /' "$out"
done
rm -f "$out"
exit $rc
