"""Where and how an App is observed: the settings of the observe endpoint.

Only settings and their checks live in the engine; the endpoint itself (an aiohttp
server, Prometheus metrics) is :mod:`kconsume.observe`, which ``App.start()`` imports
only when ``observe`` is set.  Checked when the App is built, so a bad address or a
missing token fails before anything connects.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from ..errors import KConsumeError

__all__ = ["TOKEN_ENV", "ObserveConfigError", "ObserveSettings", "is_loopback", "parse_address"]

#: The environment variable a token is read from when none is given.
TOKEN_ENV = "KCONSUME_OBSERVE_TOKEN"
DEFAULT_HOST = "127.0.0.1"


class ObserveConfigError(KConsumeError):
    """A bad observe address, a non-loopback one without a token, or one that is taken."""


def parse_address(address: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or a bare ``port`` (loopback) as (host, port)."""
    text = address.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        raise ObserveConfigError(
            f"observe address {address!r}: name the interface (127.0.0.1:PORT, 0.0.0.0:PORT)"
        )
    try:
        number = int(port)
    except ValueError:
        raise ObserveConfigError(f"observe address {address!r}: the port is not a number") from None
    if not 0 <= number <= 65535:
        raise ObserveConfigError(f"observe address {address!r}: no such port")
    return host, number


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IPs (127.0.0.0/8, ::1); False for any other."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True, slots=True)
class ObserveSettings:
    """The observe endpoint of one App.  Build with :meth:`create`."""

    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    """Required on every request when set; never logged (``repr`` hides it)."""
    allow_skip: bool = False
    """Whether a controlling client may skip a blocking message (``kconsume run``)."""

    @classmethod
    def create(
        cls, address: str, token: str | None = None, *, allow_skip: bool = False
    ) -> ObserveSettings:
        """Parse and check ``address``; ``token`` falls back to ``$KCONSUME_OBSERVE_TOKEN``.

        A non-loopback address without a token is refused.
        """
        host, port = parse_address(address)
        token = token or os.environ.get(TOKEN_ENV) or None
        if not is_loopback(host) and token is None:
            raise ObserveConfigError(
                f"observe address {host}:{port} is not loopback: it needs a token "
                f"(--observe-token or ${TOKEN_ENV})"
            )
        return cls(host, port, token, allow_skip)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
