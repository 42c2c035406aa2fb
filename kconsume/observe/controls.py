"""What a controlling ``kconsume attach --control`` may do to an observed App.

Pause and resume fetching, commit now (with a group), skip a blocking message (only
where the App allows it: ``kconsume run``).  Called by the observe server's control
endpoints, which exist only when the endpoint has a token and the request carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..engine.events import EngineEvent, PartitionsAssigned
from ..engine.types import TP

if TYPE_CHECKING:
    from ..engine.app import App

__all__ = ["REMOTE", "AppControls"]

#: The pause reason of a remote pause (streams use their names, the dashboard "user").
REMOTE = "remote"


class AppControls:
    """The controls of one App, for the observe server."""

    def __init__(self, app: App, *, allow_skip: bool) -> None:
        self.app = app
        self.allow_skip = allow_skip
        self.paused = False
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def can_commit(self) -> bool:
        return self.app.consumer.group_id is not None

    def start(self) -> None:
        """Follow assignments, so that a remote pause also holds new partitions."""
        self._unsubscribe = self.app.events.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: EngineEvent) -> None:
        if isinstance(event, PartitionsAssigned) and self.paused:
            self.app.consumer.pause_partitions(event.tps, REMOTE)

    def set_paused(self, paused: bool) -> str:
        """Pause (or resume) fetching every assigned partition; returns what happened."""
        consumer = self.app.consumer
        self.paused = paused
        if paused:
            consumer.pause_partitions(consumer.assignment(), REMOTE)
            return "paused by a remote client: no partition is fetched"
        consumer.resume_partitions(consumer.assignment(), REMOTE)
        return "resumed fetching (remote client)"

    async def commit_now(self) -> str:
        """Commit what is committable now; returns what happened, for people."""
        app = self.app
        if not self.can_commit:
            return "no group: this consumer never commits"
        if not app.running:
            return "not consuming: nothing to commit"
        before = {p.tp: p.committed for p in app.snapshot().partitions}
        try:
            ok = await app.consumer.force_commit()
        except Exception as exc:
            return f"commit failed: {type(exc).__name__}: {exc}"
        after = app.snapshot().partitions
        if not ok:
            errors = sorted({p.last_commit_error for p in after if p.last_commit_error})
            return f"commit failed: {', '.join(errors) or 'unknown error'}"
        moved = [f"{p.tp}→{p.committed}" for p in after if p.committed != before.get(p.tp)]
        return f"committed {', '.join(moved)}" if moved else "nothing new to commit"

    def skip(self, tp: TP, offset: int) -> str | None:
        """Skip ``tp``/``offset`` (``App.skip``); None if done, else why not."""
        if not self.allow_skip:
            return "this consumer does not allow skipping (only kconsume run does)"
        if not self.app.running or not self.app.skip(tp, offset):
            return f"cannot skip {tp}@{offset}: it is not in flight (any more)"
        return None
