"""Metrics on the admin port and facts in the access log: after known traffic on an Envoy
of its own, /stats/prometheus has the llm counters and histograms with `model` and
`provider` labels, their values agree with the access log, and each access-log line
agrees with its response's x-llm-* headers."""

import json
import re
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


def test_prometheus_has_the_llm_metrics_with_labels(traffic):
    envoy, sent = traffic
    lines = [access_log_for(envoy, tag) for tag in sent]
    gpt = [l for l in lines if l["model"] == "gpt-4o"]
    want = {
        "requests": len(gpt),
        "input_tokens": sum(as_int(l["input_tokens"]) for l in gpt),
        "output_tokens": sum(as_int(l["output_tokens"]) for l in gpt),
        "cost_micro_usd": sum(round(float(l["cost_usd"]) * 1e6) for l in gpt),
    }
    samples = wait_for_samples(envoy, lambda s: value(s, "llm_request_duration_ms_count", model="gpt-4o") == len(gpt))
    names = sorted({n for n, _, _ in samples if "llm" in n})
    print("\nPrometheus names of the filter's metrics:\n  " + "\n  ".join(names))
    print("Samples:\n  " + "\n  ".join(f"{n}{l} {v}" for n, l, v in samples if "llm" in n and "le" not in l))
    labels = {"model": "gpt-4o", "provider": "mock"}
    got = {k: value(samples, f"llm_{k}", **labels) for k in want}
    assert got == want, f"metrics {got} != access log {want}"
    assert value(samples, "llm_requests", model="claude-sonnet-4-5", provider="mock") == 1
    errors = {(l["kind"], l.get("model"), l.get("provider")): v for n, l, v in samples if n == "llm_errors"}
    assert errors.get(("upstream_5xx", "gpt-4o", "mock")) == 1, errors
    assert errors.get(("stream_cut", "gpt-4o", "mock")) == 1, errors
    assert errors.get(("invalid_request", "unknown", "none")) == 1, errors
    # Histograms: one sample per exchange (ttft only where content arrived).
    with_text = [l for l in gpt if l["ttft_ms"] is not None]
    for name, count in [("llm_request_duration_ms", len(gpt)), ("llm_input_tokens_per_request", len(gpt)),
                        ("llm_ttft_ms", len(with_text))]:
        assert value(samples, f"{name}_count", **labels) == count, (name, names)
        assert any(n == f"{name}_bucket" and l.get("model") == "gpt-4o" for n, l, _ in samples), name
    # Envoy's histogram sums are interpolated from its log-linear buckets (circllhist):
    # close to the recorded values, not exact.
    assert value(samples, "llm_request_duration_ms_sum", **labels) >= 0.95 * 3 * 150
    # The filter's own count per request; the mock reports the same numbers as usage.
    # (A failure without usage bills 0 input tokens; the histogram still has its count.)
    counted = sum(as_int(l["input_tokens_counted"]) for l in gpt)
    assert value(samples, "llm_input_tokens_per_request_sum", **labels) == pytest.approx(counted, rel=0.05)
