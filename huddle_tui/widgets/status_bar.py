"""The top line: who I am, my status, the connection, missed calls, dnd."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from huddle_tui import untrusted

CONNECTION = {
    "live": ("● live", "$success"),
    "connecting": ("◌ connecting", "$warning"),
    "reconnecting": ("◌ reconnecting", "$warning"),
    "offline": ("○ offline", "$error"),
    "stopped": ("○ signed out", "$error"),
    "⚠ unexpected answer": ("⚠ unexpected answer", "$error"),
    "⚠ server error": ("⚠ server error", "$error"),
}


MY_STATUS = {"active": ("●", "$success"), "away": ("◒", "$warning"), "dnd": ("⊘", "$error")}


class StatusBar(Static):
    """Huddle · alex.kim ● active    ● live    ☎ 1 missed    ⊘ dnd: off."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.me = ""
        self.my_status = ""
        self.connection = "connecting"
        self.connection_detail = ""
        self.missed = 0
        self.pending = 0
        self.call = ""  # "☎ on a call · 1:05" while I am in one
        self.ooo = ""  # "✈ OOO until Fri 11 Dec" while I am out of office
        self._line: Content | None = None  # what is drawn

    def show(self) -> None:
        """Redraw from the attributes."""
        label, style = CONNECTION.get(self.connection, (self.connection, "$warning"))
        if self.connection == "reconnecting" and self.connection_detail:
            label += f" {self.connection_detail}s"
        dnd = self.my_status == "dnd"
        glyph, mine = MY_STATUS.get(self.my_status, ("☂", "$secondary") if self.my_status else ("", ""))
        me = f"{glyph} {self.my_status.replace('_', ' ')}".strip()
        parts: list[Content | tuple[str, str] | str] = [("Huddle", "bold $accent")]
        if self.me:
            parts += [f" · {untrusted.name(self.me)} ", (me, mine)]
        parts += ["   ", (label, style)]
        if self.ooo:
            parts += ["   ", (self.ooo, "bold $accent")]
        if self.call:
            parts += ["   ", (self.call, "bold $success")]
        if self.pending:
            parts += ["   ", (f"⧗ {self.pending} to send", "$warning")]
        if self.missed:
            parts += ["   ", (f"☎ {self.missed} missed", "bold $error")]
        parts += ["   ", (f"⊘ dnd: {'on' if dnd else 'off'}", "$text-muted")]
        line = Content.assemble(*parts)
        if self._line is not None and line.is_same(self._line):
            return  # nothing to draw (a frame of its own, bench C1)
        self._line = line
        # One line whatever it says (app.tcss: height 1, the screen's width): a new text needs
        # no layout of the whole screen, which cost a frame of its own for each change (bench C1).
        self.update(line, layout=False)
