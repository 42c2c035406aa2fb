"""Codecs: how a stream turns key and value bytes into Python objects.

A codec is looked up by name once, when a stream is declared.  Streams that share
a (key codec, value codec) pair share one decode per message: the Conductor groups
them by the codec objects themselves, so two names for one codec count as one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import KConsumeError

__all__ = ["Codec", "CodecError", "codec", "register_codec"]


class CodecError(KConsumeError):
    """An unknown codec name."""


@dataclass(frozen=True, slots=True)
class Codec:
    """A named decoder; ``None`` (a tombstone or a missing key) always decodes to ``None``."""

    name: str
    decode_bytes: Callable[[bytes], Any]

    def decode(self, data: bytes | None) -> Any:
        if data is None:
            return None
        return self.decode_bytes(data)


def _raw(data: bytes) -> bytes:
    return data


def _str(data: bytes) -> str:
    return data.decode("utf-8")


def _int(data: bytes) -> int:
    try:
        return int(data)  # ASCII digits, as a console producer writes them
    except ValueError:
        if len(data) in (1, 2, 4, 8):  # big-endian, as Kafka's own serializers write them
            return int.from_bytes(data, "big", signed=True)
        raise


_CODECS: dict[str, Codec] = {
    "raw": Codec("raw", _raw),
    "json": Codec("json", orjson.loads),
    "str": Codec("str", _str),
    "int": Codec("int", _int),
}


def register_codec(codec_: Codec) -> None:
    """Make a codec available by name to ``app.stream(..., value=NAME)``."""
    _CODECS[codec_.name] = codec_


def codec(spec: str | Codec | None) -> Codec:
    """The codec for a name (``raw`` for None), or the codec itself.

    ``avro``, ``protobuf`` and ``jsonschema`` are registered by :mod:`kconsume.schemas`,
    which the ``kconsume`` package imports (``kconsume.schemas.configure(registry=URL)``
    sets where their schemas come from).
    """
    if spec is None:
        return _CODECS["raw"]
    if isinstance(spec, Codec):
        return spec
    try:
        return _CODECS[spec]
    except KeyError:
        known = ", ".join(sorted(_CODECS))
        raise CodecError(f"unknown codec {spec!r} (known: {known})") from None
