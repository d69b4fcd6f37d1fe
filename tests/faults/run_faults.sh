#!/bin/sh
# run_faults.sh — fault injection for writes. Each write, fsync, rename,
# mkdir and file creation under the output is made to fail once in turn
# (tests/faults/fail_io.c as LD_PRELOAD, EIO or ENOSPC), in:
#   resume   `bert finetune --resume OUT/checkpoint-2` to the end: checkpoints,
#            rotation, best/, log.jsonl, report.json
#   rerun    a new `bert finetune` over a finished run's OUT: best/ and
#            report.json replaced, new checkpoints
#   output   `bert classify --output FILE` over an existing FILE
#   dircopy  bert_dir_copy over an existing tree, bert_file_copy over a file
# After each failure: the command exited non-zero with a message naming the
# error; every directory under a final name (checkpoint-STEP, best) loads
# (`bert info`); report.json is the previous one or a whole new one; the
# previous output file / tree is intact; and a clean rerun in the same OUT
# (resuming its newest checkpoint) succeeds and leaves no temporary names.
#
# Usage: tests/faults/run_faults.sh BUILD_DIR [PER_OP] [SCENARIO...]
#   PER_OP: calls failed per kind and scenario, spread evenly over them
#   (default 0: every call). Prints PASS/FAIL lines (faults_SCENARIO_OP) and,
#   with FAULTS_MATRIX=FILE, one line per injection: scenario op k path -> outcome.
#   SCENARIO: resume rerun output dircopy filecopy (default: all)
build=${1:?usage: run_faults.sh BUILD_DIR [PER_OP] [SCENARIO...]}
per_op=${2:-0}
shift 2 2> /dev/null || shift $#
scenarios=" ${*:-resume rerun output dircopy filecopy} "
want() { case $scenarios in *" $1 "*) return 0 ;; esac; return 1; }
BERT=$build/bert
SHIM=$(cd "$build" && pwd)/fail_io.so
FS_COPY=$build/fs_copy
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
matrix=${FAULTS_MATRIX:-/dev/null}
# A sanitizer build lets the shim load before its runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
FT=tests/fixtures/finetune
MODEL=tests/fixtures/tasks/mlm
ARGS="--train $FT/train.tsv --dev $FT/dev.tsv --text-column sentence --label-column label --epochs 2 --batch-size 8
      --save-steps 1 --eval-steps 1 --seed 5 --threads 1 --lr 1e-3"
for f in "$BERT" "$SHIM" "$FS_COPY"; do
    [ -e "$f" ] || { echo "FAIL faults_setup ($f missing: make $f)"; exit 1; }
done

# The indices 1..count to fail: all, or per_op of them spread evenly (first and last included).
pick() { # count
    if [ "$per_op" -le 0 ] || [ "$1" -le "$per_op" ]; then seq 1 "$1"; return; fi
    if [ "$per_op" -eq 1 ]; then echo "$1"; return; fi
    awk -v c="$1" -v m="$per_op" 'BEGIN { for (i = 0; i < m; i++) printf "%d\n", 1 + int(i * (c - 1) / (m - 1) + 0.5) }' | uniq
}

# Count the calls of each kind a command makes under dir: "op count" lines in $T/count.
count_calls() { # dir cmd...
    dir=$1
    shift
    rm -f "$T/count"
    env LD_PRELOAD="$SHIM" FAIL_IO_UNDER="$dir" FAIL_IO_LOG="$T/count" "$@" > /dev/null 2>&1
    [ -s "$T/count" ] || { echo "FAIL faults_setup (the shim counted nothing: $*)"; exit 1; }
}

# Every final-name directory of OUT loads; the newest checkpoint exists.
finals_load() { # out -> 0/1, reason in $why
    out=$1
    why=""
    for d in "$out"/checkpoint-* "$out"/best; do
        case ${d##*/} in checkpoint-*[!0-9]*) continue ;; esac
        [ -e "$d" ] || continue
        "$BERT" info "$d" > /dev/null 2> "$T/info.err" || { why="${d##*/} does not load: $(head -n 1 "$T/info.err")"; return 1; }
    done
    return 0
}

newest_checkpoint() { # out
    ls "$1" | sed -n 's/^checkpoint-\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1
}

# A clean run resuming OUT's newest checkpoint succeeds and leaves no temporary names.
clean_rerun() { # out -> 0/1, reason in $why
    out=$1
    step=$(newest_checkpoint "$out")
    [ -n "$step" ] || { why="no checkpoint left"; return 1; }
    "$BERT" finetune "$MODEL" --output-dir "$out" $ARGS --save-total-limit 2 --resume "$out/checkpoint-$step" > /dev/null 2> "$T/rerun.err" ||
        { why="resuming checkpoint-$step: $(tail -n 1 "$T/rerun.err")"; return 1; }
    left=$(ls -a "$out" | grep -E '\.(tmp|old)$|\.(tmp|removing|copying|replaced)\.[0-9]' | head -n 3 | tr '\n' ' ')
    [ -z "$left" ] || { why="leftovers after a clean rerun: $left"; return 1; }
    return 0
}

report_ok() { # out prev_report
    [ -f "$1/report.json" ] || return 1
    cmp -s "$1/report.json" "$2" && return 0
    if command -v python3 > /dev/null 2>&1; then python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1/report.json" 2> /dev/null; else grep -q '}' "$1/report.json"; fi
}

# One injection: run cmd with the kth call of kind op under dir failing; check; log.
# check_fn names the shell function that checks the state afterwards.
inject() { # scenario op k dir check_fn cmd...
    sc=$1 op=$2 k=$3 dir=$4 check=$5
    shift 5
    errno=EIO
    [ $((k % 2)) -eq 0 ] && errno=ENOSPC
    rm -f "$T/flog"
    env LD_PRELOAD="$SHIM" FAIL_IO_UNDER="$dir" FAIL_IO_OP="$op" FAIL_IO_N="$k" FAIL_IO_ERRNO="$errno" FAIL_IO_LOG="$T/flog" \
        "$@" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    failed=$(sed -n 's/^FAILED //p' "$T/flog" 2> /dev/null | sed "s|$dir|DIR|")
    msg=$(grep -m 1 -E 'Input/output error|No space left|write failed|fsync failed|cannot' "$T/stderr")
    why=""
    if [ -z "$failed" ]; then why="the call was not reached"
    elif [ $rc -eq 0 ]; then why="exit 0 after the failure"
    elif [ -z "$msg" ]; then why="no message naming the error: $(tail -n 1 "$T/stderr")"
    else $check; fi
    if [ -z "$why" ]; then
        echo "$sc $failed -> exit $rc: ${msg#bert finetune: }; previous state intact" >> "$matrix"
        return 0
    fi
    echo "$sc $failed -> exit $rc: PROBLEM: $why" >> "$matrix"
    echo "  $sc: $op #$k (${failed:-not reached}): $why"
    return 1
}

# --- resume and rerun ---------------------------------------------------------
"$BERT" finetune "$MODEL" --output-dir "$T/base" $ARGS --save-total-limit 2 --stop-at-step 2 > /dev/null 2>&1
"$BERT" finetune "$MODEL" --output-dir "$T/done" $ARGS --save-total-limit 2 > /dev/null 2>&1
if [ ! -d "$T/base/checkpoint-2" ] || [ ! -f "$T/done/report.json" ]; then echo "FAIL faults_setup (the base runs failed)"; exit 1; fi

check_run() { # the state of $T/out after a failure
    report_ok "$T/out" "$T/prev/report.json" || { why="report.json is neither the previous one nor whole JSON"; return; }
    [ -d "$T/out/best" ] || { why="best/ is gone"; return; }
    finals_load "$T/out" || return
    clean_rerun "$T/out" || return
}

for sc in resume rerun; do
    want $sc || continue
    if [ $sc = resume ]; then prev=$T/base; set -- --save-total-limit 2 --resume "$T/out/checkpoint-2"
    else prev=$T/done; set -- --save-total-limit 10 --stop-at-step 3; fi
    rm -rf "$T/prev" "$T/out"; cp -a "$prev" "$T/prev"; cp -a "$prev" "$T/out"
    count_calls "$T/out" "$BERT" finetune "$MODEL" --output-dir "$T/out" $ARGS "$@"
    for op in write fsync rename mkdir create; do
        n=$(awk -v op=$op '$1 == op { n += $2 } END { print n + 0 }' "$T/count")
        bad=0 tried=0
        for k in $(pick "$n"); do
            rm -rf "$T/out"; cp -a "$prev" "$T/out"
            inject $sc $op "$k" "$T/out" check_run "$BERT" finetune "$MODEL" --output-dir "$T/out" $ARGS "$@" || bad=$((bad + 1))
            tried=$((tried + 1))
        done
        if [ "$n" -eq 0 ]; then echo "FAIL faults_${sc}_$op (no $op calls counted)"
        elif [ $bad -eq 0 ]; then echo "PASS faults_${sc}_$op ($tried of $n calls failed in turn; previous state loads each time)"
        else echo "FAIL faults_${sc}_$op ($bad of $tried injections left a bad state; see above)"; fi
    done
done

# --- the CLI's atomic output file ---------------------------------------------
printf '{"text": "a lovely film"}\n{"text": "dull"}\n{"text": "fine"}\n' > "$T/in.jsonl"
mkdir -p "$T/o"
check_output() {
    [ "$(cat "$T/o/pred.jsonl")" = "previous" ] || { why="the previous output file changed"; return; }
    [ -z "$(ls "$T/o" | grep -v '^pred.jsonl$')" ] || why="a temporary file was left: $(ls "$T/o" | tr '\n' ' ')"
}
echo previous > "$T/o/pred.jsonl"
want output && count_calls "$T/o" "$BERT" classify "$T/done/best" --input "$T/in.jsonl" --output "$T/o/pred.jsonl"
want output && for op in write fsync rename create; do
    n=$(awk -v op=$op '$1 == op { n += $2 } END { print n + 0 }' "$T/count")
    bad=0 tried=0
    for k in $(pick "$n"); do
        echo previous > "$T/o/pred.jsonl"
        inject output $op "$k" "$T/o" check_output "$BERT" classify "$T/done/best" --input "$T/in.jsonl" --output "$T/o/pred.jsonl" || bad=$((bad + 1))
        tried=$((tried + 1))
    done
    if [ "$n" -eq 0 ]; then echo "FAIL faults_output_$op (no $op calls counted)"
    elif [ $bad -eq 0 ]; then echo "PASS faults_output_$op ($tried of $n calls failed in turn; the previous file intact each time)"
    else echo "FAIL faults_output_$op ($bad of $tried injections left a bad state; see above)"; fi
done

# --- bert_dir_copy / bert_file_copy -------------------------------------------
mkdir -p "$T/c"
check_copy() {
    [ -z "$(ls -a "$T/c" | grep -v -E '^(\.|\.\.|tree|file)$')" ] || { why="temporary names left: $(ls -a "$T/c" | tr '\n' ' ')"; return; }
    if diff -r "$T/c/tree" "$T/done/best" > /dev/null 2>&1 || diff -r "$T/c/tree" "$T/base/best" > /dev/null 2>&1; then :; else why="tree is neither the old nor the new copy"; return; fi
    cmp -s "$T/c/file" "$T/base/report.json" || cmp -s "$T/c/file" "$T/done/report.json" || why="file is neither the old nor the new copy"
}
reset_copy() { rm -rf "$T/c"; mkdir "$T/c"; cp -a "$T/base/best" "$T/c/tree"; cp "$T/base/report.json" "$T/c/file"; }
for sc in dircopy filecopy; do
    want $sc || continue
    if [ $sc = dircopy ]; then set -- "$FS_COPY" "$T/done/best" "$T/c/tree"; else set -- "$FS_COPY" --file "$T/done/report.json" "$T/c/file"; fi
    reset_copy
    count_calls "$T/c" "$@"
    for op in write fsync rename mkdir create; do
        n=$(awk -v op=$op '$1 == op { n += $2 } END { print n + 0 }' "$T/count")
        [ "$n" -eq 0 ] && continue
        bad=0 tried=0
        for k in $(pick "$n"); do
            reset_copy
            inject $sc $op "$k" "$T/c" check_copy "$@" || bad=$((bad + 1))
            tried=$((tried + 1))
        done
        if [ $bad -eq 0 ]; then echo "PASS faults_${sc}_$op ($tried of $n calls failed in turn; the old or the new copy whole each time)"
        else echo "FAIL faults_${sc}_$op ($bad of $tried injections left a bad state; see above)"; fi
    done
done
