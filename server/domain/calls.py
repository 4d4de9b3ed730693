"""Call signalling: ring, answer, decline, end, and no_answer after the ring timeout."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.domain import timefmt
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.model import CALL_TYPES, Call, User, Variant
from server.store.base import WriteTx
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain


@dataclass(frozen=True, slots=True)
class CallView:
    """A call with its parties' handles."""

    call: Call
    caller: str
    callee: str


class Calls:
    """Starting and answering calls; the ring timer."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    def view_of(self, repo: Repo, call: Call) -> CallView:
        """Resolve the handles of a call."""
        people = repo.users_by_pk((call.caller_pk, call.callee_pk))
        return CallView(call, people[call.caller_pk].handle, people[call.callee_pk].handle)

    def _emit(self, tx: WriteTx, view: CallView, now: int) -> None:
        c = view.call
        data: dict[str, Any] = {
            "type": "call",
            "event": c.status,
            "at": timefmt.precise(now),
            "call_id": c.public_id,
            "from": view.caller,
            "to": view.callee,
            "call_type": c.type,
            "status": c.status,
            "started_at": timefmt.precise(c.started_at),
            "ended_at": timefmt.precise(c.ended_at),
            "duration_seconds": c.duration_seconds,
        }
        tx.emit(now, [Variant(frozenset({c.caller_pk, c.callee_pk}), data)])

    def _party_call(self, repo: Repo, actor: User, public_id: str) -> Call:
        call = repo.get_call(public_id) if isinstance(public_id, str) else None
        if call is None or actor.pk not in (call.caller_pk, call.callee_pk):
            raise NotFound("CallNotFound", f"no call {public_id!r}")
        return call

    async def start(self, actor_pk: int, to: Any, call_type: Any) -> CallView:
        """Ring someone."""
        if call_type not in CALL_TYPES:
            raise Invalid("InvalidCallType", "type must be audio or video")

        def run(tx: WriteTx) -> CallView:
            now = self.d.clock.now()
            caller = self.d.actor(tx, actor_pk)
            callee = self.d.people.find(tx, to)
            if callee.pk == caller.pk:
                raise Invalid("InvalidRecipient", "you cannot call yourself")
            if tx.live_call_between(caller.pk, callee.pk) is not None:
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
            self.d.people.touch(tx, caller.pk, now)
            return view

        return await self.d.store.write(run)

    async def get(self, actor_pk: int, public_id: str) -> CallView:
        """One call of the caller's."""

        def run(repo: Repo) -> CallView:
            return self.view_of(repo, self._party_call(repo, self.d.actor(repo, actor_pk), public_id))

        return await self.d.store.read(run)

    async def list(self, actor_pk: int, *, missed: bool, limit: int) -> tuple[list[CallView], int]:
        """The caller's calls (or the ones they missed), newest first."""

        def run(repo: Repo) -> tuple[list[CallView], int]:
            actor = self.d.actor(repo, actor_pk)
            calls, total = repo.calls_of(actor.pk, missed_only=missed, limit=limit)
            return [self.view_of(repo, c) for c in calls], total

        return await self.d.store.read(run)

    async def act(self, actor_pk: int, public_id: str, action: str) -> CallView:
        """answer | decline | end."""

        def run(tx: WriteTx) -> CallView:
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
            call = self._party_call(tx, actor, public_id)
            is_callee = actor.pk == call.callee_pk
            if action in ("answer", "decline"):
                if not is_callee:
                    raise Forbidden("NotCallee", f"only the person called can {action}")
                if call.status != "ringing":
                    raise Conflict("CallNotRinging", f"the call is {call.status}")
                if action == "answer":
                    call = tx.update_call(call.pk, status="answered", answered_at=now)
                else:
                    call = tx.update_call(call.pk, status="declined", ended_at=now)
            elif action == "end":
                if call.status == "ringing":
                    status = "declined" if is_callee else "cancelled"
                    call = tx.update_call(call.pk, status=status, ended_at=now)
                elif call.status == "answered":
                    call = tx.update_call(call.pk, status="ended", ended_at=now)
                else:
                    raise Conflict("CallNotActive", f"the call is already {call.status}")
            else:
                raise Invalid("InvalidRequest", f"unknown call action {action!r}")
            view = self.view_of(tx, call)
            self._emit(tx, view, now)
            self.d.people.touch(tx, actor.pk, now)
            return view

        return await self.d.store.write(run)

    def expire(self, tx: WriteTx, now: int) -> int:
        """Ringing calls past the ring timeout become no_answer (also those left over a restart)."""
        timeout = int(self.d.settings.ring_timeout * 1_000_000)
        expired = 0
        for call in tx.ringing_calls_started_before(now - timeout):
            ended = tx.update_call(call.pk, status="no_answer", ended_at=call.started_at + timeout)
            self._emit(tx, self.view_of(tx, ended), now)
            expired += 1
        return expired
