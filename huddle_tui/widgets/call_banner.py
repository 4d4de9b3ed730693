"""The line that says someone is calling: it takes no focus, so typing goes on underneath."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class CallBanner(Static):
    """☎ Maya Chen is calling — ctrl+k answer · ctrl+r decline (quiet while do-not-disturb)."""

    can_focus = False

    def ringing(self, name: str, *, quiet: bool) -> None:
        """Someone (a name through the door) is calling; `quiet`: do-not-disturb is on."""
        keys = Content.styled("ctrl+k answer · ctrl+r decline", "bold")
        if quiet:
            text = Content.assemble(f"☎ {name} is calling (do not disturb: not ringing) — ", keys)
        else:
            text = Content.assemble(f"☎ {name} is calling — ", keys)
        self.update(text)
        self.set_class(quiet, "quiet")
        self.display = True

    def clear(self) -> None:
        """Nobody is calling."""
        self.display = False
