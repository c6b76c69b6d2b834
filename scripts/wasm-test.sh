#!/usr/bin/env bash
# Runs the pure logic's tests compiled to wasm32-unknown-unknown under Node, with the
# wasm-bindgen-test runner installed (pinned) in .tools/ by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runner="$PWD/.tools/bin/wasm-bindgen-test-runner"
if [[ ! -x "$runner" ]]; then
  echo "wasm-bindgen-test-runner missing: run scripts/setup.sh" >&2
  exit 1
fi
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$runner" \
  cargo test -p wasm-tests --target wasm32-unknown-unknown "$@"
