# Helpers shared by the shell tests: pass/fail counting and checks.
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
# golden_or_skip DIR: a missing golden folder fails under CI, skips elsewhere (77)
golden_or_skip() {
    if [ ! -d "$1/netg" ]; then
        if [ "${CI:-}" = "true" ]; then echo "FAIL: golden data missing at $1"; exit 1; fi
        echo "SKIP: golden data missing at $1"; exit 77
    fi
}
# check NAME CMD...: CMD must succeed (its output is shown when it does not).
# expect_error NAME MESSAGE CMD...: CMD must fail and say MESSAGE. Both use $TMP/log.
check() { # name, command...
    local name=$1; shift
    if "$@" >"$TMP/log" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     /' "$TMP/log"; fi
}
expect_error() { # name, message substring, command...
    local name=$1 msg=$2; shift 2
    if "$@" >"$TMP/log" 2>&1; then bad "$name (succeeded)"
    elif grep -q -- "$msg" "$TMP/log"; then ok "$name"
    else bad "$name (no '$msg' in: $(cat "$TMP/log"))"; fi
}
