"""Metrics on the admin port and facts in the access log: after known traffic on an Envoy
of its own, /stats/prometheus has the OpenTelemetry GenAI histograms
(gen_ai_client_token_usage, gen_ai_client_operation_duration_milliseconds,
gen_ai_server_time_to_first_token_milliseconds, ..._time_per_output_token_...) and our
counters (llm_requests, llm_tokens, llm_cost_micro_usd) with `gen_ai_request_model`,
`gen_ai_provider_name`, `error_type` and `consumer` labels, their values agree with the
access log, each access-log line agrees with its response's x-llm-* headers, and a stream
the client leaves half-read is counted all the same."""

import json
import re
import socket
import time

import pytest
import requests

from helpers import (
    CHAT,
    MESSAGES,
    access_log_for,
    as_int,
    chat_body,
    messages_body,
    new_tag,
    raw_post,
    read_first_event,
    tagged,
)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """[(name, {label: value}, float)] of every sample."""
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line.strip())
        if m and not line.startswith("#"):
            out.append((m[1], dict(LABEL.findall(m[2] or "")), float(m[3])))
    return out


def value(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())
             and "le" not in l]
    return sum(found) if found else None


@pytest.fixture(scope="module")
def traffic(envoy_factory):
    """An Envoy of its own and the traffic sent to it: {tag: (what, response headers)}."""
    envoy = envoy_factory.start()
    sent = {}

    def post(what, path, body, mock=None):
        tag = new_tag()
        r = requests.post(f"{envoy.url}{tagged(path, tag)}", json=body, headers=mock or {}, timeout=30)
        sent[tag] = (what, r.status_code, dict(r.headers))

    for i in range(3):
        post("plain", CHAT, chat_body(f"observe me {i} " * (i + 1)), {"x-mock-latency-ms": "150"})
    post("upstream_500", CHAT, chat_body("fail"), {"x-mock-status": "500"})
    post("anthropic", MESSAGES, messages_body("bonjour"))
    post("invalid", CHAT, {"model": "gpt-4o", "messages": "nope"})
    tag = new_tag()
    r = raw_post(envoy.url, tagged(CHAT, tag), json.dumps(chat_body("streamed words here", stream=True)).encode(),
                 {"x-mock-ttft-ms": "50"})
    sent[tag] = ("stream", r.status, r.headers)
    tag = new_tag()
    r = raw_post(envoy.url, tagged(CHAT, tag), json.dumps(chat_body("cut me off early please", stream=True)).encode(),
                 {"x-mock-cut-after-bytes": "400"})
    sent[tag] = ("stream_cut", r.status, r.headers)
    yield envoy, sent
    envoy.stop()


def wait_for_samples(envoy, done, timeout=15):
    """Polls /stats/prometheus until `done(samples)`; histograms show after a stats flush
    (Envoy's default is every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse_prometheus(envoy.prometheus())
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


def test_access_log_lines_match_the_response_headers(traffic):
    envoy, sent = traffic
    for tag, (what, status, headers) in sent.items():
        line = access_log_for(envoy, tag)
        assert as_int(line["status"]) == status, (what, line)
        assert isinstance(line["duration_ms"], int) and line["duration_ms"] >= 0, line
        if what == "invalid":
            assert line["error"] == "invalid_request" and line["model"] is None, line
            continue
        assert line["model"] == headers["x-llm-model"], (what, line, headers)
        assert line["provider"] == headers["x-llm-provider"] == "mock", (what, line)
        assert line["input_tokens"] is not None and line["output_tokens"] is not None, (what, line)
        if what in ("plain", "anthropic", "upstream_500"):
            assert line["input_tokens"] == headers["x-llm-input-tokens"], (what, line, headers)
            assert line["output_tokens"] == headers["x-llm-output-tokens"], (what, line, headers)
            assert line["cost_usd"] == headers["x-llm-cost-usd"], (what, line, headers)
        if what == "plain":
            assert line["duration_ms"] >= 150, line  # x-mock-latency-ms
            assert line["usage_source"] == "provider" and line["error"] is None, line
        if what == "stream":
            assert line["input_tokens"] == headers["x-llm-input-tokens"], (line, headers)
            assert as_int(line["ttft_ms"]) >= 50, line
        expected_error = {"upstream_500": "upstream_5xx", "stream_cut": "stream_cut"}.get(what)
        assert line["error"] == expected_error, (what, line)


MOCK = {"gen_ai_request_model": "gpt-4o", "gen_ai_provider_name": "mock"}


def test_prometheus_has_the_genai_metrics_with_labels(traffic):
    envoy, sent = traffic
    lines = [access_log_for(envoy, tag) for tag in sent]
    gpt = [l for l in lines if l["model"] == "gpt-4o"]
    duration = "gen_ai_client_operation_duration_milliseconds"
    samples = wait_for_samples(envoy, lambda s: value(s, f"{duration}_count", **MOCK) == len(gpt))
    names = sorted({n for n, _, _ in samples if n.startswith(("llm", "gen_ai"))})
    print("\nPrometheus names of the filter's metrics:\n  " + "\n  ".join(names))
    print("Samples:\n  " + "\n  ".join(f"{n}{l} {v}" for n, l, v in samples
                                       if n.startswith(("llm", "gen_ai")) and "le" not in l))
    # Our counters, exact, against the access log (no identity key sent: `anonymous`).
    ours = {**MOCK, "consumer": "anonymous"}
    want = {
        ("llm_requests", None): len(gpt),
        ("llm_tokens", "input"): sum(as_int(l["input_tokens"]) for l in gpt),
        ("llm_tokens", "output"): sum(as_int(l["output_tokens"]) for l in gpt),
        ("llm_tokens", "cached_input"): sum(as_int(l["cached_tokens"]) for l in gpt),
        ("llm_cost_micro_usd", None): sum(round(float(l["cost_usd"]) * 1e6) for l in gpt),
    }
    got = {(name, kind): value(samples, name, **ours, **({"gen_ai_token_type": kind} if kind else {}))
           for name, kind in want}
    assert got == want, f"metrics {got} != access log {want}"
    assert value(samples, "llm_requests", gen_ai_request_model="claude-sonnet-4-5", gen_ai_provider_name="mock") == 1
    errors = {(l.get("error_type"), l.get("gen_ai_request_model"), l.get("gen_ai_provider_name")): v
              for n, l, v in samples if n == "llm_requests" and l.get("error_type")}
    assert errors.get(("upstream_5xx", "gpt-4o", "mock")) == 1, errors
    assert errors.get(("stream_cut", "gpt-4o", "mock")) == 1, errors
    assert errors.get(("invalid_request", "unknown", "none")) == 1, errors
    # The OTel histograms: one sample per exchange, with gen_ai_operation_name.
    otel = {**MOCK, "gen_ai_operation_name": "chat"}
    with_text = [l for l in gpt if l["ttft_ms"] is not None]
    failed = [l for l in gpt if l["error"] is not None]
    for name, count in [(duration, len(gpt)), ("gen_ai_server_time_to_first_token_milliseconds", len(with_text))]:
        assert value(samples, f"{name}_count", **otel) == count, (name, names)
        assert any(n == f"{name}_bucket" and l.get("gen_ai_request_model") == "gpt-4o" for n, l, _ in samples), name
    failed_counts = {l["error_type"]: v for n, l, v in samples
                     if n == f"{duration}_count" and l.get("error_type") and "le" not in l}
    assert failed_counts == {"upstream_5xx": 1, "stream_cut": 1}, failed_counts
    assert len(failed) == 2, failed
    tokens = "gen_ai_client_token_usage"
    for kind in ("input", "output", "cached_input"):
        assert value(samples, f"{tokens}_count", gen_ai_token_type=kind, **otel) == len(gpt), kind
    # The one whole stream has a time per output token; plain answers and cut ones not.
    assert value(samples, "gen_ai_server_time_per_output_token_milliseconds_count", **otel) == 1
    # Envoy's histogram sums are interpolated from its log-linear buckets (circllhist):
    # close to the recorded values, not exact.
    assert value(samples, f"{duration}_sum", **otel) >= 0.95 * 3 * 150
    assert value(samples, f"{tokens}_sum", gen_ai_token_type="input", **otel) == pytest.approx(
        want[("llm_tokens", "input")], rel=0.05)
    # The buckets are envoy.yaml's histogram_bucket_settings, not Envoy's defaults.
    les = {l["le"] for n, l, _ in samples if n == f"{tokens}_bucket"}
    assert {"1", "4", "16", "64", "4194304", "+Inf"} <= les, sorted(les)
    assert "0.5" not in les and "3600000" not in les, sorted(les)
    duration_les = {l["le"] for n, l, _ in samples if n == f"{duration}_bucket"}
    assert {"10", "20", "40", "81920", "+Inf"} <= duration_les, sorted(duration_les)


def test_a_stream_the_client_leaves_is_counted(envoy_factory):
    """The client reads the first event of a slow stream and closes its socket: Envoy
    resets the upstream and the module settles in its log callback, so the request is
    counted, with its error type, though it never finished."""
    envoy = envoy_factory.start()
    try:
        tag = new_tag()
        body = json.dumps(chat_body("leave me halfway please", stream=True)).encode()
        head = (f"POST {tagged(CHAT, tag)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nx-mock-stream-chunks: 20\r\nx-mock-chunk-delay-ms: 300\r\n\r\n")
        with socket.create_connection(("127.0.0.1", envoy.port), timeout=30) as s:
            s.sendall(head.encode() + body)
            read_first_event(s)
        line = access_log_for(envoy, tag, timeout=30)
        assert line["error"] == "stream_cut" and as_int(line["input_tokens_counted"]) > 0, line
        samples = wait_for_samples(envoy, lambda s: value(
            s, "gen_ai_client_operation_duration_milliseconds_count", error_type=line["error"], **MOCK) == 1)
        assert value(samples, "llm_requests", error_type=line["error"], **MOCK) == 1, line
        assert value(samples, "gen_ai_client_operation_duration_milliseconds_count",
                     error_type=line["error"], **MOCK) == 1
    finally:
        envoy.stop()
