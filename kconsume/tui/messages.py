"""Messages the dashboard posts to itself (widgets post their own, nested in their class).

``EngineEventsPending`` is how engine events reach the UI: the event-bus callback
runs on the engine's task, appends the event to a bounded inbox and posts this
message once; until the app has drained the inbox no second one is posted, and the
message can also replace a queued one of its kind.  A burst of ten thousand decode
errors therefore costs the UI one message and a bounded number of lines.
"""

from __future__ import annotations

from textual.message import Message

__all__ = ["EngineEventsPending"]


class EngineEventsPending(Message, bubble=False):
    """Engine events wait in the app's inbox."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineEventsPending)
