"""Users as others see them, and presence: activity, sticky statuses, away flips."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from server.domain import timefmt
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.names import check_text, handle_problem
from server.model import LEAVE_STATUSES, OooEntry, Team, User, Variant, Workspace
from server.store.base import WriteTx
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain

# last_seen alone is persisted (and announced) at most this often per user.
LAST_SEEN_EVERY_US = 30_000_000
UNSET: Any = object()


def valid_handle(handle: str) -> bool:
    """Whether a string is a valid handle (the whole string: `jin.park\\n` is not)."""
    return handle_problem(handle) is None


def ooo_data(entry: OooEntry | None) -> dict[str, Any] | None:
    """The `ooo` object carried by status objects, boot users and presence events."""
    if entry is None:
        return None
    return {
        "id": entry.pk,
        "message": entry.message,
        "startDate": timefmt.offset(entry.start_date),
        "endDate": timefmt.offset(entry.end_date),
    }


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as one viewer may see them."""

    user: User
    last_seen: int | None
    ooo: OooEntry | None
    team: str | None
    teams: tuple[Team, ...]
    workspaces: tuple[Workspace, ...]
    updated_by: str | None
    updated_at: int | None
    is_self: bool


class Audience:
    """Who may see what of a user: the user, admins, and people sharing a team or workspace."""

    def __init__(self, repo: Repo, viewer: User) -> None:
        self.viewer = viewer
        self.mates = repo.mates_of(viewer.pk)

    def sees_ooo_of(self, user: User) -> bool:
        """OOO details reach the owner, admins and team/workspace mates."""
        return self.viewer.is_admin or user.pk in self.mates

    def sees_last_seen_of(self, user: User) -> bool:
        """A hidden last_seen is seen by its owner only."""
        return not user.hide_last_seen or user.pk == self.viewer.pk


class People:
    """Reading users and changing presence."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain
        # The newest activity per user, including what was not persisted yet.
        self.latest_activity: dict[int, int] = {}

    # ---- reading ------------------------------------------------------------------
    def views(self, repo: Repo, viewer: User, users: list[User]) -> list[UserView]:
        """Users as the viewer may see them."""
        now = self.d.clock.now()
        audience = Audience(repo, viewer)
        pks = [u.pk for u in users]
        teams = repo.teams_of(pks if len(pks) < 500 else None)
        spaces = repo.workspaces_of(pks if len(pks) < 500 else None)
        ooo = repo.ooo_active_at(pks if len(pks) < 500 else None, now)
        team_names = {t.pk: t.name for ts in teams.values() for t in ts}
        updaters = repo.users_by_pk(u.status_updated_by for u in users if u.status_updated_by)
        out = []
        for u in users:
            user_teams = tuple(teams.get(u.pk, ()))
            primary = team_names.get(u.primary_team_pk) if u.primary_team_pk else None
            if primary is None:
                live = [t for t in user_teams if not t.deleted]
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
                    updated_by=updater.handle if updater and u.status_override else None,
                    updated_at=u.status_updated_at if updater and u.status_override else None,
                    is_self=u.pk == viewer.pk,
                )
            )
        return out

    def view(self, repo: Repo, viewer: User, user: User) -> UserView:
        """One user as the viewer may see them."""
        return self.views(repo, viewer, [user])[0]

    def find(self, repo: Repo, handle: str) -> User:
        """The user with this handle, or UserNotFound."""
        return self.found(repo.get_user_by_handle(handle) if isinstance(handle, str) else None, handle)

    @staticmethod
    def found(user: User | None, handle: str) -> User:
        """The user looked up by this handle, or UserNotFound."""
        if user is None:
            raise NotFound("UserNotFound", f"no user {handle!r}")
        return user

    async def get(self, viewer_pk: int, handle: str) -> UserView:
        """One user, as the viewer may see them."""

        def run(repo: Repo) -> UserView:
            viewer = self.d.actor(repo, viewer_pk)
            return self.view(repo, viewer, self.find(repo, handle))

        return await self.d.store.read(run)

    async def get_ref(self, viewer_pk: int, ref: str) -> UserView:
        """One user by pk or handle, as the viewer may see them."""

        def run(repo: Repo) -> UserView:
            viewer = self.d.actor(repo, viewer_pk)
            return self.view(repo, viewer, self.d.ooo.user(repo, ref))

        return await self.d.store.read(run)

    async def directory(self, viewer_pk: int) -> list[UserView]:
        """Every user, as the viewer may see them."""

        def run(repo: Repo) -> list[UserView]:
            viewer = self.d.actor(repo, viewer_pk)
            return self.views(repo, viewer, repo.list_users())

        return await self.d.store.read(run)

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
            now = self.d.clock.now()
            actor = self.d.actor(tx, actor_pk)
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
            return replace(view, updated_by=actor.handle, updated_at=now)

        return await self.d.store.write(run)

    @staticmethod
    def _visible(user: User) -> tuple[Any, ...]:
        return (user.status, user.last_seen, user.hide_last_seen, user.display_name)

    async def activity(self, actor_pk: int) -> None:
        """An activity ping: the user is here."""
        now = self.d.clock.now()
        self.latest_activity[actor_pk] = now
        await self.d.store.write(lambda tx: self.touch(tx, actor_pk, now))

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
        tx.emit(now, variants)
        return True

    def flip_away(self, tx: WriteTx, now: int) -> int:
        """Turn users without activity for away_after to away; returns how many."""
        cutoff = now - int(self.d.settings.away_after * 1_000_000)
        flipped = 0
        for user in tx.users_active_before(cutoff):
            if self.latest_activity.get(user.pk, 0) >= cutoff:
                continue  # active recently; last_seen just was not persisted yet
            tx.update_user(user.pk, auto_status="away")
            flipped += 1
            if user.status_override is None:
                updated = tx.get_user(user.pk)
                assert updated is not None
                self.announce(tx, updated, now)
        return flipped

    def left(self, tx: WriteTx, user_pk: int, now: int) -> None:
        """The user's last event stream closed (they quit, crashed, or lost the network): away at
        once, last seen at their last real activity (not the moment the stream closed)."""
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
        """Emit `presence changed` for a user, rendered for each kind of receiver."""
        tx.emit(now, self.presence_variants(tx, user, now))

    def presence_variants(self, repo: Repo, user: User, now: int) -> list[Variant]:
        """Owner: everything; mates and admins: OOO; everyone else: neither hidden fields nor OOO."""
        entry = repo.ooo_active_at([user.pk], now).get(user.pk)

        def data(last_seen: bool, ooo: bool) -> dict[str, Any]:
            return {
                "type": "presence",
                "event": "changed",
                "at": timefmt.precise(now),
                "user": user.handle,
                "display_name": user.display_name,
                "status": user.status,
                "last_seen": timefmt.precise(user.last_seen) if last_seen else None,
                "ooo": ooo_data(entry) if ooo else None,
            }

        hidden = user.hide_last_seen
        if entry is None and not hidden:
            return [Variant(None, data(True, True))]
        variants = [Variant(frozenset({user.pk}), data(True, True))]
        if entry is not None:
            inner = frozenset(repo.mates_of(user.pk) | repo.admin_pks())
            variants.append(Variant(inner, data(not hidden, True)))
        variants.append(Variant(None, data(not hidden, False)))
        return variants
