"""The wire format of the observe endpoint: snapshots and events as JSON, and back.

The endpoint serialises the engine's own dataclasses (``EngineSnapshot``, the typed
``EngineEvent`` subclasses, ``SourceStatus``) and ``kconsume attach`` decodes them back
into the same types, so the dashboard cannot tell a remote source from a local one.

Encoding is generic over dataclasses: a ``TP`` becomes ``[topic, partition]``, a dict
with non-string keys a list of ``[key, value]`` pairs, tuples and frozensets lists.
Decoding follows the dataclass' type hints.  An event carries its class name in
``type`` and its ``summary``; an event type this side does not know (a newer engine)
is shown as a :class:`~kconsume.tail.source.Notice` with that summary.

Called by :mod:`kconsume.observe.server` (encode) and
:mod:`kconsume.observe.remote` (decode); it changes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

import orjson

from ..engine import events as engine_events
from ..engine.events import EngineEvent
from ..engine.snapshot import EngineSnapshot
from ..engine.types import TP
from ..tail.source import Notice, SourceState, SourceStatus

__all__ = [
    "WireError",
    "decode_event",
    "decode_snapshot",
    "decode_status",
    "encode_event",
    "encode_snapshot",
    "encode_status",
    "event_types",
    "to_wire",
]


class WireError(ValueError):
    """A payload that is not what the wire format says."""


def to_wire(value: Any) -> Any:
    """``value`` as plain JSON-able data (dataclasses, TPs, tuples, dicts, enums)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, TP):
        return [value.topic, value.partition]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {k: to_wire(v) for k, v in value.items()}
        return [[to_wire(k), to_wire(v)] for k, v in value.items()]
    if isinstance(value, tuple | list | frozenset | set):
        return [to_wire(v) for v in value]
    raise WireError(f"cannot put {type(value).__name__} on the wire")


def from_wire(data: Any, hint: Any) -> Any:
    """``data`` (from :func:`to_wire`) as an instance of the type ``hint``."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if data is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                return from_wire(data, arg)
    if origin is typing.Literal:
        return data
    if hint is TP:
        topic, partition = data
        return TP(str(topic), int(partition))
    if hint is float:
        return float(data)
    if hint in (int, str, bool):
        return data
    if isinstance(hint, type) and issubclass(hint, SourceState):
        return hint(data)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, data)
    args = typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_wire(v, args[0]) for v in data)
        return tuple(from_wire(v, a) for v, a in zip(data, args, strict=True))
    if origin is frozenset:
        return frozenset(from_wire(v, args[0]) for v in data)
    if origin is dict:
        key, val = args
        pairs = data.items() if isinstance(data, dict) else data
        return {from_wire(k, key): from_wire(v, val) for k, v in pairs}
    raise WireError(f"cannot read a {hint!r} from the wire")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclass(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise WireError(f"{cls.__name__}: expected an object")
    hints = _hints(cls)
    kwargs = {
        f.name: from_wire(data[f.name], hints[f.name])
        for f in dataclasses.fields(cls)
        if f.name in data and f.init
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise WireError(f"{cls.__name__}: {exc}") from None


# -- snapshots and status -----------------------------------------------------------


def encode_snapshot(snapshot: EngineSnapshot | None) -> Any:
    return None if snapshot is None else to_wire(snapshot)


def decode_snapshot(data: Any) -> EngineSnapshot | None:
    if data is None:
        return None
    snapshot = from_wire(data, EngineSnapshot)
    assert isinstance(snapshot, EngineSnapshot)
    return snapshot


def encode_status(status: SourceStatus) -> Any:
    return {"state": status.state.value, "detail": status.detail}


def decode_status(data: Any) -> SourceStatus:
    try:
        return SourceStatus(SourceState(data["state"]), str(data.get("detail", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad status: {exc}") from None


# -- events -----------------------------------------------------------------------------


@functools.cache
def event_types() -> dict[str, type[EngineEvent]]:
    """Every event class the wire knows, by name: the engine's and the tail's Notice."""
    found: dict[str, type[EngineEvent]] = {"Notice": Notice, "EngineEvent": EngineEvent}
    for name in engine_events.__all__:
        cls = getattr(engine_events, name)
        if isinstance(cls, type) and issubclass(cls, EngineEvent):
            found[name] = cls
    return found


def encode_event(event: EngineEvent) -> bytes:
    """One event as one JSON line (newline included)."""
    body = to_wire(event)
    body["type"] = type(event).__name__
    body["summary"] = event.summary
    return orjson.dumps(body) + b"\n"


def decode_event(line: bytes | str) -> EngineEvent:
    """An event from one JSON line; unknown types come back as a ``Notice``."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError("an event is a JSON object")
    name = data.pop("type", None)
    summary = str(data.pop("summary", name))
    cls = event_types().get(str(name))
    if cls is None:
        return Notice(text=summary, at=float(data.get("at", 0.0)))
    event = _dataclass(cls, data)
    assert isinstance(event, EngineEvent)
    return event
