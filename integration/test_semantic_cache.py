"""The semantic tier of the cache through real processes: Envoy with the module, a real
cache-sidecar and a real semantic-sidecar (all-MiniLM-L6-v2 loaded; two of them on one
PostgreSQL + pgvector for the fleet test), driven by the official `openai` and
`anthropic` SDKs.

As in test_cache.py, the mock answers what `x-mock-content` says (not part of any key),
so a semantic hit is proven by the *first* answer coming back for a reworded question
that asked the mock for another one, and by the mock's request log not growing. Each
test puts its own system prompt in its requests: a fresh partition, so entries never
carry over between tests."""

import time
import uuid

import anthropic
import pytest

from conftest import free_port, plugin_config_of, tail
from helpers import access_log_lines_for, mock_requests_for, new_tag, openai_client, providers_at_mock
from sidecars import (CacheSidecar, Postgres, SemanticSidecar, with_semantic, with_sidecar)
from test_limits import consumer, key_of

CONSUMERS = [consumer(c) for c in ("sa", "sb")]
LONG = ("You may check in two bags of up to 23 kg each on long-haul flights; a third bag "
        "is charged at the airport.")
FIRST = "How many bags can I check in on a long-haul flight?"
REWORDED = "What is the checked baggage allowance for long-haul flights?"
# One hard negative of each kind the verifier rejects (bench/semantic/dev.jsonl).
HARD_NEGATIVES = {
    "scope": (FIRST, "How many bags can I check in on a short-haul flight?"),
    "number": ("What is the fee to change a flight less than 72 hours before departure?",
               "What is the fee to change a flight less than 24 hours before departure?"),
    "entity": ("Can I bring my cat in the cabin on a flight from Paris to Rome?",
               "Can I bring my dog in the cabin on a flight from Paris to Rome?"),
    "negation": ("Do I need a visa to transit through Frankfurt on my way to Chicago?",
                 "Do I need a visa if I don't transit through Frankfurt and fly direct to Chicago?"),
}


def plugin(envoy_factory, **semantic) -> dict:
    base = plugin_config_of(envoy_factory.config(keep_cache=True))
    base["identity"] = {"required": False, "consumers": CONSUMERS}
    base.pop("limits", None)
    # Generous timeouts: a loaded test machine must not turn hits into misses.
    base["cache"] = {"lookup_timeout_ms": 3000,
                     "semantic": {"enabled": True, "lookup_timeout_ms": 5000, **semantic}}
    return base


def start_envoy(envoy_factory, cache_port: int, semantic_port: int, **semantic):
    cfg = envoy_factory.config(config=plugin(envoy_factory, **semantic), keep_cache=True)
    cfg = providers_at_mock(cfg, ("openai", "anthropic"))
    with_sidecar(cfg, type("At", (), {"port": cache_port})())
    with_semantic(cfg, semantic_port)
    return envoy_factory.start(envoy_config=cfg)


@pytest.fixture(scope="module")
def cache(log_dir):
    s = CacheSidecar(log_dir, "semcache")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def index(log_dir):
    s = SemanticSidecar(log_dir, "index")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def envoy(envoy_factory, cache, index):
    e = start_envoy(envoy_factory, cache.port, index.port)
    yield e
    e.stop()


def upserts(s: SemanticSidecar) -> float:
    return s.metric("semantic_requests_total", route="upsert", status="200")


def wait_upserts(s: SemanticSidecar, before: float, n: int = 1, timeout: float = 20) -> None:
    """Stores and upserts are background calls: wait until the index counted ours."""
    deadline = time.monotonic() + timeout
    while upserts(s) < before + n:
        assert time.monotonic() < deadline, f"{n} upsert(s) expected"
        time.sleep(0.05)


def system() -> str:
    return f"You answer airline customers. Conversation {uuid.uuid4().hex}."


def chat(envoy, tag, text, *, sys, stream=False, cid="sa", content="another answer",
         model="gpt-4o", headers=None):
    """One chat completion through the openai SDK: (headers, text)."""
    client = openai_client(envoy, tag, key=key_of(cid))
    args = dict(model=model, temperature=0,
                messages=[{"role": "system", "content": sys}, {"role": "user", "content": text}],
                extra_headers={"x-mock-content": content, **(headers or {})})
    if stream:
        raw = client.chat.completions.with_raw_response.create(stream=True, **args)
        chunks = list(raw.parse())
        got = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1, "a real stream"
        return raw.headers, got
    raw = client.chat.completions.with_raw_response.create(**args)
    return raw.headers, raw.parse().choices[0].message.content


def message(envoy, tag, text, *, sys, stream=False, content="another answer"):
    """One Anthropic message through the anthropic SDK: (headers, text)."""
    client = anthropic.Anthropic(base_url=envoy.url, api_key=key_of("sa"), max_retries=0,
                                 timeout=30, default_query={"tag": tag})
    args = dict(model="claude-sonnet-4-5", max_tokens=128, system=sys,
                messages=[{"role": "user", "content": text}],
                extra_headers={"x-mock-content": content})
    if stream:
        raw = client.messages.with_raw_response.create(stream=True, **args)
        events = list(raw.parse())
        types = [e.type for e in events]
        assert types[0] == "message_start" and types[-1] == "message_stop"
        got = "".join(e.delta.text for e in events
                      if e.type == "content_block_delta" and e.delta.type == "text_delta")
        return raw.headers, got
    raw = client.messages.with_raw_response.create(**args)
    return raw.headers, raw.parse().content[0].text


def first_answer(envoy, index, tag, *, sys, ask=chat, text=FIRST, **kw):
    """The first question: a miss answered by the provider, stored and upserted."""
    before = upserts(index)
    h, got = ask(envoy, tag, text, sys=sys, content=LONG, **kw)
    assert h["x-llm-cache"] == "miss", dict(h)
    assert got == LONG
    wait_upserts(index, before)


def assert_semantic_hit(h):
    assert h["x-llm-cache"] == "hit-semantic", dict(h)
    similarity = float(h["x-llm-cache-similarity"])
    assert 0 < similarity <= 1
    assert h["x-llm-cost-usd"] in ("0", "0.0", "0.000000")


# ------------------------------------------------------------------ hits, both APIs

def test_openai_a_reworded_question_is_answered_from_the_semantic_cache(envoy, index, mock_provider):
    tag, sys = new_tag(), system()
    first_answer(envoy, index, tag, sys=sys)
    for stream in (False, True):
        h, got = chat(envoy, tag, REWORDED, sys=sys, stream=stream)
        assert_semantic_hit(h)
        assert got == LONG, "the first question's answer, not the mock's new one"
        if stream:
            assert h["content-type"].startswith("text/event-stream")
    assert len(mock_requests_for(mock_provider, tag)) == 1, "the provider was asked once"
    lines = [line for line in access_log_lines_for(envoy, tag, 3)
             if line.get("cache") == "hit-semantic"]
    assert len(lines) == 2
    for line in lines:
        assert len(line["cache_semantic_id"]) == 64, line
        assert float(line["cache_similarity"]) > 0
        assert line["cache_semantic"] == "hit"
        assert int(line["cache_saved_output_tokens"]) > 0


def test_anthropic_a_reworded_question_is_answered_from_the_semantic_cache(envoy, index,
                                                                          mock_provider):
    tag, sys = new_tag(), system()
    first_answer(envoy, index, tag, sys=sys, ask=message)
    for stream in (False, True):
        h, got = message(envoy, tag, REWORDED, sys=sys, stream=stream)
        assert_semantic_hit(h)
        assert got == LONG
    assert len(mock_requests_for(mock_provider, tag)) == 1


def test_small_talk_around_the_question_still_hits_and_an_added_fact_misses(envoy, index,
                                                                             mock_provider):
    """Remarks no word list knows are judged small talk by the sidecar's model and left
    out; a fact in a sentence of its own changes the question and misses."""
    tag, sys = new_tag(), system()
    first_answer(envoy, index, tag, sys=sys)
    h, got = chat(envoy, tag, f"{FIRST} You lot are brilliant, by the way.", sys=sys)
    assert_semantic_hit(h)
    assert got == LONG
    h, got = chat(envoy, tag, f"{FIRST} My ticket is a basic economy fare.", sys=sys)
    assert h["x-llm-cache"] == "miss", dict(h)
    assert got == "another answer"
    assert len(mock_requests_for(mock_provider, tag)) == 2


# ------------------------------------------------------------------ what must miss

@pytest.mark.parametrize("kind", sorted(HARD_NEGATIVES))
def test_a_hard_negative_misses(envoy, index, mock_provider, kind):
    stored, asked = HARD_NEGATIVES[kind]
    tag, sys = new_tag(), system()
    first_answer(envoy, index, tag, sys=sys, text=stored)
    h, got = chat(envoy, tag, asked, sys=sys)
    assert h["x-llm-cache"] == "miss", dict(h)
    assert got == "another answer"
    assert len(mock_requests_for(mock_provider, tag)) == 2


@pytest.mark.parametrize("change", ["consumer", "model", "system prompt"])
def test_the_same_paraphrase_misses_across_consumers_models_and_system_prompts(
        envoy, index, mock_provider, change):
    tag, sys = new_tag(), system()
    first_answer(envoy, index, tag, sys=sys)
    kw = {"consumer": {"cid": "sb"}, "model": {"model": "gpt-4o-mini"},
          "system prompt": {"sys": system()}}[change]
    h, got = chat(envoy, tag, REWORDED, **{"sys": sys, **kw})
    assert h["x-llm-cache"] == "miss", dict(h)
    assert got == "another answer"
    # The unchanged request still hits: the miss came from the change.
    h, got = chat(envoy, tag, REWORDED, sys=sys)
    assert_semantic_hit(h)
    assert len(mock_requests_for(mock_provider, tag)) == 2


# ------------------------------------------------------------------ sidecars down

def test_the_index_down_is_a_miss_and_both_down_an_error_never_a_failure(envoy_factory, cache,
                                                                         mock_provider):
    closed = free_port()
    e = start_envoy(envoy_factory, cache.port, closed)
    try:
        tag, sys = new_tag(), system()
        for _ in range(2):
            h, got = chat(e, tag, FIRST, sys=sys, content=LONG)
            assert h["x-llm-cache"] in ("miss", "hit-exact"), dict(h)
            assert got == LONG
        h, got = chat(e, tag, REWORDED, sys=sys)
        assert h["x-llm-cache"] == "miss", dict(h)
        assert got == "another answer"
    finally:
        e.stop()
    e = start_envoy(envoy_factory, free_port(), closed)
    try:
        tag = new_tag()
        h, got = chat(e, tag, REWORDED, sys=system(), stream=True)
        assert h["x-llm-cache"] == "error", dict(h)
        assert got == "another answer"
    finally:
        e.stop()


# ------------------------------------------------------------------ a fleet on one pgvector

def test_two_semantic_sidecars_on_one_postgres_share_entries(envoy_factory, cache, log_dir,
                                                            mock_provider):
    pg = Postgres(log_dir)
    a = b = ea = eb = None
    try:
        a = SemanticSidecar(log_dir, "pg-a", ["--pg-url", pg.url])
        b = SemanticSidecar(log_dir, "pg-b", ["--pg-url", pg.url])
        ea = start_envoy(envoy_factory, cache.port, a.port)
        eb = start_envoy(envoy_factory, cache.port, b.port)
        tag, sys = new_tag(), system()
        first_answer(ea, a, tag, sys=sys)
        h, got = chat(eb, tag, REWORDED, sys=sys, stream=True)
        assert h["x-llm-cache"] == "hit-semantic", (access_log_lines_for(eb, tag), tail(b.log_path))
        assert_semantic_hit(h)
        assert got == LONG
        assert len(mock_requests_for(mock_provider, tag)) == 1
    finally:
        for p in (ea, eb, a, b):
            if p is not None:
                p.stop()
        pg.stop()
