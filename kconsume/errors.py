"""The errors kconsume reports to people, and the exit code each maps to.

Every error meant for a person (not a traceback) is a :class:`KConsumeError`; the
commands print its message on one line and exit with its ``exit_code``.  The family
the engine and every transport raise lives here, as httpx keeps its exceptions in one
module; errors of one command stay next to it, subclassing these.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "BrokerUnreachableError",
    "EndUnknownError",
    "KConsumeError",
    "UnknownTopicError",
    "UnreadableRecordsError",
    "UsageError",
]

#: Something failed while running: the broker, the data, the user's code, the disk.
EXIT_FAILURE = 1
#: Bad input found before anything ran: an option, a filter, a script, a setting.
EXIT_USAGE = 2


class KConsumeError(Exception):
    """An error with a message meant for the user, not a traceback."""

    exit_code = EXIT_FAILURE


class UsageError(KConsumeError):
    """Bad input, found before anything was consumed."""

    exit_code = EXIT_USAGE


class BrokerUnreachableError(KConsumeError):
    """No broker answered at the bootstrap addresses."""


class UnknownTopicError(KConsumeError):
    """A subscribed topic does not exist on the cluster."""


class EndUnknownError(KConsumeError):
    """A partition's end offset could not be confirmed."""


class UnreadableRecordsError(KConsumeError):
    """Fetched records the client cannot decode (a compression codec it lacks)."""
