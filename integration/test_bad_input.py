"""Bad requests on the LLM paths get a 4xx in the protocol's own envelope naming what is
wrong, never reach the provider, and do not hurt the worker's VM (one worker, a good
request after each bad one). Upstream errors and non-JSON answers pass through as they
are, and other paths are not touched."""

import json
import subprocess

import pytest
import requests

from helpers import (CHAT, MESSAGES, access_log_for, chat_body, messages_body, mock_requests_for, new_tag,
                     tagged)

MIB = 1024 * 1024
GOOD = {CHAT: chat_body("are you alive?"), MESSAGES: messages_body("are you alive?")}


@pytest.fixture(scope="module")
def gw(envoy_factory):
    """Its own Envoy with one worker: every request hits the same VM. The body limit is
    1 MiB here (the default is 32 MiB) so the 413 paths stay cheap to test."""
    envoy = envoy_factory.start(patch={"api": {"max_body_bytes": MIB}}, concurrency=1)
    yield envoy
    envoy.stop()


def with_(body, **changes):
    out = json.loads(json.dumps(body))
    for k, v in changes.items():
        if v is None:
            out.pop(k)
        else:
            out[k] = v
    return json.dumps(out).encode()


def big_body(path, size):
    """A valid request of exactly `size` bytes."""
    def render(n):
        return json.dumps({**GOOD[path], "messages": [{"role": "user", "content": "x" * n}]}).encode()
    data = render(size - len(render(0)))
    assert len(data) == size
    return data


def chunks_of(data, n=64 * 1024):
    """The body as a generator: requests sends it with transfer-encoding: chunked."""
    for i in range(0, len(data), n):
        yield data[i:i + n]


# (id, body bytes, status, text the message must contain, OpenAI `param`)
def cases(path):
    base = GOOD[path]
    anthropic = path == MESSAGES
    return [
        ("not_json", b"this is not json", 400, "JSON", None),
        ("json_array", b'[{"model": "gpt-4o"}]', 400, "must be a JSON object (got array)", None),
        ("model_number", with_(base, model=4), 400, "`model`", "model"),
        ("messages_string", with_(base, messages="hello"), 400, "`messages`", "messages"),
        ("stream_yes", with_(base, stream="yes"), 400, "`stream`", "stream"),
        ("content_number", with_(base, messages=[{"role": "user", "content": 42}]), 400,
         "`messages[0].content`", "messages[0].content"),
        ("bad_role", with_(base, messages=[{"role": "robot", "content": "hi"}]), 400,
         "`messages[0].role`", "messages[0].role"),
        ("missing_messages", with_(base, messages=None), 400, "`messages`", "messages"),
        ("invalid_utf8", json.dumps(base).encode().replace(b"alive", b"al\xff\xfeve"), 400, "UTF-8", None),
        ("empty", b"", 400, "empty", None),
    ] + ([("missing_max_tokens", with_(base, max_tokens=None), 400, "`max_tokens`", "max_tokens")]
         if anthropic else [])


def check_envelope(path, r, status, needle, param):
    assert r.status_code == status, f"{r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    if path == MESSAGES:
        assert set(body) == {"type", "error"} and body["type"] == "error", body
        assert set(body["error"]) == {"type", "message"}, body
        kind = "request_too_large" if status == 413 else "invalid_request_error"
        assert body["error"]["type"] == kind, body
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
        assert body["error"]["type"] == "invalid_request_error", body
        assert body["error"]["code"] == ("request_too_large" if status == 413 else "invalid_request_error"), body
        assert body["error"]["param"] == param, body
    assert needle in body["error"]["message"], body
    assert "x-llm-model" not in r.headers


def assert_still_serving(gw, path):
    r = requests.post(f"{gw.url}{path}", json=GOOD[path], timeout=30)
    assert r.status_code == 200, f"good request after a bad one: {r.status_code} {r.text[:300]}"
    assert r.headers["x-llm-provider"] == "mock"


def send(gw, path, tag, data, chunked=False):
    url = f"{gw.url}{tagged(path, tag)}"
    headers = {"content-type": "application/json"}
    return requests.post(url, data=chunks_of(data) if chunked else data, headers=headers, timeout=30)


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_bad_requests_are_refused_in_the_protocols_envelope(gw, mock_provider, path, chunked):
    failures = []
    for case_id, data, status, needle, param in cases(path):
        tag = new_tag()
        r = send(gw, path, tag, data, chunked=chunked)
        try:
            check_envelope(path, r, status, needle, param)
            assert mock_requests_for(mock_provider, tag) == [], "reached the provider"
        except AssertionError as e:
            failures.append(f"{case_id}: {e}")
        assert_still_serving(gw, path)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
@pytest.mark.parametrize("size", [MIB + 1, int(1.5 * MIB), 3 * MIB], ids=["1MiB+1", "1.5MiB", "3MiB"])
def test_bodies_over_the_limit_get_413(gw, mock_provider, path, chunked, size):
    tag = new_tag()
    r = send(gw, path, tag, big_body(path, size), chunked=chunked)
    check_envelope(path, r, 413, "larger than the gateway's limit of 1048576 bytes", None)
    assert mock_requests_for(mock_provider, tag) == []
    assert_still_serving(gw, path)


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_body_of_exactly_the_limit_is_accepted(gw, chunked):
    r = send(gw, CHAT, new_tag(), big_body(CHAT, MIB), chunked=chunked)
    assert r.status_code == 200, r.text[:300]


def curl(*args):
    out = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code} %{http_version}", *args],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    body, _, status = out.stdout.rpartition(b"\n")
    code, version = status.decode().split()
    return int(code), version, body


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
def test_expect_100_continue_and_http2(gw, tmp_path, path):
    good, big = tmp_path / "good.json", tmp_path / "big.json"
    good.write_bytes(json.dumps(GOOD[path]).encode())
    big.write_bytes(big_body(path, int(1.5 * MIB)))
    common = ["-H", "content-type: application/json", f"{gw.url}{path}"]
    for extra in (["-H", "Expect: 100-continue"], ["--http2-prior-knowledge"]):
        code, version, body = curl(*extra, "--data-binary", f"@{good}", *common)
        assert code == 200, (extra, body[:300])
        assert "are you alive?" in body.decode(), body[:300]
        if extra[0] != "--http2-prior-knowledge":
            # Over HTTP/2 Envoy answers 413 and then resets the unfinished upload with
            # RST_STREAM(NO_ERROR), as RFC 9113 8.1 allows; curl 7.88 drops the response
            # then ("Stream error in the HTTP/2 framing layer"), so it cannot check this.
            code, version, body = curl(*extra, "--data-binary", f"@{big}", *common)
            assert code == 413, (extra, body[:300])
            assert b"larger than the gateway's limit" in body, body[:300]
        code, version, body = curl(*extra, "--data-binary", "[1]", *common)
        assert code == 400 and b"must be a JSON object" in body, (extra, body[:300])
    assert version == "2"


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_upstream_dropping_the_connection(gw, path, stream):
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged(path, tag)}", json={**GOOD[path], "stream": stream},
                      headers={"x-mock-drop-connection": "true"}, timeout=30)
    assert r.status_code in (502, 503), r.status_code
    line = access_log_for(gw, tag)
    assert line["error"] is not None and line["model"] == GOOD[path]["model"], line
    assert_still_serving(gw, path)


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("content_type,status", [("text/html", 502), ("application/json", 200), ("text/plain", 200)])
def test_non_json_answers_pass_through_unchanged(gw, path, content_type, status):
    raw = "<html><body>upstream says no</body></html>" if content_type == "text/html" else "{not: json"
    mock = {"x-mock-raw-body": raw, "x-mock-content-type": content_type, "x-mock-status": str(status)}
    r = requests.post(f"{gw.url}{path}", json=GOOD[path], headers=mock, timeout=30)
    assert r.status_code == status
    assert r.content == raw.encode()
    assert r.headers["content-type"] == content_type
    assert_still_serving(gw, path)


@pytest.mark.parametrize("path", [CHAT, MESSAGES], ids=["openai", "anthropic"])
@pytest.mark.parametrize("status", [429, 500, 529])
def test_upstream_errors_pass_through_with_their_bodies(gw, mock_provider, path, status):
    tag = new_tag()
    r = requests.post(f"{gw.url}{tagged(path, tag)}", json=GOOD[path], headers={"x-mock-status": str(status)},
                      timeout=30)
    assert r.status_code == status
    body = r.json()
    assert body["error"]["message"] == f"mock error {status} (x-mock-status)", body
    if path == MESSAGES:
        assert body["type"] == "error"
    if status == 429:
        assert r.headers.get("retry-after") == "1"
    assert len(mock_requests_for(mock_provider, tag)) == 1  # sent once: no retry on the LLM path
    assert_still_serving(gw, path)


def test_other_paths_are_answered_or_refused_by_the_gateway(gw, mock_provider):
    """No spelling of a path skips the module: the model list is the gateway's own, any
    other path gets 404 (api.unknown_paths: reject) and never reaches a provider, and an
    LLM path with another method gets 405."""
    tag = new_tag()
    r = requests.get(f"{gw.url}{tagged('/v1/models', tag)}", timeout=30)
    assert r.status_code == 200 and r.json()["object"] == "list", r.text
    assert "gpt-4o" in [m["id"] for m in r.json()["data"]]
    assert mock_requests_for(mock_provider, tag) == []
    tag = new_tag()
    odd = b"\xff not json, not checked \x00"
    for path in ("/other", "/v1//chat//completions/x", "/v1/chat/completions/../../other"):
        r = requests.post(f"{gw.url}{tagged(path, tag)}", data=odd, timeout=30,
                          headers={"content-type": "application/octet-stream", "x-llm-provider": "mock"})
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "not_found"
        assert not any(h.startswith("x-llm-") for h in r.headers)
    assert mock_requests_for(mock_provider, tag) == []
    r = requests.get(f"{gw.url}{CHAT}", timeout=30)
    assert r.status_code == 405 and "x-llm-model" not in r.headers
    r = requests.get(f"{gw.url}/v1/messages", headers={"anthropic-version": "2023-06-01"}, timeout=30)
    assert r.status_code == 405 and r.json()["type"] == "error"


def test_a_normalised_spelling_of_an_llm_path_is_an_llm_request(gw):
    for path in ("/v1//chat/completions", "/v1/./chat/completions", "/v1/x/../chat/completions"):
        r = requests.post(f"{gw.url}{path}", json={"model": "gpt-4o", "messages": [
            {"role": "user", "content": "normalised"}]}, timeout=30)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["x-llm-model"] == "gpt-4o"
    r = requests.post(f"{gw.url}/v1/chat%2Fcompletions", json={}, timeout=30)
    assert r.status_code == 400  # Envoy refuses an escaped slash


@pytest.mark.parametrize("tokens", [400_000, 900_000], ids=["2.4MB", "5.4MB"])
def test_large_json_answers_pass_through(gw, tokens):
    """A long plain answer is the provider's to give: the filter holds the response
    headers to add usage, but must not turn an answer bigger than Envoy's buffer (4 MiB
    per stream here) into a 500. Up to its own read limit it meters it."""
    r = requests.post(f"{gw.url}{CHAT}", json=GOOD[CHAT], headers={"x-mock-output-tokens": str(tokens)},
                      timeout=60)
    assert r.status_code == 200, f"{r.status_code} {r.text[:200]!r} ({len(r.content)} bytes)"
    body = r.json()
    assert body["usage"]["completion_tokens"] == tokens
    assert len(body["choices"][0]["message"]["content"]) == 6 * tokens - 1  # "hello" + " hello" * (n-1)
    assert r.headers["x-llm-model"] == "gpt-4o"
    if len(r.content) <= 4 * MIB:
        assert r.headers["x-llm-output-tokens"] == str(tokens)
    assert_still_serving(gw, CHAT)
