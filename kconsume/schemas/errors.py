"""The errors of schema decoding."""

from __future__ import annotations

__all__ = ["MissingExtraError", "SchemaError"]


class SchemaError(ValueError):
    """A payload a schema format could not decode: a per-message decode error.

    A ``ValueError``, so ``consume``'s tolerant codecs write the message with the
    error instead of dropping it, and the engine counts it as a decode error.
    """


class MissingExtraError(ImportError):
    """The optional libraries for a schema format are not installed."""

    def __init__(self, fmt: str, module: str) -> None:
        super().__init__(
            f"{fmt} decoding needs the {module!r} library: pip install 'kconsume[schemas]'"
        )
        self.fmt = fmt
