"""The Confluent wire format: a magic byte 0, a 4-byte big-endian schema id, the payload.

Protobuf payloads carry, between the id and the message, the *message indexes*: which
message of the schema's file this is (a zigzag varint count, then that many zigzag
varints; a single ``0`` byte stands for ``[0]``, the file's first message).

Pure functions over bytes, called by the schema codecs for every message.
"""

from __future__ import annotations

__all__ = ["HEADER_SIZE", "MAGIC", "WireFormatError", "message_indexes", "split_frame"]

MAGIC = 0
HEADER_SIZE = 5


class WireFormatError(ValueError):
    """Bytes that are not in the Confluent wire format."""


def split_frame(data: bytes) -> tuple[int, memoryview] | None:
    """(schema id, payload) of a framed message, or None if ``data`` is not framed."""
    if len(data) < HEADER_SIZE or data[0] != MAGIC:
        return None
    return int.from_bytes(data[1:5], "big"), memoryview(data)[HEADER_SIZE:]


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    """(zigzag-decoded varint at ``pos``, the position after it)."""
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireFormatError("truncated Protobuf message indexes")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1), pos


def message_indexes(payload: memoryview) -> tuple[tuple[int, ...], memoryview]:
    """(message indexes, the Protobuf message bytes) of a framed Protobuf payload."""
    count, pos = _varint(payload, 0)
    if count == 0:
        return (0,), payload[pos:]
    if count < 0 or count > 100:
        raise WireFormatError(f"bad Protobuf message index count {count}")
    indexes = []
    for _ in range(count):
        index, pos = _varint(payload, pos)
        if index < 0:
            raise WireFormatError(f"bad Protobuf message index {index}")
        indexes.append(index)
    return tuple(indexes), payload[pos:]
