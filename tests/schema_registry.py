"""A tiny in-process Schema Registry for tests: no registry server can be installed here.

It implements only the documented REST endpoints that confluent-kafka's serializers and
kconsume call, over ``http.server`` in a thread:

* ``POST /subjects/{subject}/versions``: register a schema (the same schema again gets
  its id back), ``POST /subjects/{subject}``: look one up;
* ``GET /schemas/ids/{id}`` (``?format=serialized`` is accepted: Protobuf schemas are
  stored as the serializers send them, a base64 ``FileDescriptorProto``),
  ``GET /schemas/ids/{id}/versions``;
* ``GET /subjects/{subject}/versions/{version}`` (a number or ``latest``).

Unknown ids and subjects answer 404 with error code 40403, as the real registry does.
With ``user_info`` set, requests without that basic auth answer 401.
"""

from __future__ import annotations

import base64
import ssl
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

__all__ = ["TestRegistry", "running_registry"]


@dataclass
class _Stored:
    schema: str
    schema_type: str
    references: list[dict[str, Any]]

    def same(self, doc: dict[str, Any]) -> bool:
        return (
            doc.get("schema") == self.schema
            and (doc.get("schemaType") or "AVRO") == self.schema_type
            and (doc.get("references") or []) == self.references
        )

    def doc(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.schema}
        if self.schema_type != "AVRO":
            out["schemaType"] = self.schema_type
        if self.references:
            out["references"] = self.references
        return out


@dataclass
class TestRegistry:
    """The registry's state, and counts of the requests it answered (by method and path)."""

    __test__ = False  # not a test class, whatever its name says

    user_info: str | None = None
    schemas: dict[int, _Stored] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, subject: str, doc: dict[str, Any]) -> tuple[int, int]:
        """(id, version) of ``doc`` under ``subject``, registering it if it is new."""
        with self.lock:
            ids = self.subjects.setdefault(subject, [])
            for version, schema_id in enumerate(ids, 1):
                if self.schemas[schema_id].same(doc):
                    return schema_id, version
            found = next((i for i, s in self.schemas.items() if s.same(doc)), None)
            if found is None:
                found = len(self.schemas) + 1
                self.schemas[found] = _Stored(
                    doc["schema"], doc.get("schemaType") or "AVRO", doc.get("references") or []
                )
            ids.append(found)
            return found, len(ids)

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        parts = [urllib.parse.unquote(p) for p in path.split("?")[0].strip("/").split("/")]
        self.requests[f"{method} /{'/'.join(parts)}"] += 1
        if (
            method == "POST"
            and len(parts) == 3
            and parts[0] == "subjects"
            and parts[2] == "versions"
        ):
            schema_id, version = self.register(parts[1], orjson.loads(body))
            return 200, {"id": schema_id, "subject": parts[1], "version": version}
        if method == "POST" and len(parts) == 2 and parts[0] == "subjects":
            doc = orjson.loads(body)
            for version, schema_id in enumerate(self.subjects.get(parts[1], []), 1):
                if self.schemas[schema_id].same(doc):
                    stored = self.schemas[schema_id].doc()
                    return 200, {"subject": parts[1], "id": schema_id, "version": version, **stored}
            return 404, {"error_code": 40403, "message": "Schema not found"}
        if method == "GET" and parts[:2] == ["schemas", "ids"] and len(parts) in (3, 4):
            stored = self.schemas.get(int(parts[2]))
            if stored is None:
                return 404, {"error_code": 40403, "message": f"Schema {parts[2]} not found"}
            if len(parts) == 3:
                return 200, stored.doc()
            return 200, [
                {"subject": s, "version": v}
                for s, ids in self.subjects.items()
                for v, i in enumerate(ids, 1)
                if i == int(parts[2])
            ]
        if (
            method == "GET"
            and len(parts) == 4
            and parts[0] == "subjects"
            and parts[2] == "versions"
        ):
            ids = self.subjects.get(parts[1], [])
            version = len(ids) if parts[3] == "latest" else int(parts[3])
            if not 1 <= version <= len(ids):
                return 404, {"error_code": 40402, "message": "Version not found"}
            schema_id = ids[version - 1]
            stored = self.schemas[schema_id].doc()
            return 200, {"subject": parts[1], "version": version, "id": schema_id, **stored}
        return 404, {"error_code": 404, "message": f"no such endpoint: {method} {path}"}


def _handler(registry: TestRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if registry.user_info is not None:
                expected = "Basic " + base64.b64encode(registry.user_info.encode()).decode()
                if self.headers.get("Authorization") != expected:
                    status, doc = 401, {"error_code": 401, "message": "Unauthorized"}
                    self._send(status, doc)
                    return
            try:
                status, doc = registry.answer(method, self.path, body)
            except Exception as exc:  # a bug here must show, not hang the client
                status, doc = 500, {"error_code": 500, "message": repr(exc)}
            self._send(status, doc)

        def _send(self, status: int, doc: Any) -> None:
            data = orjson.dumps(doc)
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    return Handler


@contextmanager
def running_registry(
    user_info: str | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[TestRegistry]:
    """A :class:`TestRegistry` served on a free local port while the block runs; over
    HTTPS with ``tls`` (the server's certificate and key files)."""
    registry = TestRegistry(user_info=user_info)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    registry.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="test-registry", daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
