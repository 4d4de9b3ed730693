"""What I type: the outbox and sending it in order, once; and who is typing where.
No Textual here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from huddle_tui.api import Api
from huddle_tui.errors import ApiError, Offline, Unexpected
from huddle_tui.outbox import Outbox, Pending
from huddle_tui.records import ChatKey, ChatMessage
from huddle_tui.store import State, in_order
from huddle_tui.updates import ChatUpdated, Notice, StatusChanged, Update

TYPING_EVERY = 4.0  # seconds between my typing pings in one chat
TYPING_SHOWN = 6.0  # seconds "… is typing" shows after their last ping


class Sender:
    """Sends what I type from the outbox (kept on disk first), and my typing pings."""

    def __init__(
        self,
        state: State,
        api: Callable[[], Api | None],
        tell: Callable[[Update], object],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.state = state
        self.api = api
        self.tell = tell
        self.spawn = spawn
        self.clock = clock
        self.outbox: Outbox | None = None  # opened with the session
        self._flushing: asyncio.Lock | None = None
        self._typed: dict[ChatKey, float] = {}  # when I last said I was typing, per chat
        self.typing: dict[ChatKey, dict[str, float]] = {}  # who types where, until when (monotonic)

    def send(self, chat: ChatKey, text: str, reply_to: str | None = None) -> ChatMessage | None:
        """Keep a message in the outbox first (on disk), show it as pending, then try to send."""
        if self.outbox is None:
            return None
        said = self.outbox.problem
        item = self.outbox.add(str(chat), text, reply_to)
        if self.outbox.problem and self.outbox.problem != said:
            self.tell(Notice(f"{self.outbox.problem}. Sending goes on.", "warning", 15))  # once per reason
        message = ChatMessage(
            id=f"pending:{item.key}",
            sender=self.state.me,
            body=item.body,
            at=self.clock(),
            to=None if chat.is_channel else chat.id,
            channel=chat.id if chat.is_channel else None,
            pending=True,
            reply_to=reply_to,
        )
        self.state.chats.setdefault(chat, []).append(message)
        self.tell(StatusChanged())
        self.spawn(self.flush())
        return message

    async def flush(self) -> None:
        """Send what waits, in order, each with its Idempotency-Key (a retry never doubles it)."""
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        async with self._flushing:  # one flush at a time: order holds, nothing goes twice at once
            await self._flush()
        self.tell(StatusChanged())

    async def _flush(self) -> None:
        api = self.api()
        if self.outbox is None or api is None:
            return
        for item in list(self.outbox.items):
            chat = _outbox_chat(item.to)
            try:
                if chat.is_channel:
                    message_id, at = await api.send_channel(chat.id, item.body, item.key, item.reply_to)
                else:
                    message_id, at = await api.send(chat.id, item.body, item.key, item.reply_to)
            except (Offline, Unexpected):
                return  # try again when the link is back (the Idempotency-Key makes that safe)
            except ApiError as exc:
                self.outbox.done(item.key)
                self._unsent(chat, item, exc.message)
                continue
            self.outbox.done(item.key)
            self._sent(chat, item, message_id, at)

    def _sent(self, chat_key: ChatKey, item: Pending, message_id: str, at: datetime | None) -> None:
        chat = self.state.chats.get(chat_key, [])
        pending = next((m for m in chat if m.id == f"pending:{item.key}"), None)
        if pending is None:
            return
        if any(m.id == message_id for m in chat):
            chat.remove(pending)  # the event came first
        else:
            # Sent: in the server's order from now on (its event, when it comes, says exactly).
            pending.id, pending.pending, pending.at = message_id, False, at or pending.at
            in_order(chat)
        self.tell(ChatUpdated(chat_key))

    def _unsent(self, chat_key: ChatKey, item: Pending, why: str) -> None:
        chat = self.state.chats.get(chat_key, [])
        chat[:] = [m for m in chat if m.id != f"pending:{item.key}"]
        self.tell(ChatUpdated(chat_key))
        self.tell(Notice(f"Not sent to {self.state.chat_title(chat_key)}: {why}", "error"))

    def drop_pending_twin(self, chat_key: ChatKey, sent: ChatMessage) -> bool:
        """My message came back as an event before the send's answer: the pending copy goes."""
        chat = self.state.chats.get(chat_key, [])
        twin = next(
            (m for m in chat if m.pending and m.body == sent.body and (m.to, m.channel) == (sent.to, sent.channel)),
            None,
        )
        if twin is None:
            return False
        chat.remove(twin)
        return True

    def typed(self, chat: ChatKey) -> None:
        """I am typing in this chat: tell the other side, at most once every TYPING_EVERY seconds."""
        now = time.monotonic()
        api = self.api()
        if api is None or now - self._typed.get(chat, -TYPING_EVERY) < TYPING_EVERY:
            return
        self._typed[chat] = now

        async def ping() -> None:
            with contextlib.suppress(ApiError):
                await api.typing(chat)

        self.spawn(ping())

    def typing_in(self, chat: ChatKey) -> list[str]:
        """Who is typing in this chat now (their `typing` came in the last TYPING_SHOWN seconds)."""
        now = time.monotonic()
        return [user for user, until in self.typing.get(chat, {}).items() if until > now and user != self.state.me]

    def someone_typing(self, chat: ChatKey, user: str) -> None:
        """Their `typing` event came: shown for TYPING_SHOWN seconds."""
        self.typing.setdefault(chat, {})[user] = time.monotonic() + TYPING_SHOWN

    def stopped_typing(self, chat: ChatKey, user: str) -> None:
        """Their message came: they are no longer typing it."""
        self.typing.get(chat, {}).pop(user, None)


def _outbox_chat(to: str) -> ChatKey:
    """The chat an outbox item goes to (`channel:<id>` / `dm:<handle>`; older files wrote
    `#<id>` and a bare handle)."""
    if to.startswith("#"):
        return ChatKey.channel(to[1:])
    return ChatKey.parse(to) or ChatKey.dm(to)
