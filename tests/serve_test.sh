#!/bin/bash
# Runs tests/serve/serve_test.mjs (Node) against this build's sbv2 serve.
# usage: serve_test.sh BUILD_DIR GOLDEN_DIR
set -u
. "$(dirname "$0")/lib.sh"
golden_or_skip "$2"
DIR=$(cd "$(dirname "$0")/serve" && pwd)
if ! command -v node >/dev/null || [ ! -d "$DIR/node_modules/openai" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: node or tests/serve/node_modules missing (./scripts/test.sh installs them)"; exit 1; fi
    echo "SKIP: node or tests/serve/node_modules missing"; exit 77
fi
exec node "$DIR/serve_test.mjs" "$1/sbv2" "$(cd "$2" && pwd)"
