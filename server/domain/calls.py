"""Call signalling: ring, answer, decline, end, and no_answer after the ring timeout."""

from __future__ import annotations

import secrets
from typing import Any

from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.events import CallChanged, EventLog
from server.domain.people import People
from server.domain.views import CallView
from server.model import CALL_TYPES, Call, User
from server.store.base import ReadTx, Store, WriteTx

# A call in one of these is ringing or under way: one per pair of people at a time.
LIVE = ("ringing", "answered")


class Calls:
    """Starting and answering calls; the ring timer."""

    def __init__(self, store: Store, clock: Clock, log: EventLog, people: People, *, ring_timeout: float) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.ring_timeout_us = int(ring_timeout * 1_000_000)

    def view_of(self, repo: ReadTx, call: Call) -> CallView:
        """Resolve the handles of a call."""
        people = repo.users_by_pk((call.caller_pk, call.callee_pk))
        return CallView(call, people[call.caller_pk].handle, people[call.callee_pk].handle)

    def _emit(self, tx: WriteTx, view: CallView, now: int) -> None:
        self.log.emit(tx, frozenset({view.call.caller_pk, view.call.callee_pk}), CallChanged(now, view))

    def _party_call(self, repo: ReadTx, actor: User, public_id: str) -> Call:
        call = repo.get_call(public_id) if isinstance(public_id, str) else None
        if call is None or actor.pk not in (call.caller_pk, call.callee_pk):
            raise NotFound("CallNotFound", f"no call {public_id!r}")
        return call

    async def start(self, actor_pk: int, to: Any, call_type: Any) -> CallView:
        """Ring someone."""
        if call_type not in CALL_TYPES:
            raise Invalid("InvalidCallType", "type must be audio or video")

        def run(tx: WriteTx) -> CallView:
            now = self.clock.now()
            caller = actor_of(tx, actor_pk)
            callee = self.people.find(tx, to)
            if callee.pk == caller.pk:
                raise Invalid("InvalidRecipient", "you cannot call yourself")
            if tx.call_between(caller.pk, callee.pk, LIVE) is not None:
                raise Conflict("CallInProgress", f"a call with {callee.handle} is already ringing or live")
            pk = tx.insert_call(
                public_id="call_" + secrets.token_hex(8),
                caller_pk=caller.pk,
                callee_pk=callee.pk,
                type=call_type,
                status="ringing",
                started_at=now,
            )
            call = tx.get_call_pk(pk)
            view = CallView(call, caller.handle, callee.handle)
            self._emit(tx, view, now)
            self.people.touch(tx, caller.pk, now)
            return view

        return await self.store.write(run)

    async def get(self, actor_pk: int, public_id: str) -> CallView:
        """One call of the caller's."""

        def run(repo: ReadTx) -> CallView:
            return self.view_of(repo, self._party_call(repo, actor_of(repo, actor_pk), public_id))

        return await self.store.read(run)

    async def list(self, actor_pk: int, *, missed: bool, limit: int) -> tuple[list[CallView], int]:
        """The caller's calls (or the ones they missed), newest first."""

        def run(repo: ReadTx) -> tuple[list[CallView], int]:
            actor = actor_of(repo, actor_pk)
            if missed:  # missed: rung and never answered (not declined, not cancelled)
                calls, total = repo.calls_of(actor.pk, limit=limit, callee_only=True, statuses=("no_answer",))
            else:
                calls, total = repo.calls_of(actor.pk, limit=limit)
            return [self.view_of(repo, c) for c in calls], total

        return await self.store.read(run)

    async def act(self, actor_pk: int, public_id: str, action: str) -> CallView:
        """answer | decline | end."""

        def run(tx: WriteTx) -> CallView:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            call = self._party_call(tx, actor, public_id)
            is_callee = actor.pk == call.callee_pk
            if action in ("answer", "decline"):
                if not is_callee:
                    raise Forbidden("NotCallee", f"only the person called can {action}")
                if call.status != "ringing":
                    raise Conflict("CallNotRinging", f"the call is {call.status}")
                if action == "answer":
                    call = tx.update_call(call.pk, expect="ringing", status="answered", answered_at=now)
                else:
                    call = tx.update_call(call.pk, expect="ringing", status="declined", ended_at=now)
            elif action == "end":
                if call.status == "ringing":
                    status = "declined" if is_callee else "cancelled"
                    call = tx.update_call(call.pk, expect="ringing", status=status, ended_at=now)
                elif call.status == "answered":
                    call = tx.update_call(call.pk, expect="answered", status="ended", ended_at=now)
                else:
                    raise Conflict("CallNotActive", f"the call is already {call.status}")
            else:
                raise Invalid("InvalidRequest", f"unknown call action {action!r}")
            view = self.view_of(tx, call)
            self._emit(tx, view, now)
            self.people.touch(tx, actor.pk, now)
            return view

        return await self.store.write(run)

    def expire(self, tx: WriteTx, now: int) -> int:
        """Ringing calls past the ring timeout become no_answer (also those left over a restart)."""
        timeout = self.ring_timeout_us
        expired = 0
        for call in tx.calls_in(("ringing",), started_before=now - timeout):
            ended = tx.update_call(call.pk, expect="ringing", status="no_answer", ended_at=call.started_at + timeout)
            self._emit(tx, self.view_of(tx, ended), now)
            expired += 1
        return expired
