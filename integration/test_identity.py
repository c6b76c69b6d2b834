"""The `identity` stage on a real Envoy: virtual API keys (stored as SHA-256) sent as
`Authorization: Bearer` or `x-api-key`; unknown, missing and malformed keys get 401 in the
protocol's envelope (without echoing the key); a model outside the consumer's list gets
403; `required: false` lets anonymous callers through; a trusted header decides identity
only when the operator configured it; the client's credential never reaches the provider,
and a configured provider key replaces it. The access log names the consumer and group."""

import copy
import hashlib
import json

import anthropic
import openai
import pytest
import requests

from conftest import cluster_of, plugin_config_of
from helpers import CHAT, MESSAGES, access_log_for, chat_body, messages_body, mock_requests_for, new_tag, tagged

ALICE_KEY = "sk-alice-0123456789abcdef"
BOB_KEY = "sk-bob-fedcba9876543210"
OPENAI_KEY = "sk-provider-openai-999"
ANTHROPIC_KEY = "sk-ant-provider-888"


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


CONSUMERS = [
    {"id": "alice", "group": "free", "key_sha256": sha(ALICE_KEY), "models": ["gpt-4o-mini"]},
    {"id": "bob", "group": "pro", "key_sha256": sha(BOB_KEY)},
]


def plugin(envoy_factory, identity: dict) -> dict:
    """The shipped plugin configuration with only this identity section (no limits)."""
    base = plugin_config_of(envoy_factory.config())
    base.pop("identity", None)
    base.pop("limits", None)
    base["identity"] = identity
    return base


@pytest.fixture(scope="module")
def gw(envoy_factory):
    envoy = envoy_factory.start(config=plugin(envoy_factory, {"consumers": CONSUMERS}))
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def open_gw(envoy_factory):
    """required: false, no trusted header."""
    envoy = envoy_factory.start(config=plugin(envoy_factory, {"required": False, "consumers": CONSUMERS}))
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def trusted_gw(envoy_factory):
    envoy = envoy_factory.start(config=plugin(envoy_factory, {
        "consumers": CONSUMERS,
        "trusted_header": {"consumer": "x-consumer-id", "group": "x-consumer-group"},
    }))
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def keyed_gw(envoy_factory):
    """Provider keys configured; the openai and anthropic clusters point at the mock."""
    cfg = envoy_factory.config(config=plugin(envoy_factory, {"consumers": CONSUMERS}))
    clusters = cfg["static_resources"]["clusters"]
    for name in ("openai", "anthropic"):
        to_mock = copy.deepcopy(cluster_of(cfg, "mock"))
        to_mock["name"] = to_mock["load_assignment"]["cluster_name"] = name
        clusters[clusters.index(cluster_of(cfg, name))] = to_mock
    envoy = envoy_factory.start(envoy_config=cfg, env={"OPENAI_API_KEY": OPENAI_KEY,
                                                       "ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    yield envoy
    envoy.stop()


def post(gw, path, body, headers=None):
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged(path, tag)}", json=body, headers=headers or {}, timeout=30)
    return tag, r


def assert_openai_401(r, secret=None):
    assert r.status_code == 401, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] == "invalid_api_key", err
    assert set(err) >= {"message", "type", "param", "code"}, err
    if secret:
        assert secret not in r.text, f"the key is echoed in the body: {r.text[:400]}"
        assert secret not in json.dumps(dict(r.headers)), "the key is echoed in a header"


# ----------------------------------------------------------------- virtual keys


def test_bearer_key_identifies_the_consumer(gw, mock_provider):
    tag, r = post(gw, CHAT, chat_body("hi alice", model="gpt-4o-mini"), {"authorization": f"Bearer {ALICE_KEY}"})
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(gw, tag)
    assert (line.get("consumer"), line.get("consumer_group")) == ("alice", "free"), line
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "authorization" not in seen["headers"] and "x-api-key" not in seen["headers"], seen["headers"]


def test_x_api_key_identifies_the_consumer(gw, mock_provider):
    tag, r = post(gw, CHAT, chat_body("hi bob"), {"x-api-key": BOB_KEY})
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(gw, tag)
    assert (line.get("consumer"), line.get("consumer_group")) == ("bob", "pro"), line
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "authorization" not in seen["headers"] and "x-api-key" not in seen["headers"], seen["headers"]


def test_bearer_scheme_is_case_insensitive(gw):
    _, r = post(gw, CHAT, chat_body("hi"), {"authorization": f"bearer {BOB_KEY}"})
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("headers,secret", [
    ({"authorization": "Bearer sk-unknown-key-123456"}, "sk-unknown-key-123456"),
    ({"x-api-key": "sk-unknown-key-654321"}, "sk-unknown-key-654321"),
    ({}, None),
    ({"authorization": "Basic " + "YWxpY2U6c2VjcmV0cGFzcw=="}, "YWxpY2U6c2VjcmV0cGFzcw=="),
    ({"authorization": "Bearer " + "k" * 300}, "k" * 300),
    ({"x-api-key": "x" * 300}, "x" * 300),
    ({"authorization": "Bearer "}, None),
    # A valid key's hash in place of the key is not the key.
    ({"authorization": f"Bearer {sha(ALICE_KEY)}"}, sha(ALICE_KEY)),
], ids=["unknown-bearer", "unknown-x-api-key", "missing", "basic", "300-char-bearer", "300-char-x-api-key",
        "empty-bearer", "hash-as-key"])
def test_bad_credentials_get_401_and_reach_no_provider(gw, mock_provider, headers, secret):
    tag, r = post(gw, CHAT, chat_body("let me in"), headers)
    assert_openai_401(r, secret)
    assert mock_requests_for(mock_provider, tag) == [], "a refused request reached the provider"
    line = access_log_for(gw, tag)
    assert line["status"] == 401
    assert line.get("consumer") is None, line
    if secret:
        assert secret not in json.dumps(line), "the key is in the access log"
        assert secret not in gw.log(), "the key is in Envoy's log"


def test_bad_key_on_the_anthropic_api_gets_authentication_error(gw, mock_provider):
    tag, r = post(gw, MESSAGES, messages_body("let me in"), {"x-api-key": "sk-ant-nobody-42",
                                                               "anthropic-version": "2023-06-01"})
    assert r.status_code == 401, r.text[:300]
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body
    assert "sk-ant-nobody-42" not in r.text
    assert mock_requests_for(mock_provider, tag) == []


def test_model_outside_the_consumers_list_gets_403(gw, mock_provider):
    tag, r = post(gw, CHAT, chat_body("upgrade me", model="gpt-4o"), {"authorization": f"Bearer {ALICE_KEY}"})
    assert r.status_code == 403, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == "model_not_allowed", err
    assert mock_requests_for(mock_provider, tag) == []
    # The same model is fine for a consumer without a model list.
    _, r = post(gw, CHAT, chat_body("upgrade me", model="gpt-4o"), {"authorization": f"Bearer {BOB_KEY}"})
    assert r.status_code == 200, r.text[:300]


def test_model_not_allowed_on_the_anthropic_api_is_a_permission_error(gw):
    _, r = post(gw, MESSAGES, messages_body("hi"), {"x-api-key": ALICE_KEY})
    assert r.status_code == 403, r.text[:300]
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error", body


def test_trusted_header_is_ignored_unless_configured(gw, open_gw, mock_provider):
    forged = {"x-consumer-id": "bob", "x-consumer-group": "pro"}
    _, r = post(gw, CHAT, chat_body("I am bob"), forged)
    assert_openai_401(r)
    tag, r = post(open_gw, CHAT, chat_body("I am bob"), forged)
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(open_gw, tag)
    assert line.get("consumer") is None and line.get("consumer_group") is None, line


def test_trusted_header_decides_identity_when_configured(trusted_gw):
    tag, r = post(trusted_gw, CHAT, chat_body("from the edge"), {"x-consumer-id": "dave", "x-consumer-group": "team-a"})
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(trusted_gw, tag)
    assert (line.get("consumer"), line.get("consumer_group")) == ("dave", "team-a"), line
    # A configured consumer named by the header keeps its own model list.
    _, r = post(trusted_gw, CHAT, chat_body("x", model="gpt-4o"), {"x-consumer-id": "alice"})
    assert r.status_code == 403, r.text[:300]


# ----------------------------------------------------------------- required: false


def test_anonymous_callers_pass_when_not_required(open_gw, mock_provider):
    tag, r = post(open_gw, CHAT, chat_body("anyone there?"))
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(open_gw, tag)
    assert line.get("consumer") is None, line
    assert len(mock_requests_for(mock_provider, tag)) == 1
    # A known key still identifies, and its model list still applies.
    tag, r = post(open_gw, CHAT, chat_body("hi", model="gpt-4o-mini"), {"x-api-key": ALICE_KEY})
    assert r.status_code == 200
    assert access_log_for(open_gw, tag).get("consumer") == "alice"
    _, r = post(open_gw, CHAT, chat_body("hi", model="gpt-4o"), {"x-api-key": ALICE_KEY})
    assert r.status_code == 403, r.text[:300]


# ----------------------------------------------------------------- provider keys


def test_provider_key_replaces_the_clients_key(keyed_gw, mock_provider):
    tag, r = post(keyed_gw, CHAT, chat_body("to openai", model="gpt-4o"), {"authorization": f"Bearer {BOB_KEY}"})
    assert r.status_code == 200, r.text[:300]
    (seen,) = mock_requests_for(mock_provider, tag)
    h = seen["headers"]
    assert h.get("authorization") == f"Bearer {OPENAI_KEY}", h
    assert "x-api-key" not in h
    assert BOB_KEY not in json.dumps(seen), "the client's key reached the provider"
    for secret in (OPENAI_KEY, BOB_KEY):
        assert secret not in r.text and secret not in json.dumps(dict(r.headers))
        assert secret not in json.dumps(access_log_for(keyed_gw, tag))

    tag, r = post(keyed_gw, MESSAGES, messages_body("to anthropic", model="claude-haiku-4-5"),
                  {"x-api-key": BOB_KEY, "anthropic-version": "2023-06-01"})
    assert r.status_code == 200, r.text[:300]
    (seen,) = mock_requests_for(mock_provider, tag)
    h = seen["headers"]
    assert h.get("x-api-key") == ANTHROPIC_KEY, h
    assert "authorization" not in h
    assert BOB_KEY not in json.dumps(seen)


def test_without_a_provider_key_no_credential_goes_upstream(gw, mock_provider):
    # Both headers at once: the key identifies, and neither header goes along.
    tag, r = post(gw, CHAT, chat_body("x", model="llama3.1-8b"),
                  {"authorization": f"Bearer {BOB_KEY}", "x-api-key": BOB_KEY})
    assert r.status_code == 200, r.text[:300]
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "authorization" not in seen["headers"] and "x-api-key" not in seen["headers"], seen["headers"]
    assert BOB_KEY not in json.dumps(seen)
    assert BOB_KEY not in gw.log()


# ----------------------------------------------------------------- SDKs


def test_openai_sdk_with_a_bad_key_gets_authentication_error(gw):
    bad = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-not-a-consumer", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"
    assert "sk-not-a-consumer" not in str(e.value.body)
    good = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=BOB_KEY, max_retries=0, timeout=30)
    out = good.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "hi"


def test_anthropic_sdk_with_keys(gw):
    bad = anthropic.Anthropic(base_url=gw.url, api_key="sk-ant-nobody", max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    good = anthropic.Anthropic(base_url=gw.url, api_key=BOB_KEY, max_retries=0, timeout=30)
    msg = good.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "hi"
