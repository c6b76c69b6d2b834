"""Usage at the edges, through `make run`'s stack: a stream whose client said
`include_usage: false` (or nothing) is metered but carries no usage chunk; a failed
request without usage costs 0; a client that prefers gzip gets compressed answers that
were metered (the gateway asks providers for identity, Envoy's compressor compresses)."""

import gzip
import json
import zlib

import openai
import pytest

from helpers import (CHAT, access_log_for, as_int, chat_body, mock_requests_for,
                     new_tag, raw_post, sse_data, tagged)


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0)


@pytest.mark.parametrize("options", [{"include_usage": False}, None], ids=["false", "absent"])
def test_a_stream_without_include_usage_is_metered_but_carries_no_usage_chunk(
        client, gateway, mock_provider, options):
    tag = new_tag()
    extra = {"stream_options": options} if options is not None else {}
    chunks = list(client.chat.completions.create(
        model="gpt-4o", stream=True, extra_query={"tag": tag},
        messages=[{"role": "user", "content": "count my tokens"}], **extra))
    assert chunks and all(c.choices for c in chunks), "no `choices: []` chunk"
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "count my tokens"
    (seen,) = mock_requests_for(mock_provider, tag)
    assert json.loads(seen["body"])["stream_options"] == {"include_usage": True}
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "provider" and as_int(line["output_tokens"]) > 0, line
    assert float(line["cost_usd"]) > 0, line


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_request_without_usage_costs_nothing(client, gateway, status):
    tag = new_tag()
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(
            model="gpt-4o", extra_query={"tag": tag}, extra_headers={"x-mock-status": str(status)},
            messages=[{"role": "user", "content": "this will fail"}])
    assert e.value.status_code == status
    assert e.value.response.headers["x-llm-cost-usd"] == "0"
    line = access_log_for(gateway, tag)
    assert (line["cost_usd"], line["usage_source"], line["input_tokens"]) == ("0", "none", "0"), line
    assert line["error"] == ("upstream_5xx" if status == 500 else "upstream_4xx"), line


def test_a_gzip_client_gets_a_compressed_metered_answer(gateway, mock_provider):
    tag = new_tag()
    body = chat_body("please compress this answer " * 20)
    r = raw_post(gateway.url, tagged(CHAT, tag), json.dumps(body).encode(),
                 {"accept-encoding": "gzip"})
    assert r.status == 200
    assert r.headers.get("content-encoding") == "gzip", r.headers
    answer = json.loads(gzip.decompress(r.body))
    assert answer["choices"][0]["message"]["content"] == body["messages"][0]["content"]
    assert r.headers["x-llm-output-tokens"] == str(answer["usage"]["completion_tokens"])
    (seen,) = mock_requests_for(mock_provider, tag)
    assert seen["headers"]["accept-encoding"] == "identity"
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "provider" and line["error"] is None, line


def test_a_gzip_client_gets_a_compressed_metered_stream(gateway, mock_provider):
    tag = new_tag()
    content = "stream and compress " * 20
    body = chat_body(content, stream=True, stream_options={"include_usage": True})
    r = raw_post(gateway.url, tagged(CHAT, tag), json.dumps(body).encode(),
                 {"accept-encoding": "gzip"})
    assert r.status == 200 and r.complete
    assert r.headers.get("content-encoding") == "gzip", r.headers
    events = sse_data(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(r.body))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == content
    usage = chunks[-1]["usage"]
    line = access_log_for(gateway, tag)
    assert as_int(line["output_tokens"]) == usage["completion_tokens"], line
    assert line["usage_source"] == "provider" and line["error"] is None, line
