"""A small Schema Registry client: schemas by id, fetched once and cached.

It speaks the registry's documented REST API (``GET /schemas/ids/{id}``,
``GET /schemas/ids/{id}/versions``, ``GET /subjects/{subject}/versions/{version}``)
over the standard library's HTTP client, with basic auth and TLS as confluent-kafka's
``SchemaRegistryClient`` names them.

Fetching is synchronous and bounded: the schema codecs call :meth:`SchemaRegistry.schema`
from inside a decode, on the event loop, the first time they meet an id.  A registry
answers that in milliseconds, and a topic holds a handful of ids, so the stream pays a
few round trips once.  What could stall it is bounded: every request has a timeout
(``timeout`` seconds, 2 by default), a failure for an id is remembered for
``retry_after`` seconds (that id's messages are decode errors meanwhile, at no cost),
and a registry that cannot be reached is not asked again for any id for that long.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import SchemaError

__all__ = ["RegisteredSchema", "RegistryError", "RegistrySettings", "SchemaRegistry"]


class RegistryError(SchemaError):
    """The registry could not give a schema: unreachable, refused, or no such id."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status the registry answered (None: no answer).
        self.status = status


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Where the registry is and how to talk to it (confluent-kafka's names in comments)."""

    url: str
    """``url``: ``http(s)://host:port``; a comma-separated list uses the first."""
    user_info: str | None = None
    """``basic.auth.user.info``: ``USER:PASSWORD``."""
    ca_location: str | None = None
    """``ssl.ca.location``: a PEM file of CAs to trust instead of the system's."""
    certificate_location: str | None = None
    """``ssl.certificate.location``: the client certificate (PEM), for mutual TLS."""
    key_location: str | None = None
    """``ssl.key.location``: its key (PEM)."""
    key_password: str | None = None
    """``ssl.key.password``."""
    timeout: float = 2.0
    """Seconds one request may take."""
    retry_after: float = 10.0
    """Seconds a failure is remembered before the registry is asked again."""


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """One schema as the registry holds it."""

    id: int
    schema_type: str
    """``AVRO``, ``PROTOBUF`` or ``JSON``."""
    schema: str
    references: tuple[tuple[str, str, int], ...] = ()
    """(name, subject, version) of each schema this one imports."""
    subject: str | None = None
    """The first subject it is registered under (None if the registry does not say)."""


@dataclass(slots=True)
class _Failure:
    error: RegistryError
    until: float


@dataclass(slots=True)
class SchemaRegistry:
    """Schemas by id, each fetched once.  Callers: the schema codecs, per unknown id."""

    settings: RegistrySettings
    _schemas: dict[tuple[int, bool], RegisteredSchema] = field(default_factory=dict)
    _failures: dict[tuple[int, bool], _Failure] = field(default_factory=dict)
    _versions: dict[tuple[str, int, bool], RegisteredSchema] = field(default_factory=dict)
    _version_failures: dict[tuple[str, int, bool], _Failure] = field(default_factory=dict)
    _down: _Failure | None = None
    _context: ssl.SSLContext | None = None
    #: Requests made so far (tests and the benchmark check that ids are fetched once).
    requests: int = 0

    @property
    def url(self) -> str:
        return self.settings.url.split(",")[0].strip().rstrip("/")

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            s = self.settings
            context = ssl.create_default_context(cafile=s.ca_location)
            if s.certificate_location:
                context.load_cert_chain(s.certificate_location, s.key_location, s.key_password)
            self._context = context
        return self._context

    def _get(self, path: str) -> Any:
        """GET ``path`` as JSON.  Raises RegistryError (``status`` set for HTTP errors)."""
        now = time.monotonic()
        down = self._down
        if down is not None and now < down.until:
            raise down.error
        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"})
        if self.settings.user_info:
            token = base64.b64encode(self.settings.user_info.encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        context = self._ssl_context() if self.url.startswith("https:") else None
        self.requests += 1
        try:
            with urllib.request.urlopen(
                request, timeout=self.settings.timeout, context=context
            ) as response:
                return orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = _registry_message(exc)
            raise RegistryError(
                f"registry {self.url} answered {exc.code}: {message}", exc.code
            ) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # refused, timed out, TLS, not JSON, not HTTP at all (a wrong port)
            reason = getattr(exc, "reason", None) or exc
            error = RegistryError(
                f"registry {self.url} unreachable ({reason}); "
                f"not asked again for {self.settings.retry_after:g}s"
            )
            self._down = _Failure(error, now + self.settings.retry_after)
            raise error from None

    def schema(self, schema_id: int, *, serialized: bool = False) -> RegisteredSchema:
        """The schema with this id, from the cache or the registry.

        ``serialized`` asks for Protobuf schemas as a base64 ``FileDescriptorProto``
        (``?format=serialized``, what confluent-kafka's deserializer asks for too).
        Raises RegistryError naming the id.
        """
        key = (schema_id, serialized)
        found = self._schemas.get(key)
        if found is not None:
            return found
        failure = self._failures.get(key)
        if failure is not None and time.monotonic() < failure.until:
            raise failure.error
        try:
            suffix = "?format=serialized" if serialized else ""
            doc = self._get(f"/schemas/ids/{schema_id}{suffix}")
            subject = self._subject(schema_id)
        except RegistryError as exc:
            error = RegistryError(f"schema id {schema_id}: {exc}", exc.status)
            self._failures[key] = _Failure(error, time.monotonic() + self.settings.retry_after)
            raise error from None
        schema = _registered(schema_id, doc, subject)
        self._schemas[key] = schema
        return schema

    def _subject(self, schema_id: int) -> str | None:
        """The first subject of ``schema_id`` (``GET /schemas/ids/{id}/versions``), if said."""
        try:
            versions = self._get(f"/schemas/ids/{schema_id}/versions")
        except RegistryError:
            if self._down is not None and time.monotonic() < self._down.until:
                raise
            return None  # an older registry: the subject is only a nicety
        if isinstance(versions, list) and versions and isinstance(versions[0], dict):
            subject = versions[0].get("subject")
            return subject if isinstance(subject, str) else None
        return None

    def version(self, subject: str, version: int, *, serialized: bool = False) -> RegisteredSchema:
        """A referenced schema, by subject and version (cached like ids, failures
        remembered for ``retry_after``).  Raises RegistryError."""
        key = (subject, version, serialized)
        found = self._versions.get(key)
        if found is not None:
            return found
        failure = self._version_failures.get(key)
        if failure is not None and time.monotonic() < failure.until:
            raise failure.error
        quoted = urllib.parse.quote(subject, safe="")
        suffix = "?format=serialized" if serialized else ""
        try:
            doc = self._get(f"/subjects/{quoted}/versions/{version}{suffix}")
            schema = _registered(int(doc.get("id", -1)), doc, subject)
        except (RegistryError, ValueError, TypeError, AttributeError) as exc:
            error = RegistryError(f"subject {subject} version {version}: {exc}")
            self._version_failures[key] = _Failure(
                error, time.monotonic() + self.settings.retry_after
            )
            raise error from None
        self._versions[key] = schema
        return schema


def _registry_message(exc: urllib.error.HTTPError) -> str:
    try:
        doc = orjson.loads(exc.read())
        return str(doc.get("message") or doc)
    except Exception:
        return str(exc.reason)


def _registered(schema_id: int, doc: Any, subject: str | None) -> RegisteredSchema:
    if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
        raise RegistryError(f"schema id {schema_id}: the registry's answer has no schema")
    references = tuple(
        (str(r["name"]), str(r["subject"]), int(r["version"])) for r in doc.get("references") or ()
    )
    return RegisteredSchema(
        schema_id, str(doc.get("schemaType") or "AVRO"), doc["schema"], references, subject
    )
