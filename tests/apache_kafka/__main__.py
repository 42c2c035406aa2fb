"""``python -m tests.apache_kafka``: fetch the reference broker's jars (once) and say where."""

from __future__ import annotations

import sys

from . import resolve_classpath

if __name__ == "__main__":
    print(resolve_classpath())
    sys.exit(0)
