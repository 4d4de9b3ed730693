"""Who may call what: every route of the app, called by each kind of caller, answers the status of API.md §7.

The callers of a row:
- owner: whoever owns the resource (the sender of a DM, the caller of a call, the creator of a
  convo, the author of a post, the owner of an OOO entry);
- party: the other person of a two-person resource (a DM's recipient, a call's callee, a convo's
  participant), where there is one;
- member: someone who shares a team with the owner but takes no part in the resource;
- nonmember: sam.ortiz, of another team, in no DM, call or convo with anyone here;
- admin: hr.admin;
- anon: no credentials at all.
Anything a caller may not see is 404, except where a reference names a 403 code; no credentials
is 401. Every refused request (4xx) must leave the database exactly as it was (the clock moves 31 s
before each case, so a refused request wrongly counted as activity would show as a new last_seen).
A refusal's answer must also say why, in its dialect's shape (a 403 TeamMembershipRequired is not
a 403 InsufficientPermissions).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from server.domain.clock import ManualClock
from server.settings import Settings
from tests.support import LiveServer, load_team, manual_clock

pytestmark = pytest.mark.reliability

ROLES = ("owner", "party", "member", "nonmember", "admin", "anon")
# What a refused request must leave alone: every table but `meta` (where the periodic check keeps
# its clock), and every column but a token's last use (using a token is use, even when refused).
SKIP_TABLES = {"meta"}
SKIP_COLUMNS = {"tokens": "last_used_at"}
# The clock moves this much before each case, so that a refused request wrongly counted as
# activity would persist a new last_seen (it is persisted at most every 30 s) and be caught.
STEP_SECONDS = 31


# ---- the world the rows run in ------------------------------------------------------------
@dataclass
class World:
    """One server with one resource of each kind; `fresh_*` make a new one for rows that destroy theirs."""

    server: LiveServer
    clock: ManualClock
    http: httpx.Client
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)

    def as_(self, handle: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request by a user that must succeed (setting the scene)."""
        headers = {"Authorization": f"Bearer {self.tokens[handle]}", **kwargs.pop("headers", {})}
        self.http.cookies.clear()  # an identity cookie set by an earlier answer would sign this request in
        r = self.http.request(method, url, headers=headers, **kwargs)
        assert r.status_code < 300, f"{method} {url} as {handle}: {r.status_code} {r.text}"
        return r

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (but `meta`), read beside the running server."""
        db = sqlite3.connect(f"file:{self.server.settings.db}?mode=ro", uri=True)
        try:
            names = [
                n
                for (n,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
                if n not in SKIP_TABLES
            ]
            out = {}
            for name in names:
                columns = [
                    c for (_, c, *_) in db.execute(f'PRAGMA table_info("{name}")') if c != SKIP_COLUMNS.get(name)
                ]
                listed = ", ".join(f'"{c}"' for c in columns)
                out[name] = sorted(db.execute(f'SELECT {listed} FROM "{name}"').fetchall(), key=repr)
            return out
        finally:
            db.close()

    # -- fresh resources ---------------------------------------------------------------------
    def fresh_dm(self) -> dict[str, Any]:
        """A new DM alex -> jin."""
        r = self.as_("alex.kim", "POST", "/api/v2/messages", json={"to": "jin.park", "body": "fresh dm"})
        return {"message_id": r.json()["message_id"]}

    def free_line(self) -> dict[str, Any]:
        """No live call between alex and jin (one live call per pair)."""
        calls = self.as_("alex.kim", "GET", "/api/v2/calls", params={"limit": 200}).json()["calls"]
        for call in calls:
            if call["status"] in ("ringing", "answered") and {call["from"], call["to"]} == {"alex.kim", "jin.park"}:
                self.as_("alex.kim", "POST", f"/api/v2/calls/{call['call_id']}/end")
        return {}

    def fresh_call(self) -> dict[str, Any]:
        """A new ringing call alex -> jin."""
        self.free_line()
        return {"call_id": self.as_("alex.kim", "POST", "/api/v2/calls", json={"to": "jin.park"}).json()["call_id"]}

    def fresh_channel(self) -> dict[str, Any]:
        """A new channel alex created."""
        name = f"room-{uuid.uuid4().hex[:10]}"
        return {"channel_id": self.as_("alex.kim", "POST", "/api/channels", json={"name": name}).json()["id"]}

    def fresh_channel_message(self) -> dict[str, Any]:
        """A new message of alex's in #general."""
        r = self.as_("alex.kim", "POST", f"/api/channels/{self.ids['general']}", json={"body": "fresh channel"})
        return {"message_id": r.json()["id"]}

    def fresh_post(self) -> dict[str, Any]:
        """A new post of alex's in his team's stream."""
        body = {
            "object": {"objectType": "whatsup", "description": "fresh post"},
            "targets": [{"objectType": "activitystream", "id": self.ids["team_stream"]}],
        }
        return {"message_id": self.as_("alex.kim", "POST", "/api/messages", json=body).json()["_id"]}

    def fresh_convo(self) -> dict[str, Any]:
        """A new convo alex started with jin."""
        body = {"Participant": self.ids["pk:jin.park"], "Subject": "fresh"}
        r = self.as_("alex.kim", "POST", "/api/Convo", json=body)
        return {"convo_id": int(r.headers["X-URI-Reference"].rsplit("/", 1)[-1])}

    def fresh_convo_message(self) -> dict[str, Any]:
        """A new message alex -> jin in their convo."""
        convo = self.ids["convo"]
        r = self.as_("alex.kim", "POST", f"/api/Convo/{convo}/Message", json={"Body": "fresh convo message"})
        return {"convo_id": convo, "message_id": r.headers["X-URI-Reference"].rsplit("/", 1)[-1]}

    def fresh_ooo(self) -> dict[str, Any]:
        """A new OOO entry of jin's."""
        r = self.as_("jin.park", "POST", "/presence/create", json={"isActive": False, "message": "fresh"})
        return {"user_id": self.ids["pk:jin.park"], "presence_id": r.json()["id"]}

    def fresh_group(self, plural: str) -> dict[str, Any]:
        """A new team or workspace (of jin's), and alex to add to it."""
        name = f"{plural}-{uuid.uuid4().hex[:10]}"
        r = self.as_("hr.admin", "POST", f"/{plural}", json={"name": name, "members": ["jin.park"]})
        return {"group_id": r.json()["id"], "user_id": "alex.kim"}

    def fresh_invite(self) -> dict[str, Any]:
        """A new invitation from alex."""
        return {"invite_id": self.as_("alex.kim", "POST", "/api/invite", json={}).json()["id"]}


def build_world(server: LiveServer) -> World:
    """Sign everyone in (tokens as `huddle-server token` prints them) and make one of everything."""
    handles = ("alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin")
    assert isinstance(server.clock, ManualClock)
    http = httpx.Client(base_url=server.url, timeout=10)
    world = World(server, server.clock, http, {h: server.token(h) for h in handles})
    ids = world.ids
    for user in world.as_("hr.admin", "GET", "/api/v2/users").json()["users"]:
        ids[f"pk:{user['user']}"] = user["id"]
    ids["team"] = next(t["id"] for t in world.as_("alex.kim", "GET", "/teams").json()["teams"])
    ids["space"] = next(w["id"] for w in world.as_("alex.kim", "GET", "/workspaces").json()["workspaces"])
    streams = {s["objectType"]: s["uuid"] for s in world.as_("alex.kim", "GET", "/api/activitystreams").json()}
    ids["team_stream"], ids["space_stream"] = streams["team"], streams["workspace"]
    boot = world.as_("alex.kim", "GET", "/api/boot").json()
    ids["general"] = next(c["id"] for c in boot["channels"] if c["name"] == "general")
    ids["dm"] = world.fresh_dm()["message_id"]
    ids["call"] = world.fresh_call()["call_id"]
    ids["channel_message"] = world.fresh_channel_message()["message_id"]
    ids["post"] = world.fresh_post()["message_id"]
    ids["convo"] = world.fresh_convo()["convo_id"]
    ids["convo_message"] = world.fresh_convo_message()["message_id"]
    entry = {"isActive": True, "message": "matrix ooo"}
    ids["ooo"] = world.as_("jin.park", "POST", "/presence/create", json=entry).json()["id"]
    ids["invite"] = world.fresh_invite()["invite_id"]
    # Everyone has a convo of their own, so that listing convos is a 200 (an empty list is a 404).
    for a, b in (("maya.chen", "sam.ortiz"), ("hr.admin", "sam.ortiz")):
        world.as_(a, "POST", "/api/Convo", json={"Participant": ids[f"pk:{b}"], "Subject": "own"})
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server for every row: rows that destroy or use up a resource make a fresh one."""
    db: Path = tmp_path_factory.mktemp("authz") / "huddle.db"
    load_team(db)
    # A clock the test moves, and no background ticks: calls keep ringing, nobody flips away.
    settings = Settings(db=db, tick_seconds=3600, ring_timeout=10**7)
    server = LiveServer(settings, manual_clock("2024-04-15T09:00:00Z")).start()
    try:
        made = build_world(server)
        yield made
        made.http.close()
    finally:
        server.stop()


# ---- the table ----------------------------------------------------------------------------
Fresh = Callable[[World], dict[str, Any]]
Seen = Callable[[World, httpx.Response], bool]


@dataclass(frozen=True)
class Row:
    """One route (method + the app's path template) called with one resource, and who gets what."""

    name: str
    method: str  # an HTTP method, or "WS" for the WebSocket route
    route: str
    expect: dict[str, int]
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> key of World.ids
    fresh: Fresh | None = None  # a new resource for every caller (the row uses it up)
    query: str = ""
    body: Any = None  # JSON, or a callable (world) -> JSON
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    owner: str = "alex.kim"
    party: str | None = None
    member: str = "maya.chen"
    fresh_token: bool = False  # the call revokes the token used
    seen: Seen | None = None  # does a 2xx answer show the resource?
    seen_by: frozenset[str] = frozenset()  # ... then it must for exactly these roles
    why: dict[int, str] = field(default_factory=dict)  # a refusal's status -> what its answer must say

    def caller(self, role: str) -> str | None:
        """The handle playing a role (None: anonymous)."""
        return {
            "owner": self.owner,
            "party": self.party,
            "member": self.member,
            "nonmember": "sam.ortiz",
            "admin": "hr.admin",
            "anon": None,
        }[role]

    def roles(self) -> list[str]:
        """The roles the row has an expectation for."""
        return [r for r in ROLES if r in self.expect]


def E(
    owner: int, member: int, nonmember: int, admin: int, *, party: int | None = None, anon: int = 401
) -> dict[str, int]:
    """Expected statuses by role."""
    out = {"owner": owner, "member": member, "nonmember": nonmember, "admin": admin, "anon": anon}
    if party is not None:
        out["party"] = party
    return out


def signed_in(status: int) -> dict[str, int]:
    """Any signed-in caller gets `status`; no credentials is 401."""
    return E(status, status, status, status)


def public(status: int) -> dict[str, int]:
    """Every caller, even without credentials, gets `status`."""
    return E(status, status, status, status, anon=status)


def text_has(key: str) -> Seen:
    """The answer's text holds the id."""
    return lambda w, r: str(w.ids[key]) in r.text


def entity_ids_have(key: str) -> Seen:
    """A Huddle query's answer lists the entry."""
    return lambda w, r: w.ids[key] in [e["id"] for e in r.json()["presenceEntities"]]


def listed(list_key: str | None, key: str, id_key: str = "id") -> Seen:
    """A list (the answer, or one of its fields) holds an item with the id."""

    def seen(w: World, r: httpx.Response) -> bool:
        items = r.json() if list_key is None else r.json()[list_key]
        return w.ids[key] in [item[id_key] for item in items]

    return seen


ALL = frozenset({"owner", "party", "member", "nonmember", "admin"})
PARTIES = frozenset({"owner", "party"})
TEAM = frozenset({"owner", "party", "member", "admin"})  # alex's team, and the admin
DM = {"message_id": "dm"}
CALL = {"call_id": "call"}
CONVO = {"convo_id": "convo"}
CONVO_MESSAGE = {"convo_id": "convo", "message_id": "convo_message"}
OOO = {"user_id": "pk:jin.park", "presence_id": "ooo"}
JIN = {"owner": "jin.park", "party": None, "member": "maya.chen"}  # the OOO rows: jin's entry


def ooo_row(
    name: str, method: str, route: str, expect: dict[str, int], params: dict[str, str] | None = None, **kw: Any
) -> Row:
    """A row about jin's OOO entry: jin owns it, maya is his team mate."""
    return Row(name, method, route, expect, params or {}, **{**JIN, **kw})


def blank(method: str, route: str, **params: str) -> Row:
    """Huddle paths with an empty id: the reference's *NotProvided codes (400), after the credentials check."""
    return Row(f"{method} {route}", method, route, signed_in(400), params)


def unique(prefix: str) -> Callable[[World], dict[str, Any]]:
    """A body with a name never used before."""
    return lambda w: {"name": f"{prefix}-{uuid.uuid4().hex[:10]}"}


def new_account() -> Callable[[World], dict[str, Any]]:
    """An invitation's answer: a handle never used before."""
    return lambda w: {"name": f"new.{uuid.uuid4().hex[:10]}", "password": "pw"}


NOT_A_MESSAGE = {404: "MessageNotFound"}
NOT_A_CALL = {403: "NotCallee", 404: "CallNotFound"}
NOT_THE_SENDER = {403: "only the sender or an admin"}
NOT_THE_OWNER = {403: '"InsufficientPermission"'}  # (the reference's spelling for update and delete)
ADMINS_ONLY = {403: '"InsufficientPermissions"'}
CONVOS = {401: "X-Result-Code: 4", 404: "X-Result-Code: 2"}  # a refused participant is 401, others 404
ESN = {403: '"status":403', 404: '"status":404'}
# No credentials: a 401 in each dialect's own shape.
UNAUTHORIZED = {
    "/api/v2": '"Unauthorized"',
    "/api/Convo": "X-Result-Code: 4",
    "/api/activitystreams": '"status":401',
    "/presence": '"AccessTokenInvalid"',
    "/users": '"AccessTokenInvalid"',
    "/teams": '"AccessTokenInvalid"',
    "/workspaces": '"AccessTokenInvalid"',
    "/api": "sign in first",  # pilcrow's text, also for DELETE /api/messages/{id}
}

POST_TO_TEAM = {
    "object": {"objectType": "whatsup", "description": "matrix post"},
    "targets": [{"objectType": "activitystream", "id": "{team_stream}"}],
}
MAIL = b"From: Alex Kim <alex@example.com>\r\nSubject: matrix\r\n\r\nmailed in\r\n"

ROWS: list[Row] = [
    # -- documentation of the API itself: public ---------------------------------------------
    Row("openapi", "GET", "/openapi.json", public(200)),
    Row("docs", "GET", "/docs", public(200)),
    Row("docs oauth2 redirect", "GET", "/docs/oauth2-redirect", public(200)),
    Row("redoc", "GET", "/redoc", public(200)),
    # -- v2: health, for load balancers: public ----------------------------------------------
    Row("v2 health", "GET", "/api/v2/health", public(200)),
    # -- v2: auth ----------------------------------------------------------------------------
    Row("v2 login", "POST", "/api/v2/auth/login", public(200), body={"user": "alex.kim", "password": "alex-pass"}),
    Row("v2 logout", "POST", "/api/v2/auth/logout", signed_in(204), fresh_token=True),
    # -- v2: users and presence ------------------------------------------------------------
    Row("v2 directory", "GET", "/api/v2/users", signed_in(200)),
    Row("v2 user", "GET", "/api/v2/users/{handle}", signed_in(200), params={"handle": "name:alex.kim"}),
    Row("v2 status", "GET", "/api/v2/users/{handle}/status", signed_in(200), params={"handle": "name:alex.kim"}),
    Row(
        "v2 patch user",
        "PATCH",
        "/api/v2/users/{handle}",
        E(200, 403, 403, 200),
        params={"handle": "name:alex.kim"},
        body={"display_name": "Alex Kim"},
        why={403: '"Forbidden"'},
    ),
    Row(
        "v2 patch hide_last_seen",  # not even admins on others
        "PATCH",
        "/api/v2/users/{handle}",
        E(200, 403, 403, 403),
        params={"handle": "name:alex.kim"},
        body={"hide_last_seen": False},
        why={403: '"Forbidden"'},
    ),
    Row("v2 activity", "POST", "/api/v2/activity", signed_in(204)),
    # -- v2: messages ----------------------------------------------------------------------
    Row("v2 send dm", "POST", "/api/v2/messages", signed_in(200), body={"to": "jin.park", "body": "matrix"}),
    Row(
        "v2 list dms",
        "GET",
        "/api/v2/messages",
        E(200, 200, 200, 200, party=200),
        query="limit=200",
        party="jin.park",
        seen=text_has("dm"),
        seen_by=PARTIES,
    ),
    Row(
        "v2 get dm",
        "GET",
        "/api/v2/messages/{message_id}",
        E(200, 404, 404, 404, party=200),
        DM,
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 get convo message",
        "GET",
        "/api/v2/messages/{message_id}",
        E(200, 404, 404, 404, party=200),
        {"message_id": "convo_message"},
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 get channel message",
        "GET",
        "/api/v2/messages/{message_id}",
        signed_in(200),
        {"message_id": "channel_message"},
    ),
    Row(
        "v2 get stream post",
        "GET",
        "/api/v2/messages/{message_id}",
        E(200, 200, 404, 200, party=200),
        {"message_id": "post"},
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 read dm",  # the recipient reads; the sender may see it but is not its recipient
        "POST",
        "/api/v2/messages/{message_id}/read",
        E(200, 404, 404, 404, party=403),
        DM,
        owner="jin.park",
        party="alex.kim",
        why={403: "NotRecipient", 404: "MessageNotFound"},
    ),
    Row(
        "v2 read channel message",  # a channel is everyone's: anyone moves their own read marker
        "POST",
        "/api/v2/messages/{message_id}/read",
        signed_in(200),
        {"message_id": "channel_message"},
    ),
    Row(
        "v2 read stream post",
        "POST",
        "/api/v2/messages/{message_id}/read",
        E(403, 403, 404, 403),
        {"message_id": "post"},
        why={403: "NotRecipient", 404: "MessageNotFound"},
    ),
    # -- v2 chat basics: edit, delete, react, search, typing ------------------------------------
    Row(
        "v2 edit dm",
        "PATCH",
        "/api/v2/messages/{message_id}",
        E(200, 404, 404, 404, party=403),
        DM,
        party="jin.park",
        body={"body": "fresh dm, edited"},
        why={403: "NotSender", 404: "MessageNotFound"},
    ),
    Row(
        "v2 edit channel message",  # the sender alone, even for an admin
        "PATCH",
        "/api/v2/messages/{message_id}",
        E(200, 403, 403, 403),
        {"message_id": "channel_message"},
        body={"body": "fresh channel, edited"},
        why={403: "NotSender"},
    ),
    Row(
        "v2 edit convo message",  # convos edit through their own dialect
        "PATCH",
        "/api/v2/messages/{message_id}",
        E(403, 404, 404, 404, party=403),
        {"message_id": "convo_message"},
        party="jin.park",
        body={"body": "edited"},
        why={403: "NotSender", 404: "MessageNotFound"},
    ),
    Row(
        "v2 delete dm",  # an admin only for channel (and stream) messages
        "DELETE",
        "/api/v2/messages/{message_id}",
        E(204, 404, 404, 404, party=403),
        fresh=World.fresh_dm,
        party="jin.park",
        why={403: "NotSender", 404: "MessageNotFound"},
    ),
    Row(
        "v2 delete channel message",
        "DELETE",
        "/api/v2/messages/{message_id}",
        E(204, 403, 403, 204),
        fresh=World.fresh_channel_message,
        why={403: "NotSender"},
    ),
    Row(
        "v2 react to dm",
        "PUT",
        "/api/v2/messages/{message_id}/reactions/{emoji}",
        E(200, 404, 404, 404, party=200),
        {"message_id": "dm", "emoji": "name:🎉"},
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 react to stream post",
        "PUT",
        "/api/v2/messages/{message_id}/reactions/{emoji}",
        E(200, 200, 404, 200, party=200),
        {"message_id": "post", "emoji": "name:👍"},
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 take back a reaction to a dm",
        "DELETE",
        "/api/v2/messages/{message_id}/reactions/{emoji}",
        E(200, 404, 404, 404, party=200),
        {"message_id": "dm", "emoji": "name:🎉"},
        party="jin.park",
        why=NOT_A_MESSAGE,
    ),
    Row(
        "v2 search",  # a DM is found by its two parties only
        "GET",
        "/api/v2/search",
        E(200, 200, 200, 200, party=200),
        query="q=fresh&limit=100",
        party="jin.park",
        seen=text_has("dm"),
        seen_by=PARTIES,
    ),
    Row("v2 typing to someone", "POST", "/api/v2/typing", signed_in(204), body={"to": "jin.park"}),
    Row(
        "v2 typing in a channel",
        "POST",
        "/api/v2/typing",
        signed_in(204),
        body=lambda w: {"channel": w.ids["general"]},
    ),
    Row(
        "v2 conversations",
        "GET",
        "/api/v2/conversations",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=lambda w, r: any(
            {c["last_message"]["from"], c["last_message"]["to"]} == {"alex.kim", "jin.park"}
            for c in r.json()["conversations"]
        ),
        seen_by=PARTIES,
    ),
    # -- v2: calls -------------------------------------------------------------------------
    Row("v2 start call", "POST", "/api/v2/calls", signed_in(200), body={"to": "jin.park"}, fresh=World.free_line),
    Row(
        "v2 list calls",
        "GET",
        "/api/v2/calls",
        E(200, 200, 200, 200, party=200),
        query="limit=200",
        party="jin.park",
        seen=text_has("call"),
        seen_by=PARTIES,
    ),
    Row(
        "v2 get call",
        "GET",
        "/api/v2/calls/{call_id}",
        E(200, 404, 404, 404, party=200),
        CALL,
        party="jin.park",
        why=NOT_A_CALL,
    ),
    Row(
        "v2 answer call",
        "POST",
        "/api/v2/calls/{call_id}/answer",
        E(403, 404, 404, 404, party=200),
        fresh=World.fresh_call,
        party="jin.park",
        why=NOT_A_CALL,
    ),
    Row(
        "v2 decline call",
        "POST",
        "/api/v2/calls/{call_id}/decline",
        E(403, 404, 404, 404, party=200),
        fresh=World.fresh_call,
        party="jin.park",
        why=NOT_A_CALL,
    ),
    Row(
        "v2 end call",
        "POST",
        "/api/v2/calls/{call_id}/end",
        E(200, 404, 404, 404, party=200),
        fresh=World.fresh_call,
        party="jin.park",
        why=NOT_A_CALL,
    ),
    # -- pilcrow: boot and events ----------------------------------------------------------
    Row(
        "boot: a DM",
        "GET",
        "/api/boot",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=text_has("dm"),
        seen_by=PARTIES,
    ),
    Row(
        "boot: a convo message",
        "GET",
        "/api/boot",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=text_has("convo_message"),
        seen_by=PARTIES,
    ),
    Row(
        "boot: a stream post",
        "GET",
        "/api/boot",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=text_has("post"),
        seen_by=TEAM,
    ),
    Row("boot: a channel message", "GET", "/api/boot", signed_in(200), seen=text_has("channel_message"), seen_by=ALL),
    Row("events (SSE)", "GET", "/api/events", signed_in(200)),
    Row("events (WebSocket)", "WS", "/api/events", signed_in(101)),
    # -- pilcrow: channels and deletes -----------------------------------------------------
    Row("create channel", "POST", "/api/channels", signed_in(202), body=unique("room")),
    Row(
        "channel history",
        "GET",
        "/api/channels/{channel_id}/messages",
        signed_in(200),
        {"channel_id": "general"},
        query="limit=200",
        seen=text_has("channel_message"),
        seen_by=ALL,
    ),
    Row(
        "post to channel",
        "POST",
        "/api/channels/{channel_id}",
        signed_in(202),
        {"channel_id": "general"},
        body={"body": "hi"},
    ),
    Row(
        "delete channel",
        "DELETE",
        "/api/channels/{channel_id}",
        E(202, 403, 403, 202),
        fresh=World.fresh_channel,
        why={403: "only the channel's creator or an admin"},
    ),
    Row(
        "delete a DM",
        "DELETE",
        "/api/messages/{message_id}",
        E(202, 404, 404, 404, party=403),
        fresh=World.fresh_dm,
        party="jin.park",
        why=NOT_THE_SENDER,
    ),
    Row(
        "delete a convo message",
        "DELETE",
        "/api/messages/{message_id}",
        E(202, 404, 404, 404, party=403),
        fresh=World.fresh_convo_message,
        party="jin.park",
        why=NOT_THE_SENDER,
    ),
    Row(
        "delete a channel message",
        "DELETE",
        "/api/messages/{message_id}",
        E(202, 403, 403, 202),
        fresh=World.fresh_channel_message,
        why=NOT_THE_SENDER,
    ),
    Row(
        "delete a stream post",
        "DELETE",
        "/api/messages/{message_id}",
        E(202, 403, 404, 202, party=403),
        fresh=World.fresh_post,
        party="jin.park",
        why=NOT_THE_SENDER,
    ),
    # -- pilcrow: accounts -----------------------------------------------------------------
    Row("setup (done)", "POST", "/api/setup", public(409), body={"name": "first.admin", "password": "pw"}),
    Row("pilcrow login", "POST", "/api/auth/login", public(200), body={"name": "alex.kim", "password": "alex-pass"}),
    Row("pilcrow logout", "POST", "/api/auth/logout", signed_in(204), fresh_token=True),
    Row("invite", "POST", "/api/invite", signed_in(200), body={}),
    Row("read invite", "GET", "/api/invite/{invite_id}", public(200), {"invite_id": "invite"}),
    Row("accept invite", "POST", "/api/invite/{invite_id}", public(200), fresh=World.fresh_invite, body=new_account()),
    # -- Huddle: OOO entries ---------------------------------------------------------------
    Row("create ooo", "POST", "/presence/create", signed_in(201), body={"isActive": False, "message": "matrix"}),
    ooo_row(
        "ooo by users",  # others' entries are silently left out
        "POST",
        "/presence",
        E(200, 200, 200, 200),
        body={"links": [{"rel": "user", "href": "/users/jin.park"}]},
        seen=entity_ids_have("ooo"),
        seen_by=frozenset({"owner", "member", "admin"}),
    ),
    ooo_row(
        "ooo by team",
        "POST",
        "/presence/teams/{team_id}",
        E(200, 200, 403, 200),
        {"team_id": "team"},
        body={},
        seen=entity_ids_have("ooo"),
        seen_by=frozenset({"owner", "member", "admin"}),
        why={403: "TeamMembershipRequired"},
    ),
    Row(
        "ooo by workspace",  # alex and maya share the workspace; jin (the party here) is not in it
        "POST",
        "/presence/workspace/{workspace_id}",
        E(200, 200, 403, 200, party=403),
        {"workspace_id": "space"},
        body={},
        party="jin.park",
        why={403: "WorkspaceMembershipRequired"},
    ),
    ooo_row(
        "ooo audits",
        "GET",
        "/presence/{user_id}/audits",
        E(200, 404, 404, 200),
        {"user_id": "pk:jin.park"},
        why={404: "UserNotFound"},
    ),
    ooo_row(
        "ooo list",
        "GET",
        "/presence/{user_id}",
        E(200, 404, 404, 200),
        {"user_id": "pk:jin.park"},
        why={404: "UserNotFound"},
    ),
    ooo_row(
        "ooo get", "GET", "/presence/{user_id}/{presence_id}", E(200, 200, 404, 200), OOO, why={404: "PresenceNotFound"}
    ),
    ooo_row(
        "ooo update",  # the reference's 403 InsufficientPermission for anyone but the owner
        "PUT",
        "/presence/{user_id}/{presence_id}",
        E(200, 403, 403, 403),
        OOO,
        body={"message": "matrix ooo"},
        why=NOT_THE_OWNER,
    ),
    ooo_row(
        "ooo delete",
        "DELETE",
        "/presence/{user_id}/{presence_id}",
        E(204, 403, 403, 403),
        fresh=World.fresh_ooo,
        why=NOT_THE_OWNER,
    ),
    blank("PUT", "/presence//{presence_id}", presence_id="ooo"),
    blank("DELETE", "/presence//{presence_id}", presence_id="ooo"),
    blank("GET", "/presence//audits"),
    blank("GET", "/presence/"),
    blank("PUT", "/presence/{user_id}/", user_id="pk:jin.park"),
    blank("DELETE", "/presence/{user_id}/", user_id="pk:jin.park"),
    blank("POST", "/presence/teams/"),
    blank("POST", "/presence/workspace/"),
    # -- Huddle: users, teams, workspaces --------------------------------------------------
    Row("huddle user", "GET", "/users/{user_id}", signed_in(200), {"user_id": "pk:alex.kim"}),
    Row(
        "teams",
        "GET",
        "/teams",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=listed("teams", "team"),
        seen_by=TEAM,
    ),
    Row(
        "team",
        "GET",
        "/teams/{group_id}",
        E(200, 200, 403, 200),
        {"group_id": "team"},
        why={403: "TeamMembershipRequired"},
    ),
    Row("create team", "POST", "/teams", E(403, 403, 403, 201), body=unique("team"), why=ADMINS_ONLY),
    Row(
        "patch team",
        "PATCH",
        "/teams/{group_id}",
        E(403, 403, 403, 200),
        fresh=lambda w: w.fresh_group("teams"),
        body=unique("team"),
        why=ADMINS_ONLY,
    ),
    Row(
        "add team member",
        "PUT",
        "/teams/{group_id}/members/{user_id}",
        E(403, 403, 403, 204),
        fresh=lambda w: w.fresh_group("teams"),
        why=ADMINS_ONLY,
    ),
    Row(
        "remove team member",
        "DELETE",
        "/teams/{group_id}/members/{user_id}",
        E(403, 403, 403, 204),
        fresh=lambda w: {**w.fresh_group("teams"), "user_id": "jin.park"},
        why=ADMINS_ONLY,
    ),
    Row(
        "workspaces",
        "GET",
        "/workspaces",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=listed("workspaces", "space"),
        seen_by=frozenset({"owner", "member", "admin"}),
    ),
    Row(
        "workspace",
        "GET",
        "/workspaces/{group_id}",
        E(200, 200, 403, 200, party=403),
        {"group_id": "space"},
        party="jin.park",
        why={403: "WorkspaceMembershipRequired"},
    ),
    Row("create workspace", "POST", "/workspaces", E(403, 403, 403, 201), body=unique("space"), why=ADMINS_ONLY),
    Row(
        "patch workspace",
        "PATCH",
        "/workspaces/{group_id}",
        E(403, 403, 403, 200),
        fresh=lambda w: w.fresh_group("workspaces"),
        body=unique("space"),
        why=ADMINS_ONLY,
    ),
    Row(
        "add workspace member",
        "PUT",
        "/workspaces/{group_id}/members/{user_id}",
        E(403, 403, 403, 204),
        fresh=lambda w: w.fresh_group("workspaces"),
        why=ADMINS_ONLY,
    ),
    Row(
        "remove workspace member",
        "DELETE",
        "/workspaces/{group_id}/members/{user_id}",
        E(403, 403, 403, 204),
        fresh=lambda w: {**w.fresh_group("workspaces"), "user_id": "jin.park"},
        why=ADMINS_ONLY,
    ),
    # -- Convos: non-participants (admins too) get 404; a participant refused gets 401 -------
    Row(
        "list convos",
        "GET",
        "/api/Convo",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        query="count=50",
        seen=listed(None, "convo", "Id"),
        seen_by=PARTIES,
    ),
    Row(
        "create convo",
        "POST",
        "/api/Convo",
        signed_in(201),
        body=lambda w: {"Participant": w.ids["pk:jin.park"], "Subject": "m"},
    ),
    Row(
        "get convo",
        "GET",
        "/api/Convo/{convo_id}",
        E(200, 404, 404, 404, party=200),
        CONVO,
        party="jin.park",
        why=CONVOS,
    ),
    Row(
        "patch convo",
        "PATCH",
        "/api/Convo/{convo_id}",
        E(200, 404, 404, 404, party=401),
        CONVO,
        party="jin.park",
        body={"Subject": "matrix"},
        why=CONVOS,
    ),
    Row(
        "delete convo",
        "DELETE",
        "/api/Convo/{convo_id}",
        E(204, 404, 404, 404, party=401),
        fresh=World.fresh_convo,
        party="jin.park",
        why=CONVOS,
    ),
    Row(
        "list convo messages",
        "GET",
        "/api/Convo/{convo_id}/Message",
        E(200, 404, 404, 404, party=200),
        CONVO,
        party="jin.park",
        why=CONVOS,
    ),
    Row(
        "post convo message",
        "POST",
        "/api/Convo/{convo_id}/Message",
        E(201, 404, 404, 404, party=201),
        CONVO,
        party="jin.park",
        body={"Body": "matrix"},
        why=CONVOS,
    ),
    Row(
        "reply in convo",
        "POST",
        "/api/Convo/{convo_id}/Message/{message_id}",
        E(201, 404, 404, 404, party=201),
        CONVO_MESSAGE,
        party="jin.park",
        body={"Body": "matrix reply"},
        why=CONVOS,
    ),
    Row(
        "get convo message",
        "GET",
        "/api/Convo/{convo_id}/Message/{message_id}",
        E(200, 404, 404, 404, party=200),
        CONVO_MESSAGE,
        party="jin.park",
        why=CONVOS,
    ),
    Row(
        "edit convo message",
        "PATCH",
        "/api/Convo/{convo_id}/Message/{message_id}",
        E(200, 404, 404, 404, party=401),
        CONVO_MESSAGE,
        party="jin.park",
        body={"Body": "fresh convo message"},
        why=CONVOS,
    ),
    Row(
        "mark convo message read",  # the recipient marks; the sender is refused
        "PATCH",
        "/api/Convo/{convo_id}/Message/{message_id}",
        E(200, 404, 404, 404, party=401),
        CONVO_MESSAGE,
        owner="jin.park",
        party="alex.kim",
        body={"IsRead": True},
        why=CONVOS,
    ),
    Row(
        "delete convo message",
        "DELETE",
        "/api/Convo/{convo_id}/Message/{message_id}",
        E(204, 404, 404, 404, party=401),
        fresh=World.fresh_convo_message,
        party="jin.park",
        why=CONVOS,
    ),
    # -- ESN: a stream is for its team's members (admins read every stream) ------------------
    Row(
        "esn messages by ids",
        "GET",
        "/api/messages",
        E(200, 200, 404, 200, party=200),
        query="ids[]={post}",
        party="jin.park",
        why=ESN,
    ),
    Row(
        "esn get post",  # a message that exists but is not yours to read: 403, as the reference names it
        "GET",
        "/api/messages/{message_id}",
        E(200, 200, 403, 200, party=200),
        {"message_id": "post"},
        party="jin.park",
        why=ESN,
    ),
    Row(
        "esn get a DM",
        "GET",
        "/api/messages/{message_id}",
        E(200, 403, 403, 403, party=200),
        DM,
        party="jin.park",
        why=ESN,
    ),
    Row(
        "esn post",  # posting where you may not write is 403; admins write only where members
        "POST",
        "/api/messages",
        E(201, 201, 403, 403, party=201),
        party="jin.park",
        body=POST_TO_TEAM,
        why=ESN,
    ),
    Row(
        "esn reply",
        "POST",
        "/api/messages",
        E(201, 201, 404, 403, party=201),
        party="jin.park",
        body={"object": {"objectType": "whatsup", "description": "re"}, "inReplyTo": {"_id": "{post}"}},
        why=ESN,
    ),
    Row(
        "esn email",
        "POST",
        "/api/messages/email",
        E(201, 201, 403, 403, party=201),
        query="id={team_stream}&objectType=activitystream",
        party="jin.park",
        content=MAIL,
        headers={"Content-Type": "message/rfc822"},
        why=ESN,
    ),
    Row(
        "esn share",  # from the team's stream into the workspace's: alex and maya are in both
        "POST",
        "/api/messages/{message_id}/shares",
        E(201, 201, 404, 403, party=403),
        {"message_id": "post"},
        party="jin.park",
        body={
            "resource": {"objectType": "activitystream", "id": "{team_stream}"},
            "target": {"objectType": "activitystream", "id": "{space_stream}"},
        },
        why=ESN,
    ),
    Row(
        "esn streams",
        "GET",
        "/api/activitystreams",
        E(200, 200, 200, 200, party=200),
        party="jin.park",
        seen=listed(None, "team_stream", "uuid"),
        seen_by=TEAM,
    ),
    Row(
        "esn timeline",
        "GET",
        "/api/activitystreams/{stream_id}",
        E(200, 200, 404, 200, party=200),
        {"stream_id": "team_stream"},
        party="jin.park",
        why=ESN,
    ),
]
CASES = [pytest.param(row, role, id=f"{row.name}-{role}") for row in ROWS for role in row.roles()]


# ---- running a case -----------------------------------------------------------------------
def fill(value: Any, world: World) -> Any:
    """A body with `{key}` placeholders filled from World.ids."""
    if callable(value):
        return value(world)
    if isinstance(value, str):
        return value.format(**world.ids)
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value


def path_params(row: Row, world: World) -> dict[str, Any]:
    """The path's parameters: fresh resources, else the shared ones named by the row."""
    params = {}
    for name, key in row.params.items():
        params[name] = key.removeprefix("name:") if key.startswith("name:") else world.ids[key]
    if row.fresh is not None:
        params |= row.fresh(world)
    return params


def open_websocket(world: World, path: str, token: str | None) -> int:
    """The HTTP status of a WebSocket handshake: 101 accepted, else the denial's status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with connect(world.server.url.replace("http", "ws") + path, additional_headers=headers, open_timeout=10):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def send(world: World, row: Row, url: str, token: str | None) -> tuple[int, httpx.Response | None]:
    """Make the request; the event stream is only opened and closed."""
    if row.method == "WS":
        return open_websocket(world, url, token), None
    headers = {**row.headers, **({"Authorization": f"Bearer {token}"} if token else {})}
    world.http.cookies.clear()  # logins answer with an identity cookie; only the token named here may be sent
    kwargs: dict[str, Any] = {"headers": headers}
    if row.content is not None:
        kwargs["content"] = row.content
    elif row.body is not None:
        kwargs["json"] = fill(row.body, world)
    if row.route == "/api/events":
        with world.http.stream(row.method, url, **kwargs) as r:
            return r.status_code, None
    r = world.http.request(row.method, url, **kwargs)
    return r.status_code, r


def said(response: httpx.Response) -> str:
    """An answer's body, and its Convos result code (Convos errors have no body)."""
    code = response.headers.get("X-Result-Code")
    return response.text + (f" X-Result-Code: {code}" if code is not None else "")


def unauthorized_shape(row: Row) -> str:
    """What a 401 of this route's dialect says."""
    if row.route.startswith("/api/messages") and not (row.method == "DELETE" and row.route.count("/") == 3):
        return '"status":401'  # ESN's, but for pilcrow's DELETE /api/messages/{id}
    return next(text for prefix, text in UNAUTHORIZED.items() if row.route.startswith(prefix))


@pytest.mark.parametrize(("row", "role"), CASES)
def test_authorization_matrix(world: World, row: Row, role: str) -> None:
    handle = row.caller(role)
    token = None if handle is None else world.server.token(handle) if row.fresh_token else world.tokens[handle]
    url = row.route.format(**path_params(row, world)) + (f"?{fill(row.query, world)}" if row.query else "")
    world.clock.advance(STEP_SECONDS)
    refused = row.expect[role] >= 400
    before = world.snapshot() if refused else None

    status, response = send(world, row, url, token)

    detail = "" if response is None else f" {said(response)[:300]}"
    assert status == row.expect[role], f"{row.method} {url} as {role} ({handle}): {status}{detail}"
    if response is not None and status in row.why and role != "anon":
        assert row.why[status] in said(response), f"{row.method} {url} as {role}: {status}{detail}"
    if response is not None and status == 401 and role == "anon":
        assert unauthorized_shape(row) in said(response), f"{row.method} {url}: a 401 in the wrong shape{detail}"
    if refused:
        assert world.snapshot() == before, f"{row.method} {url} as {role} was refused but changed the database"
    if row.seen is not None and response is not None and status < 300:
        assert row.seen(world, response) == (role in row.seen_by), f"{row.name}: seen by {role}?"


def app_routes(world: World) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: HEAD comes with GET; a WebSocket route is "WS"."""
    routes: list[Any] = list(world.server.app.routes)
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x nests included routers
    if iterate is not None:
        routes = list(iterate(routes))
    out = set()
    for route in routes:
        path = route.path
        methods = route.methods
        if methods is None:
            out.add(("WS", path))
            continue
        out |= {(m, path) for m in methods if m != "HEAD" or "GET" not in methods}
    return out


def test_every_route_has_a_row(world: World) -> None:
    routes = app_routes(world)
    covered = {(row.method, row.route) for row in ROWS}
    assert len(routes) > 80, "the route listing found too few routes: has FastAPI changed how it nests them?"
    assert routes - covered == set(), "routes without a row in the authorization matrix"
    assert covered - routes == set(), "rows for routes the app does not have"


def test_every_row_checks_every_kind_of_caller() -> None:
    """Owner, member, non-member, admin and anonymous, and the other party where there is one."""
    for row in ROWS:
        assert {"owner", "member", "nonmember", "admin", "anon"} <= set(row.expect), row.name
        assert ("party" in row.expect) == (row.party is not None), row.name
    assert len(CASES) >= 5 * len(ROWS)


# ---- tokens never leak: not into the logs, not into the database --------------------------
class Serve:
    """`huddle-server serve` in a subprocess, its stdout and stderr kept in files."""

    def __init__(self, db: Path, log_level: str) -> None:
        self.out = db.parent / f"serve-{log_level}.out"
        self.err = db.parent / f"serve-{log_level}.err"
        command = [sys.executable, "-m", "server", "serve", "--db", str(db), "--port", "0", "--log-level", log_level]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=Path(__file__).parents[2])
        deadline = time.monotonic() + 20
        while not (line := self.out.read_text()).endswith("\n"):
            assert self.process.poll() is None, f"serve exited: {self.err.read_text()}"
            assert time.monotonic() < deadline, "serve did not print its address"
            time.sleep(0.02)
        self.url = line.strip().removeprefix("listening on ")

    def stop(self) -> str:
        """Stop the server (as Ctrl-C does); everything it wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.out.read_text() + self.err.read_text()


def use_tokens_every_way(url: str) -> list[str]:
    """Sign in and out in both dialects, use the tokens as header, cookie, query and on both streams; the tokens."""
    ws_url = url.replace("http", "ws") + "/api/events"
    bad = secrets.token_urlsafe(32)
    with httpx.Client(base_url=url, timeout=10) as http:
        login = http.post("/api/v2/auth/login", json={"user": "alex.kim", "password": "alex-pass"})
        assert login.status_code == 200
        bearer = login.json()["token"]
        http.cookies.clear()
        signed = http.post("/api/auth/login", json={"name": "maya.chen", "password": "maya-pass"})
        assert signed.status_code == 200
        cookie = signed.cookies["identity"]
        http.cookies.clear()
        invite = http.post("/api/invite", headers={"Authorization": f"Bearer {bearer}"}).json()["id"]
        accepted = http.post(f"/api/invite/{invite}", json={"name": "lee.wong", "password": "lee-pass"})
        assert accepted.status_code == 200
        invited = accepted.cookies["identity"]
        http.cookies.clear()
        assert http.post("/api/v2/auth/login", json={"user": "jin.park", "password": "not-jins"}).status_code == 401

        as_bearer = {"Authorization": f"Bearer {bearer}"}
        as_cookie = {"Cookie": f"identity={cookie}", "Origin": url}  # as the server's own pages send it
        assert http.get("/api/v2/users", headers=as_bearer).status_code == 200
        assert http.get("/api/boot", headers=as_cookie).status_code == 200
        assert http.get("/teams", headers={"Cookie": f"identity={invited}"}).status_code == 200
        dm = http.post("/api/v2/messages", headers=as_bearer, json={"to": "maya.chen", "body": "hello"})
        assert dm.status_code == 200
        # Tokens where they are not accepted, and tokens that are not valid: refused, still not logged.
        assert http.get("/api/boot", params={"token": bearer}).status_code == 401
        assert http.get("/api/boot", params={"access_token": cookie}).status_code == 401
        assert http.get("/api/boot", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
        assert http.get("/presence/1", headers={"Cookie": f"identity={bad}"}).status_code == 401
        assert http.get("/api/Convo", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
        with http.stream("GET", "/api/events", headers=as_bearer) as stream:
            assert stream.status_code == 200
        for headers in (as_bearer, as_cookie):
            with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
                ws.send(json.dumps({"type": "activity"}))
        for refused_url, headers in (
            (ws_url, {"Authorization": f"Bearer {bad}"}),
            (ws_url, {"Cookie": f"identity={bad}", "Origin": url}),
            (f"{ws_url}?token={bearer}", {}),
        ):
            with pytest.raises(InvalidStatus) as refused:
                connect(refused_url, additional_headers=headers, open_timeout=10).close()
            assert refused.value.response.status_code == 401
        # Signed out: the tokens stop working, and a revoked token is refused without being logged.
        assert http.post("/api/v2/auth/logout", headers=as_bearer).status_code == 204
        assert http.post("/api/auth/logout", headers=as_cookie).status_code == 204
        assert http.get("/api/v2/users", headers=as_bearer).status_code == 401
        assert http.get("/api/boot", headers=as_cookie).status_code == 401
    return [bearer, cookie, invited, bad]


@dataclass(frozen=True)
class Served:
    """What a `serve --log-level debug` run wrote, the tokens it handed out, and its database."""

    logs: str
    tokens: list[str]
    db: Path

    def records(self, lowest: str) -> str:
        """The log records at `lowest` level or above: what `serve --log-level {lowest}` writes."""
        levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
        keep, out = True, []
        for line in self.logs.splitlines():
            # uvicorn's "INFO:     …" or logging.basicConfig's "2024-03-15 09:14:22,208 INFO huddle.http: …"
            level = re.match(r"^(?:\d{4}-\d\d-\d\d [\d:,]+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b", line)
            if level:
                keep = levels.index(level.group(1)) >= levels.index(lowest)
            if keep:  # a line without a level continues the record above it (a traceback)
                out.append(line)
        return "\n".join(out)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    """One real `huddle-server serve --log-level debug` that saw tokens used every way, then stopped."""
    db = tmp_path_factory.mktemp("tokens") / "huddle.db"
    load_team(db)
    serve = Serve(db, "debug")
    try:
        tokens = use_tokens_every_way(serve.url)
    finally:
        logs = serve.stop()
    assert "Application startup complete" in logs  # the logs really were captured...
    assert "DEBUG" in logs  # ... at debug level
    return Served(logs, tokens, db)


SECRETS_OTHER_THAN_TOKENS = ["alex-pass", "maya-pass", "lee-pass", "not-jins"]


# uvicorn logs a WebSocket's request line with its query string (INFO) and hands its logger to
# the websockets library, which at DEBUG logs every handshake header: server/logs.py redacts.
@pytest.mark.parametrize("level", ["WARNING", "INFO", "DEBUG"])  # WARNING: serve's default
def test_no_token_or_password_in_the_logs(served: Served, level: str) -> None:
    logs = served.records(level)
    for secret in [*served.tokens, *SECRETS_OTHER_THAN_TOKENS]:
        assert secret not in logs, f"a token or password is in the logs at {level}"


def test_tokens_are_stored_only_hashed(served: Served) -> None:
    assert_stored_hashed(served.db, served.tokens[:3])  # the fourth was never issued


def assert_stored_hashed(db: Path, tokens: list[str]) -> None:
    """No table holds a raw token, and no byte of the database files does; the tokens table holds their hashes."""
    conn = sqlite3.connect(db)
    try:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        cells = [str(cell) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for cell in row]
        hashed = {str(cell) for row in conn.execute("SELECT * FROM tokens") for cell in row}
    finally:
        conn.close()
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    for token in tokens:
        assert not [c for c in cells if token in c], "a raw token is stored in the database"
        assert not [p for p in files if token.encode() in p.read_bytes()], "a raw token is in a database file"
        assert hashlib.sha256(token.encode()).hexdigest() in hashed, "the token's hash is not stored"
