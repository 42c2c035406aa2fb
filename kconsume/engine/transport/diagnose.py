"""Why a Kafka client could not start: one clear line instead of "Unable to bootstrap".

aiokafka reports every failure to connect as ``KafkaConnectionError: Unable to
bootstrap``, logging the cause (an untrusted certificate, a refused login) on a line
of its own, and lets a refused SCRAM login escape as ``KeyError: 'v'`` (the broker's
final SCRAM message carries an error, ``e=...``, where aiokafka expects a signature).
:func:`connect_failure` turns those into one message, asking the broker itself once
(a TCP or TLS connection and one request) what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import struct
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.errors import KafkaConnectionError

__all__ = ["PROBE_TIMEOUT", "connect_failure"]

#: Seconds the probe waits for the broker at each step.
PROBE_TIMEOUT = 3.0

_API_VERSIONS, _SASL_HANDSHAKE = 18, 17
_UNSUPPORTED_SASL_MECHANISM = 33


def _scram_refused(exc: BaseException) -> bool:
    """aiokafka's KeyError for a SCRAM server-final message that holds an error."""
    if not isinstance(exc, KeyError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].name == "process_server_final_message"


def _request(api_key: int, version: int, body: bytes = b"") -> bytes:
    client_id = b"kconsume-probe"
    header = struct.pack(">hhih", api_key, version, 1, len(client_id)) + client_id
    message = header + body
    return struct.pack(">i", len(message)) + message


async def _ask(
    host: str, port: int, context: ssl.SSLContext | None, request: bytes
) -> tuple[str, bytes]:
    """("ok", reply) | ("closed", b"") | ("refused"|"timeout"|"untrusted"|"tls", reason)."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            ),
            PROBE_TIMEOUT,
        )
    except ssl.SSLCertVerificationError as exc:
        return "untrusted", (exc.verify_message or exc.reason or str(exc)).encode()
    except ssl.SSLError as exc:
        return "tls", (exc.reason or str(exc)).encode()
    except TimeoutError:
        return "timeout", b""
    except OSError as exc:
        return "refused", (os.strerror(exc.errno) if exc.errno else str(exc)).encode()
    try:
        writer.write(request)
        await writer.drain()
        size = await asyncio.wait_for(reader.readexactly(4), PROBE_TIMEOUT)
        if size[:2] == b"\x15\x03":  # a TLS alert: this port speaks TLS
            return "tls-port", b""
        (length,) = struct.unpack(">i", size)
        if not 0 < length < 1 << 20:
            return "garbage", b""
        return "ok", await asyncio.wait_for(reader.readexactly(length), PROBE_TIMEOUT)
    except TimeoutError:
        return "timeout", b""
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
        return "closed", b""
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), PROBE_TIMEOUT)


def _mechanisms(reply: bytes) -> tuple[int, list[str]]:
    """SaslHandshake v1 reply (after the correlation id): error code and mechanisms."""
    error, count = struct.unpack_from(">hi", reply, 4)
    names, offset = [], 10
    for _ in range(max(0, count)):
        (n,) = struct.unpack_from(">h", reply, offset)
        names.append(reply[offset + 2 : offset + 2 + n].decode("utf-8", "replace"))
        offset += 2 + n
    return error, names


async def _probe(server: str, settings: Mapping[str, Any]) -> str | None:
    host, _, port_text = server.rpartition(":")
    protocol = str(settings.get("security_protocol", "PLAINTEXT"))
    context = settings.get("ssl_context") if protocol in ("SSL", "SASL_SSL") else None
    mechanism = settings.get("sasl_mechanism")
    if protocol.startswith("SASL_") and mechanism:
        name = str(mechanism).encode()
        request = _request(_SASL_HANDSHAKE, 1, struct.pack(">h", len(name)) + name)
    else:
        request = _request(_API_VERSIONS, 0)
    outcome, detail = await _ask(host.strip("[]"), int(port_text), context, request)
    text = detail.decode("utf-8", "replace")
    if outcome == "refused":
        return f"{server}: {text.lower()}"
    if outcome == "timeout":
        return f"{server}: no answer in {PROBE_TIMEOUT:.0f} s"
    if outcome == "untrusted":
        return (
            f"TLS: the broker's certificate is not trusted ({text}): give its CA with "
            "--ssl-cafile or -X ssl.ca.location"
        )
    if outcome == "tls":
        return f"TLS handshake failed ({text}): does {server} speak TLS?"
    if outcome == "tls-port":
        return f"{server} speaks TLS: use -X security.protocol=SSL (and its CA)"
    if outcome == "closed":
        if protocol.startswith("SASL_"):
            return f"the broker closed the connection at the SASL {mechanism} handshake"
        return (
            "the broker closed the connection at once: it may want TLS "
            "(-X security.protocol=SSL) or a SASL login (--sasl-mechanism)"
        )
    if outcome == "ok" and protocol.startswith("SASL_") and mechanism:
        with contextlib.suppress(struct.error):
            error, offered = _mechanisms(detail)
            if error == _UNSUPPORTED_SASL_MECHANISM:
                return (
                    f"the broker does not take SASL {mechanism} "
                    f"(it takes: {', '.join(offered) or 'none'})"
                )
    if outcome == "ok" and not protocol.startswith("SASL_"):
        return (
            "the broker answers but closed the connection on the client's requests: "
            "it may want a SASL login (--sasl-mechanism)"
        )
    return None


async def connect_failure(
    exc: BaseException, servers: Sequence[str], settings: Mapping[str, Any]
) -> str | None:
    """The message for a client that failed to start with ``exc``, or None if that is
    not a failure to connect or log in (the caller re-raises it)."""
    where = ",".join(servers)
    if _scram_refused(exc):
        user = settings.get("sasl_plain_username")
        return (
            f"the Kafka broker at {where} refused the SASL {settings.get('sasl_mechanism')} "
            f"login of {user!r}: wrong user name or password"
        )
    if not isinstance(exc, KafkaConnectionError):
        return None
    try:
        why = await _probe(servers[0], settings) if servers else None
    except Exception as probe_error:  # the probe only adds detail: never fail on it
        why = f"{type(exc).__name__}: {exc}; probing it: {probe_error!r}"
    if why is None:
        why = (
            str(exc) if str(exc).startswith(type(exc).__name__) else f"{type(exc).__name__}: {exc}"
        )
    return f"cannot reach a Kafka broker at {where} ({why})"
