"""Shared helpers of the feature tests: the tiktoken reference counter (OpenAI cookbook
method), tagged requests that can be found again in the access log and in the mock's
request log, and a small SSE reader."""

from __future__ import annotations

import copy
import json
import struct
import time
import uuid
import zlib
from pathlib import Path

import tiktoken

DATA = Path(__file__).resolve().parent / "data"
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"

# ----------------------------------------------------------------- reference token counts

O200K_MODELS = ("gpt-4o", "gpt-4.1-mini", "gpt-5", "o3-mini")
CL100K_MODELS = ("gpt-4", "gpt-3.5-turbo")


def encoding_for(model: str) -> tiktoken.Encoding:
    """OpenAI's encoding of a model name (tiktoken's own table, by prefix)."""
    if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return tiktoken.get_encoding("o200k_base")
    if model.startswith(("gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002")):
        return tiktoken.get_encoding("cl100k_base")
    raise AssertionError(f"no reference encoding for {model}")


def ntok(enc: tiktoken.Encoding, text: str) -> int:
    return len(enc.encode(text, disallowed_special=()))


def reference_message_tokens(model: str, messages: list[dict]) -> int:
    """OpenAI cookbook `num_tokens_from_messages`: 3 per message, every string value
    encoded, 1 more per `name`, 3 priming the reply."""
    enc = encoding_for(model)
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            assert isinstance(value, str), f"reference handles string values only ({key})"
            total += ntok(enc, value)
            if key == "name":
                total += 1
    return total + 3


def reference_tool_tokens(model: str, tools: list[dict]) -> int:
    """OpenAI cookbook `num_tokens_for_tools` (function part only)."""
    if not tools:
        return 0
    enc = encoding_for(model)
    func_init = 10 if encoding_for(model).name == "cl100k_base" else 7
    prop_init, prop_key, enum_init, enum_item, func_end = 3, 3, -3, 3, 12
    total = 0
    for tool in tools:
        f = tool["function"]
        total += func_init
        desc = f["description"]
        if desc.endswith("."):
            desc = desc[:-1]
        total += ntok(enc, f"{f['name']}:{desc}")
        props = f["parameters"]["properties"]
        if props:
            total += prop_init
            for key, prop in props.items():
                total += prop_key
                if "enum" in prop:
                    total += enum_init
                    for item in prop["enum"]:
                        total += enum_item + ntok(enc, item)
                pdesc = prop["description"]
                if pdesc.endswith("."):
                    pdesc = pdesc[:-1]
                total += ntok(enc, f"{key}:{prop['type']}:{pdesc}")
    return total + func_end


def reference_request_tokens(model: str, messages: list[dict], tools: list[dict] | None = None) -> int:
    return reference_message_tokens(model, messages) + reference_tool_tokens(model, tools or [])


def load_token_texts() -> list[dict]:
    text = (DATA / "token_texts.jsonl").read_text(encoding="utf-8")
    # Split on "\n" only: texts hold U+2028 and friends, which str.splitlines() splits on.
    return [json.loads(line) for line in text.split("\n") if line.strip()]


# ----------------------------------------------------------------- tagged requests

def new_tag() -> str:
    return uuid.uuid4().hex[:16]


def tagged(path: str, tag: str) -> str:
    """The path with `?tag=...`: the filter ignores queries, the access log and the mock's
    request log keep them, so a test finds its own request among others'."""
    return f"{path}?tag={tag}"


def access_log_lines_for(envoy, tag: str, count: int = 1, timeout: float = 10) -> list[dict]:
    """The access-log lines of the requests tagged `tag`, once there are at least `count`
    (waits for Envoy's lazy flush)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        # Envoy writes access logs on a timer (--file-flush-interval-msec, 10 s unless the
        # harness lowers it); reopening the logs flushes them now.
        requests.post(f"{envoy.admin_url}/reopen_logs", timeout=5)
        time.sleep(0.05)
        lines = [l for l in envoy.access_log_lines() if f"tag={tag}" in (l.get("path") or "")]
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(lines)} access-log lines for tag {tag} after {timeout}s, "
                                 f"wanted {count}")
        time.sleep(0.2)


def access_log_for(envoy, tag: str, timeout: float = 10) -> dict:
    """The access-log line of the request tagged `tag` (waits for Envoy's lazy flush)."""
    lines = access_log_lines_for(envoy, tag, 1, timeout)
    assert len(lines) == 1, f"{len(lines)} access-log lines for tag {tag}: {lines}"
    return lines[0]


def openai_client(envoy, tag: str, key: str = "sk-demo-pro", **kw):
    """The official `openai` SDK at the gateway, its requests tagged `tag`."""
    import openai

    return openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=key, max_retries=0, timeout=30,
                         default_query={"tag": tag}, **kw)


def mock_requests_for(mock, tag: str) -> list[dict]:
    return [r for r in mock.requests() if f"tag={tag}" in r.get("path", "")]


def chat_body(content: str = "hello", model: str = "gpt-4o", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def messages_body(content: str = "hello", model: str = "claude-sonnet-4-5", **extra) -> dict:
    return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": content}], **extra}


# ----------------------------------------------------------------- SSE

def sse_data(raw: bytes) -> list[str]:
    """The `data:` payloads of a complete event stream, in order."""
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [l[5:].lstrip(b" ") for l in block.split(b"\n") if l.startswith(b"data:")]
        if data:
            out.append(b"\n".join(data).decode())
    return out


def openai_stream_text(raw: bytes) -> tuple[str, list[dict]]:
    """(concatenated delta content, parsed chunks) of an OpenAI stream; `[DONE]` excluded."""
    chunks = [json.loads(d) for d in sse_data(raw) if d != "[DONE]"]
    text = "".join(
        (c.get("delta") or {}).get("content") or "" for ch in chunks for c in ch.get("choices", [])
    )
    return text, chunks


def as_int(value) -> int | None:
    """An access-log field as an int (Envoy prints absent filter state as null)."""
    return None if value in (None, "", "-") else int(value)


# ----------------------------------------------------------------- a raw HTTP/1.1 client

def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """Decodes a chunked body as far as it goes: (payload so far, whether the last chunk
    arrived). A truncated chunk contributes the bytes that did arrive."""
    out, pos = bytearray(), 0
    while True:
        eol = raw.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        size = int(raw[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out), True
        start = eol + 2
        out += raw[start:start + size]
        if len(raw) < start + size + 2:
            return bytes(out), False
        pos = start + size + 2


class RawResponse:
    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.complete = False
        # (seconds since the request was sent, decoded body length at that time)
        self.arrivals: list[tuple[float, int]] = []

    def arrival_of(self, marker: bytes) -> float:
        """When the decoded body first contained `marker`."""
        end = self.body.find(marker)
        assert end >= 0, f"{marker!r} never arrived"
        end += len(marker)
        return next(t for t, n in self.arrivals if n >= end)


def read_first_event(sock) -> bytes:
    """Reads a streamed answer from a raw socket up to its first SSE event (asserting a
    200), and returns what it read."""
    got = b""
    while b"data:" not in got:
        piece = sock.recv(4096)
        assert piece, f"closed before any event: {got[:300]!r}"
        got += piece
    assert b" 200 " in got.split(b"\r\n", 1)[0], got[:200]
    return got


def raw_post(base_url: str, path: str, body: bytes, headers: dict | None = None,
             timeout: float = 30) -> RawResponse:
    """POSTs with a plain socket (Connection: close) and reads until the server closes,
    recording when each piece of the body arrived. Never raises on a cut body."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(base_url)
    head = [f"POST {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Connection: close",
            f"Content-Length: {len(body)}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    resp = RawResponse()
    raw = b""
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        start = time.monotonic()
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        while True:
            try:
                piece = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not piece:
                break
            raw += piece
            sep = raw.find(b"\r\n\r\n")
            if sep >= 0:
                payload = raw[sep + 4:]
                head_text = raw[:sep].decode("latin-1")
                chunked = "transfer-encoding: chunked" in head_text.lower()
                decoded = dechunk(payload)[0] if chunked else payload
                resp.arrivals.append((time.monotonic() - start, len(decoded)))
    sep = raw.find(b"\r\n\r\n")
    assert sep >= 0, f"no response head: {raw[:200]!r}"
    lines = raw[:sep].decode("latin-1").split("\r\n")
    resp.status = int(lines[0].split()[1])
    for line in lines[1:]:
        k, _, v = line.partition(":")
        resp.headers[k.strip().lower()] = v.strip()
    payload = raw[sep + 4:]
    if resp.headers.get("transfer-encoding", "").lower() == "chunked":
        resp.body, resp.complete = dechunk(payload)
    else:
        resp.body = payload
        resp.complete = len(payload) == int(resp.headers.get("content-length", len(payload)))
    return resp


def providers_at_mock(cfg: dict, names: tuple[str, ...]) -> dict:
    """Points the named provider clusters of an Envoy config at the mock (plain HTTP), so
    a test sees what each provider route would receive; the routes keep their
    host_rewrite, which shows the route a request took."""
    clusters = cfg["static_resources"]["clusters"]
    mock = next(c for c in clusters if c["name"] == "mock")
    for name in names:
        to_mock = copy.deepcopy(mock)
        to_mock["name"] = to_mock["load_assignment"]["cluster_name"] = name
        clusters[next(i for i, c in enumerate(clusters) if c["name"] == name)] = to_mock
    return cfg


# ----------------------------------------------------------------- images

def photo_png(width: int = 1500, height: int = 1000) -> bytes:
    """A real PNG of `width` x `height` RGB pixels, stored (zlib level 0), so its size is
    that of a photo: ~4.5 MB, ~6 MB as base64."""
    row = bytes((x * 7 + 13) % 256 for x in range(width * 3))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 0))
            + chunk(b"IEND", b""))
