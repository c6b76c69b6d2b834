"""The endpoints the gateway answers itself, driven by the real clients through Envoy
(make run's configuration): the `openai` SDK's models.list() and models.retrieve(), the
`anthropic` SDK's models.list() (pages too) and models.retrieve(), its
messages.count_tokens(), and LangChain's ChatAnthropic.get_num_tokens_from_messages(),
which calls count_tokens. Nothing reaches a provider; the access log says what was
answered."""

from __future__ import annotations

import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage

from helpers import access_log_lines_for, mock_requests_for, new_tag, openai_client


@pytest.fixture(scope="module")
def gw(make_run_gateway):
    return make_run_gateway


def anthropic_client(gw, tag, key="sk-demo-pro"):
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30,
                               default_query={"tag": tag})


# Public aliases, the auto alias, the chain's model and price-table models (make run's
# route section), each with who serves it.
EXPECTED_OWNERS = {
    "auto": "llm-gateway",
    "claude-sonnet": "anthropic",
    "fast": "local",
    "gpt-4o-mini": "chain",
    "gpt-4o": "mock",  # no OPENAI_API_KEY in the tests: the default provider
    "text-embedding-3-small": "mock",
    "claude-haiku-4-5": "mock",
}


def test_openai_sdk_lists_and_retrieves_models(gw, mock_provider):
    tag = new_tag()
    client = openai_client(gw, tag)
    models = list(client.models.list())
    by_id = {m.id: m for m in models}
    for model_id, owner in EXPECTED_OWNERS.items():
        assert by_id[model_id].owned_by == owner, model_id
        assert by_id[model_id].object == "model"
        assert isinstance(by_id[model_id].created, int)
    assert [m.id for m in models] == sorted(by_id)
    one = client.models.retrieve("text-embedding-3-small")
    assert (one.id, one.owned_by, one.object) == ("text-embedding-3-small", "mock", "model")
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"
    assert mock_requests_for(mock_provider, tag) == []
    line = access_log_for_path(gw, tag, "/v1/models?")
    assert (line["api"], line["status"], line["consumer"]) == ("models", 200, "demo-pro")


def access_log_for_path(gw, tag, prefix):
    """The first access-log line of `tag` whose path starts with `prefix`."""
    return next(l for l in access_log_lines_for(gw, tag) if l["path"].startswith(prefix))


def test_anthropic_sdk_lists_pages_and_retrieves_models(gw, mock_provider):
    tag = new_tag()
    client = anthropic_client(gw, tag)
    everything = [m.id for m in client.models.list()]
    assert "claude-sonnet" in everything and "claude-haiku-4-5" in everything
    assert everything == sorted(everything)
    first = client.models.list(limit=2)
    assert [m.id for m in first.data] == everything[:2]
    assert first.has_more is True
    assert first.first_id == everything[0] and first.last_id == everything[1]
    after = client.models.list(limit=3, after_id=everything[1])
    assert [m.id for m in after.data] == everything[2:5]
    before = client.models.list(limit=2, before_id=everything[4])
    assert [m.id for m in before.data] == everything[2:4]
    # The SDK's auto-pagination walks every page.
    assert [m.id for m in client.models.list(limit=4)] == everything
    one = client.models.retrieve("claude-sonnet")
    assert (one.id, one.type) == ("claude-sonnet", "model")
    assert one.display_name and one.created_at
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.body["error"]["type"] == "not_found_error"
    assert mock_requests_for(mock_provider, tag) == []


def test_anthropic_sdk_counts_tokens(gw, mock_provider):
    tag = new_tag()
    client = anthropic_client(gw, tag)
    raw = client.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-5", system="You are terse.",
        messages=[{"role": "user", "content": "How many tokens is this?"}],
        tools=[{"name": "get_weather", "description": "Weather of a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    count = raw.parse()
    short = client.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
    assert 0 < short.input_tokens < count.input_tokens
    assert raw.headers["x-llm-input-accuracy"] == "estimate"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.count_tokens(model="claude-sonnet-4-5", messages=[])
    assert "messages" in info.value.message
    assert mock_requests_for(mock_provider, tag) == []
    line = access_log_for_path(gw, tag, "/v1/messages/count_tokens?")
    assert line["api"] == "anthropic_count_tokens"
    assert int(line["input_tokens"]) == count.input_tokens


def test_anthropic_sdk_beta_count_tokens_and_models(gw, mock_provider):
    tag = new_tag()
    client = anthropic_client(gw, tag)
    count = client.beta.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}],
        betas=["token-efficient-tools-2025-02-19"])
    assert count.input_tokens > 0
    assert "claude-sonnet" in [m.id for m in client.beta.models.list()]
    assert mock_requests_for(mock_provider, tag) == []


def test_langchain_chat_anthropic_counts_tokens_through_the_gateway(gw, mock_provider):
    tag = new_tag()
    llm = ChatAnthropic(model="claude-sonnet-4-5", base_url=gw.url, api_key="sk-demo-pro",
                        max_retries=0, default_request_timeout=30,
                        default_headers={"x-test-tag": tag})
    n = llm.get_num_tokens_from_messages(
        [SystemMessage("You are terse."), HumanMessage("How many tokens is this?")])
    direct = anthropic.Anthropic(base_url=gw.url, api_key="sk-demo-pro").messages.count_tokens(
        model="claude-sonnet-4-5", system="You are terse.",
        messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert n == direct.input_tokens > 0
