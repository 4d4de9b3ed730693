"""A small reaction picker: the common ones at a key each, or find one by name."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

COMMON = ["👍", "❤️", "😂", "🎉", "👀", "🙏", "✅", "❌"]
NAMED = {
    "thumbs up": "👍", "yes": "👍", "ok": "👌", "heart": "❤️", "love": "❤️", "laugh": "😂", "joy": "😂",
    "party": "🎉", "tada": "🎉", "eyes": "👀", "looking": "👀", "pray": "🙏", "thanks": "🙏", "check": "✅",
    "done": "✅", "cross": "❌", "no": "❌", "fire": "🔥", "rocket": "🚀", "ship it": "🚀", "thinking": "🤔",
    "hmm": "🤔", "clap": "👏", "wave": "👋", "hi": "👋", "smile": "🙂", "sad": "😢", "cry": "😢",
    "wow": "😮", "surprised": "😮", "100": "💯", "coffee": "☕", "bug": "🐛", "warning": "⚠️",
    "question": "❓", "plus one": "➕", "star": "⭐", "muscle": "💪", "sweat": "😅", "facepalm": "🤦",
    "shrug": "🤷", "sleep": "😴", "sun": "☀️", "umbrella": "☂️", "phone": "☎️", "calendar": "📅",
}  # fmt: skip


class ReactionPicker(ModalScreen[str | None]):
    """1-8 pick a common reaction; typing finds one by name; enter picks; escape closes."""

    BINDINGS = [Binding("escape", "dismiss", "Close", id="react.close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="react-box"):
            keys = "   ".join(f"{i} {e}" for i, e in enumerate(COMMON, 1))
            yield Static(Content(f"React: {keys}"), id="react-common")
            yield Input(placeholder="or find one: party, eyes, thanks…", id="react-find", compact=True)
            yield OptionList(*self._options(""), id="react-list")

    def _options(self, needle: str) -> list[Option]:
        needle = needle.strip().lower()
        found = dict.fromkeys(emoji for name, emoji in NAMED.items() if not needle or needle in name)
        names = {e: next(n for n, x in NAMED.items() if x == e) for e in found}
        return [Option(Content(f"{emoji}  {names[emoji]}"), id=emoji) for emoji in found]

    @on(Input.Changed, "#react-find")
    def find(self, event: Input.Changed) -> None:
        """Narrow the list as a name is typed; a digit picks a common one."""
        value = event.value
        if value in [str(i) for i in range(1, len(COMMON) + 1)]:
            self.dismiss(COMMON[int(value) - 1])
            return
        listing = self.query_one("#react-list", OptionList)
        listing.clear_options()
        listing.add_options(self._options(value))
        if listing.option_count:
            listing.highlighted = 0

    @on(Input.Submitted, "#react-find")
    def pick_first(self, _: Input.Submitted) -> None:
        """Enter in the box: the highlighted (first) match."""
        listing = self.query_one("#react-list", OptionList)
        if listing.highlighted is not None:
            self.dismiss(listing.get_option_at_index(listing.highlighted).id)

    @on(OptionList.OptionSelected, "#react-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) on one."""
        self.dismiss(event.option.id)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Close without reacting."""
        self.dismiss(result)
