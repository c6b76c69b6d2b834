"""Acceptance: the filter's input-token count equals OpenAI's reference (tiktoken with the
cookbook's message and function-tool overheads) on every text we try, for o200k_base and
cl100k_base models, plain and streaming.

The mock omits usage (`x-mock-omit-usage: true`), so `x-llm-input-tokens` on a plain
response is the filter's own count; on a stream it is always the filter's count."""

import requests

from helpers import (
    CHAT,
    CL100K_MODELS,
    O200K_MODELS,
    load_token_texts,
    reference_request_tokens,
)

MODELS = O200K_MODELS + CL100K_MODELS
STREAM_MODELS = ("gpt-5", "gpt-3.5-turbo")  # one per encoding
MOCK = {"x-mock-omit-usage": "true", "x-mock-content": "ok"}

RECORDS = load_token_texts()


def gateway_count(session, gateway, record, model, stream=False) -> int:
    body = {"model": model, "messages": record["messages"]}
    if "tools" in record:
        body["tools"] = record["tools"]
    if stream:
        body["stream"] = True
    r = session.post(f"{gateway.url}{CHAT}", json=body, headers=MOCK, timeout=30, stream=stream)
    r.content  # read to the end (a stream included)
    assert r.status_code == 200, f"{record['id']} {model}: {r.status_code} {r.text[:300]}"
    assert "x-llm-input-tokens" in r.headers, f"{record['id']} {model}: {dict(r.headers)}"
    return int(r.headers["x-llm-input-tokens"])


def mismatches(gateway, models, stream):
    out = []
    with requests.Session() as session:
        for record in RECORDS:
            for model in models:
                want = reference_request_tokens(model, record["messages"], record.get("tools"))
                got = gateway_count(session, gateway, record, model, stream)
                if got != want:
                    out.append(f"{record['id']:<28} {model:<14} expected {want:>6} got {got:>6}")
    return out


def test_corpus_is_broad_enough():
    assert len(RECORDS) >= 60
    assert sum(1 for r in RECORDS if "tools" in r) >= 3
    assert any(len(str(r["messages"]).encode()) > 10_000 for r in RECORDS)
    assert any(any("name" in m for m in r["messages"]) for r in RECORDS)


def test_plain_requests_count_like_tiktoken(gateway):
    bad = mismatches(gateway, MODELS, stream=False)
    assert not bad, f"{len(bad)} of {len(RECORDS) * len(MODELS)} counts differ:\n" + "\n".join(bad)


def test_streaming_requests_count_like_tiktoken(gateway):
    bad = mismatches(gateway, STREAM_MODELS, stream=True)
    assert not bad, f"{len(bad)} of {len(RECORDS) * len(STREAM_MODELS)} counts differ:\n" + "\n".join(bad)


def test_reference_matches_the_cookbook_example():
    # The cookbook's own example: 129 prompt tokens for gpt-4 / gpt-3.5-turbo as reported
    # by OpenAI's API; guards the reference itself.
    record = next(r for r in RECORDS if r["id"] == "chat_cookbook")
    assert reference_request_tokens("gpt-4", record["messages"]) == 129
    assert reference_request_tokens("gpt-3.5-turbo", record["messages"]) == 129
