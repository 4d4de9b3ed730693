"""Out-of-office entries, their audits and queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.events import Change, EventLog, OooChanged
from server.domain.groups import Groups
from server.domain.membership import mates_of
from server.domain.names import name_problem
from server.domain.people import UNSET, Audience, People, current_ooo, pk_of
from server.model import OooEntry, User
from server.store.base import ReadTx, Store, WriteTx

MAX_MESSAGE = 280


class DatesReversed(Invalid):
    """An entry (or a query's range) would start after it ends."""

    def __init__(self) -> None:
        super().__init__("DatesReversed", "the start is after the end")


@dataclass(frozen=True, slots=True)
class OooFields:
    """A new entry: whether it is on, its dates (None: open), its message (checked by the domain)."""

    is_active: bool
    start: int | None
    end: int | None
    message: Any = None


@dataclass(frozen=True, slots=True)
class OooChange:
    """A change to an entry: each field UNSET (kept), or its new value (None clears a date or the message)."""

    is_active: Any = UNSET
    start: Any = UNSET
    end: Any = UNSET
    message: Any = UNSET


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of entries (or audits) and the total that match."""

    items: list[Any]
    total: int
    skip: int
    pagesize: int


def check_range(start: int | None, end: int | None) -> None:
    """Dates in order (either may be open); DatesReversed if not."""
    if start is not None and end is not None and start > end:
        raise DatesReversed()


def check_message(value: Any) -> str | None:
    """At most 280 characters (characters, not bytes)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("InvalidRequest", "message must be text")
    if len(value) > MAX_MESSAGE:
        raise Invalid("MessageLengthLimitExceeded", f"message is {len(value)} characters; the limit is {MAX_MESSAGE}")
    problem = name_problem(value)
    if problem is not None:
        raise Invalid("MessageInvalid", f"message: {problem}")
    return value


class Ooo:
    """Creating, changing and querying OOO entries."""

    def __init__(self, store: Store, clock: Clock, log: EventLog, people: People, groups: Groups) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.people = people
        self.groups = groups

    # ---- lookups ------------------------------------------------------------------
    @staticmethod
    def entry(repo: ReadTx, owner: User, ref: str) -> OooEntry:
        """An entry of this owner; PresenceNotProvided / PresenceNotFound."""
        if ref is None or not str(ref).strip():
            raise Invalid("PresenceNotProvided", "no id was given")
        ref = str(ref).strip()
        pk = pk_of(ref)
        entry = repo.get_ooo(pk) if pk is not None else None
        if entry is None or entry.user_pk != owner.pk:
            raise NotFound("PresenceNotFound", f"no presence {ref!r} for this user")
        return entry

    def _own_entry(
        self, repo: ReadTx, actor_pk: int, user_ref: str, entry_ref: str, verb: str
    ) -> tuple[User, OooEntry]:
        """The user, their entry, and that the caller is that user (UserNotFound, PresenceNotFound, 403)."""
        actor = actor_of(repo, actor_pk)
        owner = self.people.by_ref(repo, user_ref)
        entry = self.entry(repo, owner, entry_ref)
        if actor.pk != owner.pk:
            raise Forbidden("InsufficientPermission", f"only the owner can {verb} an out-of-office entry")
        return owner, entry

    # ---- events -------------------------------------------------------------------
    def _changed(self, tx: WriteTx, owner: User, entry: OooEntry, change: Change, before: OooEntry | None) -> None:
        """Tell mates and admins; a change of the entry in force is a presence change too."""
        now = self.clock.now()
        receivers = frozenset(mates_of(tx, owner.pk) | tx.admin_pks())
        self.log.emit(tx, receivers, OooChanged(now, change, owner.handle, entry))
        if current_ooo(tx, [owner.pk], now).get(owner.pk) != before:
            self.people.announce(tx, owner, now)
        self.people.touch(tx, owner.pk, now)

    # ---- writes -------------------------------------------------------------------
    async def create(self, actor_pk: int, fields: OooFields) -> tuple[User, OooEntry]:
        """Turn OOO on with a new entry (earlier ones stay)."""
        check_range(fields.start, fields.end)
        message = check_message(fields.message)

        def run(tx: WriteTx) -> tuple[User, OooEntry]:
            now = self.clock.now()
            owner = actor_of(tx, actor_pk)
            before = current_ooo(tx, [owner.pk], now).get(owner.pk)
            entry = tx.insert_ooo(
                user_pk=owner.pk,
                is_active=fields.is_active,
                start_date=fields.start,
                end_date=fields.end,
                message=message,
                created_at=now,
            )
            tx.insert_audit(owner.pk, "create", now, f"{{'id':{entry.pk}}}")
            self._changed(tx, owner, entry, "created", before)
            return owner, entry

        return await self.store.write(run)

    async def update(
        self, actor_pk: int, user_ref: str, entry_ref: str, read_change: Callable[[], OooChange]
    ) -> tuple[User, OooEntry]:
        """Change an entry of your own; fields left out keep their value. The change is read (and checked)
        only once the entry is known to exist and be the caller's."""

        def run(tx: WriteTx) -> tuple[User, OooEntry]:
            now = self.clock.now()
            owner, entry = self._own_entry(tx, actor_pk, user_ref, entry_ref, "update")
            change = read_change()
            values: dict[str, Any] = {}
            if change.is_active is not UNSET:
                values["is_active"] = change.is_active
            start = entry.start_date if change.start is UNSET else change.start
            end = entry.end_date if change.end is UNSET else change.end
            check_range(start, end)
            values |= {"start_date": start, "end_date": end}
            if change.message is not UNSET:
                values["message"] = check_message(change.message)
            before = current_ooo(tx, [owner.pk], now).get(owner.pk)
            updated = tx.update_ooo(entry.pk, **values)
            context = f"{{'id':{entry.pk},'message':{updated.message!r}}}"
            tx.insert_audit(owner.pk, "update", now, context)
            self._changed(tx, owner, updated, "updated", before)
            return owner, updated

        return await self.store.write(run)

    async def delete(self, actor_pk: int, user_ref: str, entry_ref: str) -> None:
        """Remove an entry of your own."""

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            owner, entry = self._own_entry(tx, actor_pk, user_ref, entry_ref, "delete")
            before = current_ooo(tx, [owner.pk], now).get(owner.pk)
            tx.delete_ooo(entry.pk)
            tx.insert_audit(owner.pk, "delete", now, f"{{'id':{entry.pk}}}")
            self._changed(tx, owner, entry, "deleted", before)

        await self.store.write(run)

    # ---- reads --------------------------------------------------------------------
    def _own_or_admin(self, repo: ReadTx, actor: User, user_ref: str) -> User:
        owner = self.people.by_ref(repo, user_ref)
        if owner.pk != actor.pk and not actor.is_admin:
            # Not yours: as if it did not exist (the reference names no 403 here).
            raise NotFound("UserNotFound", f"no user {user_ref!r}")
        return owner

    async def of_user(self, actor_pk: int, user_ref: str, skip: int, pagesize: int) -> tuple[User, Listing]:
        """Your own entries (admins: anyone's)."""

        def run(repo: ReadTx) -> tuple[User, Listing]:
            owner = self._own_or_admin(repo, actor_of(repo, actor_pk), user_ref)
            items, total = repo.ooo_overlapping([owner.pk], None, None, skip=skip, limit=pagesize)
            return owner, Listing(items, total, skip, pagesize)

        return await self.store.read(run)

    async def audits(self, actor_pk: int, user_ref: str, skip: int, pagesize: int) -> tuple[User, Listing]:
        """Your own audit trail (admins: anyone's)."""

        def run(repo: ReadTx) -> tuple[User, Listing]:
            owner = self._own_or_admin(repo, actor_of(repo, actor_pk), user_ref)
            items, total = repo.audits_of(owner.pk, skip=skip, limit=pagesize)
            return owner, Listing(items, total, skip, pagesize)

        return await self.store.read(run)

    async def get(self, actor_pk: int, user_ref: str, entry_ref: str) -> tuple[User, OooEntry]:
        """One entry, for its owner, admins and team or workspace mates."""

        def run(repo: ReadTx) -> tuple[User, OooEntry]:
            actor = actor_of(repo, actor_pk)
            owner = self.people.by_ref(repo, user_ref)
            entry = self.entry(repo, owner, entry_ref)
            if not Audience(repo, actor).sees_ooo_of(owner):
                raise NotFound("PresenceNotFound", f"no presence {entry_ref!r} for this user")
            return owner, entry

        return await self.store.read(run)

    async def query(
        self,
        actor_pk: int,
        *,
        users: list[str] | None = None,
        team: str | None = None,
        workspace: str | None = None,
        start: int | None = None,
        end: int | None = None,
        skip: int = 0,
        pagesize: int = 20,
    ) -> tuple[Listing, dict[int, User]]:
        """Entries overlapping a date range, of some users, a team's members or a workspace's members."""
        check_range(start, end)

        def run(repo: ReadTx) -> tuple[Listing, dict[int, User]]:
            actor = actor_of(repo, actor_pk)
            audience = Audience(repo, actor)
            named = [self.people.by_ref(repo, ref) for ref in users or []]
            if team is not None or workspace is not None:
                members = set(
                    self.groups.team_members_for(repo, actor, team)
                    if team is not None
                    else self.groups.workspace_members_for(repo, actor, workspace or "")
                )
                outsiders = [u.handle for u in named if u.pk not in members]
                if outsiders:
                    raise Forbidden(
                        "InsufficientPermissions",
                        f"not in this {'team' if team else 'workspace'}: {', '.join(outsiders)}",
                    )
                pks = [u.pk for u in named] if named else sorted(members)
            else:
                if not named:
                    raise Invalid("UserNotProvided", "name at least one user")
                # Entries of people whose OOO the caller may not see stay out of the answer.
                pks = [u.pk for u in named if audience.sees_ooo_of(u)]
            items, total = repo.ooo_overlapping(pks, start, end, skip=skip, limit=pagesize)
            owners = repo.users_by_pk(e.user_pk for e in items)
            return Listing(items, total, skip, pagesize), owners

        return await self.store.read(run)

    def announce_boundaries(self, tx: WriteTx, after: int, now: int) -> None:
        """An entry starting or ending changes its owner's presence: announce it."""
        for owner_pk in tx.ooo_owners_with_boundary(after, now):
            owner = tx.get_user(owner_pk)
            if owner is not None:
                self.people.announce(tx, owner, now)
