"""The `limits` stage on a real Envoy with two workers (`--concurrency 2`): GCRA request
and token limits, in-flight limits and USD budgets that hold exactly under many
concurrent clients, shared by both workers; reservation before the call and settlement
with real usage after it (refunds and extra charges); in-flight counts that return to
zero after cut streams, upstream errors and clients that hang up; the 429 that SDKs
understand (`rate_limit_exceeded` / `insufficient_quota`, `retry-after`, OpenAI's
`x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*` headers); the client's
`Helicone-RateLimit-Policy` (off by default, only tightens); and absurd `max_tokens`.

Each test uses its own consumer (and group), so counters never carry over between tests.
Numbers are chosen so that a limit that leaks, a refund that is missing or an extra charge
that is skipped changes the count of admitted requests."""

import hashlib
import json
import re
import socket
import threading
import time

import anthropic
import openai
import pytest
import requests

from conftest import plugin_config_of
from helpers import (CHAT, MESSAGES, chat_body, messages_body, mock_requests_for, new_tag,
                     raw_post, read_first_event, reference_request_tokens, tagged)

WORKERS = 2
PRICE_IN, PRICE_OUT = 2.5, 10.0  # gpt-4o, USD per million tokens (built-in price table)
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s|\d+ms)$")


def key_of(consumer: str) -> str:
    return f"sk-test-{consumer}-0123456789"


def consumer(cid: str, **extra) -> dict:
    return {"id": cid, "group": f"g-{cid}", "key_sha256": hashlib.sha256(key_of(cid).encode()).hexdigest(),
            **extra}


def rule(name: str, cid: str, **limits) -> dict:
    """A rule for one consumer's own group, scope consumer unless given."""
    return {"name": name, "scope": limits.pop("scope", "consumer"), "groups": [f"g-{cid}"], **limits}


CONSUMERS = [
    consumer("req"), consumer("tok"), consumer("conc"), consumer("settle"), consumer("charge"),
    consumer("budget", budget={"daily_usd": 0.001}), consumer("sdk"), consumer("retry"),
    consumer("anth"), consumer("hdr"), consumer("pol"), consumer("maxtok"),
    {**consumer("shared1"), "group": "g-shared"}, {**consumer("shared2"), "group": "g-shared"},
    consumer("glob1"), consumer("glob2"), consumer("model1"), consumer("model2"),
]

RULES = [
    rule("req10", "req", window="1m", requests=10),
    rule("tok2000", "tok", window="1m", total_tokens=2000),
    rule("conc3", "conc", concurrent=3),
    rule("settle1000", "settle", window="1m", total_tokens=1000),
    rule("charge1500", "charge", window="1m", total_tokens=1500),
    rule("sdk1", "sdk", window="1m", requests=1),
    rule("retry1", "retry", window="1s", requests=1),
    rule("anth5", "anth", window="1m", requests=5, total_tokens=10000),
    rule("hdr10", "hdr", window="1m", requests=10, total_tokens=5000),
    rule("pol100", "pol", window="1m", requests=100),
    {"name": "shared4", "scope": "group", "groups": ["g-shared"], "window": "1m", "requests": 4},
    {"name": "glob4", "scope": "global", "consumers": ["glob1", "glob2"], "window": "1m", "requests": 4},
    {"name": "nano3", "scope": "model", "models": ["gpt-4.1-nano"], "window": "1m", "requests": 3},
]


def plugin(envoy_factory, consumers, rules, **limits_extra) -> dict:
    base = plugin_config_of(envoy_factory.config())
    base.pop("identity", None)
    base.pop("limits", None)
    base["identity"] = {"consumers": consumers}
    base["limits"] = {"rules": rules, **limits_extra}
    return base


@pytest.fixture(scope="module")
def gw(envoy_factory):
    envoy = envoy_factory.start(config=plugin(envoy_factory, CONSUMERS, RULES), concurrency=WORKERS)
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def policy_gw(envoy_factory):
    consumers = [consumer("tight"), consumer("loose")]
    rules = [rule("tight100", "tight", window="1m", requests=100), rule("loose3", "loose", window="1m", requests=3)]
    envoy = envoy_factory.start(config=plugin(envoy_factory, consumers, rules, client_policy=True),
                                concurrency=WORKERS)
    yield envoy
    envoy.stop()


# ----------------------------------------------------------------- helpers


def auth(cid: str) -> dict:
    return {"authorization": f"Bearer {key_of(cid)}"}


def post(gw, cid, body, headers=None, path=CHAT, tag=None):
    tag = tag or new_tag()
    return requests.post(f"{gw.url}{tagged(path, tag)}", json=body, headers={**auth(cid), **(headers or {})},
                         timeout=60)


def burst(gw, cid, n, body, headers=None, path=CHAT, tag=None):
    """n requests released at the same instant, each on its own connection."""
    tag = tag or new_tag()
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(i):
        barrier.wait()
        try:
            out[i] = post(gw, cid, body, headers, path, tag)
        except requests.RequestException as e:  # recorded, asserted by the caller
            out[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in out if not isinstance(r, requests.Response)]
    assert not errors, f"transport errors: {errors[:3]}"
    return out, tag


def statuses(rs) -> dict:
    out = {}
    for r in rs:
        out[r.status_code] = out.get(r.status_code, 0) + 1
    return out


def worker_connections(gw) -> list[int]:
    """Downstream connections accepted by each worker so far (Envoy's per-worker stats)."""
    stats = gw.stats(r"listener\..*worker_\d+\.downstream_cx_total")["stats"]
    per = {}
    for s in stats:
        m = re.search(r"worker_(\d+)\.downstream_cx_total$", s["name"])
        if m and "admin" not in s["name"]:
            per[int(m.group(1))] = s["value"]
    return [per.get(i, 0) for i in range(WORKERS)]


def assert_429(r, kind="requests"):
    assert r.status_code == 429, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] == "rate_limit_exceeded", err
    assert err["type"] == kind, err
    ra = r.headers.get("retry-after")
    assert ra is not None and re.fullmatch(r"\d+", ra) and int(ra) >= 1, f"retry-after {ra!r}"
    return int(ra)


def assert_duration(v):
    assert v is not None and DURATION.fullmatch(v), f"reset {v!r} is not a duration like 1s, 6m0s, 59ms"


def lines_for(gw, tag, count, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        requests.post(f"{gw.admin_url}/reopen_logs", timeout=5)
        time.sleep(0.05)
        lines = [l for l in gw.access_log_lines() if f"tag={tag}" in (l.get("path") or "")]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def input_tokens(content, model="gpt-4o"):
    return reference_request_tokens(model, [{"role": "user", "content": content}])


# ----------------------------------------------------------------- requests per window


def test_forty_concurrent_clients_get_exactly_ten(gw, mock_provider):
    before = worker_connections(gw)
    rs, tag = burst(gw, "req", 40, chat_body("burst"), {"x-mock-latency-ms": "300"})
    after = worker_connections(gw)
    assert statuses(rs) == {200: 10, 429: 30}, statuses(rs)
    assert len(mock_requests_for(mock_provider, tag)) == 10, "refused requests must not reach the provider"
    for r in rs:
        if r.status_code == 429:
            assert_429(r, "requests")
            assert r.headers.get("x-ratelimit-limit-requests") == "10", dict(r.headers)
            assert r.headers.get("x-ratelimit-remaining-requests") == "0", dict(r.headers)
            assert_duration(r.headers.get("x-ratelimit-reset-requests"))
        else:
            assert r.headers.get("x-ratelimit-limit-requests") == "10", dict(r.headers)
    # Both workers took part, so the limit held across them.
    assert all(a > b for a, b in zip(after, before)), f"connections per worker before {before}, after {after}"
    # The window is still spent (GCRA: the next request fits only after 60s/10).
    r = post(gw, "req", chat_body("one more"))
    assert_429(r)


def test_group_scope_is_shared_by_its_consumers(gw):
    a, _ = burst(gw, "shared1", 10, chat_body("g"), {"x-mock-latency-ms": "200"})
    b, _ = burst(gw, "shared2", 10, chat_body("g"), {"x-mock-latency-ms": "200"})
    assert statuses(a + b).get(200) == 4, (statuses(a), statuses(b))


def test_global_scope_counts_everyone_it_applies_to(gw):
    rs1 = [post(gw, "glob1", chat_body("g")) for _ in range(3)]
    rs2 = [post(gw, "glob2", chat_body("g")) for _ in range(3)]
    assert [r.status_code for r in rs1 + rs2] == [200, 200, 200, 200, 429, 429]


def test_model_scope_is_shared_by_every_caller_of_the_model(gw):
    nano = chat_body("m", model="gpt-4.1-nano")
    codes = [post(gw, cid, nano).status_code for cid in ("model1", "model2", "model1", "model2")]
    assert codes == [200, 200, 200, 429], codes
    # Another model is not under that rule.
    assert post(gw, "model1", chat_body("m", model="gpt-4.1-mini")).status_code == 200


# ----------------------------------------------------------------- tokens per window


def test_token_reservations_never_exceed_the_limit(gw, mock_provider):
    content = "reserve"
    n_in = input_tokens(content)
    reservation = 400
    max_tokens = reservation - n_in
    body = chat_body(content, max_tokens=max_tokens)
    rs, tag = burst(gw, "tok", 20, body, {"x-mock-latency-ms": "1500", "x-mock-output-tokens": str(max_tokens)})
    ok = [r for r in rs if r.status_code == 200]
    # 2000 / 400 = 5 fit; the 6th needs 400 more tokens, 12 s of refill at 2000/min.
    assert len(ok) == 2000 // reservation, statuses(rs)
    assert len(ok) * reservation <= 2000
    assert len(mock_requests_for(mock_provider, tag)) == len(ok)
    for r in ok:
        assert int(r.headers["x-llm-input-tokens"]) == n_in
        assert r.headers.get("x-ratelimit-limit-tokens") == "2000", dict(r.headers)
        assert 0 <= int(r.headers["x-ratelimit-remaining-tokens"]) <= 2000
        assert_duration(r.headers.get("x-ratelimit-reset-tokens"))
    for r in rs:
        if r.status_code != 200:
            assert_429(r, "tokens")


def test_settlement_refunds_unused_output(gw):
    """Each request reserves ~410 tokens (max_tokens 400) of a 1000/min rule but uses ~15.
    Without the refund the third request would not fit (3 x 410 > 1000); with it, all six
    do."""
    content = "refund"
    n_in = input_tokens(content)
    codes = []
    for _ in range(6):
        r = post(gw, "settle", chat_body(content, max_tokens=400), {"x-mock-output-tokens": "5"})
        codes.append(r.status_code)
        if r.status_code == 200:
            assert r.headers["x-llm-output-tokens"] == "5"
    assert 3 * (n_in + 400) > 1000
    assert codes == [200] * 6, f"{codes}: unused reserved output was not refunded"


def test_settlement_charges_usage_above_the_reservation(gw):
    """No max_tokens: 256 output tokens reserved (expected_output_tokens), 1300 used. The
    rule (1500/min) is then nearly spent, so the next reservation (~266) must not fit;
    without the extra charge it would."""
    content = "charge"
    n_in = input_tokens(content)
    r = post(gw, "charge", chat_body(content), {"x-mock-output-tokens": "1300"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["x-llm-output-tokens"] == "1300"
    assert (n_in + 1300) + (n_in + 256) > 1500 and 2 * (n_in + 256) <= 1500
    r = post(gw, "charge", chat_body(content), {"x-mock-output-tokens": "5"})
    assert_429(r, "tokens")


# ----------------------------------------------------------------- in flight


def conc_burst(gw, headers=None, n=20):
    rs, tag = burst(gw, "conc", n, chat_body("slow"), {"x-mock-latency-ms": "1500", **(headers or {})})
    return rs, tag


def assert_three_in_flight(gw, mock_provider, when):
    time.sleep(0.3)  # let Envoy finish logging the previous exchanges
    rs, tag = conc_burst(gw)
    assert statuses(rs) == {200: 3, 429: 17}, f"{when}: {statuses(rs)}"
    assert len(mock_requests_for(mock_provider, tag)) == 3
    for r in rs:
        if r.status_code == 429:
            err = r.json()["error"]
            assert err["code"] == "rate_limit_exceeded", err
            assert re.fullmatch(r"\d+", r.headers.get("retry-after", "")), dict(r.headers)


def raw_request(gw, body: dict, headers: dict, tag: str) -> socket.socket:
    data = json.dumps(body).encode()
    head = [f"POST {tagged(CHAT, tag)} HTTP/1.1", f"Host: 127.0.0.1:{gw.port}", "Connection: close",
            f"Content-Length: {len(data)}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    return s


def test_in_flight_limit_holds_and_returns_to_zero(gw, mock_provider):
    assert_three_in_flight(gw, mock_provider, "first burst")
    assert_three_in_flight(gw, mock_provider, "after a finished burst")


def test_in_flight_returns_after_cut_streams_and_upstream_errors(gw, mock_provider):
    for _ in range(2):
        r = raw_post(gw.url, tagged(CHAT, new_tag()),
                     json.dumps(chat_body("cut me short please now", stream=True)).encode(),
                     {**auth("conc"), "x-mock-cut-after-bytes": "120", "x-mock-chunk-delay-ms": "20"})
        assert r.status == 200 and not r.complete, (r.status, r.complete, r.body[:200])
    for _ in range(2):
        r = post(gw, "conc", chat_body("fail"), {"x-mock-status": "500"})
        assert r.status_code == 500
        r = post(gw, "conc", chat_body("drop"), {"x-mock-drop-connection": "true"})
        assert r.status_code >= 500
    assert_three_in_flight(gw, mock_provider, "after cut streams and upstream errors")


def test_in_flight_returns_after_clients_hang_up(gw, mock_provider):
    # Three clients hang up while the provider is still thinking.
    tag = new_tag()
    socks = [raw_request(gw, chat_body("bye"), {**auth("conc"), "x-mock-latency-ms": "3000"}, tag) for _ in range(3)]
    time.sleep(0.5)
    assert len(mock_requests_for(mock_provider, tag)) == 3, "the three requests should be upstream by now"
    r = post(gw, "conc", chat_body("fourth"))
    assert r.status_code == 429, f"three requests in flight, a fourth got {r.status_code}"
    for s in socks:
        s.close()
    time.sleep(1.0)
    assert_three_in_flight(gw, mock_provider, "after clients hung up before the response")
    # Three clients hang up in the middle of a stream.
    socks = [raw_request(gw, chat_body(" ".join(["word"] * 40), stream=True),
                         {**auth("conc"), "x-mock-chunk-delay-ms": "100"}, new_tag()) for _ in range(3)]
    for s in socks:
        read_first_event(s)
    r = post(gw, "conc", chat_body("fourth"))
    assert r.status_code == 429, f"three streams in flight, a fourth got {r.status_code}"
    for s in socks:
        s.close()
    time.sleep(1.0)
    assert_three_in_flight(gw, mock_provider, "after clients hung up mid-stream")


# ----------------------------------------------------------------- budgets


def test_budget_refuses_with_insufficient_quota(gw, mock_provider):
    content = "spend"
    n_in = input_tokens(content)
    cost = (n_in * PRICE_IN + 20 * PRICE_OUT) / 1e6
    fits = int(0.001 // cost)
    assert 2 <= fits and 0.001 - fits * cost > 0.00002, "numbers too close to the edge"
    codes, spent = [], 0.0
    for _ in range(fits + 2):
        tag = new_tag()
        r = post(gw, "budget", chat_body(content, max_tokens=20), {"x-mock-output-tokens": "20"}, tag=tag)
        codes.append(r.status_code)
        if r.status_code == 200:
            spent += float(r.headers["x-llm-cost-usd"])
        else:
            assert r.status_code == 429, r.text[:300]
            err = r.json()["error"]
            assert err["code"] == "insufficient_quota", err
            assert mock_requests_for(mock_provider, tag) == []
    assert codes == [200] * fits + [429, 429], codes
    assert spent <= 0.001 + 1e-9, spent


# ----------------------------------------------------------------- headers and SDKs


def test_governed_responses_carry_openai_rate_limit_headers(gw):
    r = post(gw, "hdr", chat_body("headers"))
    assert r.status_code == 200, r.text[:300]
    h = r.headers
    assert h.get("x-ratelimit-limit-requests") == "10", dict(h)
    assert h.get("x-ratelimit-remaining-requests") == "9", dict(h)
    assert_duration(h.get("x-ratelimit-reset-requests"))
    assert h.get("x-ratelimit-limit-tokens") == "5000", dict(h)
    assert 0 <= int(h["x-ratelimit-remaining-tokens"]) < 5000
    assert_duration(h.get("x-ratelimit-reset-tokens"))
    r = post(gw, "hdr", chat_body("headers", stream=True))
    assert r.status_code == 200
    assert r.headers.get("x-ratelimit-remaining-requests") == "8", dict(r.headers)


def test_anthropic_endpoint_gets_anthropic_rate_limit_headers(gw):
    hdr = {"anthropic-version": "2023-06-01"}
    r = post(gw, "anth", messages_body("hola"), hdr, path=MESSAGES)
    assert r.status_code == 200, r.text[:300]
    h = r.headers
    assert h.get("anthropic-ratelimit-requests-limit") == "5", dict(h)
    assert h.get("anthropic-ratelimit-requests-remaining") == "4", dict(h)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", h.get("anthropic-ratelimit-requests-reset", "")), dict(h)
    assert h.get("anthropic-ratelimit-tokens-limit") == "10000", dict(h)
    assert "anthropic-ratelimit-tokens-remaining" in h and "anthropic-ratelimit-tokens-reset" in h
    for _ in range(4):
        assert post(gw, "anth", messages_body("hola"), hdr, path=MESSAGES).status_code == 200
    r = post(gw, "anth", messages_body("hola"), hdr, path=MESSAGES)
    assert r.status_code == 429, r.text[:300]
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", body
    assert re.fullmatch(r"\d+", r.headers.get("retry-after", "")), dict(r.headers)
    assert r.headers.get("anthropic-ratelimit-requests-remaining") == "0", dict(r.headers)


def test_openai_sdk_gets_rate_limit_error_with_retry_after(gw):
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key_of("sdk"), max_retries=0, timeout=30)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "first"}])
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "second"}])
    assert e.value.status_code == 429
    assert e.value.code == "rate_limit_exceeded"
    ra = e.value.response.headers.get("retry-after")
    assert ra is not None and re.fullmatch(r"\d+", ra) and 1 <= int(ra) <= 70, ra
    assert e.value.response.headers.get("x-ratelimit-limit-requests") == "1"


def test_openai_sdk_own_retry_succeeds_once_the_window_allows(gw):
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key_of("retry"), max_retries=3, timeout=30)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "first"}])
    tag = new_tag()
    started = time.monotonic()
    out = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "second"}],
                                         extra_query={"tag": tag})
    took = time.monotonic() - started
    assert out.choices[0].message.content == "second"
    lines = lines_for(gw, tag, 2)
    codes = [l["status"] for l in lines]
    assert codes[0] == 429 and codes[-1] == 200, f"{codes}: the first attempt should have been refused"
    assert took < 10, took


# ----------------------------------------------------------------- client policy


def test_client_policy_is_ignored_unless_enabled(gw):
    hdr = {"Helicone-RateLimit-Policy": "2;w=60"}
    codes = [post(gw, "pol", chat_body("p"), hdr).status_code for _ in range(5)]
    assert codes == [200] * 5, codes


def test_client_policy_tightens_when_enabled(policy_gw):
    hdr = {"Helicone-RateLimit-Policy": "2;w=60"}
    codes = [post(policy_gw, "tight", chat_body("p"), hdr).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429], codes
    # Without the header the operator's (looser) rule still admits.
    assert post(policy_gw, "tight", chat_body("p")).status_code == 200


def test_client_policy_cannot_loosen(policy_gw):
    hdr = {"Helicone-RateLimit-Policy": "100;w=60"}
    codes = [post(policy_gw, "loose", chat_body("p"), hdr).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429], codes


# ----------------------------------------------------------------- bad input


def test_absurd_max_tokens_gets_400(gw, mock_provider):
    for body, path, hdr in (
        (chat_body("big", max_tokens=40000), CHAT, {}),
        (messages_body("big", max_tokens=10 ** 7), MESSAGES, {"anthropic-version": "2023-06-01"}),
    ):
        tag = new_tag()
        r = post(gw, "maxtok", body, hdr, path=path, tag=tag)
        assert r.status_code == 400, (body, r.status_code, r.text[:300])
        assert r.json()["error"]["type"] == "invalid_request_error", r.text
        assert "max" in r.text
        assert mock_requests_for(mock_provider, tag) == []
    # At the model's published maximum is fine (gpt-4o: 16384; a model the table does
    # not know: limits.max_output_tokens, 32768).
    r = post(gw, "maxtok", chat_body("ok", max_tokens=16384))
    assert r.status_code == 200, r.text[:300]
    r = post(gw, "maxtok", chat_body("ok", model="llama3.2", max_tokens=32768))
    assert r.status_code == 200, r.text[:300]


def test_absurd_max_completion_tokens_gets_400(gw, mock_provider):
    # OpenAI's newer name for the same cap; it must not slip past the check.
    tag = new_tag()
    r = post(gw, "maxtok", chat_body("big", max_completion_tokens=10 ** 9), tag=tag)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["error"]["type"] == "invalid_request_error", r.text
    # The message and `param` name the field the client sent.
    assert r.json()["error"]["param"] == "max_completion_tokens", r.text
    assert r.json()["error"]["message"].startswith("`max_completion_tokens` must be at most 16384"), r.text
    assert mock_requests_for(mock_provider, tag) == []


# ----------------------------------------------------------------- metrics


def test_limit_metrics_by_kind_and_group(gw):
    # Runs after the tests above (file order): requests, tokens, concurrency and budget
    # refusals have all happened on this Envoy.
    prom = gw.prometheus()
    lines = [l for l in prom.splitlines() if l.startswith("llm_limits_")]
    refused = [l for l in lines if l.startswith("llm_limits_refused")]
    admitted = [l for l in lines if l.startswith("llm_limits_admitted")]
    assert refused and admitted, "\n".join(lines) or prom[-3000:]
    for kind in ("requests", "tokens", "concurrency", "budget"):
        assert any(f'kind="{kind}"' in l for l in refused), (kind, refused)
    assert any('group="g-req"' in l for l in refused), refused
    for l in refused + admitted:
        assert "sk-test" not in l

    def value(name, group):
        found = [l for l in lines if l.startswith(name + "{") and f'group="{group}"' in l]
        assert len(found) == 1, (name, group, lines)
        return float(found[0].rsplit(" ", 1)[1])

    # Tokens reserved vs settled: the refund test reserved ~410 a request and used ~15.
    reserved = value("llm_limits_reserved_tokens", "g-settle")
    settled = value("llm_limits_settled_tokens", "g-settle")
    assert reserved >= 6 * 400 and settled < reserved / 10, (reserved, settled)


# ----------------------------------------------------------------- make run's demo consumers


def test_shipped_demo_consumers(envoy_factory):
    """envoy/envoy.yaml as shipped: sk-demo-free gets 5 requests a minute and 2 in flight,
    sk-demo-pro is not held to those, callers without a key stay anonymous."""
    envoy = envoy_factory.start(concurrency=WORKERS)
    try:
        def call(key=None, headers=None):
            h = {"authorization": f"Bearer {key}"} if key else {}
            return requests.post(f"{envoy.url}{CHAT}", json=chat_body("demo"), headers={**h, **(headers or {})},
                                 timeout=30)

        # 2 in flight: of 4 simultaneous slow requests, 2 go through (and only those
        # count against the 5 a minute).
        out = [None] * 4
        barrier = threading.Barrier(4)

        def slow(i):
            barrier.wait()
            out[i] = call("sk-demo-free", {"x-mock-latency-ms": "1000"}).status_code

        threads = [threading.Thread(target=slow, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(out) == [200, 200, 429, 429], out
        time.sleep(0.3)
        codes = [call("sk-demo-free").status_code for _ in range(4)]
        assert codes == [200] * 3 + [429], codes
        r = call("sk-demo-free")
        assert_429(r, "requests")
        assert r.headers.get("x-ratelimit-limit-requests") == "5"
        assert [call("sk-demo-pro").status_code for _ in range(8)] == [200] * 8
        assert [call().status_code for _ in range(8)] == [200] * 8
        assert call("sk-demo-unknown").status_code == 401
    finally:
        envoy.stop()
