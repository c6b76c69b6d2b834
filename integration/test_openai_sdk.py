"""The official `openai` Python SDK works through the gateway with only `base_url` changed:
plain and streaming completions, the x-llm-* headers, the usage chunk the gateway asks
for, and the gateway's 400 as the SDK's own error type."""

import openai
import pytest

from helpers import reference_request_tokens

MESSAGES = [
    {"role": "system", "content": "You echo."},
    {"role": "user", "content": "Hello from the SDK, 안녕하세요 👋"},
]
ECHO = MESSAGES[-1]["content"]


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0,
                         timeout=30)


def test_plain_completion_returns_the_echo(client):
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == ECHO
    assert completion.usage.prompt_tokens == reference_request_tokens("gpt-4o", MESSAGES)


def test_raw_response_exposes_the_gateway_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()
    h = raw.headers
    assert h["x-llm-model"] == "gpt-4o-mini"
    # gpt-4o-mini is served by the fallback chain; its primary answered.
    assert h["x-llm-provider"] == "primary"
    assert int(h["x-llm-input-tokens"]) == completion.usage.prompt_tokens
    assert int(h["x-llm-input-tokens"]) == reference_request_tokens("gpt-4o", MESSAGES)
    assert int(h["x-llm-output-tokens"]) == completion.usage.completion_tokens
    assert float(h["x-llm-cost-usd"]) > 0


def test_stream_reassembles_the_echo_without_the_usage_chunk_it_did_not_ask_for(client):
    # The client did not ask for usage; the gateway adds stream_options.include_usage to
    # meter the stream, and keeps the final `choices: []` usage chunk to itself: the
    # client sees what OpenAI would have sent it, so `chunk.choices[0]` is always safe.
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert all(c.choices for c in chunks), chunks[-2:]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == ECHO


def test_stream_with_include_usage_has_usage_on_the_last_chunk(client):
    stream = client.chat.completions.create(
        model="gpt-4", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == reference_request_tokens("gpt-4", MESSAGES)
    assert last.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ECHO


def test_stream_raw_response_has_model_provider_and_input_tokens(client):
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4.1-mini", messages=MESSAGES, stream=True
    ) as response:
        h = response.headers
        assert h["x-llm-model"] == "gpt-4.1-mini"
        assert h["x-llm-provider"] == "mock"
        assert int(h["x-llm-input-tokens"]) == reference_request_tokens("gpt-4.1-mini", MESSAGES)
        for _ in response.iter_lines():
            pass


def test_gateway_400_is_a_bad_request_error(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                       extra_body={"messages": "not a list"})
    err = info.value
    assert err.status_code == 400
    assert err.body["type"] == "invalid_request_error"
    assert err.body["param"] == "messages"
    assert "messages" in err.body["message"]
    # The gateway answered it, not the provider.
    assert "x-llm-model" not in err.response.headers
