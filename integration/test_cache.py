"""The exact response cache through a real cache-sidecar (embedded store, and one
redis-server for two Envoys), driven with the official `openai` and `anthropic` SDKs.

The mock provider answers what `x-mock-content` says; that header is not part of the
cache key, so a hit is proven by the *first* answer coming back for a request that asked
the mock for another one, and by the mock's request log (`/__mock/requests`) not growing.
Stores are background calls: a test that needs an entry waits until the sidecar counted
its PUT. Each test uses its own prompt, so entries never carry over between tests."""

import json
import re
import socket
import threading
import time
import uuid

import anthropic
import openai
import pytest
import requests

from conftest import free_port, plugin_config_of
from helpers import (CHAT, MESSAGES, access_log_for, mock_requests_for, new_tag, openai_client,
                     providers_at_mock, sse_data, tagged)
from sidecars import CacheSidecar, RedisServer, with_sidecar
from test_limits import consumer, key_of, rule

CONSUMERS = [consumer(c) for c in ("ca", "cb", "lim", "short")]
RULES = [rule("lim3", "lim", window="1h", requests=3)]
LONG = ("The cache replays this answer in several pieces, so a streaming client sees "
        "a real stream of events and not one block of text at the end of it all.")


def plugin(envoy_factory, **cache) -> dict:
    base = plugin_config_of(envoy_factory.config(keep_cache=True))
    base["identity"] = {"required": False, "consumers": CONSUMERS}
    base["limits"] = {"rules": RULES}
    # A generous lookup timeout: a loaded test machine must not turn hits into errors.
    base["cache"] = {"lookup_timeout_ms": 3000,
                     "overrides": [{"when": {"consumers": ["short"]}, "ttl_s": 1}], **cache}
    return base


def start_envoy(envoy_factory, port: int, **cache):
    cfg = envoy_factory.config(config=plugin(envoy_factory, **cache), keep_cache=True)
    cfg = providers_at_mock(cfg, ("openai", "anthropic"))
    with_sidecar(cfg, type("At", (), {"port": port})())
    return envoy_factory.start(envoy_config=cfg)


@pytest.fixture(scope="module")
def sidecar(log_dir):
    s = CacheSidecar(log_dir, "cache")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def envoy(envoy_factory, sidecar):
    e = start_envoy(envoy_factory, sidecar.port)
    yield e
    e.stop()


def puts(s: CacheSidecar) -> float:
    return s.metric("cache_sidecar_requests_total", route="cache_put", status="204")


class Stores:
    """Waits for the sidecar to count the stores a request caused."""

    def __init__(self, s: CacheSidecar):
        self.sidecar = s
        self.seen = puts(s)

    def wait(self, n: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while puts(self.sidecar) < self.seen + n:
            assert time.monotonic() < deadline, f"{n} store(s) expected, {puts(self.sidecar) - self.seen} arrived"
            time.sleep(0.05)
        self.seen = puts(self.sidecar)


def prompt(what: str = "q") -> str:
    return f"{what} {uuid.uuid4().hex}"


def oai(envoy, tag, cid="ca"):
    return openai_client(envoy, tag, key=key_of(cid))


def anonymous(envoy, tag, text, content):
    """A chat completion without any key: (headers, text)."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    r = requests.post(f"{envoy.url}{tagged(CHAT, tag)}", json=body, headers={"x-mock-content": content},
                      timeout=30)
    assert r.status_code == 200, r.text
    return r.headers, r.json()["choices"][0]["message"]["content"]


def claude(envoy, tag, cid="ca"):
    return anthropic.Anthropic(base_url=envoy.url, api_key=key_of(cid), max_retries=0, timeout=30,
                               default_query={"tag": tag})


def chat(envoy, tag, text, *, stream=False, cid="ca", content="first answer", headers=None, **kw):
    """One chat completion through the SDK: (headers, text, usage dict or None, events)."""
    extra = {"x-mock-content": content, **(headers or {})}
    messages = kw.pop("messages", [{"role": "user", "content": text}])
    args = dict(model=kw.pop("model", "gpt-4o"), messages=messages, extra_headers=extra, **kw)
    if stream:
        raw = oai(envoy, tag, cid).chat.completions.with_raw_response.create(
            stream=True, stream_options={"include_usage": True}, **args)
        chunks = list(raw.parse())
        got = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = next((c.usage.model_dump() for c in chunks if c.usage), None)
        return raw.headers, got, usage, chunks
    raw = oai(envoy, tag, cid).chat.completions.with_raw_response.create(**args)
    answer = raw.parse()
    return raw.headers, answer.choices[0].message.content, answer.usage.model_dump(), [answer]


def message(envoy, tag, text, *, stream=False, cid="ca", content="first answer", headers=None, **kw):
    """One Anthropic message through the SDK: (headers, text, usage dict, events)."""
    extra = {"x-mock-content": content, **(headers or {})}
    args = dict(model=kw.pop("model", "claude-sonnet-4-5"), max_tokens=64,
                messages=[{"role": "user", "content": text}], extra_headers=extra, **kw)
    if stream:
        raw = claude(envoy, tag, cid).messages.with_raw_response.create(stream=True, **args)
        events = list(raw.parse())
        got = "".join(e.delta.text for e in events
                      if e.type == "content_block_delta" and e.delta.type == "text_delta")
        start = next(e.message.usage for e in events if e.type == "message_start")
        end = next(e.usage for e in events if e.type == "message_delta")
        usage = {"input_tokens": start.input_tokens, "output_tokens": end.output_tokens}
        return raw.headers, got, usage, events
    raw = claude(envoy, tag, cid).messages.with_raw_response.create(**args)
    m = raw.parse()
    usage = {"input_tokens": m.usage.input_tokens, "output_tokens": m.usage.output_tokens}
    return raw.headers, m.content[0].text, usage, [m]


def assert_hit(headers):
    assert headers["x-llm-cache"] == "hit-exact", dict(headers)
    assert int(headers["age"]) >= 0


# ----------------------------------------------------------------- hits, both APIs, all four ways

BOTH_WAYS = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize("first_stream,then_stream", BOTH_WAYS)
def test_openai_a_repeated_question_is_answered_from_the_cache(envoy, sidecar, mock_provider,
                                                              first_stream, then_stream):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    h1, got1, usage1, _ = chat(envoy, tag, text, stream=first_stream, content=LONG)
    assert h1["x-llm-cache"] == "miss" and "age" not in h1
    assert got1 == LONG
    stores.wait()
    h2, got2, usage2, events = chat(envoy, tag, text, stream=then_stream, content="another answer")
    assert_hit(h2)
    assert got2 == LONG
    assert usage2 == usage1 and usage1["prompt_tokens"] > 0 and usage1["completion_tokens"] > 0
    assert len(mock_requests_for(mock_provider, tag)) == 1
    if then_stream:
        assert h2["content-type"].startswith("text/event-stream")
        assert sum(1 for c in events if c.choices and c.choices[0].delta.content) > 1
        assert events[-1].usage is not None and not events[-1].choices
        assert any(c.choices and c.choices[0].finish_reason == "stop" for c in events)
    # A hit costs the consumer no provider tokens.
    assert h2["x-llm-cost-usd"] in ("0", "0.0", "0.000000")


@pytest.mark.parametrize("first_stream,then_stream", BOTH_WAYS)
def test_anthropic_a_repeated_question_is_answered_from_the_cache(envoy, sidecar, mock_provider,
                                                                 first_stream, then_stream):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    h1, got1, usage1, _ = message(envoy, tag, text, stream=first_stream, content=LONG)
    assert h1["x-llm-cache"] == "miss"
    assert got1 == LONG
    stores.wait()
    h2, got2, usage2, events = message(envoy, tag, text, stream=then_stream, content="another")
    assert_hit(h2)
    assert (got2, usage2) == (LONG, usage1)
    assert usage1["input_tokens"] > 0 and usage1["output_tokens"] > 0
    assert len(mock_requests_for(mock_provider, tag)) == 1
    if then_stream:
        types = [e.type for e in events]
        assert types[0] == "message_start" and types[-1] == "message_stop"
        assert types.count("content_block_delta") > 1
        assert "message_delta" in types
    else:
        assert events[0].stop_reason == "end_turn"


def test_a_replayed_stream_is_real_sse_with_the_usage_chunk_and_done(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "stream": True,
            "stream_options": {"include_usage": True}}
    headers = {"authorization": f"Bearer {key_of('ca')}", "x-mock-content": LONG}
    r1 = requests.post(f"{envoy.url}{tagged(CHAT, tag)}", json=body, headers=headers, timeout=30)
    assert r1.headers["x-llm-cache"] == "miss"
    stores.wait()
    r2 = requests.post(f"{envoy.url}{tagged(CHAT, tag)}", json=body, headers=headers, timeout=30)
    assert r2.status_code == 200 and r2.headers["x-llm-cache"] == "hit-exact"
    data = sse_data(r2.content)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[-1]["usage"] == [json.loads(d) for d in sse_data(r1.content)[:-1]][-1]["usage"]
    assert len(chunks) >= 4
    # Without include_usage the replay has no usage chunk, as the provider would.
    del body["stream_options"]
    r3 = requests.post(f"{envoy.url}{tagged(CHAT, tag)}", json=body, headers=headers, timeout=30)
    assert r3.headers["x-llm-cache"] == "hit-exact"
    assert all(json.loads(d).get("usage") is None for d in sse_data(r3.content)[:-1])
    assert len(mock_requests_for(mock_provider, tag)) == 1


@pytest.mark.parametrize("first_stream,then_stream", [(False, True), (True, False)])
def test_responses_a_repeated_question_is_answered_from_the_cache(envoy, sidecar, mock_provider,
                                                                 first_stream, then_stream):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)

    def ask(stream, content):
        raw = oai(envoy, tag).responses.with_raw_response.create(
            model="gpt-4o", input=text, stream=stream, extra_headers={"x-mock-content": content})
        if not stream:
            r = raw.parse()
            return raw.headers, r.output_text, r.usage.model_dump(), [r]
        events = list(raw.parse())
        done = next(e for e in events if e.type == "response.completed")
        got = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        return raw.headers, got, done.response.usage.model_dump(), events

    h1, got1, usage1, _ = ask(first_stream, LONG)
    assert (h1["x-llm-cache"], got1) == ("miss", LONG)
    stores.wait()
    h2, got2, usage2, events = ask(then_stream, "another")
    assert_hit(h2)
    assert (got2, usage2) == (LONG, usage1)
    if then_stream:
        assert sum(1 for e in events if e.type == "response.output_text.delta") > 1
        assert [e.sequence_number for e in events] == list(range(len(events)))
    assert len(mock_requests_for(mock_provider, tag)) == 1


# ----------------------------------------------------------------- what the key separates


def test_two_tenants_never_share_an_entry(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    assert chat(envoy, tag, text, cid="ca", content="for ca")[0]["x-llm-cache"] == "miss"
    stores.wait()
    h, got, _, _ = chat(envoy, tag, text, cid="cb", content="for cb")
    assert (h["x-llm-cache"], got) == ("miss", "for cb")
    stores.wait()
    # Anonymous callers (no key) are a tenant of their own.
    h, got = anonymous(envoy, tag, text, "for anyone")
    assert (h["x-llm-cache"], got) == ("miss", "for anyone")
    stores.wait()
    for cid, want in (("ca", "for ca"), ("cb", "for cb")):
        h, got, _, _ = chat(envoy, tag, text, cid=cid, content="fresh")
        assert (h["x-llm-cache"], got) == ("hit-exact", want), cid
    h, got = anonymous(envoy, tag, text, "fresh")
    assert (h["x-llm-cache"], got) == ("hit-exact", "for anyone")
    assert len(mock_requests_for(mock_provider, tag)) == 3


@pytest.mark.parametrize("change", ["model", "temperature", "system", "tools", "max_tokens"])
def test_a_different_model_or_parameter_misses(envoy, sidecar, mock_provider, change):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    base = {"temperature": 0.2, "tools": [tool], "max_tokens": 50}
    assert chat(envoy, tag, text, **base)[0]["x-llm-cache"] == "miss"
    stores.wait()
    assert chat(envoy, tag, text, content="x", **base)[0]["x-llm-cache"] == "hit-exact"
    other = dict(base)
    if change == "model":
        other["model"] = "gpt-4.1"
    elif change == "temperature":
        other["temperature"] = 0.3
    elif change == "system":
        other["messages"] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    elif change == "tools":
        other["tools"] = [tool, {"type": "function", "function": {"name": "other", "parameters": {}}}]
    elif change == "max_tokens":
        other["max_tokens"] = 51
    h, got, _, _ = chat(envoy, tag, text, content="changed", **other)
    assert (h["x-llm-cache"], got) == ("miss", "changed")
    assert len(mock_requests_for(mock_provider, tag)) == 2


# ----------------------------------------------------------------- controls


def test_no_store_neither_looks_up_nor_stores(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text)
    stores.wait()
    h, got, _, _ = chat(envoy, tag, text, content="private", headers={"cache-control": "no-store"})
    assert (h["x-llm-cache"], got) == ("bypass", "private")
    h, got, _, _ = chat(envoy, tag, text, content="later")
    assert (h["x-llm-cache"], got) == ("hit-exact", "first answer")
    # A new question with no-store is never stored: the next one misses.
    text2 = prompt()
    assert chat(envoy, tag, text2, headers={"cache-control": "no-store"})[0]["x-llm-cache"] == "bypass"
    assert chat(envoy, tag, text2)[0]["x-llm-cache"] == "miss"
    assert len(mock_requests_for(mock_provider, tag)) == 4


def test_no_cache_skips_the_lookup_and_stores_the_fresh_answer(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, content="old")
    stores.wait()
    h, got, _, _ = chat(envoy, tag, text, content="fresh", headers={"cache-control": "no-cache"})
    assert (h["x-llm-cache"], got) == ("bypass", "fresh")
    stores.wait()
    h, got, _, _ = chat(envoy, tag, text, content="newer")
    assert (h["x-llm-cache"], got) == ("hit-exact", "fresh")
    assert len(mock_requests_for(mock_provider, tag)) == 2


def test_max_age_accepts_only_younger_entries(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, content="old")
    stores.wait()
    time.sleep(1.2)  # the entry's age is now at least 1 s
    h, got, _, _ = chat(envoy, tag, text, content="young", headers={"cache-control": "max-age=0"})
    assert (h["x-llm-cache"], got) == ("miss", "young")
    stores.wait()
    h, got, _, _ = chat(envoy, tag, text, content="x", headers={"cache-control": "max-age=600"})
    assert (h["x-llm-cache"], got) == ("hit-exact", "young")


def test_a_bad_cache_control_is_refused_in_the_clients_envelope(envoy):
    with pytest.raises(openai.BadRequestError):
        chat(envoy, new_tag(), prompt(), headers={"cache-control": "max-age=soon"})


def test_entries_expire_after_their_ttl(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, cid="short", content="short-lived")  # an override: ttl_s 1
    stores.wait()
    time.sleep(2.5)
    h, got, _, _ = chat(envoy, tag, text, cid="short", content="renewed")
    assert (h["x-llm-cache"], got) == ("miss", "renewed")


def test_a_hot_temperature_bypasses_the_cache(envoy, mock_provider):
    tag, text = new_tag(), prompt()
    for content in ("one", "two"):
        h, got, _, _ = chat(envoy, tag, text, content=content, temperature=1.5)
        assert (h["x-llm-cache"], got) == ("bypass", content)
    assert len(mock_requests_for(mock_provider, tag)) == 2


def test_a_purge_drops_one_tenants_entries_only(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, cid="ca")
    chat(envoy, tag, text, cid="cb")
    stores.wait(2)
    r = requests.delete(f"http://{sidecar.addr}/v1/cache/c:ca", timeout=10)
    assert r.status_code == 200
    assert chat(envoy, tag, text, cid="ca", content="again")[1] == "again"
    assert chat(envoy, tag, text, cid="cb", content="again")[0]["x-llm-cache"] == "hit-exact"


# ----------------------------------------------------------------- what is never stored


@pytest.mark.parametrize("fault", [{"x-mock-cut-after-bytes": "300"}, {"x-mock-end-after-events": "3"},
                                   {"x-mock-status": "500"}])
def test_cut_unfinished_or_failed_answers_are_not_stored(envoy, sidecar, mock_provider, fault):
    tag, text = new_tag(), prompt()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "stream": True}
    headers = {"authorization": f"Bearer {key_of('ca')}", "x-mock-content": LONG, **fault}
    skipped = skips(envoy)
    try:
        requests.post(f"{envoy.url}{tagged(CHAT, tag)}", json=body, headers=headers, timeout=30).content
    except requests.RequestException:
        pass  # a cut stream may end the client's read with an error
    if "x-mock-status" not in fault:
        # The module saw the answer end and decided not to store it.
        deadline = time.monotonic() + 20
        while skips(envoy) <= skipped:
            assert time.monotonic() < deadline, "no llm_cache_store_skips{reason=incomplete}"
            time.sleep(0.1)
    h, got, _, _ = chat(envoy, tag, text, content="whole")
    assert (h["x-llm-cache"], got) == ("miss", "whole")
    assert len(mock_requests_for(mock_provider, tag)) == 2


def skips(envoy) -> float:
    return metric(envoy, "llm_cache_store_skips", reason="incomplete")


def metric(envoy, name: str, **labels) -> float:
    """The sum of a metric's samples in /stats/prometheus that carry these labels."""
    total = 0.0
    for line in envoy.prometheus().splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


# ----------------------------------------------------------------- accounting


def test_a_hit_is_logged_and_counted_with_what_it_saved(envoy, sidecar):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, content=LONG)
    stores.wait()
    tag2 = new_tag()
    _, _, usage, _ = chat(envoy, tag2, text, content="x")
    line = access_log_for(envoy, tag2)
    assert line["cache"] == "hit-exact"
    assert int(line["cache_saved_input_tokens"]) == usage["prompt_tokens"]
    assert int(line["cache_saved_output_tokens"]) == usage["completion_tokens"]
    assert float(line["cache_saved_usd"]) > 0
    assert line["input_tokens"] == "0" and line["output_tokens"] == "0"
    assert access_log_for(envoy, tag)["cache"] == "miss"
    assert metric(envoy, "llm_cache_requests", status="hit-exact", gen_ai_request_model="gpt-4o") >= 1
    assert metric(envoy, "llm_cache_requests", status="miss", gen_ai_request_model="gpt-4o") >= 1
    assert metric(envoy, "llm_cache_saved_tokens", gen_ai_request_model="gpt-4o") >= usage["total_tokens"]
    assert metric(envoy, "llm_cache_saved_micro_usd", gen_ai_request_model="gpt-4o") > 0
    assert metric(envoy, "llm_cache_stores", gen_ai_request_model="gpt-4o") >= 1
    # Histograms reach /stats/prometheus at Envoy's stats flush (every 5 s).
    deadline = time.monotonic() + 15
    while metric(envoy, "llm_cache_lookup_us_count") < 2:
        assert time.monotonic() < deadline, "llm_cache_lookup_us_count < 2"
        time.sleep(0.5)


def test_a_hit_counts_as_a_request_for_the_limits(envoy, sidecar, mock_provider):
    tag, text, stores = new_tag(), prompt(), Stores(sidecar)
    chat(envoy, tag, text, cid="lim")
    stores.wait()
    for _ in range(2):
        assert chat(envoy, tag, text, cid="lim")[0]["x-llm-cache"] == "hit-exact"
    with pytest.raises(openai.RateLimitError):
        chat(envoy, tag, text, cid="lim")
    assert len(mock_requests_for(mock_provider, tag)) == 1


# ----------------------------------------------------------------- the sidecar down or slow


def test_sidecar_down_fails_open_and_hits_resume_when_it_is_back(envoy_factory, log_dir, mock_provider):
    s = CacheSidecar(log_dir, "restart")
    e = start_envoy(envoy_factory, s.port)
    try:
        tag, text, stores = new_tag(), prompt(), Stores(s)
        chat(e, tag, text)
        stores.wait()
        assert chat(e, tag, text)[0]["x-llm-cache"] == "hit-exact"
        port = s.port
        s.stop()
        for stream in (False, True):
            h, got, _, _ = chat(e, tag, text, content="from the provider", stream=stream)
            assert (h["x-llm-cache"], got) == ("error", "from the provider")
        h, got, _, _ = message(e, tag, text, content="claude answers")
        assert (h["x-llm-cache"], got) == ("error", "claude answers")
        assert len(mock_requests_for(mock_provider, tag)) == 4
        s = CacheSidecar(log_dir, "restart", port=port)
        stores = Stores(s)
        # The embedded store starts empty: a miss stores, then hits resume.
        assert chat(e, tag, text, content="after restart")[0]["x-llm-cache"] == "miss"
        stores.wait()
        h, got, _, _ = chat(e, tag, text, content="x")
        assert (h["x-llm-cache"], got) == ("hit-exact", "after restart")
    finally:
        e.stop()
        s.stop()


def test_sidecar_down_fails_closed_when_asked(envoy_factory, mock_provider):
    e = start_envoy(envoy_factory, free_port(), fail="closed")  # nothing listens there
    try:
        tag = new_tag()
        with pytest.raises(openai.APIStatusError) as err:
            chat(e, tag, prompt())
        assert err.value.status_code == 503
        assert err.value.body["code"] == "cache_unavailable"
        assert err.value.response.headers["x-llm-cache"] == "error"
        with pytest.raises(anthropic.APIStatusError) as err:
            message(e, tag, prompt())
        assert err.value.status_code == 503
        assert err.value.body["error"]["type"] == "api_error"
        # What the cache does not look up, it does not need: bypasses still go out.
        assert chat(e, tag, prompt(), headers={"cache-control": "no-store"})[0]["x-llm-cache"] == "bypass"
        assert len(mock_requests_for(mock_provider, tag)) == 1
    finally:
        e.stop()


def request_methods(held: list, want: str, timeout: float = 10) -> list[str]:
    """The request methods read from the held connections until `want` is among them."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and want not in seen:
        for c in list(held):
            c.settimeout(0.05)
            try:
                head = c.recv(4096)
            except OSError:
                continue
            if head:
                seen.append(head.split(b" ", 1)[0].decode("latin-1"))
        time.sleep(0.05)
    return seen


def test_a_slow_sidecar_times_out_and_fails_open(envoy_factory, mock_provider):
    """A sidecar that accepts connections and never answers: the lookup's timeout acts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    e = start_envoy(envoy_factory, server.getsockname()[1], lookup_timeout_ms=200)
    try:
        tag = new_tag()
        h, got, _, _ = chat(e, tag, prompt(), content="not waiting")
        assert (h["x-llm-cache"], got) == ("error", "not waiting")
        assert metric(e, "llm_cache_requests", status="error", gen_ai_request_model="gpt-4o") == 1
        # The sidecar was slow, not gone: the answer is still stored (a PUT after the
        # lookup's GET), so a cold sidecar's first miss warms the next request.
        assert "PUT" in request_methods(held, want="PUT")
    finally:
        e.stop()
        stop.set()
        for c in held:
            c.close()
        server.close()


# ----------------------------------------------------------------- a fleet: one redis-server


def test_an_entry_stored_through_one_envoy_is_served_by_another(envoy_factory, log_dir, mock_provider):
    redis = RedisServer(log_dir)
    sidecars = [CacheSidecar(log_dir, f"redis-{n}", ["--redis-url", redis.url]) for n in ("a", "b")]
    envoys = []
    try:
        envoys = [start_envoy(envoy_factory, s.port) for s in sidecars]
        tag, text, stores = new_tag(), prompt(), Stores(sidecars[0])
        h, _, _, _ = message(envoys[0], tag, text, content=LONG, stream=True)
        assert h["x-llm-cache"] == "miss"
        stores.wait()
        h, got, _, _ = message(envoys[1], tag, text, content="other")
        assert (h["x-llm-cache"], got) == ("hit-exact", LONG)
        h, got, _, _ = message(envoys[1], tag, text, content="other", cid="cb")
        assert (h["x-llm-cache"], got) == ("miss", "other")
        assert len(mock_requests_for(mock_provider, tag)) == 2
    finally:
        for e in envoys:
            e.stop()
        for s in sidecars:
            s.stop()
        redis.stop()
