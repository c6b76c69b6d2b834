"""The OpenAI SDK talking to a Claude model: with an `anthropic` provider configured (its
key in Envoy's environment), an OpenAI chat-completions request for claude-* is
translated to Anthropic's Messages API on the way up and the answer back to OpenAI's
format, plain and streaming. The `anthropic` cluster points at the mock, which answers
in Anthropic's format, so the test sees both sides."""

import json

import openai
import pytest

from helpers import access_log_for, mock_requests_for, new_tag, providers_at_mock

ANTHROPIC_KEY = "sk-ant-test-789"
MODEL = "claude-sonnet-4-5"


def gateway_with_provider_at_mock(envoy_factory, provider: str, key_env: str, key: str):
    """Envoy with one provider's cluster at the mock and its key in Envoy's environment."""
    cfg = providers_at_mock(envoy_factory.config(), (provider,))
    envoy = envoy_factory.start(envoy_config=cfg, env={key_env: key})
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def gw(envoy_factory):
    yield from gateway_with_provider_at_mock(envoy_factory, "anthropic", "ANTHROPIC_API_KEY", ANTHROPIC_KEY)


def client(gw, tag):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-demo-pro", max_retries=0, timeout=30,
                         default_query={"tag": tag})


def upstream_of(mock, tag):
    (seen,) = mock_requests_for(mock, tag)
    return seen


def test_plain_answer_is_translated_both_ways(gw, mock_provider):
    tag = new_tag()
    raw = client(gw, tag).chat.completions.with_raw_response.create(
        model=MODEL, max_tokens=50, stop=["END"],
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hello Claude, via OpenAI"}])
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello Claude, via OpenAI"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == MODEL
    assert raw.headers["x-llm-provider"] == "anthropic"
    up = upstream_of(mock_provider, tag)
    assert up["path"].split("?")[0] == "/v1/messages"
    body = json.loads(up["body"])
    assert body["system"] == "Be brief."
    (message,) = body["messages"]
    assert message["role"] == "user"
    content = message["content"]
    text = content if isinstance(content, str) else "".join(b["text"] for b in content if b["type"] == "text")
    assert text == "Hello Claude, via OpenAI"
    assert (body["max_tokens"], body["stop_sequences"]) == (50, ["END"])
    assert up["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert up["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in up["headers"]
    # Usage is the provider's, mapped to OpenAI's names, and priced as the Claude model.
    assert completion.usage.completion_tokens == int(raw.headers["x-llm-output-tokens"])
    assert completion.usage.prompt_tokens == int(raw.headers["x-llm-input-tokens"])
    assert float(raw.headers["x-llm-cost-usd"]) > 0
    line = access_log_for(gw, tag)
    assert (line["provider"], line["usage_source"]) == ("anthropic", "provider")


def test_stream_is_translated_to_openai_chunks(gw, mock_provider):
    tag = new_tag()
    stream = client(gw, tag).chat.completions.create(
        model=MODEL, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Stream me back, please, in several pieces"}],
        extra_headers={"x-mock-stream-chunks": "5"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Stream me back, please, in several pieces"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert upstream_of(mock_provider, tag)["path"].split("?")[0] == "/v1/messages"
    line = access_log_for(gw, tag)
    assert line["output_tokens"] == str(chunks[-1].usage.completion_tokens)


def test_provider_errors_come_back_in_openai_envelope(gw):
    tag = new_tag()
    with pytest.raises(openai.RateLimitError) as e:
        client(gw, tag).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-mock-status": "429"})
    assert e.value.body["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError):
        client(gw, tag).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-mock-status": "529"})


def test_untranslatable_request_is_refused_before_the_provider(gw, mock_provider):
    tag = new_tag()
    with pytest.raises(openai.BadRequestError) as e:
        client(gw, tag).chat.completions.create(model=MODEL, n=2, messages=[{"role": "user", "content": "x"}])
    assert "n" in e.value.body["message"]
    assert mock_requests_for(mock_provider, tag) == []


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_tools_round_trip_through_translation(gw, mock_provider):
    tag = new_tag()
    c = client(gw, tag)
    headers = {"x-mock-tool-call": "get_weather", "x-mock-tool-args": '{"city": "Seoul"}'}
    first = c.chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL], tool_choice="auto",
        messages=[{"role": "user", "content": "Weather in Seoul?"}], extra_headers=headers)
    (call,) = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Seoul"})
    sent = json.loads(upstream_of(mock_provider, tag)["body"])
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"]["properties"] == {"city": {"type": "string"}}
    assert sent["tool_choice"] == {"type": "auto"}
    # The SDK sends the tool's result back; Anthropic must see tool_use then tool_result.
    tag2 = new_tag()
    second = client(gw, tag2).chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Seoul?"},
                  first.choices[0].message.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"}])
    assert second.choices[0].message.content  # the mock answers with text now
    back = json.loads(upstream_of(mock_provider, tag2)["body"])["messages"]
    assert [m["role"] for m in back] == ["user", "assistant", "user"]
    tool_use = next(b for b in back[1]["content"] if b["type"] == "tool_use")
    tool_result = next(b for b in back[2]["content"] if b["type"] == "tool_result")
    assert tool_use["id"] == tool_result["tool_use_id"] == call.id
    assert tool_use["input"] == {"city": "Seoul"}


def test_streamed_tool_call_arrives_as_openai_deltas(gw):
    tag = new_tag()
    stream = client(gw, tag).chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL], stream=True,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        extra_headers={"x-mock-tool-call": "get_weather", "x-mock-tool-args": '{"city": "Paris"}'})
    name, args, finish = None, "", None
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                name = tc.function.name or name
                args += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert (name, json.loads(args), finish) == ("get_weather", {"city": "Paris"}, "tool_calls")


OPENAI_KEY = "sk-openai-test-123"


@pytest.fixture(scope="module")
def gw_openai(envoy_factory):
    yield from gateway_with_provider_at_mock(envoy_factory, "openai", "OPENAI_API_KEY", OPENAI_KEY)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_anthropic_sdk_talks_to_an_openai_model(gw_openai, mock_provider, stream):
    """The other direction: an Anthropic Messages request for gpt-4o goes to the OpenAI
    provider as chat completions, with OpenAI's key, and comes back as a message."""
    import anthropic

    tag = new_tag()
    c = anthropic.Anthropic(base_url=gw_openai.url, api_key="sk-demo-pro", max_retries=0, timeout=30,
                            default_query={"tag": tag})
    kwargs = dict(model="gpt-4o", max_tokens=30, system="Be brief.",
                  messages=[{"role": "user", "content": "bonjour"}], stop_sequences=["END"])
    if stream:
        with c.messages.stream(**kwargs) as s:
            text = "".join(s.text_stream)
            message = s.get_final_message()
    else:
        message = c.messages.create(**kwargs)
        text = message.content[0].text
    assert text == "bonjour"
    assert message.stop_reason == "end_turn"
    upstream = upstream_of(mock_provider, tag)
    assert upstream["path"].split("?")[0] == "/v1/chat/completions"
    assert upstream["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-api-key" not in upstream["headers"] and "anthropic-version" not in upstream["headers"]
    body = json.loads(upstream["body"])
    assert body["model"] == "gpt-4o" and body["max_tokens"] == 30 and body["stop"] == ["END"]
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "bonjour"}]
    line = access_log_for(gw_openai, tag)
    assert (line["provider"], line["api"], line["usage_source"]) == ("openai", "anthropic_messages", "provider"), line
    assert int(line["output_tokens"]) == message.usage.output_tokens
    assert int(line["input_tokens"]) == message.usage.input_tokens, line
