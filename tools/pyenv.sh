#!/bin/sh
# pyenv.sh — the project's Python peers (tokenizers, transformers,
# sentence-transformers, onnxruntime, seqeval, ...), in one ignored venv.
#
#   tools/pyenv.sh [PKG ...]        (from anywhere; PKG = a name pinned in
#                                    tools/python-requirements.txt, or NAME==VERSION)
#
# Creates .venv/ in the repository root once, with Debian's /usr/bin/python3
# and --system-site-packages, so Debian's python3-torch (CPU) and numpy are
# used (`tools/install-deps.sh python` installs them when missing). Installs
# with pip the given packages at their pinned versions when they are not
# already there; pip is held to the installed torch and numpy and to every pin
# in tools/python-requirements.txt, so it never fetches a torch wheel.
# Prints the venv's python path on stdout.
# Exit status: 0 ready; 3 the peers cannot be had here (no Debian python/torch,
# PyPI unreachable, a package does not install) with one line on stderr
# saying why (callers print `SKIP name (reason)`); 2 a bad argument.
# Concurrent calls wait for each other (flock on .venv/.lock).
root=$(cd "$(dirname "$0")/.." && pwd) || exit 3
venv=$root/.venv
req=$root/tools/python-requirements.txt
py=/usr/bin/python3

unavailable() { echo "pyenv: $*" >&2; exit 3; }

# Each argument becomes one NAME==VERSION spec (bare names take their pin).
specs=""
for arg in "$@"; do
    case $arg in
        *==*) spec=$arg ;;
        *) spec=$(grep -i -m1 "^$arg==" "$req" 2>/dev/null) ||
            { echo "pyenv: '$arg' is not pinned in tools/python-requirements.txt" >&2; exit 2; } ;;
    esac
    if ! printf '%s\n' "$spec" | grep -Eq '^[A-Za-z0-9._-]{1,100}==[A-Za-z0-9.+!-]{1,40}$'; then
        echo "pyenv: bad package spec '$arg' (want NAME or NAME==VERSION)" >&2
        exit 2
    fi
    specs="$specs $spec"
done

probe='import torch, numpy, venv, ensurepip'
if ! "$py" -c "$probe" >/dev/null 2>&1; then
    sh "$root/tools/install-deps.sh" python >&2 ||
        unavailable "could not install Debian's python3-torch / python3-venv"
    "$py" -c "$probe" >/dev/null 2>&1 ||
        unavailable "$py cannot import torch, numpy and venv"
fi

mkdir -p "$venv" || unavailable "cannot create $venv"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv/.lock" && flock 9 || unavailable "cannot lock $venv/.lock"
fi
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv --system-site-packages "$venv" >&2 ||
        { rm -rf "${venv:?}/bin" "${venv:?}/lib" "${venv:?}/include" "${venv:?}/pyvenv.cfg"
          unavailable "python3 -m venv failed"; }
fi

# The specs whose exact version is not installed yet (specs: validated words, split on purpose).
# shellcheck disable=SC2086
missing=$("$venv/bin/python" - $specs <<'EOF'
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, version = spec.split("==", 1)
    try:
        if metadata.version(name) == version:
            continue
    except metadata.PackageNotFoundError:
        pass
    print(spec)
EOF
) || unavailable "the venv's python does not run"

if [ -n "$missing" ]; then
    held=$(mktemp) || unavailable "mktemp failed"
    "$venv/bin/python" -c '
from importlib import metadata
for n in ("torch", "numpy"):
    print(n + "==" + metadata.version(n))' > "$held" 2>/dev/null ||
        { rm -f "$held"; unavailable "cannot read the installed torch/numpy versions"; }
    log=$venv/pip-last.log
    # shellcheck disable=SC2086
    if ! timeout 1500 "$venv/bin/pip" install -q --disable-pip-version-check \
            --timeout 30 --retries 2 -c "$held" -c "$req" $missing > "$log" 2>&1; then
        rm -f "$held"
        if grep -qE 'NewConnectionError|Failed to establish|Temporary failure in name resolution|timed out' "$log"; then
            reason="the package index cannot be reached"
        else
            reason=$(grep -E -m1 'ERROR|Could not|No matching|conflict' "$log" | cut -c1-200)
        fi
        unavailable "pip could not install$(printf ' %s' $missing): ${reason:-see $log}"
    fi
    rm -f "$held"
fi
echo "$venv/bin/python"
