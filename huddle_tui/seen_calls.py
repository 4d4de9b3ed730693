"""Which missed calls this user has looked at, kept between runs. No Textual here."""

from __future__ import annotations

import json
from pathlib import Path

from huddle_tui.config import user_file

KEEP = 500  # the newest call ids remembered


class SeenCalls:
    """A small JSON file per server and user: the ids of calls seen in the calls list."""

    def __init__(self, directory: Path, server: str, user: str) -> None:
        self.path = user_file(directory, server, user, "calls-seen")
        self.ids: set[str] = self._read()

    def _read(self) -> set[str]:
        try:
            return {str(i) for i in json.loads(self.path.read_text("utf-8"))}
        except (OSError, ValueError, TypeError):
            return set()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self.ids

    def add(self, call_ids: set[str]) -> None:
        """Seen now; written at once (at worst a badge returns next start, if it cannot be)."""
        self.ids |= call_ids
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(sorted(self.ids)[-KEEP:]), "utf-8")
        except OSError:
            pass
