"""``consume`` on the engine: one Stream, filters, output, stop conditions, safe commits.

Delivery is at-least-once: in a group, a written message is *held* (its refcount
raised) until the output has been flushed, so the engine never commits an offset
whose line could still be lost, even to ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO, TextIO

from ..engine import Event, Stream
from ..engine.codecs import codec
from ..engine.types import TP
from ..errors import KConsumeError
from ..records.decoding import Undecodable, output_codec
from ..records.filters import USER_CODE_ERRORS, make_prefilter
from ..records.record import ConsumedRecord
from .connection import quiet_client_logs, watch_connection
from .ends import PartitionEnds
from .options import ConsumeOptions, engine_app, prepare
from .stats import Stats

__all__ = ["ConsumeFailedError", "FilterFailedError", "run_consume"]

#: Flush at least this often (lines) even while the stream still has events buffered.
FLUSH_EVERY = 1000
#: Filter errors shown in full before they are only counted.
SHOWN_FILTER_ERRORS = 3
#: Decode errors shown in full before they are only counted.
SHOWN_DECODE_ERRORS = 3


class FilterFailedError(KConsumeError):
    """A filter raised and ``--strict`` was given."""


class ConsumeFailedError(KConsumeError):
    """The engine stopped on an error (fetching, committing) before the run was done."""


class _Run:
    def __init__(self, options: ConsumeOptions, out: BinaryIO, err: TextIO) -> None:
        self.options = options
        self.out = out
        self.err = err
        prepared = prepare(options)
        self.format = prepared.formatter
        self.where = prepared.where
        self.script = prepared.script
        self.stats = Stats()
        self.app = engine_app(options)
        value_codec = output_codec(options.value_format, options.schemas)
        #: Set when the filter never reads the value: the stream leaves values raw, and
        #: only the messages the filter keeps are decoded (for the output).
        self.decode_value: Callable[[bytes | None], Any] | None = None
        if self.where is not None and not self.where.reads_value and self.script is None:
            self.decode_value = value_codec.decode
            value_codec = codec("raw")
        self.stream: Stream = self.app.stream(
            *options.topics,
            key=output_codec(options.key_format, options.schemas, key=True),
            value=value_codec,
            prefilter=make_prefilter(options.headers, options.greps),
            name="consume",
        )
        self.pending: list[bytes] = []
        self.finished_tps: set[TP] = set()
        self.ends = PartitionEnds(self.app.consumer.partition_states())
        self.broken_pipe = False
        self.finishing = False

    # -- output ---------------------------------------------------------------

    def flush(self, batch: list[Event]) -> None:
        """Write and flush pending lines.  Caller: :meth:`_loop`, at the end of each batch.

        The batch's messages are released (and may be committed) only after this, when
        the loop body is done.  If the reader left (``| head``), nothing of the batch
        was written for sure: its messages are dropped, so none of them is committed.
        """
        if self.broken_pipe:
            return  # nothing more reaches the reader: commit nothing more
        if self.pending:
            try:
                self.out.write(b"".join(self.pending))
                self.out.flush()
            except BrokenPipeError:
                self.broken_pipe = True  # the reader left (| head): stop, commit nothing unwritten
                drop = self.app.consumer.drop
                for event in batch:
                    drop(event.message)
                return
            self.pending.clear()

    # -- filters ----------------------------------------------------------------

    def filter_error(self, event: Event, where: str, exc: BaseException) -> None:
        self.stats.filter_errors += 1
        m = event.message
        if self.options.strict:
            raise FilterFailedError(
                f"{where} failed on {m.tp}@{m.offset}: {type(exc).__name__}: {exc}"
            ) from exc
        if self.stats.filter_errors <= SHOWN_FILTER_ERRORS:
            frames = traceback.extract_tb(exc.__traceback__)
            place = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
            print(
                f"kconsume: {where} failed on {m.tp}@{m.offset}: "
                f"{type(exc).__name__}: {exc}{place}; counted as not matching",
                file=self.err,
            )
            if self.stats.filter_errors == SHOWN_FILTER_ERRORS:
                print("kconsume: further filter errors are only counted", file=self.err)

    def decode_error(self, event: Event, value: Any) -> None:
        """Count a key or value that did not decode; say why for the first few.

        The message is still written (with ``key_error``/``value_error``) and committed.
        """
        self.stats.decode_errors += 1
        if self.stats.decode_errors > SHOWN_DECODE_ERRORS:
            return
        m = event.message
        for part, decoded in (("key", event.key), ("value", value)):
            if isinstance(decoded, Undecodable):
                print(f"kconsume: {m.tp}@{m.offset}: {part} {decoded.error}", file=self.err)
        if self.stats.decode_errors == SHOWN_DECODE_ERRORS:
            print("kconsume: further decode errors are only counted", file=self.err)

    async def keep(self, event: Event) -> tuple[bool, Any]:
        """Run ``--where`` and ``--script``: (keep it?, value to write)."""
        where = self.where
        if where is not None:
            try:
                if not where.matches(event):
                    return False, None
            except USER_CODE_ERRORS as exc:
                self.filter_error(event, "--where", exc)
                return False, None
        script = self.script
        if script is None:
            return True, event.value
        try:
            kept, value = await script.apply(ConsumedRecord.from_event(event))
        except USER_CODE_ERRORS as exc:
            self.filter_error(event, f"--script {script.path.name}", exc)
            return False, None
        if kept and script.transform is None:
            value = event.value  # as decoded, for the output format to render
        return kept, value

    # -- stop conditions --------------------------------------------------------

    def past_the_end(self, event: Event) -> bool:
        """True for a message after its partition's stop point (-e or --until)."""
        m = event.message
        end = self.ends.end(m.tp)
        if end is not None and m.offset >= end:
            return True
        until = self.options.until_ms
        if until is not None and m.timestamp >= until:
            self.finished_tps.add(m.tp)
            return True
        return False

    async def _watch_ends(self) -> None:
        """For -e/--until: stop the stream once every assigned partition is done.

        Done is decided by :class:`PartitionEnds` from what the stream has processed,
        never from the fetch position.
        """
        consumer, driver = self.app.consumer, self.app.consumer.driver
        until = self.options.until_ms
        # Ended by a flag, not cancelled: a cancelled ListOffsets can leave aiokafka
        # connections open.
        try:
            while not self.finishing:
                await asyncio.sleep(0.05)
                assigned = consumer.assignment()
                if not assigned:
                    continue
                past_until = until is not None and time.time() * 1000 >= until
                if self.options.exit_at_end or past_until:
                    need = self.ends.unlisted(assigned)
                    if need:
                        self.ends.add_listed(await driver.listed_end_offsets(need))
                        continue  # the assignment may have changed meanwhile
                if all(tp in self.finished_tps or self.ends.done(tp) for tp in assigned):
                    self.stream.stop()  # iteration ends once the buffer is empty
                    return
        except Exception as exc:  # the run must end, and not with exit 0
            self.app.crash(exc)

    async def _watch_engine(self) -> None:
        """End the loop when the engine stops on its own (a crash: fetching failed)."""
        await self.app.wait_stopping()
        self.stream.stop()  # what was delivered is still written, then the run ends

    async def _show_progress(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.stats.prefiltered = self.stream.prefiltered
            print(f"\r{self.stats.progress_line()}", end="", file=self.err, flush=True)

    # -- the loop -----------------------------------------------------------------

    def say(self, text: str) -> None:
        """One line of kconsume's own on stderr (after the progress line, if any)."""
        prefix = "\r\x1b[2K" if self.options.progress else ""
        print(f"{prefix}kconsume: {text}", file=self.err, flush=True)

    async def run(self) -> int:
        await self.app.start()
        with quiet_client_logs():  # the connection's state is said by watch_connection
            return await self._run()

    async def _run(self) -> int:
        options = self.options
        if self.app.observer is not None:  # --where and --script errors, for /metrics
            self.app.observer.filter_errors = lambda: {self.stream.name: self.stats.filter_errors}
        if options.exit_at_end:  # before the first message is processed, where we can
            consumer = self.app.consumer
            self.ends.add_listed(await consumer.driver.listed_end_offsets(consumer.assignment()))
        engine_watcher = asyncio.create_task(self._watch_engine(), name="consume-engine")
        connection = asyncio.create_task(
            watch_connection(self.app, options.broker, self.say), name="consume-connection"
        )
        watcher = None
        if options.exit_at_end or options.until_ms is not None:
            watcher = asyncio.create_task(self._watch_ends(), name="consume-ends")
        progress = None
        if options.progress:
            progress = asyncio.create_task(self._show_progress(), name="consume-progress")
        interrupted = False
        try:
            await self._loop()
        except asyncio.CancelledError:
            interrupted = True  # Ctrl-C: what was written is committed, then stop
        finally:
            self.finishing = True
            for task in (engine_watcher, connection):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if progress is not None:
                progress.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await progress
            if watcher is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(watcher, 5.0)
            self.stats.prefiltered = self.stream.prefiltered
            # Said before stopping, which cannot change them: a stop that ends badly (a
            # broker gone, a second Ctrl-C) does not swallow them.
            if options.progress:
                print("\r\x1b[2K", end="", file=self.err, flush=True)
            if options.stats or interrupted:
                print(self.stats.summary(), file=self.err)
            elif self.stats.filter_errors > SHOWN_FILTER_ERRORS:
                print(f"kconsume: {self.stats.filter_errors} filter errors", file=self.err)
            if self.stats.decode_errors >= SHOWN_DECODE_ERRORS and not options.stats:
                print(f"kconsume: {self.stats.decode_errors} decode errors", file=self.err)
            await self.app.stop()
        if self.broken_pipe:
            _silence_stdout()
        crash = self.app.crash_reason
        if crash is not None:
            if isinstance(crash, KConsumeError):
                raise ConsumeFailedError(str(crash))
            raise ConsumeFailedError(f"consuming failed: {type(crash).__name__}: {crash}")
        return 0

    async def _loop(self) -> None:
        """Write the stream, a batch at a time: whatever is buffered, up to ``FLUSH_EVERY``.

        Each batch is written and flushed before the loop body ends, and ``take`` releases
        its messages only then, so no message is committed before its line was written.
        Messages a batch does not write (past the end, past ``-c``) are dropped first.
        """
        options, stats = self.options, self.stats
        pending, fmt = self.pending, self.format
        consumer, stream = self.app.consumer, self.stream
        drop = consumer.drop
        check_end = options.exit_at_end or options.until_ms is not None
        filtering = self.where is not None or self.script is not None
        decode_value = self.decode_value
        count = options.count
        async with contextlib.aclosing(stream.take(FLUSH_EVERY, within=0.0)) as batches:
            async for batch in batches:
                index = 0
                try:
                    for index, event in enumerate(batch):
                        stats.scanned += 1
                        if check_end and self.past_the_end(event):
                            drop(event.message)  # not ours to write: never commit past it
                            continue
                        key, value = event.key, event.value
                        if decode_value is None and (
                            isinstance(value, Undecodable) or isinstance(key, Undecodable)
                        ):
                            self.decode_error(event, value)
                        if filtering:
                            keep, value = await self.keep(event)
                            if not keep:
                                continue
                        if decode_value is not None:  # left raw: decoded once kept
                            value = decode_value(event.message.value)
                            if isinstance(value, Undecodable) or isinstance(key, Undecodable):
                                self.decode_error(event, value)
                        try:
                            line = fmt(event, value)
                        except (TypeError, ValueError) as exc:  # a transform returned that
                            self.filter_error(event, "output", exc)
                            continue
                        stats.matched += 1
                        pending.append(line)
                        if count is not None and stats.matched >= count:
                            for left in batch[index + 1 :]:
                                drop(left.message)  # read, not written: never commit them
                            self.flush(batch)
                            return
                except BaseException:
                    # Ctrl-C, or --strict: what was written so far is committed; the
                    # message being processed and those after it are not.
                    for left in batch[index:]:
                        drop(left.message)
                    self.flush(batch[:index])
                    raise
                self.flush(batch)
                if self.broken_pipe:
                    return


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush does not fail."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


async def run_consume(options: ConsumeOptions, out: BinaryIO, err: TextIO) -> int:
    """Consume as ``options`` say, writing to ``out``; returns the exit code."""
    return await _Run(options, out, err).run()
