"""JWT identity end to end: Envoy's own `jwt_authn` filter (before the Wasm filter)
verifies a token against a local JWKS minted at test time and puts the payload in dynamic
metadata (`payload_in_metadata`); the gateway's `identity.jwt` reads the consumer and
group claims from there. A token that fails verification gives no identity (401 from the
gateway), and virtual keys keep working in the same Envoy because the jwt_authn rule
allows missing or failed tokens."""

import base64
import hashlib
import json
import time

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import hcm_of, plugin_config_of, set_plugin_config
from helpers import CHAT, access_log_for, chat_body, mock_requests_for, new_tag, tagged

ISSUER = "https://issuer.llm-gateway.test"
KID = "test-key-1"
ALICE_KEY = "sk-alice-jwt-test-0001"


def b64u(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwks_of(private_key) -> str:
    pub = private_key.public_key().public_numbers()
    return json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
                                 "n": b64u(pub.n), "e": b64u(pub.e)}]})


@pytest.fixture(scope="module")
def keys():
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return good, other


def mint(private_key, **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "iat": now, "exp": now + 600, **claims}
    return pyjwt.encode(payload, private_key, algorithm="RS256", headers={"kid": KID})


@pytest.fixture(scope="module")
def gw(envoy_factory, keys):
    good, _ = keys
    cfg = envoy_factory.config()
    plugin = plugin_config_of(cfg)
    plugin.pop("limits", None)
    plugin["identity"] = {
        "required": True,
        "consumers": [{"id": "alice", "group": "free", "models": ["gpt-4o-mini"],
                       "key_sha256": hashlib.sha256(ALICE_KEY.encode()).hexdigest()}],
        "jwt": {"payload_key": "jwt_payload", "consumer_claim": "sub", "group_claim": "tier"},
    }
    set_plugin_config(cfg, plugin)
    jwt_filter = {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"demo": {
                "issuer": ISSUER,
                "local_jwks": {"inline_string": jwks_of(good)},
                "payload_in_metadata": "jwt_payload",
                "forward": False,
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "demo"}, {"allow_missing_or_failed": {}}]}}}],
        },
    }
    hcm_of(cfg)["http_filters"].insert(0, jwt_filter)
    envoy = envoy_factory.start(envoy_config=cfg, log_level="info")
    yield envoy
    envoy.stop()


def post(gw, headers, model="gpt-4o"):
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged(CHAT, tag)}", json=chat_body("who am I?", model=model),
                      headers=headers, timeout=30)
    return tag, r


def test_valid_token_identifies_consumer_and_group(gw, keys, mock_provider):
    token = mint(keys[0], sub="carol", tier="pro")
    tag, r = post(gw, {"authorization": f"Bearer {token}"})
    assert r.status_code == 200, f"{r.status_code} {r.text[:400]}\n{gw.log()[-3000:]}"
    line = access_log_for(gw, tag)
    assert (line.get("consumer"), line.get("consumer_group")) == ("carol", "pro"), line
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "authorization" not in seen["headers"], "the token went upstream"
    assert token not in json.dumps(seen)


def test_token_naming_a_configured_consumer_gets_its_model_list(gw, keys):
    token = mint(keys[0], sub="alice")
    _, r = post(gw, {"authorization": f"Bearer {token}"}, model="gpt-4o")
    assert r.status_code == 403, r.text[:300]
    assert r.json()["error"]["code"] == "model_not_allowed"
    tag, r = post(gw, {"authorization": f"Bearer {token}"}, model="gpt-4o-mini")
    assert r.status_code == 200, r.text[:300]
    line = access_log_for(gw, tag)
    # No group claim in the token: the configured consumer's group.
    assert (line.get("consumer"), line.get("consumer_group")) == ("alice", "free"), line


@pytest.mark.parametrize("case", ["expired", "wrong-signature", "wrong-issuer"])
def test_unverified_token_gives_no_identity(gw, keys, mock_provider, case):
    good, other = keys
    if case == "expired":
        token = mint(good, sub="carol", tier="pro", iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    elif case == "wrong-signature":
        token = mint(other, sub="carol", tier="pro")
    else:
        token = mint(good, sub="carol", tier="pro", iss="https://evil.test")
    tag, r = post(gw, {"authorization": f"Bearer {token}"})
    assert r.status_code == 401, f"{case}: {r.status_code} {r.text[:300]}"
    assert r.json()["error"]["code"] == "invalid_api_key"
    assert token not in r.text
    assert mock_requests_for(mock_provider, tag) == []


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_virtual_key_still_works_next_to_jwt(gw, mock_provider, header):
    value = f"Bearer {ALICE_KEY}" if header == "authorization" else ALICE_KEY
    tag, r = post(gw, {header: value}, model="gpt-4o-mini")
    assert r.status_code == 200, f"virtual key in {header}: {r.status_code} {r.text[:300]}"
    line = access_log_for(gw, tag)
    assert (line.get("consumer"), line.get("consumer_group")) == ("alice", "free"), line
    (seen,) = mock_requests_for(mock_provider, tag)
    assert "authorization" not in seen["headers"] and "x-api-key" not in seen["headers"]


def test_no_token_and_no_key_gets_401(gw):
    _, r = post(gw, {})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
