#!/bin/sh
# tests/gpu/pack.sh [DIR] — the GPU checks' programs, built here, for a GPU
# machine that has the NVIDIA driver and cuBLAS but not this project's build
# packages (cJSON, utf8proc, zlib, PLplot, libmicrohttpd) and no network.
#
# Builds bert, test_bert, json_close, bench_forward and bench_train with CUDA into DIR
# (default build-gpupack; BLAS=none and MPI=none: the encoder runs on the GPU,
# the CPU side on the portable loops or oneDNN where it is found), copies the
# shared libraries they load, except the C library's own, into DIR/lib, links
# them with an RPATH to DIR/lib (DT_RPATH: it also serves the libraries'
# own dependencies, and leaves every other program, Python's torch included,
# on its system libraries), marks DIR prebuilt for tests/gpu/run.sh and
# bench/gpu.sh, and writes DIR.tar.gz: what travels to the GPU machine, where
#   tar xzf DIR.tar.gz && sh tests/gpu/run.sh DIR && BUILD=DIR bench/gpu.sh
# runs the checks. Needs nvcc here (exit 1 with the reason otherwise). DIR
# is relative to the repository root and is this script's own: objects
# left there by a build with other options are not rebuilt.
# cuBLAS is not carried: bert looks for it in the CUDA folder it was built
# against (/usr/local/cuda-13.0/lib64 here), then on the loader's path; where
# the GPU machine has it only in a Python wheel, put that wheel's lib folder
# in LD_LIBRARY_PATH for the run.
set -e
dir=${1:-build-gpupack}
cd "$(dirname "$0")/../.."
progs="bert test_bert json_close bench_forward bench_train"
for p in $progs; do rm -f "$dir/$p"; done # relinked with the RPATH below
# make turns $$ into $, the recipe's shell \$ into a literal $ORIGIN
make -s -j"$(nproc)" BUILD="$dir" BLAS=none MPI=none LDFLAGS='-Wl,--disable-new-dtags,-rpath,\$$ORIGIN/lib' \
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
tar czf "$dir.tar.gz" "$dir/.prebuilt" "$dir/.cuda-probe" "$dir/lib" $(for p in $progs; do printf '%s/%s ' "$dir" "$p"; done)
echo "$dir.tar.gz: $(du -k "$dir.tar.gz" | cut -f1) kB ($(ls "$dir/lib" | wc -l) libraries)"
