"""`huddle`: the terminal client (in progress; see the client issue)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of `huddle`."""
    print("huddle: the terminal client is not built yet; run `huddle-server serve` for the server.", file=sys.stderr)
    return 2
