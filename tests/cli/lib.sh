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
