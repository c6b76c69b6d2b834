#!/usr/bin/env bash
# The local stack of `make run`: the mock provider on 127.0.0.1:10001 and Envoy with the
# module on 127.0.0.1:10000 (admin 127.0.0.1:9901). Ctrl-C stops exactly what it started.
# OPENAI_API_KEY / ANTHROPIC_API_KEY, when set, pass through to the filter (Envoy's
# vm_config.environment_variables.host_env_keys); without them every model goes to the mock.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY=${ENVOY:-.venv/bin/envoy}
MOCK=target/release/mock-provider
WASM=target/wasm32-wasip1/release/llm_gateway.wasm
CONFIG=envoy/envoy.yaml

for f in "$ENVOY" "$MOCK" "$WASM"; do
  [[ -x "$f" || -f "$f" ]] || { echo "run: $f is missing; run 'make run' (it sets up and builds first)" >&2; exit 1; }
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup INT TERM EXIT

wait_for() { # url, what, pid
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "run: $2 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "run: $2 did not come up ($1)" >&2
  return 1
}

"$MOCK" --listen 127.0.0.1:10001 &
pids+=($!)
wait_for http://127.0.0.1:10001/__mock/health "the mock provider" "${pids[0]}"

# Access-log lines show within 200 ms (Envoy's default flush interval is 10 s).
"$ENVOY" -c "$CONFIG" --log-level "${ENVOY_LOG_LEVEL:-info}" --file-flush-interval-msec 200 &
pids+=($!)
wait_for http://127.0.0.1:9901/ready "Envoy" "${pids[1]}"

key_state() { if [[ -n "${!1:-}" ]]; then echo set; else echo "unset (its models go to the mock)"; fi; }

cat <<MSG

llm-gateway is up:
  gateway         http://127.0.0.1:10000   (OpenAI /v1/chat/completions, Anthropic /v1/messages)
  Envoy admin     http://127.0.0.1:9901    (/stats/prometheus, /config_dump)
  mock provider   http://127.0.0.1:10001   (/__mock/requests lists what it received)
  module          $WASM
  provider keys   OPENAI_API_KEY $(key_state OPENAI_API_KEY), ANTHROPIC_API_KEY $(key_state ANTHROPIC_API_KEY)

Try:
  curl -sS http://127.0.0.1:10000/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello gateway"}]}' -D -

Envoy's access log (one JSON line per request) follows. Ctrl-C stops everything.

MSG

# Exit (and clean up) when either process ends.
wait -n "${pids[@]}"
