"""Per-model output caps through `make run`'s stack (envoy/envoy.yaml as shipped): the
SDK defaults of LangChain `ChatAnthropic`, litellm `anthropic/...` and pydantic-ai
(`max_tokens: 64000` for Claude 4.5 models) and a large o-series `max_completion_tokens`
pass; a request over its model's published maximum is clamped (make run's choice) or,
on a gateway configured to refuse, refused naming the field the client sent."""

import json

import anthropic
import openai
import pytest

from helpers import access_log_for, mock_requests_for, new_tag


def upstream_body(mock, tag) -> dict:
    (seen,) = mock_requests_for(mock, tag)
    return json.loads(seen["body"])


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-haiku-4-5"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_claude_sdks_default_64000_max_tokens_passes(gateway, mock_provider, model, stream):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-demo-pro", max_retries=0,
                                 timeout=30)
    tag = new_tag()
    kwargs = dict(model=model, max_tokens=64000, extra_query={"tag": tag},
                  messages=[{"role": "user", "content": "long answer please"}])
    if stream:
        with client.messages.stream(**kwargs) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**kwargs).content[0].text
    assert text == "long answer please"
    assert upstream_body(mock_provider, tag)["max_tokens"] == 64000
    line = access_log_for(gateway, tag)
    assert line["status"] == 200 and line["error"] is None, line


def test_an_o_series_max_completion_tokens_of_100000_passes(gateway, mock_provider):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0)
    tag = new_tag()
    done = client.chat.completions.create(
        model="o3", max_completion_tokens=100000, extra_query={"tag": tag},
        messages=[{"role": "user", "content": "think hard"}])
    assert done.choices[0].message.content == "think hard"
    assert upstream_body(mock_provider, tag)["max_completion_tokens"] == 100000


def test_over_the_published_maximum_is_clamped_in_the_field_the_client_sent(gateway, mock_provider):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0)
    for field, model, asked, cap in (("max_tokens", "gpt-4o", 64000, 16384),
                                     ("max_completion_tokens", "o4-mini", 200000, 100000)):
        tag = new_tag()
        done = client.chat.completions.create(
            model=model, extra_query={"tag": tag}, extra_body={field: asked},
            messages=[{"role": "user", "content": "clamp me"}])
        assert done.choices[0].message.content == "clamp me"
        body = upstream_body(mock_provider, tag)
        assert body[field] == cap, body
        other = {"max_tokens", "max_completion_tokens"} - {field}
        assert not other & body.keys(), "only the client's field is written"


@pytest.fixture(scope="module")
def refusing(envoy_factory):
    envoy = envoy_factory.start(patch={"limits": {"over_max_output": "refuse"}})
    yield envoy
    envoy.stop()


def test_a_refusing_gateway_names_the_field_the_client_sent(refusing, mock_provider):
    client = openai.OpenAI(base_url=f"{refusing.url}/v1", api_key="sk-demo-pro", max_retries=0)
    tag = new_tag()
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="o3", max_completion_tokens=100001, extra_query={"tag": tag},
            messages=[{"role": "user", "content": "too much"}])
    err = e.value.body
    assert err["param"] == "max_completion_tokens"
    assert err["message"] == "`max_completion_tokens` must be at most 100000 for o3 (got 100001)"
    assert mock_requests_for(mock_provider, tag) == []
    anth = anthropic.Anthropic(base_url=refusing.url, api_key="sk-demo-pro", max_retries=0, timeout=30)
    with pytest.raises(anthropic.BadRequestError) as e:
        anth.messages.create(model="claude-haiku-4-5", max_tokens=64001,
                             messages=[{"role": "user", "content": "too much"}])
    assert "`max_tokens` must be at most 64000 for claude-haiku-4-5" in str(e.value)
    # At the cap is fine.
    ok = anth.messages.create(model="claude-haiku-4-5", max_tokens=64000,
                              messages=[{"role": "user", "content": "just right"}])
    assert ok.content[0].text == "just right"
