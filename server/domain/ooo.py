"""Out-of-office entries (the Huddle "presence entities"), their audits and queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.domain import timefmt
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.groups import pk_of
from server.domain.names import name_problem
from server.domain.people import UNSET, Audience
from server.model import OooEntry, User, Variant
from server.store.base import WriteTx
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain

MAX_MESSAGE = 280


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of entries (or audits) and the total that match."""

    items: list[Any]
    total: int
    skip: int
    pagesize: int


def parse_date(value: Any, code: str) -> int | None:
    """A DateTimeOffset (any offset) or null; `code` names the error."""
    if value is None:
        return None
    try:
        return timefmt.parse_rfc3339(value)
    except ValueError:
        raise Invalid(code, f"{value!r} is not a date with an offset, e.g. 2022-04-19T16:30:29+00:00") from None


def parse_range(start: Any, end: Any, *, date_code: str, range_code: str) -> tuple[int | None, int | None]:
    """Two dates, start not after end."""
    first, last = parse_date(start, date_code), parse_date(end, date_code)
    if first is not None and last is not None and first > last:
        raise Invalid(range_code, "startDate is after endDate")
    return first, last


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


def _ref(value: str, blank_code: str) -> str:
    if value is None or not str(value).strip():
        raise Invalid(blank_code, "no id was given")
    return str(value).strip()


class Ooo:
    """Creating, changing and querying OOO entries."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    # ---- lookups ------------------------------------------------------------------
    def user(self, repo: Repo, ref: str) -> User:
        """A user by pk or handle; UserNotProvided / UserNotFound."""
        ref = _ref(ref, "UserNotProvided")
        pk = pk_of(ref)
        user = repo.get_user(pk) if pk is not None else repo.get_user_by_handle(ref)
        if user is None:
            raise NotFound("UserNotFound", f"no user {ref!r}")
        return user

    def entry(self, repo: Repo, owner: User, ref: str) -> OooEntry:
        """An entry of this owner; PresenceNotProvided / PresenceNotFound."""
        ref = _ref(ref, "PresenceNotProvided")
        pk = pk_of(ref)
        entry = repo.get_ooo(pk) if pk is not None else None
        if entry is None or entry.user_pk != owner.pk:
            raise NotFound("PresenceNotFound", f"no presence {ref!r} for this user")
        return entry

    def _own_entry(self, repo: Repo, actor_pk: int, user_ref: str, entry_ref: str, verb: str) -> tuple[User, OooEntry]:
        """The user, their entry, and that the caller is that user (UserNotFound, PresenceNotFound, 403)."""
        actor = self.d.actor(repo, actor_pk)
        owner = self.user(repo, user_ref)
        entry = self.entry(repo, owner, entry_ref)
        if actor.pk != owner.pk:
            raise Forbidden("InsufficientPermission", f"only the owner can {verb} an out-of-office entry")
        return owner, entry

    # ---- events -------------------------------------------------------------------
    def _changed(self, tx: WriteTx, owner: User, entry: OooEntry, event: str, before: OooEntry | None) -> None:
        now = self.d.clock.now()
        data = {
            "type": "ooo",
            "event": event,
            "at": timefmt.precise(now),
            "user": owner.handle,
            "id": entry.pk,
            "isActive": entry.is_active,
            "startDate": timefmt.offset(entry.start_date),
            "endDate": timefmt.offset(entry.end_date),
            "message": entry.message,
        }
        audience = frozenset(tx.mates_of(owner.pk) | tx.admin_pks())
        tx.emit(now, [Variant(audience, data)])
        after = tx.ooo_active_at([owner.pk], now).get(owner.pk)
        if after != before:
            self.d.people.announce(tx, owner, now)
        self.d.people.touch(tx, owner.pk, now)

    # ---- writes -------------------------------------------------------------------
    async def create(self, actor_pk: int, body: dict[str, Any]) -> tuple[User, OooEntry]:
        """Turn OOO on with a new entry (earlier ones stay)."""
        is_active = body.get("isActive", UNSET)
        if not isinstance(is_active, bool):
            raise Invalid("InvalidRequest", "isActive is required: true or false")
        start, end = parse_range(
            body.get("startDate"), body.get("endDate"), date_code="DateInvalid", range_code="DateRangeInvalid"
        )
        message = check_message(body.get("message"))

        def run(tx: WriteTx) -> tuple[User, OooEntry]:
            now = self.d.clock.now()
            owner = self.d.actor(tx, actor_pk)
            before = tx.ooo_active_at([owner.pk], now).get(owner.pk)
            entry = tx.insert_ooo(
                user_pk=owner.pk, is_active=is_active, start_date=start, end_date=end, message=message, created_at=now
            )
            tx.insert_audit(owner.pk, "create", now, f"{{'id':{entry.pk}}}")
            self._changed(tx, owner, entry, "created", before)
            return owner, entry

        return await self.d.store.write(run)

    async def update(self, actor_pk: int, user_ref: str, entry_ref: str, body: dict[str, Any]) -> tuple[User, OooEntry]:
        """Change an entry of your own; absent fields keep their value."""

        def run(tx: WriteTx) -> tuple[User, OooEntry]:
            now = self.d.clock.now()
            owner, entry = self._own_entry(tx, actor_pk, user_ref, entry_ref, "update")
            values: dict[str, Any] = {}
            if "isActive" in body:
                if not isinstance(body["isActive"], bool):
                    raise Invalid("InvalidRequest", "isActive must be true or false")
                values["is_active"] = body["isActive"]
            start = parse_date(body["startDate"], "PresenceDateInvalid") if "startDate" in body else entry.start_date
            end = parse_date(body["endDate"], "PresenceDateInvalid") if "endDate" in body else entry.end_date
            if start is not None and end is not None and start > end:
                raise Invalid("PresenceDateInvalid", "startDate is after endDate")
            values |= {"start_date": start, "end_date": end}
            if "message" in body:
                values["message"] = check_message(body["message"])
            before = tx.ooo_active_at([owner.pk], now).get(owner.pk)
            updated = tx.update_ooo(entry.pk, **values)
            context = f"{{'id':{entry.pk},'message':{updated.message!r}}}"
            tx.insert_audit(owner.pk, "update", now, context)
            self._changed(tx, owner, updated, "updated", before)
            return owner, updated

        return await self.d.store.write(run)

    async def delete(self, actor_pk: int, user_ref: str, entry_ref: str) -> None:
        """Remove an entry of your own."""

        def run(tx: WriteTx) -> None:
            now = self.d.clock.now()
            owner, entry = self._own_entry(tx, actor_pk, user_ref, entry_ref, "delete")
            before = tx.ooo_active_at([owner.pk], now).get(owner.pk)
            tx.delete_ooo(entry.pk)
            tx.insert_audit(owner.pk, "delete", now, f"{{'id':{entry.pk}}}")
            self._changed(tx, owner, entry, "deleted", before)

        await self.d.store.write(run)

    # ---- reads --------------------------------------------------------------------
    def _own_or_admin(self, repo: Repo, actor: User, user_ref: str) -> User:
        owner = self.user(repo, user_ref)
        if owner.pk != actor.pk and not actor.is_admin:
            # Not yours: as if it did not exist (the reference names no 403 here).
            raise NotFound("UserNotFound", f"no user {user_ref!r}")
        return owner

    async def of_user(self, actor_pk: int, user_ref: str, skip: int, pagesize: int) -> tuple[User, Listing]:
        """Your own entries (admins: anyone's)."""

        def run(repo: Repo) -> tuple[User, Listing]:
            owner = self._own_or_admin(repo, self.d.actor(repo, actor_pk), user_ref)
            items, total = repo.ooo_overlapping([owner.pk], None, None, skip=skip, limit=pagesize)
            return owner, Listing(items, total, skip, pagesize)

        return await self.d.store.read(run)

    async def audits(self, actor_pk: int, user_ref: str, skip: int, pagesize: int) -> tuple[User, Listing]:
        """Your own audit trail (admins: anyone's)."""

        def run(repo: Repo) -> tuple[User, Listing]:
            owner = self._own_or_admin(repo, self.d.actor(repo, actor_pk), user_ref)
            items, total = repo.audits_of(owner.pk, skip=skip, limit=pagesize)
            return owner, Listing(items, total, skip, pagesize)

        return await self.d.store.read(run)

    async def get(self, actor_pk: int, user_ref: str, entry_ref: str) -> tuple[User, OooEntry]:
        """One entry, for its owner, admins and team or workspace mates."""

        def run(repo: Repo) -> tuple[User, OooEntry]:
            actor = self.d.actor(repo, actor_pk)
            owner = self.user(repo, user_ref)
            entry = self.entry(repo, owner, entry_ref)
            if not Audience(repo, actor).sees_ooo_of(owner):
                raise NotFound("PresenceNotFound", f"no presence {entry_ref!r} for this user")
            return owner, entry

        return await self.d.store.read(run)

    async def query(
        self,
        actor_pk: int,
        *,
        users: list[str] | None = None,
        team: str | None = None,
        workspace: str | None = None,
        start: Any = None,
        end: Any = None,
        skip: int = 0,
        pagesize: int = 20,
    ) -> tuple[Listing, dict[int, User]]:
        """Entries overlapping a date range, of some users, a team's members or a workspace's members."""
        first, last = parse_range(start, end, date_code="DateInvalid", range_code="DateRangeInvalid")

        def run(repo: Repo) -> tuple[Listing, dict[int, User]]:
            actor = self.d.actor(repo, actor_pk)
            audience = Audience(repo, actor)
            named = [self.user(repo, ref) for ref in users or []]
            if team is not None or workspace is not None:
                members = set(
                    self.d.groups.team_members_for(repo, actor, team)
                    if team is not None
                    else self.d.groups.workspace_members_for(repo, actor, workspace or "")
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
                    raise Invalid("UserNotProvided", "name at least one user in links (rel user)")
                # Entries of people whose OOO the caller may not see stay out of the answer.
                pks = [u.pk for u in named if audience.sees_ooo_of(u)]
            items, total = repo.ooo_overlapping(pks, first, last, skip=skip, limit=pagesize)
            owners = repo.users_by_pk(e.user_pk for e in items)
            return Listing(items, total, skip, pagesize), owners

        return await self.d.store.read(run)

    def announce_boundaries(self, tx: WriteTx, after: int, now: int) -> None:
        """An entry starting or ending changes its owner's presence: announce it."""
        for owner_pk in tx.ooo_owners_with_boundary(after, now):
            owner = tx.get_user(owner_pk)
            if owner is not None:
                self.d.people.announce(tx, owner, now)
