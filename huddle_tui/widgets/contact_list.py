"""The contact list: teams, presence, OOO markers, unread counts, channels; filter as you type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from huddle_tui import presence, untrusted
from huddle_tui.records import ChatKey, Contact
from huddle_tui.store import State

FLUSH_DELAY = 0.03  # seconds from the first change of a burst to the redraw
STATE_STYLE = {
    "active": "$success",
    "away": "$warning",
    "dnd": "$error",
    "leave": "$secondary",
    "offline": "$text-muted",
    "stale": "$text-muted",
}


def contact_row(
    contact: Contact, now: datetime, width: int, *, with_handle: bool = False, watched: bool = False
) -> Content:
    """One row: glyph, name (and handle when the name looks like someone else's), OOO marker,
    age, unread count. Names are cut to their cell width (wide characters count twice); the
    OOO column's room goes to the name when they are not out of office."""
    word = presence.state(contact, now)
    ooo = "✈ OOO" if contact.ooo else ""
    name_width = max(8, width - (18 if ooo else 12))
    name = Content.styled(contact.name, "bold" if contact.unread else "")
    if watched:  # told when they are active: the mark keeps its room
        name = Content.assemble(name.truncate(name_width - 2, ellipsis=True), (" ⚑", "$accent"))
    if with_handle:  # the handle is what tells them apart: it keeps its room, the name gives way
        handle = Content.styled(f" @{contact.shown_handle}", "$text-muted")
        room = min(handle.cell_length, name_width - 6)
        name = Content.assemble(name.truncate(name_width - room, ellipsis=True), handle.truncate(room, ellipsis=True))
    unread = str(contact.unread) if contact.unread else ""
    age = "now" if word == "active" else presence.age(contact.last_seen, now)
    if word == "stale" and age == "now":
        age = "<1m"  # last known a moment ago: never "now" while that is not known
    style = STATE_STYLE[word]
    return Content.assemble(
        (presence.GLYPHS[word], style),
        " ",
        name.truncate(name_width, ellipsis=True, pad=True),
        (f"{ooo:>6}" if ooo else "", "$accent"),
        f"{age:>4} ",
        (f"{unread:>3}", "bold $accent" if unread else ""),
    )


def channel_row(name: str, unread: int, width: int, mentions: int = 0) -> Content:
    """One channel row (the name through the door, cut to its cell width): bold with its unread
    count when there is something new, `@` when something new mentions me."""
    style = "bold" if unread else ""
    shown = Content.styled(untrusted.name(name), style).truncate(max(8, width - 9), ellipsis=True, pad=True)
    count = "99+" if unread > 99 else str(unread or "")
    return Content.assemble(
        ("#", "$accent"), " ", shown, ("@ " if mentions else "  ", "bold $error"), (f"{count:>3}", "bold $accent")
    )


class LazyOption(Option):
    """An option whose prompt is drawn the first time it is shown.

    With thousands of contacts only a screenful of rows is ever on screen: drawing every row
    up front was a fifth of start-up with 2,000 contacts (bench C1), and again at every age tick.
    """

    def __init__(self, draw: Callable[[], Content], id: str) -> None:
        super().__init__("", id=id)
        self._draw: Callable[[], Content] | None = draw

    @property
    def prompt(self) -> Content:
        """The row, drawn now if it was not yet."""
        if self._draw is not None:
            self._prompt, self._draw = self._draw(), None
        return self._prompt  # type: ignore[return-value]

    def _set_prompt(self, prompt: object) -> None:
        self._draw = None
        super()._set_prompt(prompt)  # type: ignore[arg-type]


class ContactList(OptionList):
    """Contacts grouped by team, then channels. Posts `ContactList.Chosen` with a chat key."""

    class Chosen(Message):
        """A contact or channel was chosen."""

        def __init__(self, key: ChatKey) -> None:
            super().__init__()
            self.key = key

    def __init__(self, state: State, clock: Callable[[], datetime] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.state = state
        self.clock = clock or (lambda: datetime.now(UTC))
        self.filter_text = ""
        self._order: list[str] = []
        self._dirty: set[str] = set()
        self._rebuild_needed = True
        self._flush_pending = False
        # The option of each row, reused while the row is unchanged: a reorder then costs
        # a new list of the same options, not a new prompt (and its layout) for every row.
        self._options_by_key: dict[str, Option] = {}
        self._width = 0
        self.watched: Callable[[str], bool] = lambda handle: False  # the main screen says who is watched

    def on_mount(self) -> None:
        """Ages ("3h") move on their own."""
        self.set_interval(30, self.age_tick)

    def age_tick(self) -> None:
        """Redraw every row for the ages."""
        self.rebuild_soon()

    def _schedule(self) -> None:
        # Coalesce floods: one redraw 30 ms after the first change of a burst.
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(FLUSH_DELAY, self.flush)

    def mark(self, chat: ChatKey) -> None:
        """A contact or channel changed."""
        self._dirty.add(str(chat))
        self._schedule()

    def rebuild_soon(self) -> None:
        """The set of rows changed (filter, boot)."""
        self._rebuild_needed = True
        self._schedule()

    def layout_keys(self, now: datetime) -> list[str]:
        """Row ids in display order: `team:<name>` headers, then chat keys (`dm:<handle>`,
        `channel:<id>`)."""
        needle = self.filter_text.lower()
        contacts = [
            c
            for c in self.state.contacts.values()
            if c.handle != self.state.me and (not needle or needle in c.name.lower() or needle in c.handle)
        ]
        my_team = self.state.contacts[self.state.me].team if self.state.me in self.state.contacts else None
        teams = sorted({c.team or "" for c in contacts}, key=lambda t: (t != my_team, t == "", t))
        keys: list[str] = []
        for team in teams:
            known = self.state.presence_last_known(now)
            members = sorted(
                (c for c in contacts if (c.team or "") == team),
                key=lambda c: presence.sort_key(presence.as_shown(c, known), now),
            )
            keys.append(f"team:{team}")
            keys.extend(str(ChatKey.dm(c.handle)) for c in members)
        channels = [c for c in self.state.channels.values() if not needle or needle in c.name.lower()]
        if channels:
            keys.append("team:#")
            keys.extend(str(ChatKey.channel(c.id)) for c in sorted(channels, key=lambda c: c.name))
        return keys

    def _option(self, key: str, now: datetime, width: int) -> Option:
        if key.startswith("team:"):
            label = key[5:]
            title = "CHANNELS" if label == "#" else (untrusted.name(label).upper() if label else "PEOPLE")
            return Option(Content.styled(title, "bold $text-muted"), id=key, disabled=True)
        chat = ChatKey.parse(key)
        assert chat is not None
        if chat.is_channel:
            name = self.state.channels[chat.id].name
            unread, mentions = self.state.unread_of(chat), self.state.mentions_of(chat)
            return Option(channel_row(name, unread, width, mentions), id=key)
        contact = presence.as_shown(self.state.contacts[chat.id], self.state.presence_last_known(now))
        with_handle = chat.id in self.state.ambiguous
        watched = self.watched(chat.id)
        return LazyOption(lambda: contact_row(contact, now, width, with_handle=with_handle, watched=watched), id=key)

    def flush(self) -> None:
        """Apply pending changes: in place when the order holds, else the same options reordered."""
        self._flush_pending = False
        if not self._dirty and not self._rebuild_needed:
            return
        now = self.clock()
        width = self._row_width()
        order = self.layout_keys(now)
        if self._rebuild_needed or width != self._width:
            self._options_by_key.clear()  # every row is drawn anew (ages moved, or the width)
            self._width = width
        if order != self._order or not self._options_by_key:
            for key in self._dirty:
                self._options_by_key.pop(key, None)
            options = self._options_by_key
            for key in order:
                if key not in options:
                    options[key] = self._option(key, now, width)
            selected, scroll_y = self._highlighted_id(), self.scroll_y
            self.set_options([options[k] for k in order])
            self._order = order
            if selected in order:
                self.highlighted = order.index(selected)
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        else:
            for key in self._dirty:
                if key in order and not key.startswith("team:"):
                    option = self._option(key, now, width)
                    self._options_by_key[key] = option
                    self.replace_option_prompt(key, option.prompt)
        self._dirty.clear()
        self._rebuild_needed = False

    def _update_lines(self) -> None:
        """OptionList's line index, knowing every row is one line.

        OptionList measures each prompt's height by wrapping it (`Content.get_height`): 60 % of
        painting 2,000 contacts (bench C1). Rows here are cut to the width, so each is one
        line. Textual is pinned exactly; the snapshot tests catch a change of this internal.
        """
        if not self.scrollable_content_region:
            return
        cache = self._line_cache
        lines = cache.lines
        for index in range(lines[-1][0] + 1 if lines else 0, len(self.options)):
            cache.index_to_line[index] = len(lines)
            cache.heights[index] = 1
            lines.append((index, 0))
        virtual_size = Size(self.scrollable_content_region.width - self._get_left_gutter_width(), len(lines))
        if virtual_size != self.virtual_size:
            self.virtual_size = virtual_size
            self._scroll_update(virtual_size)

    def highlight_first(self) -> None:
        """Leave the highlight on a contact or channel; else put it on the first one shown (down
        from the find box). Team headers are the disabled options."""
        self.flush()  # a filter typed in the last FLUSH_DELAY is not applied yet
        if self.highlighted is None or self.options[self.highlighted].disabled:
            self.action_first()

    def first_match(self) -> ChatKey | None:
        """The first contact or channel shown, with what was typed in the find box applied."""
        self.flush()  # a filter typed in the last FLUSH_DELAY is not applied yet
        return next((chat for option_id in self._order if (chat := ChatKey.parse(option_id))), None)

    def _highlighted_id(self) -> str | None:
        if self.highlighted is None or self.highlighted >= len(self._order):
            return None
        return self._order[self.highlighted]

    @property
    def selected_chat(self) -> ChatKey | None:
        """The highlighted contact or channel."""
        option_id = self._highlighted_id()
        return ChatKey.parse(option_id) if option_id else None

    def row_text(self, chat: ChatKey) -> str:
        """What a row shows (for tests and screen readers)."""
        return str(self.get_option(str(chat)).prompt)

    def on_resize(self) -> None:
        """Names are padded to the width: redraw when it changed (not when only the height did)."""
        if self._row_width() != self._width:
            self.rebuild_soon()

    def _row_width(self) -> int:
        return max(20, self.scrollable_content_region.width - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter or click opens the chat."""
        event.stop()
        chat = ChatKey.parse(event.option.id or "")
        if chat is not None:
            self.post_message(self.Chosen(chat))
