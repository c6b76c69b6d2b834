"""Provider routing and key injection with the shipped plugin configuration: with
OPENAI_API_KEY and ANTHROPIC_API_KEY in Envoy's environment, gpt-* goes to the `openai`
route with `authorization: Bearer <key>` and claude-* to the `anthropic` route with
`x-api-key`; other models go to the default provider without a key. Keys never reach the
client, the access log, Envoy's log or the admin config dump, and a client cannot pick
the provider route with its own `x-llm-provider` header.

The `openai` and `anthropic` clusters point at the mock here (plain HTTP); the route's
`host_rewrite_literal` still shows which route a request took."""

import json

import pytest
import requests

from helpers import (CHAT, MESSAGES, access_log_for, chat_body, messages_body, mock_requests_for, new_tag,
                     providers_at_mock, tagged)

OPENAI_KEY = "sk-test-123"
ANTHROPIC_KEY = "sk-ant-test-456"
# The demo consumer key of envoy/envoy.yaml: identity strips it before the provider.
CLIENT_AUTH = "Bearer sk-demo-pro"


@pytest.fixture(scope="module")
def gw(envoy_factory):
    # /other is allowed through, to show what the gateway drops on a path it lets go.
    cfg = providers_at_mock(envoy_factory.config(patch={"api": {"allow_paths": ["/other"]}}),
                            ("openai", "anthropic"))
    envoy = envoy_factory.start(envoy_config=cfg, env={"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    yield envoy
    envoy.stop()


def call(gw, mock, path, body, headers=None):
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged(path, tag)}", json=body, timeout=30,
                      headers={"authorization": CLIENT_AUTH, **(headers or {})})
    seen = mock_requests_for(mock, tag)
    assert len(seen) == 1, f"{len(seen)} upstream requests for one call: {r.status_code} {r.text[:200]}"
    return tag, r, seen[0]["headers"]


def assert_no_secret(gw, tag, r):
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in json.dumps(dict(r.headers)), "key in response headers"
        assert key not in r.text, "key in response body"
        assert key not in json.dumps(access_log_for(gw, tag)), "key in the access log"


def test_openai_models_get_the_openai_key(gw, mock_provider):
    for model in ("gpt-4o", "o3-mini"):
        tag, r, upstream = call(gw, mock_provider, CHAT, chat_body("route me", model=model))
        assert r.status_code == 200, r.text
        assert upstream["authorization"] == f"Bearer {OPENAI_KEY}", upstream
        assert upstream["host"] == "api.openai.com", upstream
        assert upstream["x-llm-provider"] == "openai"
        assert "x-api-key" not in upstream
        assert r.headers["x-llm-provider"] == "openai"
        assert access_log_for(gw, tag)["upstream_cluster"] == "openai"
        assert_no_secret(gw, tag, r)


def test_openai_stream_gets_the_key_and_hides_it(gw, mock_provider):
    tag, r, upstream = call(gw, mock_provider, CHAT, chat_body("stream me", model="gpt-4.1-mini", stream=True))
    assert r.status_code == 200 and "data: [DONE]" in r.text
    assert upstream["authorization"] == f"Bearer {OPENAI_KEY}"
    assert_no_secret(gw, tag, r)


def test_anthropic_models_get_the_anthropic_key(gw, mock_provider):
    tag, r, upstream = call(gw, mock_provider, MESSAGES, messages_body("route me", model="claude-haiku-4-5"),
                            headers={"x-api-key": "sk-ant-client-own", "anthropic-version": "2023-06-01"})
    assert r.status_code == 200, r.text
    assert upstream["x-api-key"] == ANTHROPIC_KEY, upstream
    assert "authorization" not in upstream, "the client's own credential must not go along"
    assert upstream["host"] == "api.anthropic.com"
    assert upstream["anthropic-version"] == "2023-06-01"
    assert r.headers["x-llm-provider"] == "anthropic"
    assert_no_secret(gw, tag, r)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_self_hosted_models_go_to_the_local_provider(gw, mock_provider, stream):
    """llama*, qwen*, mistral* go to the `local` cluster (a vLLM or Ollama server in
    production, OpenAI-compatible, no key); the mock plays it here."""
    tag, r, upstream = call(gw, mock_provider, CHAT, chat_body("hello llama", model="llama3.1-8b", stream=stream))
    assert r.status_code == 200, r.text
    assert ("data: [DONE]" in r.text) if stream else r.json()["choices"][0]["message"]["content"] == "hello llama"
    assert r.headers["x-llm-provider"] == "local" and upstream["x-llm-provider"] == "local"
    assert "authorization" not in upstream and "x-api-key" not in upstream
    line = access_log_for(gw, tag)
    assert (line["upstream_cluster"], line["provider"], line["model"]) == ("local", "local", "llama3.1-8b"), line
    assert line["usage_source"] == "provider" and int(line["output_tokens"]) > 0, line


@pytest.mark.parametrize("public, provider, upstream", [
    ("claude-sonnet", "anthropic", "claude-sonnet-4-5"), ("fast", "local", "llama3.2")])
def test_aliases_send_the_providers_own_model_name(gw, mock_provider, public, provider, upstream):
    """route.aliases in envoy.yaml: a public name -> a provider and the name it knows;
    that name is what is sent, reported and accounted."""
    tag, r, _ = call(gw, mock_provider, CHAT, chat_body("alias me", model=public))
    assert r.status_code == 200, r.text
    (seen,) = mock_requests_for(mock_provider, tag)
    assert json.loads(seen["body"])["model"] == upstream
    assert (r.headers["x-llm-provider"], r.headers["x-llm-model"]) == (provider, upstream)
    assert r.headers["x-llm-route-reason"] == f"alias={public} provider={provider}"
    line = access_log_for(gw, tag)
    assert (line["model"], line["provider"]) == (upstream, provider), line


def test_unclaimed_models_go_to_the_default_provider_without_a_key(gw, mock_provider):
    tag, r, upstream = call(gw, mock_provider, CHAT, chat_body("who am I?", model="my-finetune-7b"))
    assert r.status_code == 200
    assert r.headers["x-llm-provider"] == "mock"
    assert upstream["x-llm-provider"] == "mock"
    assert "authorization" not in upstream, "the client's gateway key must not reach a provider"
    assert upstream["host"] != "api.openai.com"
    assert_no_secret(gw, tag, r)


def test_client_cannot_choose_the_provider_route(gw, mock_provider):
    # An unclaimed model with a forged header must not reach the openai route (nor its key).
    tag, r, upstream = call(gw, mock_provider, CHAT, chat_body("sneak", model="my-finetune-7b"),
                            headers={"x-llm-provider": "openai"})
    assert upstream["x-llm-provider"] == "mock"
    assert upstream["host"] != "api.openai.com"
    assert "authorization" not in upstream
    assert r.headers["x-llm-provider"] == "mock"
    assert access_log_for(gw, tag)["upstream_cluster"] == "mock"
    # A gpt model with a forged header keeps its own route and key.
    _, r, upstream = call(gw, mock_provider, CHAT, chat_body("sneak", model="gpt-4o"),
                          headers={"x-llm-provider": "anthropic"})
    assert (upstream["x-llm-provider"], upstream["host"]) == ("openai", "api.openai.com")
    assert "x-api-key" not in upstream
    # On a path that is not an LLM path the forged header is dropped too.
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged('/other', tag)}", data=b"x", timeout=30,
                      headers={"x-llm-provider": "openai"})
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "x-llm-provider" not in seen["headers"] and seen["headers"]["host"] != "api.openai.com", seen
    assert "authorization" not in seen["headers"]


def test_keys_are_not_in_envoys_log_or_config_dump(gw, mock_provider):
    call(gw, mock_provider, CHAT, chat_body("one more", model="gpt-4o"))
    dump = requests.get(f"{gw.admin_url}/config_dump", timeout=10).text
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in gw.log(), "key in Envoy's log"
        assert key not in dump, "key in the admin config dump"
