"""SSE through Envoy and the filter: events arrive as they are sent, usage is read from
events split across network reads, a stream cut mid-event is metered as far as it went
(and the gateway keeps serving), and a stream without usage is counted from its content."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest
import requests

from helpers import (
    CHAT,
    access_log_for,
    as_int,
    chat_body,
    encoding_for,
    new_tag,
    ntok,
    messages_body,
    openai_stream_text,
    raw_post,
    reference_request_tokens,
    sse_data,
    tagged,
)


def stream(gateway, body, mock_headers, tag):
    return raw_post(gateway.url, tagged(CHAT, tag), json.dumps({**body, "stream": True}).encode(),
                    mock_headers)


def test_events_arrive_incrementally(gateway):
    tag = new_tag()
    body = chat_body("one two three four five")
    r = stream(gateway, body, {"x-mock-chunk-delay-ms": "300", "x-mock-stream-chunks": "5"}, tag)
    assert r.status == 200 and r.complete, (r.status, r.body[-200:])
    text, chunks = openai_stream_text(r.body)
    assert text == "one two three four five"
    first_content = json.dumps({"content": chunks[1]["choices"][0]["delta"]["content"]},
                               separators=(",", ":")).encode()
    t_first, t_done = r.arrival_of(first_content), r.arrival_of(b"data: [DONE]")
    # The mock sends 4 more content events, the finish event, the usage event and [DONE],
    # 300 ms apart, after the first content: buffered, they would all arrive together.
    assert t_done - t_first >= 1.2, f"first content at {t_first:.3f}s, [DONE] at {t_done:.3f}s"
    # The content events came in separate reads, in order (a loaded machine may merge two).
    times = [r.arrival_of(json.dumps({"content": c["choices"][0]["delta"]["content"]},
                                     separators=(",", ":")).encode()) for c in chunks[1:6]]
    assert times == sorted(times) and len(set(times)) >= 3, times


@pytest.mark.parametrize("write_bytes", ["1", "7", "100"])
def test_usage_is_read_from_events_split_across_reads(gateway, write_bytes):
    tag = new_tag()
    body = chat_body("split me into many tiny network writes, please", model="gpt-4o-mini",
                     stream_options={"include_usage": True})
    r = stream(gateway, body, {"x-mock-write-bytes": write_bytes, "x-mock-chunk-delay-ms": "5"}, tag)
    assert r.status == 200 and r.complete
    text, chunks = openai_stream_text(r.body)
    assert text == body["messages"][0]["content"]
    usage = chunks[-1]["usage"]  # the client asked for it (stream_options.include_usage)
    assert chunks[-1]["choices"] == []
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "provider", line
    assert as_int(line["input_tokens"]) == usage["prompt_tokens"], line
    assert as_int(line["output_tokens"]) == usage["completion_tokens"], line
    assert usage["prompt_tokens"] == reference_request_tokens("gpt-4o-mini", body["messages"])
    assert line["error"] is None, line
    assert r.headers["x-llm-input-tokens"] == str(usage["prompt_tokens"])


def test_stream_cut_mid_event_is_metered_as_far_as_it_went(gateway):
    content = "alpha bravo charlie delta echo foxtrot golf hotel"
    body = chat_body(content, model="gpt-4o")
    mock = {"x-mock-stream-chunks": "8", "x-mock-content": content}
    # A whole stream first, to find where its fifth event (the fourth content) lies.
    whole = stream(gateway, body, mock, new_tag())
    events = whole.body.split(b"\n\n")
    start = sum(len(e) + 2 for e in events[:4])
    cut = start + len(events[4]) // 2  # inside the JSON of the fourth content event
    tag = new_tag()
    r = stream(gateway, body, {**mock, "x-mock-cut-after-bytes": str(cut)}, tag)
    assert r.status == 200
    # The provider's connection broke mid-event: Envoy resets the client's stream (no
    # last chunk), and the gateway passed whole events only, never half of one.
    assert not r.complete, "the client must see that the stream did not end"
    assert len(r.body) == start and r.body.endswith(b"\n\n"), f"client got {len(r.body)} bytes, {start} expected: {r.body[-120:]!r}"
    got_text, _ = openai_stream_text(r.body)
    first_three = "".join(json.loads(d)["choices"][0]["delta"]["content"] for d in sse_data(whole.body)[1:4])
    assert got_text == first_three
    line = access_log_for(gateway, tag)
    assert line["error"] == "stream_cut", line
    assert line["usage_source"] == "counted", line
    assert as_int(line["output_tokens"]) == ntok(encoding_for("gpt-4o"), first_three), line
    assert as_int(line["input_tokens"]) == reference_request_tokens("gpt-4o", body["messages"]), line
    # The gateway still serves.
    after = requests.post(f"{gateway.url}{CHAT}", json=chat_body("still alive?"), timeout=30)
    assert after.status_code == 200, after.text
    assert after.json()["choices"][0]["message"]["content"] == "still alive?"


def test_stream_without_usage_is_counted_from_content(gateway):
    tag = new_tag()
    content = "Counted by the gateway: 東京 🚀 <|endoftext|> 12345"
    body = chat_body(content, model="gpt-4")
    r = stream(gateway, body, {"x-mock-omit-usage": "true"}, tag)
    assert r.status == 200 and r.complete
    text, chunks = openai_stream_text(r.body)
    assert text == content
    assert all(c.get("usage") is None for c in chunks)
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "counted", line
    assert as_int(line["output_tokens"]) == ntok(encoding_for("gpt-4"), content), line
    assert as_int(line["input_tokens"]) == reference_request_tokens("gpt-4", body["messages"]), line
    assert line["error"] is None, line
    assert line["model"] == "gpt-4" and line["provider"] == "mock", line


def test_parallel_streams_are_metered_separately(gateway):
    """Interleaved streams on both workers: each one's counted output is its own."""
    contents = [f"stream {i}: " + " ".join(f"w{i}x{j}" for j in range(3 * i + 1)) for i in range(16)]

    def one(i):
        tag = new_tag()
        r = stream(gateway, chat_body(contents[i], model="gpt-4o"),
                   {"x-mock-omit-usage": "true", "x-mock-chunk-delay-ms": "15"}, tag)
        return tag, r

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    wrong = []
    for i, (tag, r) in enumerate(results):
        assert r.status == 200 and openai_stream_text(r.body)[0] == contents[i]
        line = access_log_for(gateway, tag)
        want = (ntok(encoding_for("gpt-4o"), contents[i]),
                reference_request_tokens("gpt-4o", [{"role": "user", "content": contents[i]}]))
        got = (as_int(line["output_tokens"]), as_int(line["input_tokens"]))
        if got != want or line["error"] is not None:
            wrong.append(f"stream {i}: (output, input) {got} != {want}, error {line['error']}")
    assert not wrong, "\n".join(wrong)


def test_anthropic_stream_cut_is_metered_as_far_as_it_went(gateway):
    content = "uno dos tres cuatro cinco seis siete ocho"
    body = messages_body(content, model="claude-haiku-4-5", stream=True)
    mock = {"x-mock-stream-chunks": "8", "x-mock-content": content}
    whole = raw_post(gateway.url, tagged("/v1/messages", new_tag()), json.dumps(body).encode(), mock)
    events = whole.body.split(b"\n\n")
    # message_start, content_block_start, ping, then content deltas: cut inside the fourth delta.
    start = sum(len(e) + 2 for e in events[:6])
    cut = start + len(events[6]) // 2
    tag = new_tag()
    r = raw_post(gateway.url, tagged("/v1/messages", tag), json.dumps(body).encode(),
                 {**mock, "x-mock-cut-after-bytes": str(cut)})
    assert r.status == 200 and not r.complete and len(r.body) == start
    deltas = [json.loads(d)["delta"]["text"] for d in sse_data(whole.body)[3:6]]
    line = access_log_for(gateway, tag)
    assert line["error"] == "stream_cut", line
    # message_start carried the provider's input tokens; the output is counted so far.
    start_usage = json.loads(sse_data(whole.body)[0])["message"]["usage"]
    assert as_int(line["input_tokens"]) == start_usage["input_tokens"], line
    assert as_int(line["output_tokens"]) == ntok(encoding_for("gpt-4o"), "".join(deltas)), line
    assert line["usage_source"] == "counted", line


def test_stream_over_http2(gateway):
    tag = new_tag()
    body = json.dumps(chat_body("over h2 we go", model="gpt-4o", stream=True,
                                stream_options={"include_usage": True}))
    out = subprocess.run(["curl", "-sS", "-N", "--http2-prior-knowledge", "-D", "-", "-H", "content-type: application/json",
                          "-H", "x-mock-chunk-delay-ms: 20", "--data-binary", body,
                          f"{gateway.url}{tagged(CHAT, tag)}"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    head, _, payload = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200"), head
    assert b"x-llm-input-tokens: " in head and b"x-llm-provider: mock" in head
    text, chunks = openai_stream_text(payload)
    assert text == "over h2 we go"
    line = access_log_for(gateway, tag)
    assert line["usage_source"] == "provider" and line["error"] is None, line
    assert as_int(line["output_tokens"]) == chunks[-1]["usage"]["completion_tokens"], line


def test_a_stream_ended_early_gets_an_explicit_error_event(gateway):
    """The provider ends its response cleanly after 3 events, before finish_reason and
    [DONE]: the client must not see a clean end that looks complete."""
    tag = new_tag()
    body = chat_body("one two three four five six", model="gpt-4o")
    mock = {"x-mock-stream-chunks": "6", "x-mock-end-after-events": "3"}
    r = stream(gateway, body, mock, tag)
    assert r.status == 200 and r.complete
    events = sse_data(r.body)
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert (error["code"], error["type"]) == ("stream_truncated", "server_error")
    assert access_log_for(gateway, tag)["error"] == "stream_cut"

    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0,
                           default_headers=mock)
    with pytest.raises(openai.APIError) as e:
        for _ in client.chat.completions.create(model="gpt-4o", stream=True, messages=body["messages"]):
            pass
    assert "ended before the response was complete" in str(e.value)


def test_an_anthropic_stream_ended_early_gets_an_error_event(gateway):
    body = messages_body("uno dos tres cuatro", model="claude-haiku-4-5", stream=True)
    mock = {"x-mock-stream-chunks": "4", "x-mock-end-after-events": "5"}
    r = raw_post(gateway.url, tagged("/v1/messages", new_tag()), json.dumps(body).encode(), mock)
    assert r.status == 200 and r.complete
    assert r.body.endswith(b"\n\n") and b"event: error\n" in r.body.rsplit(b"\n\n", 2)[-2]
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-demo-pro", max_retries=0,
                                 default_headers=mock)
    with pytest.raises(anthropic.APIError):
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                                    messages=body["messages"]) as s:
            for _ in s.text_stream:
                pass
