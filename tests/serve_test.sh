#!/bin/bash
# Runs one Node test of tests/serve/ against this build's sbv2 serve.
# usage: serve_test.sh BUILD_DIR GOLDEN_DIR TEST.mjs [ARGS...]
# Node, tests/serve/node_modules, Chromium and nginx come from ./scripts/test.sh;
# a missing one skips the test (77), and fails it under CI.
set -u
. "$(dirname "$0")/lib.sh"
golden_or_skip "$2"
DIR=$(cd "$(dirname "$0")/serve" && pwd)
need() { # what, test
    if ! eval "$2"; then
        if [ "${CI:-}" = "true" ]; then echo "FAIL: $1 missing (./scripts/test.sh installs it)"; exit 1; fi
        echo "SKIP: $1 missing"; exit 77
    fi
}
need node 'command -v node >/dev/null'
need tests/serve/node_modules '[ -d "$DIR/node_modules/openai" ] && [ -d "$DIR/node_modules/playwright-core" ]'
case "$3" in
page_test.mjs) need chromium '[ -x "${CHROMIUM:-/usr/bin/chromium}" ]' ;;
scaleout_test.mjs) need nginx '[ -x "${NGINX:-/usr/sbin/nginx}" ]' ;;
esac
build=$1 golden=$(cd "$2" && pwd) test=$3
shift 3
exec node "$DIR/$test" "$build/sbv2" "$golden" "$@"
