"""Small sets of ids kept between runs for one user on one server: the missed calls already
looked at, the people watched. No Textual here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from huddle_tui.config import user_file

KEEP = 500  # the newest ids remembered


class KeptIds:
    """A JSON list in the data directory (`<stem>-<tag>.json`); written at every change."""

    def __init__(self, directory: Path, server: str, user: str, stem: str) -> None:
        self.path = user_file(directory, server, user, stem)
        self.ids: set[str] = self._read()

    def _read(self) -> set[str]:
        try:
            return {str(i) for i in json.loads(self.path.read_text("utf-8"))}
        except (OSError, ValueError, TypeError):
            return set()

    def __contains__(self, item: object) -> bool:
        return item in self.ids

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.ids))

    def add(self, *items: str) -> None:
        """Keep these too."""
        self.ids.update(items)
        self._write()

    def discard(self, item: str) -> None:
        """Forget this one."""
        if item in self.ids:
            self.ids.discard(item)
            self._write()

    def _write(self) -> None:
        # At worst (a data directory that cannot be written) this run remembers and the next
        # does not: a missed-call badge comes back, a watch is forgotten.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(sorted(self.ids)[-KEEP:]), "utf-8")
        except OSError:
            pass
