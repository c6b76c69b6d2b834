"""Limits across a fleet (`limits.store: "sidecar"`): two Envoy processes, each in front of
its own cache-sidecar, both sidecars on one real redis-server, every process on free
127.0.0.1 ports and started and stopped by PID. A limit of N requests admits exactly N
across both Envoys under concurrent load from many threads; a token limit settles with
the real usage whichever Envoy served the request; a concurrency limit holds across both,
its leases free when a stream ends, is cut or its client hangs up, and expire when an
Envoy dies; with the sidecar stopped, `fail: open` keeps serving (and counts it) and
`fail: closed` answers 503 in the client's envelope.

The fleet's Envoys fail closed with a generous timeout, so that a slow sidecar on a
loaded machine can only refuse, never admit past a limit. Settles are background calls:
tests that depend on one wait until the sidecars have counted it. Each test has its own
consumer, so counters never carry over."""

import json
import re
import signal
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from conftest import plugin_config_of
from helpers import (CHAT, MESSAGES, chat_body, messages_body, mock_requests_for, new_tag, raw_post,
                     read_first_event, tagged)
from sidecars import CacheSidecar, RedisServer, with_sidecar
from test_limits import assert_429, auth, consumer, input_tokens, raw_request, rule, statuses

CONSUMERS = [consumer(c) for c in ("req", "tok", "charge", "conc", "crash", "down")]
RULES = [
    rule("req12", "req", window="1h", requests=12),
    rule("tok1000", "tok", window="1h", total_tokens=1000),
    rule("charge1500", "charge", window="1h", total_tokens=1500),
    rule("conc3", "conc", concurrent=3),
    rule("crash2", "crash", concurrent=2),
    rule("down2", "down", window="1h", requests=2),
]


def plugin(envoy_factory, **sidecar) -> dict:
    base = plugin_config_of(envoy_factory.config())
    base["identity"] = {"consumers": CONSUMERS}
    base["limits"] = {"store": "sidecar", "sidecar": sidecar, "rules": RULES}
    return base


def start_envoy(envoy_factory, sidecar, concurrency=2, **settings):
    cfg = with_sidecar(envoy_factory.config(config=plugin(envoy_factory, **settings)), sidecar)
    return envoy_factory.start(envoy_config=cfg, concurrency=concurrency)


@dataclass
class Fleet:
    envoys: list
    sidecars: list

    def settles(self) -> float:
        """Settles the sidecars have taken so far."""
        return sum(s.metric("cache_sidecar_requests_total", route="settle", status="204")
                   for s in self.sidecars)

    def wait_settles(self, count: float, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.settles() < count:
            assert time.monotonic() < deadline, f"{count} settles expected, {self.settles()} arrived"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def fleet(envoy_factory, log_dir):
    redis = RedisServer(log_dir)
    sidecars = [CacheSidecar(log_dir, name, ["--redis-url", redis.url]) for name in ("a", "b")]
    envoys = []
    try:
        for s in sidecars:
            envoys.append(start_envoy(envoy_factory, s, timeout_ms=3000, fail="closed"))
        yield Fleet(envoys, sidecars)
    finally:
        for e in envoys:
            e.stop()
        for s in sidecars:
            s.stop()
        redis.stop()


def post(envoy, cid, body, headers=None, path=CHAT, tag=None):
    return requests.post(f"{envoy.url}{tagged(path, tag or new_tag())}", json=body,
                         headers={**auth(cid), **(headers or {})}, timeout=60)


def fleet_burst(envoys, cid, n, body, headers=None):
    """n requests from n threads released at the same instant, alternating between the
    Envoys, each on its own connection."""
    tag = new_tag()
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(i):
        barrier.wait()
        try:
            out[i] = (i % len(envoys), post(envoys[i % len(envoys)], cid, body, headers, tag=tag))
        except requests.RequestException as e:
            out[i] = (i % len(envoys), e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for _, r in out if not isinstance(r, requests.Response)]
    assert not errors, f"transport errors: {errors[:3]}"
    return out, tag


def prometheus_value(envoy, name, group) -> float:
    total = 0.0
    for line in envoy.prometheus().splitlines():
        if line.startswith(name + "{") and f'group="{group}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# ----------------------------------------------------------------- requests per window


def test_a_limit_of_n_admits_exactly_n_across_both_envoys(fleet, mock_provider):
    n, sent = 12, 80
    out, tag = fleet_burst(fleet.envoys, "req", sent, chat_body("fleet burst"), {"x-mock-latency-ms": "300"})
    rs = [r for _, r in out]
    assert statuses(rs) == {200: n, 429: sent - n}, statuses(rs)
    assert len(mock_requests_for(mock_provider, tag)) == n, "refused requests must not reach the provider"
    for r in rs:
        assert r.headers.get("x-ratelimit-limit-requests") == "12", dict(r.headers)
        if r.status_code == 429:
            assert_429(r, "requests")
            assert r.headers.get("x-ratelimit-remaining-requests") == "0", dict(r.headers)
    # Each Envoy got 40 requests, more than the limit: alone, each would have admitted
    # 12. Together they admitted 12, and each counted what it decided.
    admitted = [prometheus_value(e, "llm_limits_admitted", "g-req") for e in fleet.envoys]
    refused = [prometheus_value(e, "llm_limits_refused", "g-req") for e in fleet.envoys]
    assert sum(admitted) == n and sum(refused) == sent - n, (admitted, refused)
    assert [a + r for a, r in zip(admitted, refused)] == [sent / 2, sent / 2]
    # The window stays spent for both (GCRA: the next request fits after 1h/12).
    for e in fleet.envoys:
        assert_429(post(e, "req", chat_body("one more")), "requests")


# ----------------------------------------------------------------- tokens, settled


def test_a_token_limit_settles_with_the_real_usage_across_both(fleet):
    """Each request reserves ~410 tokens (max_tokens 400) of a 1000/h rule and uses ~15:
    without the settle's refund the third would not fit; with it, all six do, served in
    turn by both Envoys."""
    content = "refund"
    n_in = input_tokens(content)
    assert 3 * (n_in + 400) > 1000
    for i in range(6):
        before = fleet.settles()
        r = post(fleet.envoys[i % 2], "tok", chat_body(content, max_tokens=400), {"x-mock-output-tokens": "5"})
        assert r.status_code == 200, f"request {i}: {r.status_code} {r.text[:300]}"
        assert r.headers["x-llm-output-tokens"] == "5"
        fleet.wait_settles(before + 1)


def test_usage_above_the_reservation_is_charged_across_both(fleet):
    """No max_tokens: 256 output tokens reserved, 1300 used through one Envoy. The rule
    (1500/h) is then nearly spent, so the other Envoy must refuse the next reservation;
    without the charge it would fit."""
    content = "charge"
    n_in = input_tokens(content)
    assert (n_in + 1300) + (n_in + 256) > 1500 and 2 * (n_in + 256) <= 1500
    before = fleet.settles()
    r = post(fleet.envoys[0], "charge", chat_body(content), {"x-mock-output-tokens": "1300"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["x-llm-output-tokens"] == "1300"
    fleet.wait_settles(before + 1)
    assert_429(post(fleet.envoys[1], "charge", chat_body(content), {"x-mock-output-tokens": "5"}), "tokens")


# ----------------------------------------------------------------- in flight, leases


def assert_three_in_flight(fleet, mock_provider, when):
    before = fleet.settles()
    out, tag = fleet_burst(fleet.envoys, "conc", 20, chat_body("slow"), {"x-mock-latency-ms": "1500"})
    rs = [r for _, r in out]
    assert statuses(rs) == {200: 3, 429: 17}, f"{when}: {statuses(rs)}"
    assert len(mock_requests_for(mock_provider, tag)) == 3
    for r in rs:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limit_exceeded"
            assert re.fullmatch(r"\d+", r.headers.get("retry-after", "")), dict(r.headers)
    fleet.wait_settles(before + 3)


def open_streams(fleet, cid, count, headers):
    """`count` streams through alternating Envoys, each read up to its first event."""
    socks = []
    for i in range(count):
        s = raw_request(fleet.envoys[i % 2], chat_body(" ".join(["word"] * 40), stream=True),
                        {**auth(cid), **headers}, new_tag())
        read_first_event(s)
        socks.append(s)
    return socks


def test_concurrency_holds_across_both_and_frees_when_streams_end_or_are_cut(fleet, mock_provider):
    assert_three_in_flight(fleet, mock_provider, "first burst")
    # Three streams in flight through both Envoys: a fourth is refused by either.
    before = fleet.settles()
    socks = open_streams(fleet, "conc", 3, {"x-mock-chunk-delay-ms": "30"})
    for e in fleet.envoys:
        assert post(e, "conc", chat_body("fourth")).status_code == 429
    for s in socks:  # read each stream to its end
        s.settimeout(30)
        while s.recv(65536):
            pass
        s.close()
    fleet.wait_settles(before + 3)
    assert_three_in_flight(fleet, mock_provider, "after streams ended")
    # Streams the provider cuts.
    before = fleet.settles()
    for i in range(3):
        r = raw_post(fleet.envoys[i % 2].url, tagged(CHAT, new_tag()),
                     json.dumps(chat_body("cut me short please now", stream=True)).encode(),
                     {**auth("conc"), "x-mock-cut-after-bytes": "120", "x-mock-chunk-delay-ms": "20"})
        assert r.status == 200 and not r.complete, (r.status, r.complete, r.body[:200])
    fleet.wait_settles(before + 3)
    assert_three_in_flight(fleet, mock_provider, "after cut streams")


def test_concurrency_frees_when_clients_hang_up_mid_stream(fleet, mock_provider):
    before = fleet.settles()
    socks = open_streams(fleet, "conc", 3, {"x-mock-chunk-delay-ms": "100"})
    for e in fleet.envoys:
        assert post(e, "conc", chat_body("fourth")).status_code == 429
    for s in socks:
        s.close()
    # The settle of a stream that never ended goes out from the log callback.
    fleet.wait_settles(before + 3)
    assert_three_in_flight(fleet, mock_provider, "after clients hung up mid-stream")


def test_a_lease_expires_when_its_envoy_dies(fleet, envoy_factory):
    """Two streams hold the two leases of `crash2` through a third Envoy (15 s leases);
    that Envoy is killed (SIGKILL: no settle ever comes). The fleet refuses while the
    leases live, and admits again once they have expired."""
    doomed = start_envoy(envoy_factory, fleet.sidecars[0], concurrency=1, timeout_ms=3000, fail="closed",
                         lease_ms=15000)
    try:
        socks = []
        for _ in range(2):
            s = raw_request(doomed, chat_body(" ".join(["word"] * 200), stream=True),
                            {**auth("crash"), "x-mock-chunk-delay-ms": "200"}, new_tag())
            read_first_event(s)
            socks.append(s)
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(timeout=10)
    finally:
        doomed.stop()
    for s in socks:
        s.close()
    assert post(fleet.envoys[1], "crash", chat_body("while the leases live")).status_code == 429
    deadline = time.monotonic() + 60
    for i in range(10**6):
        r = post(fleet.envoys[i % 2], "crash", chat_body("after the leases"))
        if r.status_code == 200:
            break
        assert r.status_code == 429, r.text[:300]
        assert time.monotonic() < deadline, "the dead Envoy's leases never expired"
        time.sleep(0.5)


# ----------------------------------------------------------------- the sidecar down


def test_with_the_sidecar_stopped_fail_open_serves_and_fail_closed_refuses(envoy_factory, log_dir, mock_provider):
    sidecar = CacheSidecar(log_dir, "alone")  # the embedded store
    open_gw = closed_gw = None
    try:
        # Fail open is the default. A generous timeout: while the sidecar is up, a slow
        # answer on a loaded machine must not be mistaken for a failure.
        open_gw = start_envoy(envoy_factory, sidecar, concurrency=1, timeout_ms=3000)
        closed_gw = start_envoy(envoy_factory, sidecar, concurrency=1, timeout_ms=3000, fail="closed")
        # Through the sidecar, the limit holds for both.
        assert [post(open_gw, "down", chat_body("up")).status_code for _ in range(2)] == [200, 200]
        assert_429(post(closed_gw, "down", chat_body("up")), "requests")
        sidecar.stop()
        # Fail open: served past the limit, each counted and logged.
        tag = new_tag()
        for _ in range(3):
            r = post(open_gw, "down", chat_body("down"), tag=tag)
            assert r.status_code == 200, r.text[:300]
            assert "x-ratelimit-limit-requests" not in r.headers
        assert len(mock_requests_for(mock_provider, tag)) == 3
        assert prometheus_value(open_gw, "llm_limits_store_errors", "g-down") == 3
        deadline = time.monotonic() + 10
        while "the limits sidecar failed" not in open_gw.log():
            assert time.monotonic() < deadline, "no log line says the sidecar failed"
            time.sleep(0.1)
        # Fail closed: 503 in the client's envelope, nothing reaches the provider.
        tag = new_tag()
        r = post(closed_gw, "down", chat_body("down"), tag=tag)
        assert r.status_code == 503, r.text[:300]
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("server_error", "service_unavailable"), err
        r = post(closed_gw, "down", messages_body("down"), {"anthropic-version": "2023-06-01"}, path=MESSAGES,
                 tag=tag)
        assert r.status_code == 503, r.text[:300]
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error", r.text
        assert mock_requests_for(mock_provider, tag) == []
        assert prometheus_value(closed_gw, "llm_limits_store_errors", "g-down") == 2
    finally:
        for e in (open_gw, closed_gw):
            if e is not None:
                e.stop()
        sidecar.stop()
