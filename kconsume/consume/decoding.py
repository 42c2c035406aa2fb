"""Key and value formats for ``consume``: auto, json, str, raw, int.

These are engine codecs that never raise: a payload a format cannot decode comes
back as :class:`Undecodable`, so the message is still written out (its bytes
intact, with the error) instead of vanishing from the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..engine.codecs import Codec, codec

__all__ = ["FORMATS", "Undecodable", "decode_auto", "output_codec"]

FORMATS = ("auto", "json", "str", "raw", "int")


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Bytes a format could not decode, and why."""

    data: bytes
    error: str


def decode_auto(data: bytes) -> Any:
    """JSON if it parses, else text if it is valid UTF-8, else the bytes themselves."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _tolerant(name: str, decode: Callable[[bytes], Any]) -> Codec:
    def safe(data: bytes) -> Any:
        try:
            return decode(data)
        except (ValueError, UnicodeDecodeError) as exc:  # orjson's error is a ValueError
            return Undecodable(data, f"not {name}: {exc}")

    return Codec(f"{name}?", safe)


_INT64 = range(-(2**63), 2**63)


def _int64(data: bytes) -> int:
    number: int = codec("int").decode_bytes(data)
    if number not in _INT64:  # JSON writers cannot write it: keep the digits as text
        raise ValueError("outside the 64-bit range")
    return number


_CODECS = {
    "auto": Codec("auto", decode_auto),
    "raw": codec("raw"),
    **{name: _tolerant(name, codec(name).decode_bytes) for name in ("json", "str")},
    "int": _tolerant("int", _int64),
}


def output_codec(name: str) -> Codec:
    """The never-raising codec for a ``--key-format``/``--value-format`` name."""
    try:
        return _CODECS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r} (use {', '.join(FORMATS)})") from None
