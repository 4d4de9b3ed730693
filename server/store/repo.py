"""Queries over one connection, in SQLAlchemy Core (portable across SQL engines).

A `Repo` wraps the connection of one transaction. It knows tables, not rules: the
domain decides who may do what and calls these methods inside a store transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    LargeBinary,
    Result,
    Row,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.sql import Executable, Insert

from server.model import Call, Conversation, Event, Message, OooEntry, Team, User, Variant, Workspace
from server.store import schema as s
from server.store.convo_queries import ConvoQueries
from server.store.stream_queries import StreamQueries

T = TypeVar("T")


def _user(row: Row[Any]) -> User:
    m = row._mapping
    return User(
        pk=m["pk"],
        handle=m["handle"],
        display_name=m["display_name"],
        role=m["role"],
        auto_status=m["auto_status"],
        status_override=m["status_override"],
        last_seen=m["last_seen"],
        hide_last_seen=bool(m["hide_last_seen"]),
        primary_team_pk=m["primary_team_pk"],
        status_updated_by=m["status_updated_by"],
        status_updated_at=m["status_updated_at"],
        created_at=m["created_at"],
    )


def _picker(keys: tuple[str, ...], cls: type) -> Callable[[Row[Any]], tuple[Any, ...]]:
    """What takes a record's fields, in order, out of a row with these column keys."""
    index: dict[str, int] = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    return itemgetter(*(index[f.name] for f in fields(cls)))


def _all(rows: Result[Any], cls: type[T]) -> list[T]:
    """Every row as a record of cls, each field from the column of its name. For many rows this is
    ~2x the per-row converters' speed: columns are found once, not by name in every row (bench W5, C1)."""
    pick = _picker(tuple(rows.keys()), cls)
    return [cls(*pick(row)) for row in rows.all()]


def _per_user(rows: Result[Any], cls: type[T]) -> dict[int, list[T]]:
    """Rows of a member's `user_pk` and a group's columns as each user's groups, each group made once."""
    keys = tuple(rows.keys())
    pick, user = _picker(keys, cls), keys.index("user_pk")
    made: dict[tuple[Any, ...], T] = {}
    out: dict[int, list[T]] = {}
    for row in rows.all():
        values = pick(row)
        group = made.get(values)
        if group is None:
            group = made[values] = cls(*values)
        out.setdefault(row[user], []).append(group)
    return out


def _team(row: Row[Any]) -> Team:
    m = row._mapping
    return Team(m["pk"], m["name"], bool(m["deleted"]), m["creator_pk"], m["created_at"], m["stream_uuid"])


def _workspace(row: Row[Any]) -> Workspace:
    m = row._mapping
    return Workspace(m["pk"], m["name"], m["state"], m["creator_pk"], m["created_at"], m["stream_uuid"])


def _conversation(row: Row[Any]) -> Conversation:
    m = row._mapping
    return Conversation(
        pk=m["pk"],
        kind=m["kind"],
        public_id=m["public_id"],
        user_a=m["user_a"],
        user_b=m["user_b"],
        name=m["name"],
        subject=m["subject"],
        creator_pk=m["creator_pk"],
        created_at=m["created_at"],
        deleted=bool(m["deleted"]),
    )


def _message(row: Row[Any], start: bool = False) -> Message:
    """A message from its row (`start`: the body column holds the first bytes of its UTF-8)."""
    m = row._mapping
    return Message(
        pk=m["pk"],
        public_id=m["public_id"],
        conversation_pk=m["conversation_pk"],
        sender_pk=m["sender_pk"],
        recipient_pk=m["recipient_pk"],
        body=m["body"].decode("utf-8", "ignore") if start else m["body"],
        parent_pk=m["parent_pk"],
        created_at=m["created_at"],
        read_at=m["read_at"],
        deleted=bool(m["deleted"]),
        attachments=m["attachments"],
    )


def _call(row: Row[Any]) -> Call:
    m = row._mapping
    return Call(
        pk=m["pk"],
        public_id=m["public_id"],
        caller_pk=m["caller_pk"],
        callee_pk=m["callee_pk"],
        type=m["type"],
        status=m["status"],
        started_at=m["started_at"],
        answered_at=m["answered_at"],
        ended_at=m["ended_at"],
    )


def _ooo(row: Row[Any]) -> OooEntry:
    m = row._mapping
    return OooEntry(
        pk=m["pk"],
        user_pk=m["user_pk"],
        is_active=bool(m["is_active"]),
        start_date=m["start_date"],
        end_date=m["end_date"],
        message=m["message"],
        created_at=m["created_at"],
    )


# Statements of the hot paths (every send, every request), built once: building a Core
# expression costs ~3x running it (bench/README.md, "W4").
_USER_BY_PK = select(s.users).where(s.users.c.pk == bindparam("pk"))
_USER_BY_HANDLE = select(s.users).where(s.users.c.handle == bindparam("handle"))
_USERS_BY_PKS = select(s.users).where(s.users.c.pk.in_(bindparam("pks", expanding=True)))
_DM = select(s.conversations).where(
    s.conversations.c.kind == "dm",
    s.conversations.c.user_a == bindparam("a"),
    s.conversations.c.user_b == bindparam("b"),
)
_CONVERSATION = select(s.conversations).where(s.conversations.c.pk == bindparam("pk"))


# The columns dm_parties selects, in order: each table's own (a user's password hash left out).
_USER_FIELDS = tuple(c.key for c in s.users.c if c.key != "password_hash")
_CONVERSATION_FIELDS = tuple(c.key for c in s.conversations.c)


def _dm_parties_statement() -> Any:
    """A sender by pk, a recipient by handle and their DM, in one statement (each part may be missing)."""
    sender, recipient, dm = s.users.alias("sender"), s.users.alias("recipient"), s.conversations.alias("dm")
    low = case((sender.c.pk < recipient.c.pk, sender.c.pk), else_=recipient.c.pk)
    high = case((sender.c.pk < recipient.c.pk, recipient.c.pk), else_=sender.c.pk)
    return (
        select(
            *(sender.c[f] for f in _USER_FIELDS),
            *(recipient.c[f] for f in _USER_FIELDS),
            *(dm.c[f] for f in _CONVERSATION_FIELDS),
        )
        .select_from(
            sender.outerjoin(recipient, recipient.c.handle == bindparam("handle")).outerjoin(
                dm, and_(dm.c.kind == "dm", dm.c.user_a == low, dm.c.user_b == high)
            )
        )
        .where(sender.c.pk == bindparam("pk"))
    )


_DM_PARTIES = _dm_parties_statement()
_INSERT_MESSAGE = insert(s.messages)
_MESSAGE_BY_PK = select(s.messages).where(s.messages.c.pk == bindparam("pk"))
_MESSAGE_BY_ID = select(s.messages).where(s.messages.c.public_id == bindparam("public_id"))
_INSERT_EVENT = insert(s.events)
_TOKEN = select(s.tokens.c.user_pk, s.tokens.c.last_used_at, s.tokens.c.revoked_at).where(
    s.tokens.c.token_hash == bindparam("token_hash")
)


class _FastRow:
    """A result row as the converters read it (`row._mapping[name]`)."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


def _part(values: Sequence[Any], fields: tuple[str, ...], convert: Callable[[Any], T]) -> T | None:
    """One table's columns of a joined row, by position, converted; None when its pk (the first) is null."""
    return None if values[0] is None else convert(_FastRow(dict(zip(fields, values, strict=True))))


class _Compiled:
    """A hot statement compiled once for SQLite: the SQL SQLAlchemy would send, run on the driver."""

    def __init__(self, stmt: Any, conn: Connection, keys: tuple[str, ...]) -> None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys) or None)
        self.compiled = compiled
        self.sql = str(compiled)
        self.positions: tuple[str, ...] = tuple(compiled.positiontup or ())
        table = getattr(stmt, "table", None)
        self.json_in = {c.key for c in table.columns if isinstance(c.type, JSON)} if table is not None else set()
        columns = list(getattr(stmt, "selected_columns", []))
        self.names = [c.key for c in columns]
        self.json_out = {c.key for c in columns if isinstance(c.type, JSON)}
        self.plan: tuple[set[str], list[tuple[bool, Any]]] | None = None

    def args(self, params: dict[str, Any]) -> list[Any]:
        plan = self.plan
        if plan is not None and plan[0] == params.keys():
            # Each position is a caller's value or a constant of the statement (`kind = 'dm'`).
            values = [params[key] if mine else key for mine, key in plan[1]]
        else:
            values = self._plan(params)
        return [
            json.dumps(v) if n in self.json_in and v is not None else v
            for n, v in zip(self.positions, values, strict=True)
        ]

    def _plan(self, params: dict[str, Any]) -> list[Any]:
        """The positional values as SQLAlchemy builds them; remember where each came from when
        every one is either the caller's value as given or a constant, so later calls skip this."""
        built = self.compiled.construct_params(params)
        values = [built[n] for n in self.positions]
        steps: list[tuple[bool, Any]] = []
        for n, v in zip(self.positions, values, strict=True):
            if n in params:
                if v is not params[n]:
                    return values  # converted on the way: keep asking SQLAlchemy
                steps.append((True, n))
            else:
                steps.append((False, v))
        self.plan = (set(params), steps)
        return values

    def row(self, raw: tuple[Any, ...]) -> _FastRow:
        mapping = dict(zip(self.names, raw, strict=True))
        for name in self.json_out:
            if mapping[name] is not None:
                mapping[name] = json.loads(mapping[name])
        return _FastRow(mapping)


def _mates_statement() -> Any:
    tm, other_tm = s.team_members, s.team_members.alias("other_tm")
    team_mates = (
        select(other_tm.c.user_pk)
        .join(tm, tm.c.team_pk == other_tm.c.team_pk)
        .join(s.teams, s.teams.c.pk == tm.c.team_pk)
        .where(tm.c.user_pk == bindparam("user_pk"), s.teams.c.deleted.is_(False))
    )
    wm, other_wm = s.workspace_members, s.workspace_members.alias("other_wm")
    ws_mates = (
        select(other_wm.c.user_pk)
        .join(wm, wm.c.workspace_pk == other_wm.c.workspace_pk)
        .join(s.workspaces, s.workspaces.c.pk == wm.c.workspace_pk)
        .where(wm.c.user_pk == bindparam("user_pk"), s.workspaces.c.state != "deleted")
    )
    return team_mates.union(ws_mates)


_MATES = _mates_statement()
_TEAMS_OF = (
    select(s.team_members.c.user_pk, s.teams)
    .join(s.teams, s.teams.c.pk == s.team_members.c.team_pk)
    .order_by(s.teams.c.name)
)
_TEAMS_OF_PKS = _TEAMS_OF.where(s.team_members.c.user_pk.in_(bindparam("pks", expanding=True)))
_SPACES_OF = (
    select(s.workspace_members.c.user_pk, s.workspaces)
    .join(s.workspaces, s.workspaces.c.pk == s.workspace_members.c.workspace_pk)
    .order_by(s.workspaces.c.name)
)
_SPACES_OF_PKS = _SPACES_OF.where(s.workspace_members.c.user_pk.in_(bindparam("pks", expanding=True)))
_OOO_AT = (
    select(s.ooo_entries)
    .where(
        s.ooo_entries.c.is_active.is_(True),
        or_(s.ooo_entries.c.start_date.is_(None), s.ooo_entries.c.start_date <= bindparam("at")),
        or_(s.ooo_entries.c.end_date.is_(None), s.ooo_entries.c.end_date >= bindparam("at")),
    )
    .order_by(s.ooo_entries.c.pk)
)
_OOO_AT_PKS = _OOO_AT.where(s.ooo_entries.c.user_pk.in_(bindparam("pks", expanding=True)))
_ADMINS = select(s.users.c.pk).where(s.users.c.role == "admin")


def event_from_row(event_id: int, at: int, variants: Any) -> Event:
    """Build an Event from its stored columns."""
    if isinstance(variants, str):
        variants = json.loads(variants)
    return Event(
        id=event_id,
        at=at,
        variants=tuple(Variant(None if audience is None else frozenset(audience), data) for audience, data in variants),
    )


class Repo(ConvoQueries, StreamQueries):
    """Table access for one transaction (dialect-specific queries come from the mixins)."""

    # Compiled hot statements, shared by every Repo (keyed by statement and parameter names).
    _compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _driver(self, stmt: Executable, params: dict[str, Any]) -> tuple[_Compiled, Any] | None:
        """Run a prebuilt statement straight on the sqlite3 connection (None on other engines).

        SQLAlchemy's per-execution bookkeeping cost ~5x the statement itself on the send path
        (bench/README.md, "W4"); the SQL is still SQLAlchemy's, compiled once.
        """
        if self.conn.dialect.name != "sqlite":
            return None
        keys = tuple(sorted(params)) if isinstance(stmt, Insert) else ()
        compiled = Repo._compiled.get((id(stmt), keys))
        if compiled is None:
            compiled = Repo._compiled[(id(stmt), keys)] = _Compiled(stmt, self.conn, keys)
        driver = self.conn.connection.driver_connection
        assert driver is not None
        return compiled, driver.execute(compiled.sql, compiled.args(params))

    def _first(self, stmt: Executable, params: dict[str, Any]) -> Any:
        """The first row of a prebuilt select, or None."""
        ran = self._driver(stmt, params)
        if ran is None:
            return self.conn.execute(stmt, params).first()
        compiled, cursor = ran
        raw = cursor.fetchone()
        return compiled.row(raw) if raw is not None else None

    def _insert(self, stmt: Executable, params: dict[str, Any]) -> int:
        """Run a prebuilt insert; the new row's primary key."""
        ran = self._driver(stmt, params)
        if ran is None:
            return int(self.conn.execute(stmt, params).inserted_primary_key[0])  # type: ignore[index]
        return int(ran[1].lastrowid)

    # ---- users -------------------------------------------------------------------
    def get_user(self, pk: int) -> User | None:
        """The user with this pk."""
        row = self._first(_USER_BY_PK, {"pk": pk})
        return _user(row) if row else None

    def get_user_by_handle(self, handle: str) -> User | None:
        """The user with this handle."""
        row = self._first(_USER_BY_HANDLE, {"handle": handle})
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        """Every user, by handle."""
        return _all(self.conn.execute(select(s.users).order_by(s.users.c.handle)), User)

    def users_by_pk(self, pks: Iterable[int]) -> dict[int, User]:
        """The users with these pks."""
        wanted = list(set(pks))
        if not wanted:
            return {}
        return {u.pk: u for u in _all(self.conn.execute(_USERS_BY_PKS, {"pks": wanted}), User)}

    def count_users(self) -> int:
        """How many users exist."""
        return int(self.conn.execute(select(func.count()).select_from(s.users)).scalar_one())

    def password_hash(self, pk: int) -> str | None:
        """The stored password hash of a user."""
        return self.conn.execute(select(s.users.c.password_hash).where(s.users.c.pk == pk)).scalar_one_or_none()

    def insert_user(self, **values: Any) -> int:
        """Insert a user; returns its pk."""
        return int(self.conn.execute(insert(s.users).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def update_user(self, pk: int, **values: Any) -> None:
        """Change columns of a user."""
        self.conn.execute(update(s.users).where(s.users.c.pk == pk).values(**values))

    def users_active_before(self, cutoff: int) -> list[User]:
        """Users whose automatic status is active but whose last activity is older than cutoff."""
        rows = self.conn.execute(
            select(s.users).where(
                s.users.c.auto_status == "active",
                or_(s.users.c.last_seen.is_(None), s.users.c.last_seen < cutoff),
            )
        )
        return _all(rows, User)

    # ---- teams and workspaces ------------------------------------------------------
    def get_team(self, pk: int) -> Team | None:
        """The team with this pk."""
        row = self.conn.execute(select(s.teams).where(s.teams.c.pk == pk)).first()
        return _team(row) if row else None

    def get_team_by_name(self, name: str) -> Team | None:
        """The team with this name."""
        row = self.conn.execute(select(s.teams).where(s.teams.c.name == name)).first()
        return _team(row) if row else None

    def insert_team(self, **values: Any) -> int:
        """Insert a team; returns its pk."""
        return int(self.conn.execute(insert(s.teams).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def get_workspace(self, pk: int) -> Workspace | None:
        """The workspace with this pk."""
        row = self.conn.execute(select(s.workspaces).where(s.workspaces.c.pk == pk)).first()
        return _workspace(row) if row else None

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        """The workspace with this name."""
        row = self.conn.execute(select(s.workspaces).where(s.workspaces.c.name == name)).first()
        return _workspace(row) if row else None

    def insert_workspace(self, **values: Any) -> int:
        """Insert a workspace; returns its pk."""
        return int(self.conn.execute(insert(s.workspaces).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def update_workspace(self, pk: int, **values: Any) -> None:
        """Change columns of a workspace."""
        self.conn.execute(update(s.workspaces).where(s.workspaces.c.pk == pk).values(**values))

    def add_team_member(self, team_pk: int, user_pk: int) -> bool:
        """Add a member; False if already one."""
        exists = self.conn.execute(
            select(s.team_members.c.user_pk).where(
                s.team_members.c.team_pk == team_pk, s.team_members.c.user_pk == user_pk
            )
        ).first()
        if exists:
            return False
        self.conn.execute(insert(s.team_members).values(team_pk=team_pk, user_pk=user_pk))
        return True

    def add_workspace_member(self, workspace_pk: int, user_pk: int) -> bool:
        """Add a member; False if already one."""
        exists = self.conn.execute(
            select(s.workspace_members.c.user_pk).where(
                s.workspace_members.c.workspace_pk == workspace_pk, s.workspace_members.c.user_pk == user_pk
            )
        ).first()
        if exists:
            return False
        self.conn.execute(insert(s.workspace_members).values(workspace_pk=workspace_pk, user_pk=user_pk))
        return True

    def teams_of(self, user_pks: Sequence[int] | None = None) -> dict[int, list[Team]]:
        """Teams per user (all users when None), by team name."""
        if user_pks is None:
            rows = self.conn.execute(_TEAMS_OF)
        else:
            rows = self.conn.execute(_TEAMS_OF_PKS, {"pks": list(user_pks)})
        return _per_user(rows, Team)

    def workspaces_of(self, user_pks: Sequence[int] | None = None) -> dict[int, list[Workspace]]:
        """Workspaces per user (all users when None), by name."""
        if user_pks is None:
            rows = self.conn.execute(_SPACES_OF)
        else:
            rows = self.conn.execute(_SPACES_OF_PKS, {"pks": list(user_pks)})
        return _per_user(rows, Workspace)

    def mates_of(self, user_pk: int) -> set[int]:
        """Users who share a live team or a workspace with this user (the user included)."""
        mates = {r[0] for r in self.conn.execute(_MATES, {"user_pk": user_pk})}
        mates.add(user_pk)
        return mates

    def admin_pks(self) -> set[int]:
        """The pks of every admin."""
        return {r[0] for r in self.conn.execute(_ADMINS)}

    # ---- conversations ------------------------------------------------------------
    def get_conversation(self, pk: int) -> Conversation | None:
        """The conversation with this pk."""
        row = self._first(_CONVERSATION, {"pk": pk})
        return _conversation(row) if row else None

    def get_conversation_by_public_id(self, public_id: str) -> Conversation | None:
        """The conversation with this public id (channels, streams)."""
        row = self.conn.execute(select(s.conversations).where(s.conversations.c.public_id == public_id)).first()
        return _conversation(row) if row else None

    def delete_conversation(self, pk: int) -> None:
        """Mark a conversation deleted (its name is freed)."""
        self.conn.execute(update(s.conversations).where(s.conversations.c.pk == pk).values(deleted=True, name_key=None))

    def delete_message(self, pk: int) -> None:
        """Mark a message deleted."""
        self.conn.execute(update(s.messages).where(s.messages.c.pk == pk).values(deleted=True))

    def get_dm(self, user_a: int, user_b: int) -> Conversation | None:
        """The DM between two users, if one exists."""
        a, b = sorted((user_a, user_b))
        row = self._first(_DM, {"a": a, "b": b})
        return _conversation(row) if row else None

    def dm_parties(self, sender_pk: int, handle: str) -> tuple[User | None, User | None, Conversation | None]:
        """The sender, the user with this handle and the DM between them, if each exists.

        One statement for the three lookups of every DM sent (bench/README.md, "W4").
        """
        params = {"pk": sender_pk, "handle": handle}
        ran = self._driver(_DM_PARTIES, params)
        row = ran[1].fetchone() if ran else self.conn.execute(_DM_PARTIES, params).first()
        if row is None:
            return None, None, None
        users, convs = len(_USER_FIELDS), len(_CONVERSATION_FIELDS)
        return (
            _part(row[:users], _USER_FIELDS, _user),
            _part(row[users : 2 * users], _USER_FIELDS, _user),
            _part(row[2 * users : 2 * users + convs], _CONVERSATION_FIELDS, _conversation),
        )

    def insert_conversation(self, **values: Any) -> int:
        """Insert a conversation; returns its pk."""
        return int(self.conn.execute(insert(s.conversations).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def get_channel_by_key(self, name_key: str) -> Conversation | None:
        """The channel whose normalised name is this key."""
        row = self.conn.execute(
            select(s.conversations).where(s.conversations.c.kind == "channel", s.conversations.c.name_key == name_key)
        ).first()
        return _conversation(row) if row else None

    def list_channels(self) -> list[Conversation]:
        """Live channels, oldest first."""
        rows = self.conn.execute(
            select(s.conversations)
            .where(s.conversations.c.kind == "channel", s.conversations.c.deleted.is_(False))
            .order_by(s.conversations.c.pk)
        )
        return [_conversation(r) for r in rows]

    # ---- messages -----------------------------------------------------------------
    def insert_message(self, **values: Any) -> int:
        """Insert a message; returns its pk."""
        return self._insert(_INSERT_MESSAGE, values)

    def get_message(self, public_id: str) -> Message | None:
        """The message with this public id."""
        row = self._first(_MESSAGE_BY_ID, {"public_id": public_id})
        return _message(row) if row else None

    def get_message_pk(self, pk: int) -> Message | None:
        """The message with this pk."""
        row = self._first(_MESSAGE_BY_PK, {"pk": pk})
        return _message(row) if row else None

    def dm_messages(
        self,
        *,
        conversation_pks: Sequence[int],
        sender_pk: int | None,
        since: int | None,
        before_pk: int | None,
        limit: int,
    ) -> tuple[list[Message], int]:
        """The newest `limit` matching messages older than before_pk (ascending) and the total."""
        m = s.messages
        where: list[ColumnElement[bool]] = [m.c.conversation_pk.in_(list(conversation_pks)), m.c.deleted.is_(False)]
        if sender_pk is not None:
            where.append(m.c.sender_pk == sender_pk)
        if since is not None:
            where.append(m.c.created_at >= since)
        total = int(self.conn.execute(select(func.count()).select_from(m).where(*where)).scalar_one())
        if before_pk is not None:
            where.append(m.c.pk < before_pk)
        rows = self.conn.execute(select(m).where(*where).order_by(m.c.pk.desc()).limit(limit)).all()
        return [_message(r) for r in reversed(rows)], total

    def has_older(self, conversation_pks: Sequence[int], sender_pk: int | None, since: int | None, pk: int) -> bool:
        """Whether a matching message older than pk exists."""
        m = s.messages
        where: list[ColumnElement[bool]] = [
            m.c.conversation_pk.in_(list(conversation_pks)),
            m.c.deleted.is_(False),
            m.c.pk < pk,
        ]
        if sender_pk is not None:
            where.append(m.c.sender_pk == sender_pk)
        if since is not None:
            where.append(m.c.created_at >= since)
        return self.conn.execute(select(m.c.pk).where(*where).limit(1)).first() is not None

    def dm_conversations_of(self, user_pk: int) -> list[Conversation]:
        """Every DM the user is part of."""
        c = s.conversations
        rows = self.conn.execute(select(c).where(c.c.kind == "dm", or_(c.c.user_a == user_pk, c.c.user_b == user_pk)))
        return [_conversation(r) for r in rows]

    def mark_read(self, conversation_pk: int, reader_pk: int, upto_pk: int, at: int) -> list[Message]:
        """Set read_at on the reader's unread messages up to upto_pk; returns those marked."""
        m = s.messages
        where = and_(
            m.c.conversation_pk == conversation_pk,
            m.c.recipient_pk == reader_pk,
            m.c.read_at.is_(None),
            m.c.pk <= upto_pk,
        )
        rows = self.conn.execute(select(m).where(where).order_by(m.c.pk)).all()
        if rows:
            self.conn.execute(update(m).where(where).values(read_at=at))
        return [_message(r) for r in rows]

    def set_read_marker(self, conversation_pk: int, reader_pk: int, message_pk: int, at: int) -> bool:
        """Move the reader's marker forward to message_pk; False when it is already there or past it."""
        rm = s.read_markers
        row = self.conn.execute(
            select(rm.c.message_pk).where(rm.c.conversation_pk == conversation_pk, rm.c.reader_pk == reader_pk)
        ).first()
        if row is None:
            self.conn.execute(
                insert(rm).values(
                    conversation_pk=conversation_pk, reader_pk=reader_pk, message_pk=message_pk, read_at=at
                )
            )
            return True
        if row[0] >= message_pk:
            return False
        self.conn.execute(
            update(rm)
            .where(rm.c.conversation_pk == conversation_pk, rm.c.reader_pk == reader_pk)
            .values(message_pk=message_pk, read_at=at)
        )
        return True

    def unread_dm_counts(self, user_pk: int) -> dict[int, int]:
        """Unread DM messages per conversation for a recipient."""
        m = s.messages
        rows = self.conn.execute(
            select(m.c.conversation_pk, func.count())
            .where(m.c.recipient_pk == user_pk, m.c.read_at.is_(None), m.c.deleted.is_(False))
            .group_by(m.c.conversation_pk)
        )
        return {r[0]: int(r[1]) for r in rows}

    def _unread_in_channels(self, user_pk: int) -> ColumnElement[bool]:
        """Live messages of live channels, from others, past the user's read marker there."""
        m, c, rm = s.messages, s.conversations, s.read_markers
        marker = (
            select(rm.c.message_pk)
            .where(rm.c.conversation_pk == m.c.conversation_pk, rm.c.reader_pk == user_pk)
            .scalar_subquery()
        )
        live_channel = select(c.c.pk).where(c.c.kind == "channel", c.c.deleted.is_(False))
        return and_(
            m.c.conversation_pk.in_(live_channel),
            m.c.sender_pk != user_pk,
            m.c.deleted.is_(False),
            m.c.pk > func.coalesce(marker, 0),
        )

    def unread_channel_counts(self, user_pk: int) -> dict[int, int]:
        """Unread messages per channel for a user (past their read marker, not their own)."""
        m = s.messages
        rows = self.conn.execute(
            select(m.c.conversation_pk, func.count())
            .where(self._unread_in_channels(user_pk))
            .group_by(m.c.conversation_pk)
        )
        return {r[0]: int(r[1]) for r in rows}

    def unread_channel_bodies_with(self, user_pk: int, needle: str, limit: int) -> list[tuple[int, str]]:
        """(channel, body) of at most `limit` unread channel messages whose body contains `needle`."""
        m = s.messages
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            select(m.c.conversation_pk, m.c.body)
            .where(self._unread_in_channels(user_pk), m.c.body.like(f"%{escaped}%", escape="\\"))
            .limit(limit)
        )
        return [(r[0], r[1]) for r in rows]

    def last_messages(self, conversation_pks: Sequence[int]) -> dict[int, Message]:
        """The newest live message of each conversation."""
        if not conversation_pks:
            return {}
        m = s.messages
        newest = (
            select(func.max(m.c.pk))
            .where(m.c.conversation_pk.in_(list(conversation_pks)), m.c.deleted.is_(False))
            .group_by(m.c.conversation_pk)
        )
        rows = self.conn.execute(select(m).where(m.c.pk.in_(newest)))
        return {msg.conversation_pk: msg for msg in map(_message, rows)}

    def messages_in(self, conversation_pks: Sequence[int], newest: int = 0, body_bytes: int = 0) -> list[Message]:
        """The live messages of these conversations (the newest `newest` of each; 0 = all), oldest first;
        with body_bytes, only the first body_bytes bytes of each body's UTF-8 are read (a character
        cut in two at the end is left out)."""
        if not conversation_pks:
            return []
        m = s.messages
        columns: list[Any] = list(m.c)
        prefix = body_bytes > 0
        if prefix:
            # Bytes, not characters: SQLite's substr() of text ends at a NUL character.
            head = func.substr(cast(m.c.body, LargeBinary), 1, body_bytes).label("body")
            columns = [c for c in m.c if c.name != "body"] + [head]
        live = (m.c.conversation_pk.in_(list(conversation_pks)), m.c.deleted.is_(False))
        if newest <= 0:
            return [_message(r, prefix) for r in self.conn.execute(select(*columns).where(*live).order_by(m.c.pk))]
        # Per conversation, the pk of its newest-th newest message (an index seek each), then
        # one range scan per conversation from there: a window function would rank every row.
        c, older = s.conversations, s.messages.alias("older")
        cutoff = (
            select(older.c.pk)
            .where(older.c.conversation_pk == c.c.pk, older.c.deleted.is_(False))
            .order_by(older.c.pk.desc())
            .limit(1)
            .offset(newest - 1)
            .scalar_subquery()
        )
        cuts = select(c.c.pk.label("conv"), func.coalesce(cutoff, 0).label("start")).where(
            c.c.pk.in_(list(conversation_pks))
        )
        cut = cuts.subquery()
        rows = self.conn.execute(
            select(*columns)
            .join(cut, m.c.conversation_pk == cut.c.conv)
            .where(m.c.pk >= cut.c.start, m.c.deleted.is_(False))
            .order_by(m.c.pk)
        )
        return [_message(r, prefix) for r in rows]

    # ---- calls --------------------------------------------------------------------
    def insert_call(self, **values: Any) -> int:
        """Insert a call; returns its pk."""
        return int(self.conn.execute(insert(s.calls).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def get_call(self, public_id: str) -> Call | None:
        """The call with this public id."""
        row = self.conn.execute(select(s.calls).where(s.calls.c.public_id == public_id)).first()
        return _call(row) if row else None

    def get_call_pk(self, pk: int) -> Call:
        """The call with this pk."""
        return _call(self.conn.execute(select(s.calls).where(s.calls.c.pk == pk)).one())

    def update_call(self, pk: int, **values: Any) -> Call:
        """Change a call; returns it."""
        self.conn.execute(update(s.calls).where(s.calls.c.pk == pk).values(**values))
        return _call(self.conn.execute(select(s.calls).where(s.calls.c.pk == pk)).one())

    def ringing_calls_started_before(self, cutoff: int) -> list[Call]:
        """Calls still ringing that started before cutoff."""
        rows = self.conn.execute(
            select(s.calls).where(s.calls.c.status == "ringing", s.calls.c.started_at <= cutoff).order_by(s.calls.c.pk)
        )
        return [_call(r) for r in rows]

    def live_call_between(self, a: int, b: int) -> Call | None:
        """A ringing or answered call between two users."""
        c = s.calls
        row = self.conn.execute(
            select(c).where(
                c.c.status.in_(("ringing", "answered")),
                or_(and_(c.c.caller_pk == a, c.c.callee_pk == b), and_(c.c.caller_pk == b, c.c.callee_pk == a)),
            )
        ).first()
        return _call(row) if row else None

    def calls_of(self, user_pk: int, *, missed_only: bool, limit: int) -> tuple[list[Call], int]:
        """A user's calls, newest first, and how many match."""
        c = s.calls
        if missed_only:
            where = and_(c.c.callee_pk == user_pk, c.c.status == "no_answer")
        else:
            where = or_(c.c.callee_pk == user_pk, c.c.caller_pk == user_pk)
        total = int(self.conn.execute(select(func.count()).select_from(c).where(where)).scalar_one())
        rows = self.conn.execute(select(c).where(where).order_by(c.c.pk.desc()).limit(limit))
        return [_call(r) for r in rows], total

    # ---- out of office ------------------------------------------------------------
    def ooo_active_at(self, user_pks: Sequence[int] | None, at: int) -> dict[int, OooEntry]:
        """Per user, the active OOO entry covering `at` (the latest created wins)."""
        if user_pks is None:
            rows = self.conn.execute(_OOO_AT, {"at": at})
        else:
            rows = self.conn.execute(_OOO_AT_PKS, {"at": at, "pks": list(user_pks)})
        out: dict[int, OooEntry] = {}
        for entry in map(_ooo, rows):
            out[entry.user_pk] = entry
        return out

    def insert_ooo(self, **values: Any) -> OooEntry:
        """Insert an OOO entry."""
        pk = int(self.conn.execute(insert(s.ooo_entries).values(**values)).inserted_primary_key[0])  # type: ignore[index]
        return self.get_ooo(pk)  # type: ignore[return-value]

    def get_ooo(self, pk: int) -> OooEntry | None:
        """The OOO entry with this pk."""
        row = self.conn.execute(select(s.ooo_entries).where(s.ooo_entries.c.pk == pk)).first()
        return _ooo(row) if row else None

    def update_ooo(self, pk: int, **values: Any) -> OooEntry:
        """Change an OOO entry."""
        self.conn.execute(update(s.ooo_entries).where(s.ooo_entries.c.pk == pk).values(**values))
        return self.get_ooo(pk)  # type: ignore[return-value]

    def delete_ooo(self, pk: int) -> None:
        """Remove an OOO entry."""
        self.conn.execute(delete(s.ooo_entries).where(s.ooo_entries.c.pk == pk))

    def ooo_overlapping(
        self, user_pks: Sequence[int], start: int | None, end: int | None, *, skip: int, limit: int
    ) -> tuple[list[OooEntry], int]:
        """Entries of these users overlapping [start, end] (open ends match all), oldest first, and the total."""
        o = s.ooo_entries
        where: list[ColumnElement[bool]] = [o.c.user_pk.in_(list(user_pks))]
        if end is not None:
            where.append(or_(o.c.start_date.is_(None), o.c.start_date <= end))
        if start is not None:
            where.append(or_(o.c.end_date.is_(None), o.c.end_date >= start))
        total = int(self.conn.execute(select(func.count()).select_from(o).where(*where)).scalar_one())
        rows = self.conn.execute(select(o).where(*where).order_by(o.c.user_pk, o.c.pk).offset(skip).limit(limit))
        return [_ooo(r) for r in rows], total

    def ooo_owners_with_boundary(self, after: int, upto: int) -> set[int]:
        """Owners of active entries that started or ended within (after, upto]."""
        o = s.ooo_entries
        rows = self.conn.execute(
            select(o.c.user_pk).where(
                o.c.is_active.is_(True),
                or_(
                    and_(o.c.start_date > after, o.c.start_date <= upto),
                    and_(o.c.end_date >= after, o.c.end_date < upto),
                ),
            )
        )
        return {r[0] for r in rows}

    def insert_audit(self, user_pk: int, audit_type: str, at: int, context: str) -> None:
        """Record an audit entry."""
        self.conn.execute(insert(s.audits).values(user_pk=user_pk, audit_type=audit_type, at=at, context=context))

    def audits_of(self, user_pk: int, *, skip: int, limit: int) -> tuple[list[tuple[str, int, str]], int]:
        """(auditType, at, context) of a user's audits, oldest first, and the total."""
        a = s.audits
        total = int(self.conn.execute(select(func.count()).select_from(a).where(a.c.user_pk == user_pk)).scalar_one())
        rows = self.conn.execute(
            select(a.c.audit_type, a.c.at, a.c.context)
            .where(a.c.user_pk == user_pk)
            .order_by(a.c.pk)
            .offset(skip)
            .limit(limit)
        )
        return [(r[0], r[1], r[2]) for r in rows], total

    # ---- team and workspace membership --------------------------------------------
    def list_teams(self) -> list[Team]:
        """Every team, by name."""
        return [_team(r) for r in self.conn.execute(select(s.teams).order_by(s.teams.c.name))]

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace, by name."""
        return [_workspace(r) for r in self.conn.execute(select(s.workspaces).order_by(s.workspaces.c.name))]

    def team_member_pks(self, team_pk: int) -> list[int]:
        """The members of a team."""
        tm = s.team_members
        return [
            r[0] for r in self.conn.execute(select(tm.c.user_pk).where(tm.c.team_pk == team_pk).order_by(tm.c.user_pk))
        ]

    def workspace_member_pks(self, workspace_pk: int) -> list[int]:
        """The members of a workspace."""
        wm = s.workspace_members
        return [
            r[0]
            for r in self.conn.execute(
                select(wm.c.user_pk).where(wm.c.workspace_pk == workspace_pk).order_by(wm.c.user_pk)
            )
        ]

    def remove_team_member(self, team_pk: int, user_pk: int) -> bool:
        """Remove a member; False if not one."""
        tm = s.team_members
        result = self.conn.execute(delete(tm).where(tm.c.team_pk == team_pk, tm.c.user_pk == user_pk))
        return bool(result.rowcount)

    def remove_workspace_member(self, workspace_pk: int, user_pk: int) -> bool:
        """Remove a member; False if not one."""
        wm = s.workspace_members
        result = self.conn.execute(delete(wm).where(wm.c.workspace_pk == workspace_pk, wm.c.user_pk == user_pk))
        return bool(result.rowcount)

    def update_team(self, pk: int, **values: Any) -> None:
        """Change columns of a team."""
        self.conn.execute(update(s.teams).where(s.teams.c.pk == pk).values(**values))

    def get_stream_owner(self, stream_uuid: str) -> Team | Workspace | None:
        """The team or workspace owning an activity stream."""
        row = self.conn.execute(select(s.teams).where(s.teams.c.stream_uuid == stream_uuid)).first()
        if row:
            return _team(row)
        row = self.conn.execute(select(s.workspaces).where(s.workspaces.c.stream_uuid == stream_uuid)).first()
        return _workspace(row) if row else None

    # ---- tokens -------------------------------------------------------------------
    def insert_token(self, user_pk: int, token_hash: str, at: int) -> None:
        """Store a new token's hash."""
        self.conn.execute(
            insert(s.tokens).values(user_pk=user_pk, token_hash=token_hash, created_at=at, last_used_at=at)
        )

    def get_token(self, token_hash: str) -> tuple[int, int, int | None] | None:
        """(user_pk, last_used_at, revoked_at) of a token hash."""
        row = self.conn.execute(_TOKEN, {"token_hash": token_hash}).first()
        return (row[0], row[1], row[2]) if row else None

    def touch_token(self, token_hash: str, at: int) -> None:
        """Record that a token was used."""
        self.conn.execute(update(s.tokens).where(s.tokens.c.token_hash == token_hash).values(last_used_at=at))

    def revoke_token(self, token_hash: str, at: int) -> None:
        """Revoke a token."""
        self.conn.execute(update(s.tokens).where(s.tokens.c.token_hash == token_hash).values(revoked_at=at))

    def live_tokens(self, token_hashes: Iterable[str], used_since: int) -> set[str]:
        """Those of the token hashes that are neither revoked nor unused since `used_since`."""
        t, wanted = s.tokens, list(token_hashes)
        live: set[str] = set()
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(t.c.token_hash).where(
                    t.c.token_hash.in_(wanted[i : i + 500]),
                    t.c.revoked_at.is_(None),
                    t.c.last_used_at >= used_since,
                )
            )
            live.update(row[0] for row in rows)
        return live

    def revoke_user_tokens(self, user_pk: int, at: int) -> None:
        """Revoke every token of a user."""
        self.conn.execute(
            update(s.tokens).where(s.tokens.c.user_pk == user_pk, s.tokens.c.revoked_at.is_(None)).values(revoked_at=at)
        )

    # ---- invitations --------------------------------------------------------------
    def insert_invite(self, public_id: str, issuer_pk: int, at: int) -> None:
        """Record an invitation."""
        self.conn.execute(insert(s.invites).values(public_id=public_id, issuer_pk=issuer_pk, issued_at=at))

    def get_invite(self, public_id: str) -> tuple[int, int, int | None] | None:
        """(issuer_pk, issued_at, used_at) of an invitation."""
        i = s.invites
        row = self.conn.execute(
            select(i.c.issuer_pk, i.c.issued_at, i.c.used_at).where(i.c.public_id == public_id)
        ).first()
        return (row[0], row[1], row[2]) if row else None

    def use_invite(self, public_id: str, user_pk: int, at: int) -> None:
        """Mark an invitation accepted."""
        i = s.invites
        self.conn.execute(update(i).where(i.c.public_id == public_id).values(used_at=at, used_by=user_pk))

    # ---- idempotency --------------------------------------------------------------
    def get_idempotent(self, user_pk: int, key: str) -> Any | None:
        """The stored response of an earlier request with this key."""
        i = s.idempotency
        return self.conn.execute(
            select(i.c.response).where(i.c.user_pk == user_pk, i.c.key == key)
        ).scalar_one_or_none()

    def put_idempotent(self, user_pk: int, key: str, response: Any, at: int) -> None:
        """Remember the response of a request with this key."""
        self.conn.execute(insert(s.idempotency).values(user_pk=user_pk, key=key, response=response, created_at=at))

    def prune_idempotency(self, before: int) -> None:
        """Forget idempotency keys older than `before`."""
        self.conn.execute(delete(s.idempotency).where(s.idempotency.c.created_at < before))

    # ---- events -------------------------------------------------------------------
    def insert_event(self, at: int, variants: list[list[Any]]) -> int:
        """Append an event to the log; returns its id."""
        return self._insert(_INSERT_EVENT, {"at": at, "variants": variants})

    def events_after(
        self, after: int, upto: int | None = None, limit: int = 1000, max_chars: int | None = None
    ) -> list[Event]:
        """Events with after < id <= upto, oldest first: at most `limit`, and (with max_chars) no more
        after the stored text of those read passes max_chars (always at least one)."""
        e = s.events
        # The stored text as it is, measured before it is decoded: rows past the budget are never read.
        q = select(e.c.id, e.c.at, type_coerce(e.c.variants, Text)).where(e.c.id > after)
        if upto is not None:
            q = q.where(e.c.id <= upto)
        out: list[Event] = []
        chars = 0
        rows = self.conn.execute(q.order_by(e.c.id).limit(limit))
        try:
            for event_id, at, text in rows:
                out.append(event_from_row(event_id, at, text))
                chars += len(text)
                if max_chars is not None and chars >= max_chars:
                    break
        finally:
            rows.close()
        return out

    def max_event_id(self) -> int:
        """The newest event id (0 when none was ever written)."""
        value = self.conn.execute(select(func.max(s.events.c.id))).scalar_one_or_none()
        if value is None:
            return self.pruned_through()
        return int(value)

    def prune_events(self, before_at: int) -> None:
        """Drop events older than before_at, remembering the newest dropped id."""
        e = s.events
        newest_old = self.conn.execute(select(func.max(e.c.id)).where(e.c.at < before_at)).scalar_one_or_none()
        if newest_old is None:
            return
        self.conn.execute(delete(e).where(e.c.id <= newest_old))
        self.set_meta("pruned_through", str(newest_old))

    def pruned_through(self) -> int:
        """The newest event id that is no longer retained."""
        return int(self.get_meta("pruned_through") or 0)

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table."""
        return self.conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table."""
        if self.get_meta(key) is None:
            self.conn.execute(insert(s.meta).values(key=key, value=value))
        else:
            self.conn.execute(update(s.meta).where(s.meta.c.key == key).values(value=value))
