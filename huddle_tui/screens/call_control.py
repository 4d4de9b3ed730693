"""Calls on the main screen, as a state machine the user can see and drive with one key.

ctrl+k calls the highlighted (or open) person, answers a call ringing in, and hangs up the
call I am in, caller and callee alike; ctrl+r declines. A call ringing in shows in a banner
that takes no focus: what is being typed goes on being typed. While a call is live the
status line and the chat header say so, with its duration. Do-not-disturb rings nothing and
shows a quiet banner; the call still ends up in the calls list."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from huddle_tui.records import CallRecord, ChatKey
from huddle_tui.screens.calls import CallsScreen

if TYPE_CHECKING:
    from huddle_tui.screens.main import MainScreen


def clock_text(seconds: float) -> str:
    """`0:07`, `12:34`, `1:02:03`."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class CallControl:
    """What the main screen does about calls (the session's state keeps them)."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.session = screen.session
        self._rang: set[str] = set()  # calls ringing in already announced (bell, notification)

    @property
    def quiet(self) -> bool:
        """Do-not-disturb is on."""
        me = self.session.state.contacts.get(self.session.state.me)
        return me is not None and me.status == "dnd"

    def changed(self, call_id: str) -> None:
        """A call I am part of changed: say so, as loudly as it deserves."""
        state, app = self.session.state, self.screen.huddle
        call = state.calls[call_id]
        mine = call.caller == state.me
        other = call.callee if mine else call.caller
        name = state.name_of(other)
        if mine:
            if call.status == "no_answer":
                app.alert("no_answer", f"☎ {name} didn't answer", severity="error", loud=True)
            elif call.status == "declined":
                app.alert("declined", f"☎ {name} declined the call")
            elif call.status == "answered":
                app.notify(f"☎ {name} answered")
        elif call.status == "ringing" and call_id not in self._rang:
            self._rang.add(call_id)
            if not self.quiet:
                app.alert("ringing", f"☎ {name} is calling", loud=True, toast=False)
        elif call.status == "no_answer":
            app.alert("missed_call", f"☎ Missed call from {name}", severity="error", loud=True)
        self.show()
        if ChatKey.dm(other) == self.screen.conversation.key:
            self.screen.conversation.render_log()

    # ---- the one key ----------------------------------------------------------------
    def call_answer_or_hang_up(self, chat: ChatKey | None) -> None:
        """Answer a call ringing in; else hang up the call I am in; else ring this chat's person."""
        state = self.session.state
        ringing = state.ringing_in()
        if ringing is not None:
            self._act(ringing, "answer")
            return
        live = state.live_call()
        if live is not None:
            self._act(live, "end")
            return
        if chat is None or chat.is_channel or chat.id == state.me:
            self.screen.app.notify("Pick a person to call first.", severity="warning")
            return
        self.screen.run_worker(self._ring(chat.id), group="calls", exit_on_error=False)

    def decline(self) -> None:
        """Decline the call ringing in (nothing to do if none is)."""
        ringing = self.session.state.ringing_in()
        if ringing is not None:
            self._act(ringing, "decline")

    def _act(self, call: CallRecord, action: str) -> None:
        work = self.session.call_action(call.call_id, action)  # type: ignore[arg-type]
        self.screen.run_worker(work, group="calls", exit_on_error=False)

    async def _ring(self, handle: str) -> None:
        await self.session.call(handle)
        self.show()

    # ---- what shows -----------------------------------------------------------------
    def show(self) -> None:
        """The banner, the status line and the chat header, as the calls are now."""
        state = self.session.state
        ringing = state.ringing_in()
        if ringing is None:
            self.screen.call_banner.clear()
        else:
            self.screen.call_banner.ringing(state.name_of(ringing.caller), quiet=self.quiet)
        self.tick()
        self.screen.update_status()

    def tick(self) -> None:
        """Every second: the countdown of a call ringing out, the duration of a live one."""
        state, now = self.session.state, self.session.clock()
        call = state.live_call()
        header = status = ""
        if call is not None:
            name = state.name_of(call.callee if call.caller == state.me else call.caller)
            if call.status == "ringing":
                left = state.ring_timeout - _since(call.started_at, now)
                header = f"☎ ringing {name}… {max(0, int(left))}s (ctrl+k hangs up)"
                status = "☎ ringing"
            else:
                duration = clock_text(_since(call.answered_at or call.started_at, now))
                header = f"☎ on a call with {name} · {duration} (ctrl+k hangs up)"
                status = f"☎ on a call · {duration}"
        conversation = self.screen.conversation
        if header != conversation.call_status:
            conversation.call_status = header
            conversation.refresh_header()
        bar = self.screen.status_bar
        if status != bar.call:
            bar.call = status
            bar.show()

    def show_list(self) -> None:
        """The calls list; looking at it marks missed calls seen. Enter there opens the chat."""

        def chosen(handle: str | None) -> None:
            if handle:
                self.screen.open(ChatKey.dm(handle))

        self.screen.app.push_screen(CallsScreen(self.session.state), chosen)
        self.session.calls_seen()


def _since(then: datetime | None, now: datetime) -> float:
    return (now - then).total_seconds() if then is not None else 0.0
