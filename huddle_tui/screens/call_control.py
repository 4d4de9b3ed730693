"""Calls on the main screen: ringing someone and hanging up, the incoming-call dialog, the
alerts when nobody answers, the countdown in the chat header, the calls list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huddle_tui.records import ChatKey
from huddle_tui.screens.calls import CallsScreen, IncomingCall

if TYPE_CHECKING:
    from huddle_tui.screens.main import MainScreen


class CallControl:
    """What the main screen does about calls (the session keeps them)."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.session = screen.session

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
                app.bell()
            elif call.status == "declined":
                app.alert("declined", f"☎ {name} declined the call")
            elif call.status == "answered":
                app.notify(f"☎ {name} answered")
            self.session.my_call = call_id if call.status in ("ringing", "answered") else None
        elif call.status == "ringing":
            app.push_screen(IncomingCall(call_id, name), lambda answer: self._answered(call_id, answer))
        else:
            if isinstance(app.screen, IncomingCall) and app.screen.call_id == call_id:
                app.screen.dismiss("gone")
            if call.status == "no_answer":
                app.alert("missed_call", f"☎ Missed call from {name}", severity="error", loud=True)
        self.tick()
        self.screen.update_status()
        if ChatKey.dm(other) == self.screen.conversation.key:
            self.screen.conversation.render_log()

    def _answered(self, call_id: str, answer: str | None) -> None:
        if answer == "answer":
            self.screen.run_worker(self.session.call_action(call_id, "answer"), group="calls", exit_on_error=False)
        elif answer == "decline":
            self.screen.run_worker(self.session.call_action(call_id, "decline"), group="calls", exit_on_error=False)

    def call_or_hang_up(self, chat: ChatKey | None) -> None:
        """Hang up the call I am in; else ring the person of this chat."""
        live = self.session.live_call()
        if live is not None:
            self.screen.run_worker(self.session.call_action(live.call_id, "end"), group="calls", exit_on_error=False)
            return
        if chat is None or chat.is_channel:
            self.screen.app.notify("Pick a person to call first.", severity="warning")
            return
        self.screen.run_worker(self._ring(chat.id), group="calls", exit_on_error=False)

    async def _ring(self, handle: str) -> None:
        await self.session.call(handle)
        self.tick()

    def tick(self) -> None:
        """The ringing countdown (or the call in progress) in the conversation header."""
        call = self.session.live_call()
        text = ""
        if call is not None and call.started_at is not None:
            elapsed = (self.session.clock() - call.started_at).total_seconds()
            name = self.session.state.name_of(call.callee if call.caller == self.session.state.me else call.caller)
            if call.status == "ringing":
                text = f"☎ ringing {name}… {max(0, int(self.session.state.ring_timeout - elapsed))}s"
            else:
                text = f"☎ on a call with {name} (ctrl+k hangs up)"
        conversation = self.screen.conversation
        if text != conversation.call_status:
            conversation.call_status = text
            conversation.refresh_header()

    def show_list(self) -> None:
        """The calls list; looking at it marks missed calls seen."""
        self.screen.app.push_screen(CallsScreen(self.session.state))
        self.session.calls_seen()
