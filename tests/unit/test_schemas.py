"""The schema codecs without a broker: wire format, registry client, local schemas,
engine codecs, CLI settings and the message view.

The registry is the in-process test registry (``tests/schema_registry.py``): no
Schema Registry server can be installed on these machines.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import kconsume.schemas
from kconsume.broker import free_port
from kconsume.cli.options import client_config, schema_settings
from kconsume.engine import App, Event, Message
from kconsume.engine.codecs import codec
from kconsume.engine.types import TP
from kconsume.records.decoding import Undecodable, output_codec
from kconsume.records.output import make_formatter
from kconsume.schemas import (
    RegistryError,
    RegistrySettings,
    SchemaRegistry,
    SchemaSettings,
    SchemaValue,
)
from kconsume.schemas.values import json_ready
from kconsume.schemas.wire import message_indexes, split_frame
from kconsume.tui.screens import MessageScreen
from tests import schema_data as d
from tests.fakes import FakeTransport
from tests.integration.certs import make_certs
from tests.schema_registry import TestRegistry, running_registry


@pytest.fixture
def registry() -> Any:
    with running_registry() as running:
        yield running


def _settings(registry: TestRegistry, **kwargs: Any) -> SchemaSettings:
    return SchemaSettings(RegistrySettings(registry.url, **kwargs))


# -- the wire format ------------------------------------------------------------------


def test_frames_and_message_indexes() -> None:
    assert split_frame(b"{}") is None and split_frame(b"\x00\x00\x00") is None
    schema_id, payload = split_frame(b"\x00\x00\x00\x01\x02rest")  # type: ignore[misc]
    assert schema_id == 258 and bytes(payload) == b"rest"
    assert message_indexes(memoryview(b"\x00abc"))[0] == (0,)  # the [0] shorthand
    indexes, body = message_indexes(memoryview(b"\x04\x02\x06xyz"))  # zigzag: 2 -> 1, 6 -> 3
    assert indexes == (1, 3) and bytes(body) == b"xyz"
    with pytest.raises(ValueError, match="truncated"):
        message_indexes(memoryview(b"\x04\x82"))


def test_json_ready_makes_logical_types_readable() -> None:
    value = fastavro.schemaless_reader(
        io.BytesIO(_avro(d.AVRO_V2, d.avro_v2(4))), fastavro.parse_schema(d.AVRO_V2), None
    )
    assert json_ready(value) == d.avro_v2_shown(4)
    assert orjson.loads(orjson.dumps(json_ready(value))) == d.avro_v2_shown(4)


def _avro(schema: Any, value: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), value)
    return out.getvalue()


# -- the registry client ----------------------------------------------------------------


def test_each_id_is_fetched_once_and_decoders_are_reused(registry: TestRegistry) -> None:
    serialize = d.serializer(registry.url, "t", "avro2")
    data = [serialize(d.avro_v2(i)) for i in range(50)]
    settings = _settings(registry)
    value_codec = output_codec("avro", settings)
    decoded = [value_codec.decode(x) for x in data]
    assert [v.value for v in decoded] == [d.avro_v2_shown(i) for i in range(50)]
    assert decoded[0].subject == "t-value" and decoded[0].schema_type == "AVRO"
    schema_id = decoded[0].schema_id
    assert registry.requests[f"GET /schemas/ids/{schema_id}"] == 1
    auto = output_codec("auto", settings)  # shares the client: no second fetch
    assert auto.decode(data[0]).value == d.avro_v2_shown(0)
    assert registry.requests[f"GET /schemas/ids/{schema_id}"] == 1


def test_unknown_ids_are_remembered_for_a_while(registry: TestRegistry) -> None:
    client = SchemaRegistry(RegistrySettings(registry.url, retry_after=60))
    for _ in range(3):
        with pytest.raises(RegistryError, match=r"schema id 77: .* 404") as raised:
            client.schema(77)
        assert raised.value.status == 404
    assert registry.requests["GET /schemas/ids/77"] == 1


def test_a_down_registry_is_not_asked_again_for_any_id() -> None:
    dead = RegistrySettings(f"http://127.0.0.1:{free_port()}", retry_after=60)
    for name in ("auto", "avro", "protobuf", "jsonschema"):  # never raises: a decode error
        decoded = output_codec(name, SchemaSettings(dead)).decode(b"\x00\x00\x00\x00\x05xyz")
        assert isinstance(decoded, Undecodable) and "schema id 5" in decoded.error
        assert "unreachable" in decoded.error
    client = SchemaRegistry(dead)
    with pytest.raises(RegistryError, match=r"schema id 1: .*unreachable"):
        client.schema(1)
    with pytest.raises(RegistryError, match=r"schema id 2: .*unreachable"):
        client.schema(2)
    assert client.requests == 1


def test_basic_auth() -> None:
    with running_registry(user_info="alice:s3cret") as registry:
        registry.register("t-value", {"schema": '"string"'})
        with pytest.raises(RegistryError, match="401"):
            SchemaRegistry(RegistrySettings(registry.url)).schema(1)
        found = SchemaRegistry(RegistrySettings(registry.url, user_info="alice:s3cret")).schema(1)
        assert found.schema == '"string"' and found.subject == "t-value"
        url = registry.url.replace("http://", "http://alice:s3cret@")  # as confluent's URL source
        settings = schema_settings(url, None)
        assert settings.registry is not None and settings.registry.user_info == "alice:s3cret"
        assert SchemaRegistry(settings.registry).schema(1).schema_type == "AVRO"


def test_tls_with_a_ca_location(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with running_registry(tls=(certs.server_cert, certs.server_key)) as registry:
        registry.register("t-value", {"schema": '"string"'})
        x = [f"schema.registry.ssl.ca.location={certs.ca}"]
        trusted = schema_settings(registry.url, x).registry
        assert trusted is not None and registry.url.startswith("https://")
        assert SchemaRegistry(trusted).schema(1).subject == "t-value"
        x = [f"schema.registry.ssl.ca.location={certs.wrong_ca}"]
        wrong = schema_settings(registry.url, x).registry
        assert wrong is not None
        with pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED"):
            SchemaRegistry(wrong).schema(1)


# -- formats, errors, local schemas -------------------------------------------------------


def test_the_wrong_format_names_the_right_one(registry: TestRegistry) -> None:
    data = d.serializer(registry.url, "t", "json1")(d.json_v1(1))
    decoded = output_codec("avro", _settings(registry)).decode(data)
    assert isinstance(decoded, Undecodable)
    assert "is JSON, not AVRO: use --value-format jsonschema" in decoded.error


def test_a_schema_format_needs_a_schema_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--registry URL or --schema"):
        output_codec("avro")
    with pytest.raises(ValueError, match="--proto-descriptor FILE --proto-message"):
        output_codec("protobuf")
    with pytest.raises(ValueError, match="needs --registry"):
        output_codec("avro", SchemaSettings(avro_schema=tmp_path), key=True)
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record"}')
    with pytest.raises(ValueError, match=r"bad\.avsc"):
        output_codec("avro", SchemaSettings(avro_schema=bad))
    assert output_codec("jsonschema").decode(b"\x00\x00\x00\x00\x05[1]").value == [1]


@pytest.fixture(scope="module")
def local_schemas(tmp_path_factory: pytest.TempPathFactory) -> SchemaSettings:
    """An .avsc and a descriptor set of version 1, as files."""
    folder = tmp_path_factory.mktemp("schemas")
    (folder / "order-v1.avsc").write_bytes(orjson.dumps(d.AVRO_V1))
    (folder / "order-v1.pb").write_bytes(d.descriptor_set(1))
    return SchemaSettings(
        avro_schema=folder / "order-v1.avsc",
        proto_descriptor=folder / "order-v1.pb",
        proto_message="kctest.Order",
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=60))
def test_local_avro_and_protobuf_never_raise_on_any_bytes(
    local_schemas: SchemaSettings, data: bytes
) -> None:
    """Any payload decodes, or is written with its bytes and an error: never a crash."""
    avro = output_codec("avro", local_schemas)
    protobuf = output_codec("protobuf", local_schemas)
    for decoded in (avro.decode(data), protobuf.decode(data)):
        assert isinstance(decoded, SchemaValue | Undecodable)
        message = Message(TP("t", 0), 1, 0, None, data, ())
        line = make_formatter("jsonl")(Event(message, None, decoded), decoded)
        assert orjson.loads(line)["offset"] == 1


# -- the engine API -----------------------------------------------------------------------


async def test_app_stream_with_value_avro(registry: TestRegistry) -> None:
    """``App.stream(..., value="avro")`` after ``kconsume.schemas.configure(registry=URL)``."""
    serialize = d.serializer(registry.url, "orders", "avro1")
    try:
        kconsume.schemas.configure(registry=registry.url)
        transport = FakeTransport()
        app = App(transport=transport, commit_interval=3600, stop_drain_timeout=0.2)
        stream = app.stream("orders", value="avro")
        assert codec("avro") is stream.value_codec
        driver = transport.driver
        assert driver is not None
        await app.start()
        try:
            await driver.assign([TP("orders", 0)])
            driver.produce(TP("orders", 0), value=serialize(d.avro_v1(3)))
            driver.produce(TP("orders", 0), value=b"\x00\x00\x00\x03\xe7oops")  # id 999
            driver.produce(TP("orders", 0), value=serialize(d.avro_v1(4)))
            got = []
            async for event in stream:
                got.append(event.value)
                if len(got) == 2:
                    break
        finally:
            await app.stop()
        assert [v.value for v in got] == [d.avro_v1(3), d.avro_v1(4)]
        assert got[0].subject == "orders-value"
        assert stream.decode_errors == 1  # the unknown id: counted, the stream goes on
    finally:
        kconsume.schemas.configure()


# -- the command line's settings and the message view ---------------------------------------


def test_registry_settings_from_x(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    x = [
        "schema.registry.basic.auth.user.info=u:p",
        f"schema.registry.ssl.ca.location={ca}",
        "schema.registry.timeout.ms=1500",
        "session.timeout.ms=6000",
    ]
    settings = schema_settings("https://sr:8081", x)
    assert settings.registry == RegistrySettings(
        "https://sr:8081", user_info="u:p", ca_location=str(ca), timeout=1.5
    )
    assert client_config(x) == {"session_timeout_ms": 6000}  # the broker's settings alone
    with pytest.raises(typer.BadParameter, match="unknown registry setting"):
        schema_settings("http://sr:8081", ["schema.registry.nope=1"])
    with pytest.raises(typer.BadParameter, match="need --registry"):
        schema_settings(None, ["schema.registry.basic.auth.user.info=u:p"])
    with pytest.raises(typer.BadParameter, match="http"):
        schema_settings("sr:8081", None)


def test_the_message_view_names_the_schema() -> None:
    value = SchemaValue({"id": "o-1"}, 7, "orders-value", "AVRO")
    message = Message(TP("orders", 0), 5, 0, b"k", b"\x00...", ())
    screen = MessageScreen(Event(message, "k", value))
    console = Console(width=120, record=True)
    console.print(screen._fields())
    text = console.export_text()
    assert "schema" in text and "id 7, subject orders-value (AVRO)" in text


def test_a_registry_that_does_not_speak_http_is_a_decode_error_asked_once() -> None:
    """A wrong --registry port (here, a server that answers like SSH): http.client's
    errors escaped the codecs, the record was dropped and acked, and every message asked
    the registry again (review finding)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted = 0

    def answer() -> None:
        nonlocal accepted
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted += 1
            with conn:
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        settings = SchemaSettings(RegistrySettings(f"http://127.0.0.1:{port}", retry_after=60))
        for name in ("auto", "avro", "protobuf", "jsonschema"):
            codec_ = output_codec(name, settings)
            for schema_id in (5, 6):
                decoded = codec_.decode(b"\x00\x00\x00\x00" + bytes([schema_id]) + b"xyz")
                assert isinstance(decoded, Undecodable), name
                assert "unreachable" in decoded.error
        assert accepted <= 4  # once per codec's registry client at most, not per message
    finally:
        server.close()


def test_a_registry_port_that_is_not_a_number_is_bad_usage() -> None:
    with pytest.raises(typer.BadParameter, match="port is not a number"):
        schema_settings("http://localhost:abc", None, None, None, None)
