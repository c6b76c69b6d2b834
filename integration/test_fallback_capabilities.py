"""Capability-aware fallback on the real Envoy: when the chain moves `gpt-4o-mini` off a
failing primary, a request the next provider cannot serve as such is translated
(structured output -> a forced tool for the Claude hop, its call turned back into the
content, plain and streamed) or skipped to a provider that can (`n > 1`, `logprobs`):
the upstream filter answers the attempt itself with `x-llm-skip-provider`, which the
chain route's retry policy retries on. Never a 400 the client did not cause."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel

from conftest import CHAIN_PROVIDERS
from helpers import access_log_for, new_tag
from test_fallback import MODEL, chain, client, mock_post, mock_stats, providers, seen_by  # noqa: F401


class CalendarEvent(BaseModel):
    name: str
    participants: list[str]


EVENT = {"name": "science fair", "participants": ["Alice", "Bob"]}
PROMPT = [{"role": "user", "content": "Alice and Bob are going to a science fair on Friday."}]


def claude_answers(event=EVENT) -> dict:
    """Every provider answers this JSON: the OpenAI-format ones as the content, the
    Claude one as the input of the tool its request forces (as a model would)."""
    return {"x-mock-content": json.dumps(event)}


@pytest.mark.parametrize("api", ["beta", "chat"])
def test_parse_is_served_by_the_claude_hop_when_the_primary_is_down(chain, providers, api):
    mock_post(providers["primary"], "down")
    tag = new_tag()
    c = client(chain, tag, default_headers=claude_answers())
    completions = c.beta.chat.completions if api == "beta" else c.chat.completions
    raw = completions.with_raw_response.parse(model=MODEL, messages=PROMPT,
                                              response_format=CalendarEvent)
    done = raw.parse()
    assert raw.headers["x-llm-provider"] == "secondary"
    message = done.choices[0].message
    assert message.parsed == CalendarEvent(**EVENT)
    assert not message.tool_calls and done.choices[0].finish_reason == "stop"
    (upstream,) = seen_by(providers, tag)["secondary"]
    body = json.loads(upstream["body"])
    assert body["tool_choice"] == {"type": "tool", "name": "CalendarEvent"}
    (tool,) = body["tools"]
    assert tool["input_schema"]["properties"].keys() == {"name", "participants"}
    line = access_log_for(chain, tag)
    assert (line["provider"], line["status"], line["error"]) == ("secondary", 200, None), line


def test_a_streamed_parse_is_served_by_the_claude_hop(chain, providers):
    mock_post(providers["primary"], "down")
    c = client(chain, default_headers=claude_answers())
    with c.chat.completions.stream(model=MODEL, messages=PROMPT,
                                   response_format=CalendarEvent) as s:
        deltas = [e.delta for e in s if e.type == "content.delta"]
        final = s.get_final_completion()
    assert len(deltas) > 1 and json.loads("".join(deltas)) == EVENT
    assert final.choices[0].message.parsed == CalendarEvent(**EVENT)


def test_twenty_parse_calls_under_a_flaky_primary_all_succeed(chain, providers):
    mock_post(providers["primary"], "config", {"failure_rate": 0.3})
    c = client(chain, default_headers=claude_answers())

    def one(i):
        done = c.chat.completions.parse(model=MODEL, messages=PROMPT, response_format=CalendarEvent)
        return done.choices[0].message.parsed

    with ThreadPoolExecutor(4) as pool:
        parsed = list(pool.map(one, range(20)))
    assert parsed == [CalendarEvent(**EVENT)] * 20
    # The primary answers with the echo: parse() only works on JSON, so make it JSON.
    assert mock_stats(providers["primary"])["failures_injected"] > 0


@pytest.mark.parametrize("field", [{"n": 2}, {"logprobs": True, "top_logprobs": 2}], ids=["n", "logprobs"])
def test_what_claude_cannot_do_skips_to_a_provider_that_can(chain, providers, field):
    mock_post(providers["primary"], "down")
    tag = new_tag()
    raw = client(chain, tag).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "two please"}], **field)
    done = raw.parse()
    assert raw.headers["x-llm-provider"] == "local", raw.headers
    assert len(done.choices) == field.get("n", 1)
    assert all(ch.message.content == "two please" for ch in done.choices)
    seen = seen_by(providers, tag)
    assert [len(seen[n]) for n in CHAIN_PROVIDERS] == [1, 1, 1]
    # The Claude hop got a probe that costs nothing (the skip rides on its answer), never
    # the request.
    (probe,) = seen["secondary"]
    assert (probe["method"], probe["path"].split("?")[0], probe["body"]) == ("GET", "/v1/models", "")
    assert "authorization" not in probe["headers"] and "x-api-key" not in probe["headers"]
    body = json.loads(seen["local"][0]["body"])
    assert all(body[k] == v for k, v in field.items()), body
    skips = chain.stats(r"llm\.chain_skips")["stats"]
    assert any("secondary" in s["name"] and s["value"] >= 1 for s in skips), skips
    line = access_log_for(chain, tag)
    assert (line["provider"], line["status"]) == ("local", 200), line


def test_skipping_never_ejects_the_skipped_provider(chain, providers):
    """Eight skips in a row answer the secondary's attempts with 400, not a 5xx: its
    outlier detection (consecutive_5xx: 5) must not eject it."""
    mock_post(providers["primary"], "down")
    c = client(chain)
    for _ in range(8):
        done = c.chat.completions.create(model=MODEL, n=2, messages=PROMPT)
        assert len(done.choices) == 2
    mock_post(providers["local"], "down")
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=PROMPT)
    assert raw.headers["x-mock-name"] == "secondary"
    ejected = chain.stats(r"cluster\.secondary\.outlier_detection\.ejections_enforced_total")
    assert ejected["stats"][0]["value"] == 0, ejected


def test_a_healthy_primary_serves_n_itself(chain, providers):
    tag = new_tag()
    done = client(chain, tag).chat.completions.create(model=MODEL, n=3, messages=PROMPT)
    assert len(done.choices) == 3
    assert [len(seen_by(providers, tag)[n]) for n in CHAIN_PROVIDERS] == [1, 0, 0]


def test_a_request_no_live_provider_can_serve_fails_like_a_down_chain(chain, providers):
    """Primary and local down, the Claude hop up but unable to return 2 choices: the
    attempts go primary (503), secondary (skipped), local (503), primary (503); the
    client gets the last attempt's error, and the Claude hop never got the request."""
    import openai

    for name in ("primary", "local"):
        mock_post(providers[name], "down")
    tag = new_tag()
    with pytest.raises(openai.APIStatusError) as e:
        client(chain, tag).chat.completions.create(model=MODEL, n=2, messages=PROMPT)
    assert e.value.status_code == 503, e.value
    assert all(r["method"] == "GET" for r in seen_by(providers, tag)["secondary"])


def test_a_photo_falls_back_to_the_claude_hop_whole(chain, providers):
    """A ~6 MB base64 image: the router's retry buffer and the attempt filter hold it
    (envoy.yaml's request_body_buffer_limit), and the Claude hop gets it translated."""
    import base64

    from helpers import photo_png

    mock_post(providers["primary"], "down")
    photo = base64.b64encode(photo_png()).decode()
    tag = new_tag()
    done = client(chain, tag).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{photo}"}}]}])
    assert done.choices[0].message.content == "what is it?"
    (upstream,) = seen_by(providers, tag)["secondary"]
    block = json.loads(upstream["body"])["messages"][0]["content"][1]
    assert block["source"] == {"type": "base64", "media_type": "image/png", "data": photo}
