"""`model: "auto"` in make run's config: the gateway picks a tier from the request's
signals, sends the tier's model upstream, and explains the choice in
`x-llm-route-reason` and the access log."""

import json

import requests

from helpers import CHAT, access_log_for, mock_requests_for, new_tag, tagged


def ask(gateway, mock, content, stream=False):
    tag = new_tag()
    body = {"model": "auto", "messages": [{"role": "user", "content": content}], "stream": stream}
    r = requests.post(f"{gateway.url}{tagged(CHAT, tag)}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    (upstream,) = mock_requests_for(mock, tag)
    return tag, r, json.loads(upstream["body"])


def test_simple_question_goes_to_the_cheap_tier(gateway, mock_provider):
    tag, r, upstream = ask(gateway, mock_provider, "What is the capital of France?")
    assert upstream["model"] == "gpt-4o-mini"
    assert r.headers["x-llm-model"] == "gpt-4o-mini"
    assert r.headers["x-llm-route-reason"].startswith("tier=simple")
    line = access_log_for(gateway, tag)
    assert (line["model"], line["route_reason"]) == ("gpt-4o-mini", r.headers["x-llm-route-reason"])


def test_reasoning_request_goes_to_the_complex_tier_streaming_too(gateway, mock_provider):
    prompt = "Prove step by step that the square root of 2 is irrational, then analyze each assumption."
    _, r, upstream = ask(gateway, mock_provider, prompt, stream=True)
    assert upstream["model"] == "o3"
    assert r.headers["x-llm-route-reason"].startswith("tier=complex")
    assert "data: [DONE]" in r.text


def test_a_named_model_is_left_alone(gateway, mock_provider):
    tag = new_tag()
    r = requests.post(f"{gateway.url}{tagged(CHAT, tag)}", timeout=30,
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    (upstream,) = mock_requests_for(mock_provider, tag)
    assert json.loads(upstream["body"])["model"] == "gpt-4o"
    assert "x-llm-route-reason" not in r.headers
