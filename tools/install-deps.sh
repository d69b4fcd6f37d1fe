#!/bin/sh
# Install the Debian packages bert.c builds with, when any is missing.
# Run by `make test` and `make demo`; does nothing when all are present.
set -e
# `install-deps.sh python`: only Debian's Python peers base for tools/pyenv.sh
# (python3-venv, python3-pip, python3-torch 1.13 CPU with numpy), on request:
# the C build and its tests never need them.
if [ "${1:-}" = python ]; then
    /usr/bin/python3 -c 'import torch, numpy, venv, ensurepip' >/dev/null 2>&1 && exit 0
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    echo "install-deps: installing python3-venv python3-pip python3-torch" >&2
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends python3-venv python3-pip python3-torch >/dev/null
    exit 0
fi
missing=""
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
# g++: the tests build src/cuda's .cu files for the CPU emulator (tests/cuda_emu)
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
arch=$(cc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
[ -f "/usr/lib/$arch/openblas-openmp/pkgconfig/openblas.pc" ] || missing="$missing libopenblas-openmp-dev"
[ -f /usr/include/cjson/cJSON.h ] || missing="$missing libcjson-dev"
[ -f /usr/include/utf8proc.h ] || missing="$missing libutf8proc-dev"
[ -f /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
[ -f /usr/include/plplot/plplot.h ] || missing="$missing libplplot-dev"
ls /usr/lib/$arch/plplot*/drivers/cairo.so >/dev/null 2>&1 || missing="$missing plplot-driver-cairo"
[ -f /usr/include/microhttpd.h ] || missing="$missing libmicrohttpd-dev"
# --fuzz (make fuzz and make test): clang, its libFuzzer and sanitizer
# runtimes, and its OpenMP; the suite skips the fuzz targets without them.
# Optional for the suite: a failure to install them leaves those targets skipped.
fuzz=""
if [ "${1:-}" = "--fuzz" ]; then
    command -v clang >/dev/null 2>&1 || fuzz="$fuzz clang"
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || fuzz="$fuzz libclang-rt-dev"
    ls /usr/lib/llvm-*/lib/clang/*/include/omp.h >/dev/null 2>&1 || fuzz="$fuzz libomp-dev"
fi
# oneDNN, opened at run time for --dtype bf16 / int8; its header (in
# libdnnl-dev, which brings libdnnl2) is needed to build the int8 path.
# Optional: without it bf16/int8 are clear errors and every f32 path works.
# x86-64 only.
optional=""
case $arch in x86_64*) [ -e "/usr/lib/$arch/libdnnl.so.2" ] && [ -f /usr/include/dnnl.h ] || optional="libdnnl-dev" ;; esac
# Open MPI: data-parallel training under mpirun (src/dist/mpi.c).
# Optional: without it the build knows only a job of one.
mpi=""
{ command -v mpirun >/dev/null 2>&1 && pkg-config --exists ompi-c 2>/dev/null; } || mpi="libopenmpi-dev openmpi-bin"
[ -z "$missing$optional$fuzz$mpi" ] && exit 0
echo "install-deps: installing$missing $optional$fuzz $mpi" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
[ -z "$missing" ] || $sudo apt-get install -y -qq $missing >/dev/null
# Optional: a failure here leaves bf16/int8 off (bert version says why), nothing else.
[ -z "$optional" ] || $sudo apt-get install -y -qq $optional >/dev/null ||
    echo "install-deps: could not install $optional; --dtype bf16/int8 will be unavailable" >&2
[ -z "$fuzz" ] || $sudo apt-get install -y -qq $fuzz >/dev/null ||
    echo "install-deps: could not install$fuzz; the fuzz targets will be skipped" >&2
[ -z "$mpi" ] || $sudo apt-get install -y -qq --no-install-recommends $mpi >/dev/null ||
    echo "install-deps: could not install $mpi; training runs in one process only" >&2
