# lib.sh — what every CLI test script shares; source it after setting
#   PREFIX      the test names' prefix ("cli_", "hostile_", ...)
#   TMP         a scratch directory
# and optionally FAIL_LINES (lines of the evidence file shown, 5) and
# NO_CRASH=1 (expect_error also fails an exit by a signal, status >= 128).

pass() { echo "PASS $PREFIX$1"; }
fail() { echo "FAIL $PREFIX$1"; [ -n "${2:-}" ] && sed 's/^/  /' "$2" | head -"${FAIL_LINES:-5}"; }
skip() { echo "SKIP $PREFIX$1 ($2)"; }

# expect_error NAME WANT_TEXT CMD...: a non-zero exit, WANT_TEXT on stderr,
# nothing on stdout.
expect_error() {
    name=$1 want=$2
    shift 2
    "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc -ne 0 ] && { [ "${NO_CRASH:-0}" -eq 0 ] || [ $rc -lt 128 ]; } && grep -qF -- "$want" "$TMP/err" &&
        [ ! -s "$TMP/out" ]; then
        pass "$name"
    else
        echo "  exit $rc, stderr:"
        fail "$name" "$TMP/err"
    fi
}

# mpi_or_skip: set MPIRUN for the tests under mpirun, or print SKIP and exit
# where mpirun or an MPI build of $BERT is missing. --oversubscribe: more
# ranks than cores; --allow-run-as-root: CI runs as root; no single-copy
# shared memory (it needs ptrace rights that containers often lack). Under
# AddressSanitizer: whole stacks, and Open MPI's components kept loaded at
# exit, so that its own allocations match tests/lsan.supp (its libraries
# keep no frame pointers).
mpi_or_skip() {
    if ! command -v mpirun > /dev/null 2>&1 || ! "$BERT" version | grep -q '^mpi: yes'; then
        skip all "mpirun or an MPI build is missing: tools/install-deps.sh installs Open MPI, then rebuild"
        exit 0
    fi
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
    MPIRUN="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none --mca mca_base_component_disable_dlclose 1"
}
