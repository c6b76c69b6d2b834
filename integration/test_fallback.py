"""The fallback chain on the real Envoy: three mock instances play the chain's providers
(primary: OpenAI format, secondary: Anthropic format, local: a self-hosted
OpenAI-compatible server), with failures injected in the instances themselves (a
failure rate, a down switch, a slow first byte), never chosen by the client.

What is proved: each provider path plain and streaming (translation per attempt), >= 99.9 %
of 2,000 requests succeed while the primary fails 30 % of them, outlier detection ejects
a down primary and brings it back when it heals, a stalled first byte falls back, and a
chain with every provider down answers with an error envelope."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests

from conftest import CHAIN_PROVIDERS, MockProvider, cluster_of, endpoint_address, hcm_of, start_mock_provider
from helpers import access_log_for, new_tag

MODEL = "gpt-4o-mini"
UPSTREAM_MODEL = {"primary": "gpt-4o-mini", "secondary": "claude-haiku-4-5", "local": "llama3.2"}
UPSTREAM_PATH = {"primary": "/v1/chat/completions", "secondary": "/v1/messages",
                 "local": "/v1/chat/completions"}


@pytest.fixture(scope="module")
def providers(log_dir):
    mocks = {name: start_mock_provider(log_dir, name, ["--seed", "7"]) for name in CHAIN_PROVIDERS}
    MockProvider.running.extend(mocks.values())
    yield mocks
    for m in mocks.values():
        MockProvider.running.remove(m)
        m.proc.terminate()
        m.proc.wait(timeout=10)


def mock_post(mock, what, body=None):
    r = requests.post(f"{mock.url}/__mock/{what}", data=json.dumps(body) if body else None, timeout=10)
    r.raise_for_status()
    return r


def mock_stats(mock) -> dict:
    return requests.get(f"{mock.url}/__mock/stats", timeout=10).json()


def reset(mocks):
    for m in mocks.values():
        mock_post(m, "up")
        mock_post(m, "config", {"failure_rate": 0.0, "failure_status": 503, "ttft_ms": 0,
                                "down_mode": "status"})
        requests.delete(f"{m.url}/__mock/stats", timeout=10).raise_for_status()
        m.clear()


def chain_config(factory, mocks, *, ttft_s="1s", ejection_s="2s"):
    """envoy.yaml with the chain's clusters at the mock instances and test timings: the
    streams' per-try timeout (time to first token) and a short ejection."""
    # No consumers or limits here: 2,000 requests must not meet the demo rate limits.
    cfg = factory.config(patch={"identity": None, "limits": None})
    for name, mock in mocks.items():
        cluster = cluster_of(cfg, name)
        endpoint_address(cluster)["port_value"] = int(mock.url.rsplit(":", 1)[1])
        cluster["outlier_detection"].update({"interval": "0.5s", "base_ejection_time": ejection_s,
                                             "max_ejection_time": "10s"})
    for vh in hcm_of(cfg)["route_config"]["virtual_hosts"]:
        for route in vh["routes"]:
            policy = route.get("route", {}).get("retry_policy")
            headers = {h["name"] for h in route["match"].get("headers", [])}
            if policy and "x-llm-stream" in headers:
                policy["per_try_timeout"] = ttft_s
    return cfg


@pytest.fixture
def chain(envoy_factory, providers):
    reset(providers)
    envoy = envoy_factory.start(envoy_config=chain_config(envoy_factory, providers))
    yield envoy
    envoy.stop()
    reset(providers)


def client(envoy, tag=None, **kw):
    return openai.OpenAI(base_url=f"{envoy.url}/v1", api_key="unused", max_retries=0, timeout=30,
                         default_query={"tag": tag} if tag else None, **kw)


MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "which provider answers?"}]
ECHO = "which provider answers?"


def seen_by(mocks, tag) -> dict[str, list[dict]]:
    return {name: [r for r in m.requests() if f"tag={tag}" in r["path"]] for name, m in mocks.items()}


def test_a_healthy_primary_answers_alone(chain, providers):
    tag = new_tag()
    raw = client(chain, tag).chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == ECHO
    assert raw.headers["x-llm-provider"] == "primary" and raw.headers["x-mock-name"] == "primary"
    seen = seen_by(providers, tag)
    assert [len(seen[n]) for n in CHAIN_PROVIDERS] == [1, 0, 0]
    body = json.loads(seen["primary"][0]["body"])
    assert body["model"] == "gpt-4o-mini" and seen["primary"][0]["path"].startswith("/v1/chat/completions")
    line = access_log_for(chain, tag)
    assert (line["provider"], line["model"], line["upstream_cluster"]) == ("primary", "gpt-4o-mini", "llm_chain")


@pytest.mark.parametrize("serving", ["secondary", "local"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_each_provider_of_the_chain_serves_in_its_own_format(chain, providers, serving, stream):
    """The providers before `serving` are down: the attempt that reaches `serving` is
    adapted to it (model, path, wire format) and its answer back to OpenAI's format."""
    for name in CHAIN_PROVIDERS[:CHAIN_PROVIDERS.index(serving)]:
        mock_post(providers[name], "down")
    tag = new_tag()
    c = client(chain, tag)
    if stream:
        with c.chat.completions.with_streaming_response.create(
                model=MODEL, messages=MESSAGES, stream=True,
                stream_options={"include_usage": True}) as resp:
            headers = resp.headers
            chunks = list(resp.parse())
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        usage = chunks[-1].usage
        assert all(ch.model == UPSTREAM_MODEL[serving] for ch in chunks), "chunks name the served model"
    else:
        raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, max_tokens=40)
        headers = raw.headers
        completion = raw.parse()
        text, usage = completion.choices[0].message.content, completion.usage
        assert completion.model == UPSTREAM_MODEL[serving]
    assert text == ECHO
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert headers["x-llm-provider"] == serving and headers["x-mock-name"] == serving
    assert headers["x-llm-model"] == UPSTREAM_MODEL[serving]
    seen = seen_by(providers, tag)
    (upstream,) = seen[serving]
    assert upstream["path"].split("?")[0] == UPSTREAM_PATH[serving]
    body = json.loads(upstream["body"])
    assert body["model"] == UPSTREAM_MODEL[serving]
    if serving == "secondary":
        assert body["system"] == "Answer briefly." and body["messages"][0]["role"] == "user"
        assert upstream["headers"].get("anthropic-version") == "2023-06-01"
    else:
        assert body["messages"][0]["role"] == "system"
        assert "anthropic-version" not in upstream["headers"], "a header of the Anthropic attempt leaked"
    # No provider key is configured for the mocks: none may be sent.
    assert "authorization" not in upstream["headers"] and "x-api-key" not in upstream["headers"]
    line = access_log_for(chain, tag)
    assert (line["provider"], line["model"]) == (serving, UPSTREAM_MODEL[serving]), line
    assert line["error"] is None and line["usage_source"] == "provider", line
    assert int(line["output_tokens"]) == usage.completion_tokens


def test_availability_with_the_primary_failing_30_percent(chain, providers):
    """2,000 requests, 16 at a time, while the primary fails 30 % of the requests it gets."""
    mock_post(providers["primary"], "config", {"failure_rate": 0.3})
    body = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 5}
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

    def one(i):
        try:
            r = session.post(f"{chain.url}/v1/chat/completions", json=body, timeout=30)
            return r.status_code, r.headers.get("x-mock-name")
        except requests.RequestException as e:
            return repr(e), None

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(2000)))
    ok = sum(1 for status, _ in results if status == 200)
    served = {n: sum(1 for _, by in results if by == n) for n in CHAIN_PROVIDERS}
    primary = mock_stats(providers["primary"])
    print(f"availability: {ok}/2000 ok; served by {served}; primary saw {primary['requests']} "
          f"requests, {primary['failures_injected']} failed")
    assert ok >= 1998, f"{2000 - ok} failed: {[r for r in results if r[0] != 200][:5]}"
    # The failures were real and were absorbed by the chain.
    assert primary["failures_injected"] >= 0.2 * primary["requests"] > 0
    assert served["secondary"] + served["local"] >= primary["failures_injected"] * 0.9


def test_streams_fall_back_while_the_primary_fails_30_percent(chain, providers):
    mock_post(providers["primary"], "config", {"failure_rate": 0.3})

    def one(i):
        with client(chain).chat.completions.create(model=MODEL, stream=True,
                                                    messages=[{"role": "user", "content": f"s{i}"}]) as s:
            return "".join(ch.choices[0].delta.content or "" for ch in s if ch.choices)

    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(one, range(200)))
    assert texts == [f"s{i}" for i in range(200)]
    assert mock_stats(providers["primary"])["failures_injected"] > 20


def test_outlier_detection_ejects_a_down_primary_and_brings_it_back(chain, providers):
    primary = providers["primary"]
    mock_post(primary, "down")
    c = client(chain)

    def ask():
        raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        assert raw.parse().choices[0].message.content == ECHO
        return raw.headers["x-mock-name"]

    served = [ask() for _ in range(12)]
    assert "primary" not in served
    tried = mock_stats(primary)["failed_while_down"]
    # consecutive_5xx: 5 ejects it: later requests go straight to the fallback.
    assert 5 <= tried < 12, f"the down primary was tried {tried} times in 12 requests"
    ejections = chain.stats(r"cluster\.primary\.outlier_detection\.ejections_enforced_total")
    assert ejections["stats"][0]["value"] >= 1, ejections
    before = mock_stats(primary)["requests"]
    assert {ask() for _ in range(10)} == {"secondary"}
    assert mock_stats(primary)["requests"] == before, "an ejected primary still got requests"

    mock_post(primary, "up")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ask() == "primary":
            break
        time.sleep(0.2)
    else:
        pytest.fail("the healed primary never got traffic back")


def test_a_first_byte_stall_falls_back_within_the_ttft_limit(chain, providers):
    """The primary sends nothing for 5 s; the stream route's per-try timeout (1 s here)
    gives up on it and the secondary answers."""
    mock_post(providers["primary"], "config", {"ttft_ms": 5000})
    start = time.monotonic()
    with client(chain).chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES, stream=True) as resp:
        text = "".join(ch.choices[0].delta.content or "" for ch in resp.parse() if ch.choices)
        by = resp.headers["x-mock-name"]
    elapsed = time.monotonic() - start
    assert (text, by) == (ECHO, "secondary")
    assert elapsed < 4.5, f"took {elapsed:.1f}s: the stall was waited out, not cut"


def test_a_rate_limited_primary_hands_over_to_the_next_provider(chain, providers):
    mock_post(providers["primary"], "config", {"failure_rate": 1.0, "failure_status": 429})
    raw = client(chain).chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.parse().choices[0].message.content == ECHO
    assert raw.headers["x-mock-name"] == "secondary"
    assert mock_stats(providers["primary"])["failures_injected"] == 1


def test_every_provider_down_gives_an_error_envelope(chain, providers):
    for m in providers.values():
        mock_post(m, "down")
    with pytest.raises(openai.APIStatusError) as e:
        client(chain).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert e.value.status_code == 503
    assert isinstance(e.value.body, dict) and e.value.body.get("message"), e.value.body
    # primary, secondary, local, then primary again (num_retries: 3), unless ejected.
    tried = sum(mock_stats(m)["failed_while_down"] for m in providers.values())
    assert tried == 4, tried


@pytest.mark.parametrize("serving", CHAIN_PROVIDERS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_anthropic_sdk_is_served_by_every_provider_of_the_chain(chain, providers, serving, stream):
    """An Anthropic Messages client: the OpenAI-format providers (primary, local) get a
    translated chat-completions request; the Anthropic-format one gets it as sent."""
    import anthropic

    for name in CHAIN_PROVIDERS[:CHAIN_PROVIDERS.index(serving)]:
        mock_post(providers[name], "down")
    tag = new_tag()
    c = anthropic.Anthropic(base_url=chain.url, api_key="unused", max_retries=0, timeout=30,
                            default_query={"tag": tag})
    kwargs = dict(model=MODEL, max_tokens=40, system="Answer briefly.",
                  messages=[{"role": "user", "content": ECHO}])
    if stream:
        with c.messages.stream(**kwargs) as s:
            message = s.get_final_message()
    else:
        message = c.messages.create(**kwargs)
    assert message.content[0].text == ECHO
    assert message.model == UPSTREAM_MODEL[serving]
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    (upstream,) = seen_by(providers, tag)[serving]
    body = json.loads(upstream["body"])
    assert body["model"] == UPSTREAM_MODEL[serving]
    if serving == "secondary":
        assert upstream["path"].split("?")[0] == "/v1/messages" and body["system"] == "Answer briefly."
    else:
        assert upstream["path"].split("?")[0] == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "Answer briefly."}
        assert "anthropic-version" not in upstream["headers"]
        if stream:
            assert body["stream_options"] == {"include_usage": True}
    line = access_log_for(chain, tag)
    assert (line["provider"], line["model"], line["api"]) == (serving, UPSTREAM_MODEL[serving], "anthropic_messages")
    assert int(line["output_tokens"]) == message.usage.output_tokens, line


def test_a_stall_after_the_headers_falls_back_too(chain, providers):
    """The primary answers 200 and its role chunk at once, then nothing for 5 s. The
    upstream filter holds the response until the first token, so Envoy's per-try timeout
    (1 s) still applies: the client never sees the primary, the secondary answers."""
    stall = {"x-mock-for": "primary", "x-mock-ttft-ms": "5000"}
    start = time.monotonic()
    with client(chain, default_headers=stall).chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES, stream=True) as resp:
        text = "".join(ch.choices[0].delta.content or "" for ch in resp.parse() if ch.choices)
        by = resp.headers["x-mock-name"]
    assert (text, by) == (ECHO, "secondary")
    assert time.monotonic() - start < 4.5
    assert chain.stats(r"cluster\.llm_chain\.upstream_rq_per_try_timeout")["stats"][0]["value"] == 1


@pytest.mark.parametrize("serving", ["primary", "secondary"])
def test_a_chain_stream_ended_early_ends_with_an_error_event(chain, providers, serving):
    """Once a stream's first token reached the client there is no retry: a provider that
    then ends early gives the client an explicit error, translated or not."""
    if serving == "secondary":
        mock_post(providers["primary"], "down")
    early = {"x-mock-for": serving, "x-mock-stream-chunks": "6", "x-mock-end-after-events": "4"}
    got = []
    with pytest.raises(openai.APIError) as e:
        for ch in client(chain, default_headers=early).chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "a b c d e f"}], stream=True):
            got.append(ch)
    assert "ended before the response was complete" in str(e.value)
    assert got and all(ch.model == UPSTREAM_MODEL[serving] for ch in got)
