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
