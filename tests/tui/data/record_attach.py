"""Write attach.ndjson: what an observe endpoint sent, recorded as one JSON object a line.

The source is the scripted demo (deterministic), put through the wire format exactly as
the endpoint does: ``{"info": ...}`` once, then ``{"snapshot": ...}`` (the body of
``/snapshot``) and ``{"event": ...}`` (a line of ``/events``) in the order they came.
Run it again only when the wire format changes:
``.venv/bin/python -m tests.tui.data.record_attach`` (from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from kconsume.engine.events import EngineEvent
from kconsume.observe.wire import encode_event, encode_snapshot, encode_status
from tests.tui.scripted_source import ScriptedSource

HERE = Path(__file__).parent


def main() -> None:
    source = ScriptedSource()
    events: list[EngineEvent] = []
    source.subscribe(events.append)
    lines = [
        {
            "info": {
                "version": "0.1.0",
                "broker": source.broker,
                "topics": list(source.topics),
                "group": source.group,
                "control": False,
                "can_skip": False,
                "can_commit": False,
            }
        }
    ]
    lines += [{"event": orjson.loads(encode_event(e))} for e in events]
    for _ in range(100):
        snapshot = source.snapshot()
        status = {"status": encode_status(source.status), "paused": False}
        lines.append({"snapshot": {**status, "snapshot": encode_snapshot(snapshot)}})
    (HERE / "attach.ndjson").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


if __name__ == "__main__":
    main()
