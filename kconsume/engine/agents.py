"""Agents: an ``async def fun(stream)`` run over one stream while the App runs.

The App starts one task per agent and can end the iteration the agent's loop body is
on without ending the agent: :meth:`Agent.cut` cancels the task, the runner closes
the stream's iterator (its ``finally`` acks what the body was on) and calls ``fun``
over the same stream again, which goes on with the next message.  Like a Faust agent
restarted by its supervisor, the function starts over: what it kept in local
variables before its ``async for`` is made again.

Two things cut an iteration: the agent's time limit (``@app.agent(..., timeout=30)``,
reported as :class:`HandlerTimedOut`), and a skip of the record the body is on
(``App.skip``, reported in its :class:`MessageSkipped`).  A loop body that catches
``CancelledError`` and goes on is not cut: the record is then acked when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING

from .events import HandlerTimedOut
from .types import Message

if TYPE_CHECKING:
    from .events import EventBus
    from .stream import Stream

__all__ = ["Agent", "AgentFun"]

log = logging.getLogger(__name__)

AgentFun = Callable[["Stream"], Awaitable[None]]

#: The time limit is checked this often, as a share of it.  The reader does not read the
#: clock; the first observer of an event stamps it (``Stream.current_since``), so a cut
#: comes at most two checks (20%) late.
LIMIT_CHECKS = 10
#: ... but not more often than this (seconds).
LIMIT_CHECK_MIN = 0.02


class Agent:
    """A coroutine function run over one stream while the app runs.

    Declared with ``@app.agent(...)``; ``timeout`` (seconds, None: none) is the time a
    loop body may spend on one event (or one ``take`` batch) before it is cancelled.
    """

    def __init__(self, fun: AgentFun, stream: Stream, *, timeout: float | None = None) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError("an agent's timeout must be positive (None: no time limit)")
        self.fun = fun
        self.stream = stream
        self.name = stream.name
        self.timeout = timeout
        #: The running task (between ``App.start`` and ``App.stop``).
        self.task: asyncio.Task[None] | None = None
        #: Iterations cut so far (time limit or skip).
        self.cuts = 0
        #: The cut asked for and not yet carried out: why, the message the body was on,
        #: and the stream's iterator (held, so that it cannot be finalized meanwhile).
        self._cut: tuple[str, Message, AsyncGenerator[object, None] | None] | None = None

    def __repr__(self) -> str:
        return f"<Agent {self.name}>"

    def on(self, message: Message) -> bool:
        """True while the loop body is on ``message`` (alone or in its ``take`` batch)."""
        return any(m is message for m in self.stream.in_hand())

    def cut(self, why: str) -> bool:
        """Cancel the loop body's current iteration; the agent goes on with the next message.

        Caller: ``App.skip`` (``why`` = "skip") and the time limit ("timeout").  Returns
        False when the body is on nothing, or a cut is already under way.
        """
        task = self.task
        held = self.stream.in_hand()
        if task is None or task.done() or not held or self._cut is not None:
            return False
        self._cut = (why, held[0], self.stream.reader())
        task.cancel()
        return True

    async def run(
        self, events: EventBus, crashed: Callable[[BaseException], Awaitable[None]]
    ) -> None:
        """The agent's task: ``fun(stream)``, called again after each cut.

        Caller: ``App.start``.  An exception out of ``fun`` goes to ``crashed`` (the App
        commits what is acked and stops).
        """
        task = asyncio.current_task()
        assert task is not None
        limit = (
            asyncio.create_task(self._enforce_limit(), name=f"kconsume-limit-{self.name}")
            if self.timeout is not None
            else None
        )
        try:
            while True:
                try:
                    await self.fun(self.stream)
                    return
                except asyncio.CancelledError:
                    cut, self._cut = self._cut, None
                    if cut is None or task.uncancel() > 0:
                        raise  # a stop (or another cancel besides ours)
                    await self._after_cut(cut, events)
                except Exception as exc:
                    log.exception("agent %s failed", self.name)
                    await crashed(exc)
                    return
        finally:
            if limit is not None:
                limit.cancel()

    async def _after_cut(
        self, cut: tuple[str, Message, AsyncGenerator[object, None] | None], events: EventBus
    ) -> None:
        why, message, reader = cut
        now = time.monotonic()
        since = self.stream.current_since(now)
        if reader is not None:
            await reader.aclose()  # acks the message unless another stream holds it
        self.cuts += 1
        if why != "timeout":
            return  # a skip: its MessageSkipped says so
        assert self.timeout is not None
        timed_out = HandlerTimedOut(
            agent=self.name,
            tp=message.tp,
            offset=message.offset,
            after=now - since if since is not None else self.timeout,
            timeout=self.timeout,
        )
        log.warning("%s", timed_out.summary, extra={"kconsume_event": True})
        events.publish(timed_out)

    async def _enforce_limit(self) -> None:
        """Cut an iteration that has lasted ``timeout``.  Its own task: nothing per message."""
        timeout = self.timeout
        assert timeout is not None
        stream = self.stream
        step = max(timeout / LIMIT_CHECKS, LIMIT_CHECK_MIN)
        while True:
            await asyncio.sleep(step)
            if stream.current is None or self._cut is not None:
                continue
            now = time.monotonic()
            since = stream.current_since(now)  # stamped by the first observer to see it
            if since is not None and now - since >= timeout:
                self.cut("timeout")
