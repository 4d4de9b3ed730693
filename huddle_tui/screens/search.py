"""Search in everything I may see: type, enter; results show where, who, when and an excerpt with
the words marked; enter on one opens its conversation at that message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from huddle_tui import untrusted
from huddle_tui.records import Found

if TYPE_CHECKING:
    from huddle_tui.session import Session


def result_line(session: Session, found: Found, words: list[str]) -> Content:
    """`# general · Sam · Fri 15 Mar 18:22 — …the deploy is stuck…` (a DM: `Sam → you`) with the words searched for
    marked (in the excerpt as shown: the door may have changed its spacing)."""
    state = session.state
    sender = "you" if found.sender == state.me else state.name_of(found.sender)
    if found.chat is None:
        who = f"elsewhere · {sender}"
    elif found.chat.is_channel:
        who = f"{state.chat_title(found.chat)} · {sender}"
    elif found.sender == state.me:
        who = f"you → {state.chat_title(found.chat)}"  # a DM says who wrote to whom, once each
    else:
        who = f"{sender} → you"
    when = found.at.astimezone().strftime("%a %-d %b %H:%M")
    head = Content.styled(f"{who} · {when} — ", "$text-muted")
    excerpt = untrusted.line(found.excerpt, limit=200)
    body, lower = Content(excerpt), excerpt.casefold()
    for word in words:
        at = lower.find(word)
        while word and at >= 0:
            body = body.stylize("bold $accent", at, at + len(word))
            at = lower.find(word, at + len(word))
    return Content.assemble(head, body)


class SearchScreen(ModalScreen[Found | None]):
    """Dismissed with the result chosen (None: closed)."""

    BINDINGS = [Binding("escape", "dismiss", "Close", id="search.close")]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.results: dict[str, Found] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static("Search messages", id="search-title")
            yield Input(placeholder="words to find, then enter", id="search-input", compact=True)
            yield Static("", id="search-status")
            yield OptionList(id="search-results")

    @on(Input.Submitted, "#search-input")
    def submitted(self, event: Input.Submitted) -> None:
        """Search for what was typed."""
        if event.value.strip():
            self.run_search(event.value.strip())

    @work(exclusive=True, group="search", exit_on_error=False)
    async def run_search(self, query: str) -> None:
        """Ask the server; show what it found."""
        status = self.query_one("#search-status", Static)
        status.update(Content("Searching…"))
        page = await self.session.search(query)
        if page is None:
            status.update(Content("The search failed: try again."))
            return
        self.results = {f.id: f for f in page.found}
        listing = self.query_one("#search-results", OptionList)
        listing.clear_options()
        words = [w.strip('"*').casefold() for w in query.split() if w.strip('"*')]
        listing.add_options([Option(result_line(self.session, f, words), id=f.id) for f in page.found])
        shown = len(page.found)
        status.update(Content(f"{page.total} found" + (f", the newest {shown} shown" if page.total > shown else "")))
        if shown:
            listing.highlighted = 0
            listing.focus()

    @on(OptionList.OptionSelected, "#search-results")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        """Open the conversation at this message."""
        self.dismiss(self.results.get(event.option.id or ""))

    async def action_dismiss(self, result: Found | None = None) -> None:
        """Close."""
        self.dismiss(result)
