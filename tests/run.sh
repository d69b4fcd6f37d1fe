#!/bin/sh
# Run the whole test suite: the C tests, then the CLI tests.
# Usage: tests/run.sh BUILD_DIR   (run from the repository root)
# Prints one PASS/FAIL/SKIP line per test and closes with "N passed, N failed,
# N skipped" (a SKIP, a test whose peer cannot run here, never counts as passed).
# A test program that dies (crash, sanitizer report) counts as a failure.
build=${1:-build}
log=$(mktemp)
run() { # name, command...
    name=$1
    shift
    "$@" > "$log.part" 2>&1
    rc=$?
    cat "$log.part"
    cat "$log.part" >> "$log"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log.part"; then
        echo "FAIL $name (exit status $rc)" | tee -a "$log"
    fi
}
run test_bert "$build/test_bert"
run test_cuda_emu sh tests/cuda_emu/run.sh "$build"
run test_gpu_rehearsal sh tests/gpu/rehearse.sh "$build"
run test_cli env BERT="$build/bert" sh tests/cli/test_cli.sh
run test_examples sh tests/examples/test_examples.sh "$build"
run test_hostile env BERT="$build/bert" sh tests/cli/test_hostile.sh
run test_torchbin env BERT="$build/bert" sh tests/cli/test_torchbin.sh
run test_harness env BERT="$build/bert" sh tests/cli/test_harness.sh
run test_server env BERT="$build/bert" sh tests/cli/test_server.sh
run test_realstack env BERT="$build/bert" sh tests/cli/test_realstack.sh
run test_conform_score env BERT="$build/bert" sh tests/cli/test_conform_score.sh
run test_conform_embed env BERT="$build/bert" sh tests/cli/test_conform_embed.sh
run test_embed_modules env BERT="$build/bert" sh tests/cli/test_embed_modules.sh
run test_multitask env BERT="$build/bert" sh tests/cli/test_multitask.sh
run test_dialogue env BERT="$build/bert" sh tests/cli/test_dialogue.sh
run test_mpi env BERT="$build/bert" sh tests/cli/test_mpi.sh
run test_mpi_infer env BERT="$build/bert" sh tests/cli/test_mpi_infer.sh
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
skipped=$(grep -c '^SKIP ' "$log")
rm -f "$log" "$log.part"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
