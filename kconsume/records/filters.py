"""The filter language shared by ``consume`` and the dashboard.

* ``--where EXPR``: a Python expression over ``key``, ``value``, ``headers``,
  ``topic``, ``partition``, ``offset``, ``timestamp`` and ``msg``, compiled once.
  Several are ANDed.
* ``--header NAME=VALUE`` and ``--grep REGEX``: prefilters on the raw bytes, run
  by the engine before anything is decoded.
* ``--script FILE.py``: ``keep(msg) -> bool`` and/or ``transform(msg) -> object | None``,
  sync or async.

Syntax errors are found before anything is consumed and reported with a caret under
the position.  Errors while filtering one message are the caller's to count.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.types import Event, Message
from ..errors import UsageError
from .pyfile import PythonFileError, caret_message, run_python_file
from .record import ConsumedRecord, header_dict, plain

__all__ = [
    "USER_CODE_ERRORS",
    "FilterSyntaxError",
    "Prefilter",
    "Script",
    "Where",
    "compile_where",
    "load_script",
    "make_prefilter",
]

#: Modules a ``--where`` expression can use without importing them.
_WHERE_GLOBALS: dict[str, Any] = {"re": re, "__builtins__": __builtins__}


class FilterSyntaxError(UsageError):
    """A filter that cannot be compiled: bad usage, reported before consuming."""


#: What user code (``--where``, ``--script``) may raise on one message: any error, and
#: ``exit()``/``sys.exit()``, which would otherwise end the run with nothing written
#: and exit status 0.  Each is a filter error for that message.
USER_CODE_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit)


#: What each name of a ``--where`` expression reads from an Event ``_e`` (a tuple of
#: message, key, value): only the names an expression uses are computed.
_EVENT_NAMES: dict[str, str] = {
    "key": "_plain(_e[1])",
    "value": "_plain(_e[2])",
    "headers": "_header_dict(_e[0].headers)",
    "topic": "_e[0].tp.topic",
    "partition": "_e[0].tp.partition",
    "offset": "_e[0].offset",
    "timestamp": "_e[0].timestamp",
    "msg": "_record(_e)",
}
_RECORD_NAMES = tuple(_EVENT_NAMES)


@dataclass(slots=True)
class Where:
    """Compiled ``--where`` expressions, ANDed, as one function per way of calling it.

    Built once by :func:`compile_where`.  :meth:`matches` takes an Event and computes
    only the names the expressions read, so a filter on ``partition`` or ``key`` never
    builds a header dict or a record; ``__call__`` takes a :class:`ConsumedRecord`.
    """

    sources: tuple[str, ...]
    names: tuple[str, ...]
    """The record names the expressions read, in the order ``on_record`` takes them."""
    matches: Callable[[Event], bool]
    on_record: Callable[..., Any]

    def __call__(self, record: ConsumedRecord) -> bool:
        return bool(
            self.on_record(*(record if n == "msg" else getattr(record, n) for n in self.names))
        )

    @property
    def reads_value(self) -> bool:
        """True if an expression reads the decoded value (``value`` or ``msg``)."""
        return "value" in self.names or "msg" in self.names


#: The names an expression may read: the record's, the globals, and the builtins.
_WHERE_NAMES = frozenset([*_RECORD_NAMES, "re"]).union(dir(builtins))


def _read_names(expression: str) -> set[str]:
    """The record names ``expression`` reads (not counting names it binds itself)."""
    tree = ast.parse(expression, "<where>", "eval")
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in _EVENT_NAMES
    }


def _build_where(expressions: Sequence[str]) -> Where:
    """One function over an Event and one over a record's fields, for all expressions.

    The expressions go into the generated source verbatim, each on lines of its own
    inside parentheses (a trailing comment cannot swallow what follows); each was
    compiled alone before, so a syntax error was already reported with its caret.
    """
    names: set[str] = set()
    for expression in expressions:
        names |= _read_names(expression)
    order = [n for n in _RECORD_NAMES if n in names]
    body = " and ".join(f"(\n{expression}\n)" for expression in expressions)
    assign = "".join(f"    {n} = {_EVENT_NAMES[n]}\n" for n in order)
    source = (
        f"def _on_event(_e):\n{assign}    return bool({body})\n"
        f"def _on_record({', '.join(order)}):\n    return {body}\n"
    )
    namespace: dict[str, Any] = {
        **_WHERE_GLOBALS,
        "_plain": plain,
        "_header_dict": header_dict,
        "_record": ConsumedRecord.from_event,
    }
    exec(compile(source, "<where>", "exec"), namespace)
    return Where(tuple(expressions), tuple(order), namespace["_on_event"], namespace["_on_record"])


def _unknown_name(expression: str) -> SyntaxError | None:
    """The first name ``expression`` reads that can never exist (a typo), as a
    SyntaxError with its position; names the expression binds itself (comprehension
    variables, lambda arguments, ``:=``) count as known."""
    tree = ast.parse(expression, "<where>", "eval")
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id not in _WHERE_NAMES
            and node.id not in bound
        ):
            lines = expression.splitlines() or [""]
            line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
            message = (
                f"unknown name {node.id!r} (a record has key, value, headers, topic, "
                "partition, offset, timestamp, msg)"
            )
            return SyntaxError(message, ("<where>", node.lineno, node.col_offset + 1, line))
    return None


def compile_where(expressions: Sequence[str]) -> Where | None:
    """Compile every expression once; FilterSyntaxError (with a caret) if one is broken,
    or reads a name that can never exist (it would fail on every message)."""
    if not expressions:
        return None
    for expression in expressions:
        try:
            compile(expression, "<where>", "eval")
            unknown = _unknown_name(expression)
            if unknown is not None:
                raise unknown
        except SyntaxError as exc:
            raise FilterSyntaxError(
                caret_message("bad --where expression", expression, exc)
            ) from None
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, too deep
            raise FilterSyntaxError(
                f"bad --where expression: {type(exc).__name__}: {str(exc) or 'too complex'}"
            ) from None
    return _build_where(expressions)


@dataclass(slots=True)
class Prefilter:
    """``--header`` and ``--grep`` checks on a raw message, before decoding (all must hold)."""

    headers: tuple[tuple[str, bytes], ...] = ()
    patterns: tuple[re.Pattern[bytes], ...] = field(default_factory=tuple)

    def __call__(self, message: Message) -> bool:
        for name, wanted in self.headers:
            if not any(k == name and v == wanted for k, v in message.headers):
                return False
        for pattern in self.patterns:
            key, value = message.key, message.value
            if not (
                (value is not None and pattern.search(value))
                or (key is not None and pattern.search(key))
            ):
                return False
        return True


def _raw_bytes(text: str) -> bytes:
    """Command-line text as the bytes typed: UTF-8, and bytes that were not UTF-8 as they were.

    Python hands non-UTF-8 argument bytes over as surrogate escapes; anything that
    still cannot be encoded (a lone surrogate from elsewhere) is a usage error.
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise FilterSyntaxError(f"{text!r} is not text that can be matched as bytes") from None


def make_prefilter(headers: Sequence[str], greps: Sequence[str]) -> Prefilter | None:
    """Parse ``NAME=VALUE`` headers and byte regexes; FilterSyntaxError if one is broken."""
    if not headers and not greps:
        return None
    parsed = []
    for spec in headers:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise FilterSyntaxError(f"bad --header {spec!r}: use NAME=VALUE")
        parsed.append((name, _raw_bytes(value)))
    patterns = []
    for spec in greps:
        try:
            patterns.append(re.compile(_raw_bytes(spec)))
        except re.error as exc:
            position = exc.pos if exc.pos is not None else 0
            raise FilterSyntaxError(
                f"bad --grep regex: {exc.msg}\n  {spec}\n  {' ' * position}^"
            ) from None
        except (OverflowError, RecursionError, ValueError) as exc:  # a{99999999999}, too deep
            raise FilterSyntaxError(f"bad --grep regex {spec!r}: {exc}") from None
    return Prefilter(tuple(parsed), tuple(patterns))


@dataclass(slots=True)
class Script:
    """``keep``/``transform`` from a ``--script`` file (each may be async)."""

    path: Path
    keep: Callable[[ConsumedRecord], Any] | None
    transform: Callable[[ConsumedRecord], Any] | None
    keep_is_async: bool = False
    transform_is_async: bool = False

    async def apply(self, record: ConsumedRecord) -> tuple[bool, Any]:
        """Run ``keep`` then ``transform`` on ``record``: (keep it?, the value to show).

        Caller: ``consume`` and ``tail``, per message.  Without a ``transform`` the value
        is the record's.  A ``transform`` returning None drops the message.  What the
        user's code raises (``USER_CODE_ERRORS``) goes to the caller, to count.
        """
        keep = self.keep
        if keep is not None:
            kept = keep(record)
            if self.keep_is_async:
                kept = await kept
            if not kept:
                return False, None
        transform = self.transform
        if transform is None:
            return True, record.value
        value = transform(record)
        if self.transform_is_async:
            value = await value
        return value is not None, value


def load_script(path: str | Path) -> Script:
    """Run the file once and take its ``keep`` and ``transform``; FilterSyntaxError if unusable."""

    file = Path(path)
    try:
        namespace = run_python_file(
            file, what=f"--script {file}", bad=f"bad --script {file}", run_name="kconsume_script"
        )
    except PythonFileError as exc:
        raise FilterSyntaxError(str(exc)) from None
    keep, transform = namespace.get("keep"), namespace.get("transform")
    if keep is None and transform is None:
        raise FilterSyntaxError(f"--script {file} defines neither keep(msg) nor transform(msg)")
    for name, fn in (("keep", keep), ("transform", transform)):
        if fn is not None and not callable(fn):
            raise FilterSyntaxError(f"--script {file}: {name} is not a function")
    return Script(
        file,
        keep,
        transform,
        inspect.iscoroutinefunction(keep),
        inspect.iscoroutinefunction(transform),
    )
