"""Anthropic /v1/messages through the gateway with the official `anthropic` SDK (only
`base_url` changed): plain and streaming answers, the x-llm-* headers, and the provider's
usage used for output tokens and cost.

Input tokens on this API are the filter's estimate (o200k_base; Anthropic's tokenizer is
not public). The mock reports usage with the same estimator, so they agree here."""

import anthropic
import pytest

from helpers import access_log_for, as_int, new_tag

MODEL = "claude-haiku-4-5"
PRICE_IN, PRICE_OUT = 1.0, 5.0  # built-in list price, USD per million tokens
SYSTEM = "You are a parrot. Repeat the user."
MESSAGES = [
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first question"},
    {"role": "user", "content": [{"type": "text", "text": "Bonjour, 세계! Parrot this back 🦜"}]},
]
ECHO = "Bonjour, 세계! Parrot this back 🦜"


@pytest.fixture(scope="module")
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key="sk-demo-pro", max_retries=0, timeout=30)


def cost(input_tokens, output_tokens):
    return (input_tokens * PRICE_IN + output_tokens * PRICE_OUT) / 1e6


def test_plain_message_with_headers_and_provider_usage(client, gateway):
    tag = new_tag()
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=200, system=SYSTEM, messages=MESSAGES,
        extra_headers={"x-mock-output-tokens": "40"}, extra_query={"tag": tag},
    )
    message = raw.parse()
    h = raw.headers
    assert message.usage.output_tokens == 40
    assert h["x-llm-model"] == MODEL
    assert h["x-llm-provider"] == "mock"
    assert int(h["x-llm-input-tokens"]) == message.usage.input_tokens > 0
    assert int(h["x-llm-output-tokens"]) == 40
    assert float(h["x-llm-cost-usd"]) == pytest.approx(cost(message.usage.input_tokens, 40), rel=1e-9)
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "provider" and line["api"] == "anthropic_messages", line
    assert (as_int(line["input_tokens"]), as_int(line["output_tokens"])) == (message.usage.input_tokens, 40)


def test_plain_message_echo(client):
    message = client.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES)
    assert message.content[0].text == ECHO
    assert message.stop_reason == "end_turn"


def test_stream_reassembles_the_echo_and_meters_provider_usage(client, gateway):
    tag = new_tag()
    with client.messages.stream(model=MODEL, max_tokens=200, system=SYSTEM, messages=MESSAGES,
                                extra_query={"tag": tag}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ECHO
    line = access_log_for(gateway, tag)
    assert line["stream"] == "true" and line["model"] == MODEL and line["provider"] == "mock", line
    assert line["usage_source"] == "provider" and line["error"] is None, line
    assert as_int(line["output_tokens"]) == final.usage.output_tokens > 1, line  # message_delta's, not the placeholder
    assert as_int(line["input_tokens"]) == final.usage.input_tokens, line
    assert float(line["cost_usd"]) == pytest.approx(cost(final.usage.input_tokens, final.usage.output_tokens), rel=1e-9)


def test_stream_headers_carry_model_provider_and_the_input_estimate(client):
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=200, system=SYSTEM, messages=MESSAGES, stream=True
    ) as response:
        h = response.headers
        assert h["x-llm-model"] == MODEL
        assert h["x-llm-provider"] == "mock"
        estimate = int(h["x-llm-input-tokens"])
        events = list(response.parse())
    start = next(e for e in events if e.type == "message_start")
    assert estimate == start.message.usage.input_tokens > 0
    assert "x-llm-output-tokens" not in h  # unknown when the headers leave


def test_without_provider_usage_output_is_counted(client, gateway):
    tag = new_tag()
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=200, messages=MESSAGES,
        extra_headers={"x-mock-omit-usage": "true"}, extra_query={"tag": tag},
    )
    assert raw.headers["x-llm-output-tokens"] == str(as_int(access_log_for(gateway, tag)["output_tokens"]))
    assert int(raw.headers["x-llm-output-tokens"]) > 0
    assert access_log_for(gateway, tag)["usage_source"] == "counted"
