"""A real OTLP/HTTP trace receiver for the tests: `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest` (what Envoy's OpenTelemetry tracer sends through its
`http_service`), parsed with `opentelemetry-proto` and kept in memory.

    receiver = OtlpReceiver()          # listens on a free 127.0.0.1 port, in a thread
    receiver.endpoint                  # "127.0.0.1:PORT", what OTLP_ENDPOINT takes
    receiver.wait_for(lambda spans: ..., timeout=20)
    receiver.stop()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Span:
    """One received span, flattened: ids in lower-case hex, attributes as strings."""
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict
    events: list

    def attr(self, name: str):
        return self.attributes.get(name)


def _value(v) -> str:
    """An OTLP AnyValue as a string (Envoy's custom tags are strings)."""
    kind = v.WhichOneof("value")
    return "" if kind is None else str(getattr(v, kind))


def _attributes(kvs) -> dict:
    return {kv.key: _value(kv.value) for kv in kvs}


def parse_export(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        service = _attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(Span(
                    service=service,
                    name=s.name,
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(),
                    kind=s.kind,
                    attributes=_attributes(s.attributes),
                    events=[(e.name, _attributes(e.attributes)) for e in s.events],
                ))
    return spans


class OtlpReceiver:
    def __init__(self):
        self.spans: list[Span] = []
        self.exports = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self._body()
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                try:
                    spans = parse_export(body)
                except Exception as e:  # a malformed export is the sender's bug: say so
                    self.send_error(400, f"not an ExportTraceServiceRequest: {e}")
                    return
                with receiver._lock:
                    receiver.spans.extend(spans)
                    receiver.exports += 1
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("transfer-encoding", ""):
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)  # the chunk and its CRLF
                        if size == 0:
                            return body
                        body += chunk[:-2]
                return self.rfile.read(int(self.headers.get("content-length", 0)))

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, found, timeout: float = 30) -> list[Span]:
        """Polls until `found(spans)` is truthy (returns the spans) or `timeout` passes
        (returns them anyway: the caller's assertion then says what is missing)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.snapshot()
            if found(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
