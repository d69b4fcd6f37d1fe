#!/bin/sh
# test_mpi_infer.sh — sharded batch inference under mpirun (Open MPI): the
# ranks share the batches of `bert embed`, `bert classify` and `bert ner`
# (37 lines, batches of 2, so several rounds; 2 ranks and 3 uneven ranks)
# and rank 0 writes an output equal byte for byte to one process's; a bad
# line without --on-error skip ends the job non-zero, naming the line, and
# leaves no output file; with skip its {"error": ...} line is at its place;
# stdin / stdout are refused. SKIP where mpirun is missing or the binary was
# built without MPI.
BERT=${BERT:-build/bert}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=mpi_infer_
. tests/cli/lib.sh
mpi_or_skip
RUN="--batch-size 2 --threads 1"

# 37 lines of 1 to 24 words (batches of unequal cost), line 31 blank.
words="the film was a lovely and moving story Alice Smith flew from Oslo to Paris with Google staff but plot dragged on"
i=1
while [ $i -le 37 ]; do
    if [ $i -eq 31 ]; then echo; else
        echo "$words" | tr ' ' '\n' | awk -v n=$(((i * 7) % 24 + 1)) -v s=$i 'NR > s % 5 && NR <= s % 5 + n { printf "%s ", $0 } END { print "" }' |
            sed 's/ $//; s/.*/{"text": "&"}/'
    fi
    i=$((i + 1))
done > "$TMP/in.jsonl"
# The same with line 17 missing its text and line 23 not JSON.
sed '17s/.*/{"txt": "no text"}/; 23s/.*/not json/' "$TMP/in.jsonl" > "$TMP/bad.jsonl"

# same NAME NP CMD MODEL [FLAGS]: N ranks write what one process writes.
same() {
    name=$1 np=$2 cmd=$3 model=$4
    shift 4
    : > "$TMP/err"
    [ -f "$TMP/$cmd.one" ] || "$BERT" "$cmd" "$model" $RUN "$@" --input "$TMP/in.jsonl" --output "$TMP/$cmd.one" 2> "$TMP/err"
    $MPIRUN -np "$np" "$BERT" "$cmd" "$model" $RUN "$@" --input "$TMP/in.jsonl" --output "$TMP/$cmd.$np" >> "$TMP/err" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ "$(wc -l < "$TMP/$cmd.one")" -eq 36 ] && cmp "$TMP/$cmd.one" "$TMP/$cmd.$np" >> "$TMP/err" 2>&1; then
        pass "$name"; else echo "  exit $rc"; fail "$name" "$TMP/err"; fi
}
for np in 2 3; do
    same "embed_np$np" $np embed models/bertc-mini-uncased
    same "classify_np$np" $np classify models/bertc-mini-uncased-sst2 --top-k 2
    same "ner_np$np" $np ner models/bertc-mini-uncased-conll03
done

# A bad line without --on-error skip: the job fails naming it; no output
# file, no temporary one (the shared runner, and embed's own loop).
for cmd in classify embed; do
    model=models/bertc-mini-uncased-sst2
    [ $cmd = embed ] && model=models/bertc-mini-uncased
    mkdir "$TMP/stop_$cmd"
    $MPIRUN -np 3 "$BERT" $cmd $model $RUN --input "$TMP/bad.jsonl" --output "$TMP/stop_$cmd/out.jsonl" > "$TMP/err" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && grep -q "^bert $cmd: .*bad.jsonl:17: " "$TMP/err" && [ -z "$(ls "$TMP/stop_$cmd")" ]; then
        pass "${cmd}_bad_line_stops_the_job"; else echo "  exit $rc, left: $(ls "$TMP/stop_$cmd")"; fail "${cmd}_bad_line_stops_the_job" "$TMP/err"; fi
done

# --on-error skip: the {"error": ...} lines at their places, the rest as one process.
C="classify models/bertc-mini-uncased-sst2 $RUN --on-error skip --input $TMP/bad.jsonl"
"$BERT" $C --output "$TMP/skip.one" 2> "$TMP/err"
$MPIRUN -np 3 "$BERT" $C --output "$TMP/skip.3" >> "$TMP/err" 2>&1
rc=$?
if [ $rc -ne 0 ] && cmp "$TMP/skip.one" "$TMP/skip.3" >> "$TMP/err" 2>&1 && sed -n 17p "$TMP/skip.3" | grep -q '"line":17' &&
    sed -n 23p "$TMP/skip.3" | grep -q '{"error":"not a JSON object","line":23}' &&
    [ "$(grep -c '2 line(s) failed' "$TMP/err")" -eq 2 ]; then
    pass skip_error_lines_in_place; else echo "  exit $rc"; fail skip_error_lines_in_place "$TMP/err"; fi

# Under mpirun the input and the output must be files.
$MPIRUN -np 2 "$BERT" ner models/bertc-mini-uncased-conll03 --threads 1 < "$TMP/in.jsonl" > "$TMP/out" 2> "$TMP/err"
rc=$?
if [ $rc -ne 0 ] && [ "$(grep -c 'under mpirun, --input and --output must be files' "$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ]; then
    pass stdin_stdout_refused; else echo "  exit $rc"; fail stdin_stdout_refused "$TMP/err"; fi
