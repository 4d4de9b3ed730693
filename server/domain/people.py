"""Users as others see them, and presence: activity, sticky statuses, away flips."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.events import EventLog, PresenceChanged, Receivers
from server.domain.membership import is_live, mates_of
from server.domain.names import check_text, handle_problem
from server.domain.views import SetBy, UserView
from server.model import LEAVE_STATUSES, MAX_PK, OooEntry, User
from server.store.base import ReadTx, Store, WriteTx

# Seconds since its last tick that another process still counts as alive (it ticks every second); one
# not seen for FORGET_AFTER times that is forgotten, with the streams it held.
ALIVE_WINDOW = 5.0
FORGET_AFTER = 12
# last_seen alone is persisted (and announced) at most this often per user.
LAST_SEEN_EVERY_US = 30_000_000
UNSET: Any = object()


def valid_handle(handle: str) -> bool:
    """Whether a string is a valid handle (the whole string: `jin.park\\n` is not)."""
    return handle_problem(handle) is None


def pk_of(text: str) -> int | None:
    """The integer id written in text, else None."""
    # ASCII only: isdigit() also takes "³", which int() refuses. Within SQLite's INTEGER
    # range: a bigger one overflows the query. Both were 500s.
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_PK:
        return int(text)
    return None


def current_ooo(repo: ReadTx, user_pks: Sequence[int] | None, at: int) -> dict[int, OooEntry]:
    """Per user, the OOO entry in force at `at`: of the active entries whose dates contain it, the one
    created last (everyone's when user_pks is None)."""
    current: dict[int, OooEntry] = {}
    for entry in sorted(repo.ooo_covering(user_pks, at), key=lambda e: e.pk):
        current[entry.user_pk] = entry
    return current


class Audience:
    """Who may see what of a user: the user, admins, and people sharing a team or workspace."""

    def __init__(self, repo: ReadTx, viewer: User) -> None:
        self.viewer = viewer
        self.mates = mates_of(repo, viewer.pk)

    def sees_ooo_of(self, user: User) -> bool:
        """OOO details reach the owner, admins and team/workspace mates."""
        return self.viewer.is_admin or user.pk in self.mates

    def sees_last_seen_of(self, user: User) -> bool:
        """A hidden last_seen is seen by its owner only."""
        return not user.hide_last_seen or user.pk == self.viewer.pk


class People:
    """Reading users and changing presence."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        log: EventLog,
        *,
        away_after: float,
        stream_grace: float,
        alive_window: float = ALIVE_WINDOW,
    ) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.away_after_us = int(away_after * 1_000_000)
        self.stream_grace_us = int(stream_grace * 1_000_000)
        # This process among those on the database (a new id at each start), the users it holds a stream
        # of as the database knows it, and how long since its last tick another process still counts.
        self.process = uuid.uuid4().hex
        self._held: set[int] = set()
        self.alive_us = int(alive_window * 1_000_000)
        # The newest activity per user, including what was not persisted yet.
        self.latest_activity: dict[int, int] = {}
        # Users whose last event stream closed, and when: away once the grace has passed
        # without a new one (a reconnect within it changes nothing).
        self._streams_gone: dict[int, int] = {}

    # ---- reading ------------------------------------------------------------------
    def views(self, repo: ReadTx, viewer: User, users: list[User]) -> list[UserView]:
        """Users as the viewer may see them."""
        now = self.clock.now()
        audience = Audience(repo, viewer)
        pks = [u.pk for u in users]
        some = pks if len(pks) < 500 else None
        teams = repo.teams_of(some)
        spaces = repo.workspaces_of(some)
        ooo = current_ooo(repo, some, now)
        team_names = {t.pk: t.name for ts in teams.values() for t in ts}
        updaters = repo.users_by_pk(u.status_updated_by for u in users if u.status_updated_by)
        out = []
        for u in users:
            user_teams = tuple(teams.get(u.pk, ()))
            primary = team_names.get(u.primary_team_pk) if u.primary_team_pk else None
            if primary is None:
                live = [t for t in user_teams if is_live(t)]
                primary = live[0].name if live else None
            updater = updaters.get(u.status_updated_by) if u.status_updated_by else None
            out.append(
                UserView(
                    user=u,
                    last_seen=u.last_seen if audience.sees_last_seen_of(u) else None,
                    ooo=ooo.get(u.pk) if audience.sees_ooo_of(u) else None,
                    team=primary,
                    teams=user_teams,
                    workspaces=tuple(spaces.get(u.pk, ())),
                    set_by=SetBy(updater.handle, u.status_updated_at)
                    if updater and u.status_override and u.status_updated_at is not None
                    else None,
                    is_self=u.pk == viewer.pk,
                )
            )
        return out

    def view(self, repo: ReadTx, viewer: User, user: User) -> UserView:
        """One user as the viewer may see them."""
        return self.views(repo, viewer, [user])[0]

    def find(self, repo: ReadTx, handle: str) -> User:
        """The user with this handle, or UserNotFound."""
        return self.found(repo.get_user_by_handle(handle) if isinstance(handle, str) else None, handle)

    @staticmethod
    def found(user: User | None, handle: str) -> User:
        """The user looked up by this handle, or UserNotFound."""
        if user is None:
            raise NotFound("UserNotFound", f"no user {handle!r}")
        return user

    @staticmethod
    def by_ref(repo: ReadTx, ref: str) -> User:
        """A user by pk or handle; UserNotProvided / UserNotFound."""
        if ref is None or not str(ref).strip():
            raise Invalid("UserNotProvided", "no id was given")
        ref = str(ref).strip()
        pk = pk_of(ref)
        user = repo.get_user(pk) if pk is not None else repo.get_user_by_handle(ref)
        if user is None:
            raise NotFound("UserNotFound", f"no user {ref!r}")
        return user

    async def get(self, viewer_pk: int, handle: str) -> UserView:
        """One user, as the viewer may see them."""

        def run(repo: ReadTx) -> UserView:
            return self.view(repo, actor_of(repo, viewer_pk), self.find(repo, handle))

        return await self.store.read(run)

    async def get_ref(self, viewer_pk: int, ref: str) -> UserView:
        """One user by pk or handle, as the viewer may see them."""

        def run(repo: ReadTx) -> UserView:
            return self.view(repo, actor_of(repo, viewer_pk), self.by_ref(repo, ref))

        return await self.store.read(run)

    async def directory(self, viewer_pk: int) -> list[UserView]:
        """Every user, as the viewer may see them."""

        def run(repo: ReadTx) -> list[UserView]:
            return self.views(repo, actor_of(repo, viewer_pk), repo.list_users())

        return await self.store.read(run)

    # ---- changing -----------------------------------------------------------------
    async def patch(
        self,
        actor_pk: int,
        handle: str,
        *,
        display_name: Any = UNSET,
        status: Any = UNSET,
        hide_last_seen: Any = UNSET,
    ) -> UserView:
        """Change a profile or status: yourself (dnd, display name, hide_last_seen) or anyone (admin)."""

        def run(tx: WriteTx) -> UserView:
            now = self.clock.now()
            actor = actor_of(tx, actor_pk)
            target = self.find(tx, handle)
            is_self = target.pk == actor.pk
            if not is_self and not actor.is_admin:
                raise Forbidden("Forbidden", "only an admin can change another user")
            values: dict[str, Any] = {}
            if display_name is not UNSET:
                values["display_name"] = check_text(display_name, "display_name", "InvalidDisplayName", limit=200)
            if status is not UNSET:
                allowed = (None, "dnd", *LEAVE_STATUSES)
                if status not in allowed:
                    raise Invalid(
                        "InvalidStatus",
                        "status must be one of dnd, medical_leave, parental_leave, leave, or null (automatic)",
                    )
                if status in LEAVE_STATUSES and not actor.is_admin:
                    raise Forbidden("Forbidden", "only an admin can set a leave status")
                values["status_override"] = status
            if hide_last_seen is not UNSET:
                if not isinstance(hide_last_seen, bool):
                    raise Invalid("InvalidRequest", "hide_last_seen must be true or false")
                if not is_self:
                    raise Forbidden("Forbidden", "only the user can hide their last_seen")
                values["hide_last_seen"] = hide_last_seen
            if not values:
                raise Invalid("InvalidRequest", "nothing to change: send display_name, status or hide_last_seen")
            if "status_override" in values:
                # Who set a sticky status, and when, is shown while it lasts.
                values["status_updated_by"] = actor.pk
                values["status_updated_at"] = now
            tx.update_user(target.pk, **values)
            announced = self.touch(tx, actor_pk, now) and is_self
            updated = tx.get_user(target.pk)
            assert updated is not None
            if not announced and self._visible(updated) != self._visible(target):
                self.announce(tx, updated, now)
            view = self.view(tx, actor, updated)
            # The PATCH answer always names who changed the user and when.
            return replace(view, set_by=SetBy(actor.handle, now))

        return await self.store.write(run)

    @staticmethod
    def _visible(user: User) -> tuple[Any, ...]:
        return (user.status, user.last_seen, user.hide_last_seen, user.display_name)

    async def activity(self, actor_pk: int) -> None:
        """An activity ping: the user is here."""
        now = self.clock.now()
        self.latest_activity[actor_pk] = now
        await self.store.write(lambda tx: self.touch(tx, actor_pk, now))

    def touch(self, tx: WriteTx, user_pk: int, now: int, *, user: User | None = None) -> bool:
        """Record activity inside a write: persist last_seen at most every 30 s, flip away -> active.

        `user`, when the caller already read it in this transaction, saves a read.
        Returns whether a `presence changed` event was emitted.
        """
        self.latest_activity[user_pk] = max(now, self.latest_activity.get(user_pk, 0))
        user = user or tx.get_user(user_pk)
        if user is None:
            return False
        stale = user.last_seen is None or now - user.last_seen >= LAST_SEEN_EVERY_US
        if user.auto_status == "active" and not stale:
            return False
        tx.update_user(user_pk, last_seen=now, auto_status="active")
        updated = tx.get_user(user_pk)
        assert updated is not None
        variants = self.presence_variants(tx, updated, now)
        if user.hide_last_seen and user.auto_status == "active":
            # Only last_seen moved and only its owner may see it: to anyone else nothing
            # changed, and an event's `at` would give the hidden time away.
            variants = variants[:1]
        self.log.emit_each(tx, variants)
        return True

    def flip_away(self, tx: WriteTx, now: int) -> int:
        """Turn users without activity for away_after to away; returns how many."""
        cutoff = now - self.away_after_us
        flipped = 0
        for user in tx.users_active_before(cutoff):
            if self.latest_activity.get(user.pk, 0) >= cutoff:
                continue  # active recently; last_seen just was not persisted yet
            if not tx.set_away_if_idle(user.pk, cutoff):
                continue  # active since it was read (another process's commit)
            flipped += 1
            if user.status_override is None:
                updated = tx.get_user(user.pk)
                assert updated is not None
                self.announce(tx, updated, now)
        return flipped

    # ---- event streams: a user whose last one closes is away after a grace ---------------
    def stream_opened(self, user_pk: int) -> None:
        """A stream of the user's opened: back within the grace, nothing to announce."""
        self._streams_gone.pop(user_pk, None)

    async def hold_stream(self, user_pk: int) -> None:
        """Tell the database (the other processes) that this process holds a stream of the user."""
        if user_pk not in self._held:
            await self.store.write(lambda tx: tx.hold_stream(self.process, user_pk))
            self._held.add(user_pk)

    def streams_closed(self, user_pk: int) -> None:
        """The user's last event stream closed (they quit, crashed, or lost the network)."""
        self._streams_gone[user_pk] = self.clock.now()

    def leave_after_grace(self, tx: WriteTx, now: int) -> None:
        """Users whose last stream here closed a grace ago, without a new one here or on another live
        process, are away. Also: this process is alive."""
        tx.process_seen(self.process, now)
        for user_pk, closed_at in list(self._streams_gone.items()):
            if now - closed_at >= self.stream_grace_us:
                del self._streams_gone[user_pk]
                self._held.discard(user_pk)
                tx.release_stream(self.process, user_pk)
                if not tx.streams_elsewhere(user_pk, self.process, now - self.alive_us):
                    self.left(tx, user_pk, now)

    def forget_stopped(self, tx: WriteTx, now: int) -> None:
        """Forget the processes that stopped ticking (and the streams they held)."""
        tx.forget_processes(now - FORGET_AFTER * self.alive_us, keep=self.process)

    def left(self, tx: WriteTx, user_pk: int, now: int) -> None:
        """The user's last event stream closed: away at once, last seen at their last real activity
        (not the moment the stream closed)."""
        user = tx.get_user(user_pk)
        if user is None or user.auto_status != "active":
            return
        last = max(user.last_seen or 0, self.latest_activity.get(user_pk, 0))
        tx.update_user(user_pk, auto_status="away", last_seen=last or None)
        if user.status_override is None or last != user.last_seen:
            updated = tx.get_user(user_pk)
            assert updated is not None
            self.announce(tx, updated, now)

    def announce(self, tx: WriteTx, user: User, now: int) -> None:
        """Emit `presence changed` for a user, told to each audience as it may see it."""
        self.log.emit_each(tx, self.presence_variants(tx, user, now))

    def presence_variants(self, repo: ReadTx, user: User, now: int) -> list[tuple[Receivers, PresenceChanged]]:
        """Owner: everything; mates and admins: OOO; everyone else: neither hidden fields nor OOO."""
        entry = current_ooo(repo, [user.pk], now).get(user.pk)
        hidden = user.hide_last_seen
        everything = PresenceChanged(now, user, user.last_seen, entry)
        if entry is None and not hidden:
            return [(None, everything)]
        seen = None if hidden else user.last_seen
        variants: list[tuple[Receivers, PresenceChanged]] = [(frozenset({user.pk}), everything)]
        if entry is not None:
            inner = frozenset(mates_of(repo, user.pk) | repo.admin_pks())
            variants.append((inner, PresenceChanged(now, user, seen, entry)))
        variants.append((None, PresenceChanged(now, user, seen, None)))
        return variants
