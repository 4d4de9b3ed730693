"""What the main screen does with messages: send (new, a reply, an edit), delete (asking
first), react, copy, open a link, and find old ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huddle_tui import untrusted
from huddle_tui.records import ChatKey, ChatMessage, Found
from huddle_tui.screens.confirm import Confirm
from huddle_tui.screens.react import ReactionPicker
from huddle_tui.screens.search import SearchScreen
from huddle_tui.widgets import markdown

if TYPE_CHECKING:
    from huddle_tui.screens.main import MainScreen

HISTORY_PAGES_TO_FIND = 20  # older pages loaded at most to show a search result in its chat


class MessageActions:
    """Sending and acting on single messages, for the main screen."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.session = screen.session

    # ---- the composer -----------------------------------------------------------------
    def submit(self, text: str) -> None:
        """Enter in the composer: a new message, a reply, or the edit of mine."""
        conversation = self.screen.conversation
        key, mode = conversation.key, conversation.mode
        if key is None:
            return
        conversation.stop()
        if mode is not None and mode[0] == "edit":
            if text != mode[1].body:
                self._work(self.session.edit(mode[1].id, text))
            return
        reply_to = mode[1].id if mode is not None else None
        message = self.session.sender.send(key, text, reply_to)
        if message is not None:
            conversation.add_message(message)

    def edit_last(self) -> None:
        """↑ in an empty composer: my last message in this chat, to edit."""
        key = self.screen.conversation.key
        if key is None:
            return
        mine = [m for m in self.session.state.chats.get(key, []) if m.sender == self.session.state.me and not m.pending]
        if not mine:
            return
        self.screen.conversation.start("edit", mine[-1])

    # ---- the message cursor -------------------------------------------------------------
    def act(self, action: str, message: ChatMessage) -> None:
        """A key on the message under the cursor."""
        app, conversation = self.screen.app, self.screen.conversation
        mine = message.sender == self.session.state.me
        if message.pending and action in ("reply", "react", "edit", "delete"):
            app.notify("That message is not sent yet.", severity="warning")
        elif action == "reply":
            conversation.start("reply", message)
        elif action == "edit" and not mine:
            app.notify("You can edit only your own messages.", severity="warning")
        elif action == "edit":
            conversation.start("edit", message)
        elif action == "delete" and not mine and not message.channel:
            app.notify("You can delete only your own messages.", severity="warning")
        elif action == "delete":
            self._ask_delete(message)
        elif action == "react":
            app.push_screen(ReactionPicker(), lambda emoji: self._react(message, emoji))
        elif action == "copy":
            app.copy_to_clipboard(untrusted.text(message.body))  # what you see is what you copy
            app.notify("Copied the message.")
        elif action == "open":
            self._open_link(message)

    def _ask_delete(self, message: ChatMessage) -> None:
        question = f"Delete this message for everyone?\n{untrusted.line(message.body, limit=120)}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._work(self.session.delete(message.id))

        self.screen.app.push_screen(Confirm(question, yes="Delete"), answered)

    def _react(self, message: ChatMessage, emoji: str | None) -> None:
        if emoji:
            self._work(self.session.react(message.id, emoji))

    def _open_link(self, message: ChatMessage) -> None:
        targets = [url for url in markdown.links(untrusted.text(message.body)) if url.startswith(markdown.OPENABLE)]
        if not targets:
            self.screen.app.notify("That message has no link to open.", severity="warning")
            return
        self.screen.app.open_url(targets[0])
        self.screen.app.notify(f"Opening {targets[0]}")

    def _work(self, work: object) -> None:
        self.screen.run_worker(work, group="messages", exit_on_error=False)  # type: ignore[arg-type]

    # ---- search -------------------------------------------------------------------------
    def search(self) -> None:
        """The search box; enter on a result opens its chat at that message."""
        self.screen.app.push_screen(SearchScreen(self.session), self._go_to)

    def _go_to(self, found: Found | None) -> None:
        if found is None:
            return
        if found.chat is None:
            self.screen.app.notify("That message is in a conversation this client does not show.", severity="warning")
            return
        self.screen.open(found.chat)
        self._work(self._show(found.chat, found.id))

    async def _show(self, chat: ChatKey, message_id: str) -> None:
        """Load older history until the message is there, then put the cursor on it."""
        if chat not in self.session.state.history_cursor:
            await self.session.load_history(chat)
        for _ in range(HISTORY_PAGES_TO_FIND):
            if self.session.state.find(message_id) is not None or not self.session.state.history_cursor.get(chat):
                break
            await self.session.load_history(chat, older=True)
        self.screen.conversation.render_log()
        self.screen.call_after_refresh(self._point, message_id)

    def _point(self, message_id: str) -> None:
        if not self.screen.conversation.log_view.point_at(message_id):
            self.screen.app.notify("That message is no longer there.", severity="warning")
