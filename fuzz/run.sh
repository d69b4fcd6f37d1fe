#!/bin/sh
# Run the libFuzzer targets built by `make fuzz-build`.
# Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (from the repository root)
# Each target (default: every fuzz/*.c) first replays its regression inputs
# (fuzz/regressions/TARGET/, each once), then fuzzes SECONDS seconds from its
# seeds (fuzz/corpus/TARGET/) and the corpus it grew before
# (BUILD_DIR/fuzz-corpus/TARGET/). One line per target:
#   PASS fuzz_TARGET (N executions in S s, corpus C inputs)
#   FAIL fuzz_TARGET (...)  with the input that failed in BUILD_DIR/fuzz-artifacts/TARGET/
#   SKIP fuzz_TARGET (reason)
# Targets run one at a time (start one run.sh per target to use several cores).
# Exit status 1 when any failed.
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=$*
[ -n "$targets" ] || targets=$(for f in fuzz/*.c; do basename "$f" .c; done)
failed=0
for t in $targets; do
    bin=$build/fuzzers/$t
    if [ ! -x "$bin" ]; then
        echo "SKIP fuzz_$t (not built: make fuzz-build needs clang and its libFuzzer runtime)"
        continue
    fi
    work=$build/fuzz-corpus/$t
    art=$build/fuzz-artifacts/$t
    log=$build/fuzz-logs/$t.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    # Options: 10 s per input is a hang; 2.5 GB is unbounded memory; stdout
    # and stderr of the code under test closed (its messages), libFuzzer's
    # own and the sanitizers' reports kept.
    opts="-timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=2560 -max_len=65536 -close_fd_mask=3 -print_final_stats=1"
    if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls "fuzz/regressions/$t")" ]; then
        if ! "$bin" $opts fuzz/regressions/"$t"/* > "$log" 2>&1; then
            echo "FAIL fuzz_$t (a regression input fails again; see $log)"
            grep -E '^Running: |ERROR: |runtime error|SUMMARY' "$log" | head -n 6 | sed 's/^/  /'
            failed=1
            continue
        fi
    fi
    start=$(date +%s)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$bin" $opts -max_total_time="$seconds" \
        -artifact_prefix="$art/" "$work" "fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    inputs=$(ls "$work" | wc -l)
    if [ $rc -eq 0 ]; then
        echo "PASS fuzz_$t (${execs:-?} executions in $((end - start)) s, corpus $inputs inputs)"
    else
        found=$(ls -t "$art" | head -n 1)
        echo "FAIL fuzz_$t (exit $rc after $((end - start)) s: input $art/$found; log $log)"
        grep -m 3 -E 'ERROR|runtime error|SUMMARY' "$log"
        failed=1
    fi
done
exit $failed
