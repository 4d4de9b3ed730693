"""Privacy (API.md §7): a hidden `last_seen` and OOO details reach only those allowed, in every dialect.

- `hide_last_seen`: others get `last_seen: null` (Huddle `lastSeen`) in v2, Huddle, boot and on the
  event stream; the owner still sees it.
- OOO details (message, dates) reach the owner, admins, and people sharing a live team or a
  workspace with the owner; to anyone else `ooo` is null, the Huddle routes answer their
  documented 404/403, and no `ooo` event reaches them.

The people (a team of their own for the workspace-only case):

| user      | team           | workspace | what is private                              |
|-----------|----------------|-----------|----------------------------------------------|
| alex.kim  | infrastructure | platform  | an active OOO entry, and he hides last_seen  |
| jin.park  | infrastructure | -         | an active OOO entry                          |
| maya.chen | infrastructure | platform  | she hides last_seen                          |
| lee.wong  | design         | platform  | (alex's mate by the workspace only)          |
| sam.ortiz | design         | -         | (nobody's mate but lee's)                    |
| hr.admin  | -              | -         | admin                                        |

Besides the field-by-field checks, every GET route of the app (listed from the app itself, so a
new route is swept too) and the Huddle queries are called by each person with every id, and
the text of each answer is searched for the private values they may not see.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest

from server.dialects import times as timefmt
from server.domain.clock import ManualClock
from server.settings import Settings
from tests.support import LiveServer, load_team, manual_clock
from tests.support.events import SSE, WS, Ev, collect

pytestmark = pytest.mark.reliability

TEAM = """
[[users]]
handle = "alex.kim"
display_name = "Alex Kim"
team = "infrastructure"

[[users]]
handle = "jin.park"
display_name = "Jin Park"
team = "infrastructure"

[[users]]
handle = "maya.chen"
display_name = "Maya Chen"
team = "infrastructure"

[[users]]
handle = "lee.wong"
display_name = "Lee Wong"
team = "design"

[[users]]
handle = "sam.ortiz"
display_name = "Sam Ortiz"
team = "design"

[[users]]
handle = "hr.admin"
display_name = "HR Admin"
admin = true

[[teams]]
name = "infrastructure"
members = ["alex.kim", "jin.park", "maya.chen"]

[[teams]]
name = "design"
members = ["lee.wong", "sam.ortiz"]

[[workspaces]]
name = "platform"
members = ["alex.kim", "maya.chen", "lee.wong"]

[[channels]]
name = "general"
"""
PEOPLE = ("alex.kim", "jin.park", "maya.chen", "lee.wong", "sam.ortiz", "hr.admin")
START = "2024-04-15T09:00:00Z"
ALEX_OOO: dict[str, Any] = {
    "isActive": True,
    "startDate": "2024-04-14T07:08:09+00:00",
    "endDate": "2024-04-26T10:11:12+00:00",
    "message": "alex-ooo-secret",
}
JIN_OOO: dict[str, Any] = {
    "isActive": True,
    "startDate": "2024-04-13T01:02:03+00:00",
    "endDate": "2024-04-27T04:05:06+00:00",
    "message": "jin-ooo-secret",
}
JIN_OOO_UPDATE = {"message": "jin-ooo-secret, back monday"}
# Who may see each one's OOO details: the owner, admins, and mates (a team or a workspace).
SEES_ALEX_OOO = {"alex.kim", "jin.park", "maya.chen", "lee.wong", "hr.admin"}
SEES_JIN_OOO = {"jin.park", "alex.kim", "maya.chen", "hr.admin"}


@dataclass
class Private:
    """The private values of the world and who may see each."""

    hidden_at: int = 0  # when alex and maya hid their last_seen
    alex_seen: int = 0  # alex's last_seen (hidden)
    maya_seen: int = 0  # maya's last_seen (hidden)
    jin_seen: int = 0  # jin's last_seen (not hidden)
    markers: dict[str, tuple[list[str], set[str]]] = field(default_factory=dict)


@dataclass
class World:
    """A server with the private things in place and a client per person; ids of one of everything."""

    server: LiveServer
    clients: dict[str, httpx.Client]
    tokens: dict[str, str]
    ids: dict[str, Any]
    private: Private
    start_point: int

    def get(self, who: str, url: str, **kwargs: Any) -> httpx.Response:
        r = self.clients[who].get(url, **kwargs)
        assert r.status_code < 500, f"GET {url} as {who}: {r.status_code} {r.text}"
        return r

    def ok(self, who: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        r = self.clients[who].request(method, url, **kwargs)
        assert r.status_code < 300, f"{method} {url} as {who}: {r.status_code} {r.text}"
        return r


def stamps(us: int) -> list[str]:
    """A time as every dialect could write it: the ISO seconds (a prefix of all of v2, boot, Huddle and
    Convos forms) and the epoch seconds (a prefix of ESN's milliseconds)."""
    return [str(timefmt.plain(us)), str(us // 1_000_000)]


def build(server: LiveServer) -> World:
    """Make the private things (and one of every resource, so that every route has something to show)."""
    clock = server.clock
    assert isinstance(clock, ManualClock)
    tokens = {h: server.token(h) for h in PEOPLE}  # as `huddle-server token` prints them: no activity
    clients = {
        h: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {t}"}, timeout=10)
        for h, t in tokens.items()
    }
    world = World(server, clients, tokens, {}, Private(), 0)
    ids, ok = world.ids, world.ok
    world.start_point = ok("hr.admin", "GET", "/api/boot").json()["resume_point"]
    for user in ok("hr.admin", "GET", "/api/v2/users").json()["users"]:
        ids[f"pk:{user['user']}"] = user["id"]
    for plural in ("teams", "workspaces"):
        groups = ok("hr.admin", "GET", f"/{plural}").json()[plural]
        ids[plural] = [g["id"] for g in groups]
        ids |= {f"{plural}:{g['name']}": g["id"] for g in groups}
    streams = {s["name"]: s["uuid"] for s in ok("hr.admin", "GET", "/api/activitystreams").json()}
    ids["streams"] = list(streams.values())
    ids["general"] = ok("hr.admin", "GET", "/api/boot").json()["channels"][0]["id"]

    # 09:00:00 — the OOO entries (and an entry made, changed and deleted), and something of every kind.
    ids["alex_ooo"] = ok("alex.kim", "POST", "/presence/create", json=ALEX_OOO).json()["id"]
    draft = ok("alex.kim", "POST", "/presence/create", json={"isActive": False, "message": "alex-ooo-draft"}).json()
    ok("alex.kim", "PUT", f"/presence/alex.kim/{draft['id']}", json={"message": "alex-ooo-draft-2"})
    ok("alex.kim", "DELETE", f"/presence/alex.kim/{draft['id']}")
    ids["draft_ooo"] = draft["id"]
    ids["jin_ooo"] = ok("jin.park", "POST", "/presence/create", json=JIN_OOO).json()["id"]
    ok("jin.park", "PUT", f"/presence/jin.park/{ids['jin_ooo']}", json=JIN_OOO_UPDATE)
    ids["dm"] = ok("alex.kim", "POST", "/api/v2/messages", json={"to": "jin.park", "body": "hi"}).json()["message_id"]
    call = ok("alex.kim", "POST", "/api/v2/calls", json={"to": "jin.park"}).json()["call_id"]
    ok("alex.kim", "POST", f"/api/v2/calls/{call}/end")
    ids["call"] = call
    convos = []
    for other in ("jin.park", "sam.ortiz"):
        made = ok("alex.kim", "POST", "/api/Convo", json={"Participant": ids[f"pk:{other}"], "Subject": "s"})
        convo = int(made.headers["X-URI-Reference"].rsplit("/", 1)[-1])
        sent = ok("alex.kim", "POST", f"/api/Convo/{convo}/Message", json={"Body": "hello"})
        convos.append((convo, sent.headers["X-URI-Reference"].rsplit("/", 1)[-1]))
    ids["convos"] = convos
    posts = []
    for name in ("infrastructure", "platform"):  # alex writes into his team's and his workspace's streams
        body = {"object": {"objectType": "whatsup", "description": "news"}, "targets": [{"id": streams[name]}]}
        posts.append(ok("alex.kim", "POST", "/api/messages", json=body).json()["_id"])
    ids["posts"] = posts
    sent = ok("alex.kim", "POST", f"/api/channels/{ids['general']}", json={"body": "morning"}).json()
    ids["channel_message"] = sent["id"]
    ids["invite"] = ok("alex.kim", "POST", "/api/invite", json={}).json()["id"]
    ok("lee.wong", "POST", "/api/v2/activity")  # lee and sam have been seen, not hidden
    ok("sam.ortiz", "POST", "/api/v2/activity")
    world.private.jin_seen = clock.now()

    # 09:01:00 — alex and maya hide their last_seen (hiding is activity: persisted hidden).
    clock.advance(60)
    world.private.hidden_at = clock.now()
    ok("alex.kim", "PATCH", "/api/v2/users/alex.kim", json={"hide_last_seen": True})
    ok("maya.chen", "PATCH", "/api/v2/users/maya.chen", json={"hide_last_seen": True})
    # Then they are active at times nothing else happens at: these are the values to keep private.
    clock.advance(1174.567)
    ok("alex.kim", "POST", "/api/v2/activity")
    world.private.alex_seen = clock.now()
    clock.advance(1000.25)
    ok("maya.chen", "POST", "/api/v2/activity")
    world.private.maya_seen = clock.now()
    # An hour later the world is looked at; the sentinel ends every replay of the event stream.
    clock.advance(3600)
    ok("hr.admin", "POST", f"/api/channels/{ids['general']}", json={"body": "sentinel"})

    world.private.markers = {
        "alex's OOO": ([ALEX_OOO["message"], ALEX_OOO["startDate"][:19], ALEX_OOO["endDate"][:19]], SEES_ALEX_OOO),
        "alex's OOO history": (["alex-ooo-draft"], SEES_ALEX_OOO),
        "jin's OOO": ([JIN_OOO["message"], JIN_OOO["startDate"][:19], JIN_OOO["endDate"][:19]], SEES_JIN_OOO),
        "alex's last_seen": (stamps(world.private.alex_seen), {"alex.kim"}),
        "maya's last_seen": (stamps(world.private.maya_seen), {"maya.chen"}),
    }
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for every test here; the tests only read it (an admin's PATCH changes nothing of alex's)."""
    db: Path = tmp_path_factory.mktemp("privacy") / "huddle.db"
    load_team(db, TEAM)
    # No background ticks: nobody flips away unseen, the clock only moves when told.
    server = LiveServer(Settings(db=db, tick_seconds=3600), manual_clock(START)).start()
    try:
        made = build(server)
        yield made
        for client in made.clients.values():
            client.close()
    finally:
        server.stop()


# ---- expectations -------------------------------------------------------------------------
def last_seen_of(world: World, viewer: str, handle: str) -> int | None:
    """The last_seen `viewer` may see of `handle` (microseconds), per §7."""
    seen = {"alex.kim": world.private.alex_seen, "maya.chen": world.private.maya_seen}
    if handle in seen:
        return seen[handle] if viewer == handle else None
    assert handle == "jin.park"
    return world.private.jin_seen


def ooo_of(world: World, viewer: str, handle: str) -> dict[str, Any] | None:
    """The `ooo` object `viewer` may see of `handle`, per §7."""
    if handle == "alex.kim":
        entry, allowed = {**ALEX_OOO, "id": world.ids["alex_ooo"]}, SEES_ALEX_OOO
    elif handle == "jin.park":
        entry, allowed = {**JIN_OOO, **JIN_OOO_UPDATE, "id": world.ids["jin_ooo"]}, SEES_JIN_OOO
    else:
        return None
    if viewer not in allowed:
        return None
    return {k: entry[k] for k in ("id", "message", "startDate", "endDate")}


def by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """A list of objects by one of their fields."""
    return {item[key]: item for item in items}


# ---- hide_last_seen, dialect by dialect --------------------------------------------------
@pytest.mark.parametrize("viewer", PEOPLE)
def test_hidden_last_seen_in_every_dialect_and_boot(world: World, viewer: str) -> None:
    directory = by(world.get(viewer, "/api/v2/users").json()["users"], "user")
    boot = by(world.get(viewer, "/api/boot").json()["users"], "name")
    for handle in ("alex.kim", "maya.chen", "jin.park"):
        want = last_seen_of(world, viewer, handle)
        v2 = timefmt.v2(want)
        assert directory[handle]["last_seen"] == v2, f"v2 directory: {handle} as {viewer}"
        assert world.get(viewer, f"/api/v2/users/{handle}").json()["last_seen"] == v2
        assert world.get(viewer, f"/api/v2/users/{handle}/status").json()["last_seen"] == v2
        huddle = world.get(viewer, f"/users/{world.ids[f'pk:{handle}']}").json()
        assert huddle["lastSeen"] == timefmt.offset(want), f"Huddle /users: {handle} as {viewer}"
        assert world.get(viewer, f"/users/{handle}").json()["lastSeen"] == timefmt.offset(want)
        assert boot[handle]["last_seen"] == timefmt.precise(want), f"boot: {handle} as {viewer}"
    # Only the owner's own user object says whether it is hidden.
    assert ("hide_last_seen" in directory["alex.kim"]) == (viewer == "alex.kim")


def test_an_admin_changing_a_hidden_user_still_does_not_see_last_seen(world: World) -> None:
    r = world.ok("hr.admin", "PATCH", "/api/v2/users/alex.kim", json={"display_name": "Alex Kim"})
    assert r.json()["last_seen"] is None
    assert r.json()["ooo"] == ooo_of(world, "hr.admin", "alex.kim")
    refused = world.clients["hr.admin"].patch("/api/v2/users/alex.kim", json={"hide_last_seen": False})
    assert refused.status_code == 403  # nor may an admin unhide it
    assert world.get("jin.park", "/api/v2/users/alex.kim").json()["last_seen"] is None


# ---- OOO details, dialect by dialect ------------------------------------------------------
@pytest.mark.parametrize("viewer", PEOPLE)
def test_ooo_details_in_v2_and_boot(world: World, viewer: str) -> None:
    directory = by(world.get(viewer, "/api/v2/users").json()["users"], "user")
    boot = by(world.get(viewer, "/api/boot").json()["users"], "name")
    for handle in ("alex.kim", "jin.park", "maya.chen"):
        want = ooo_of(world, viewer, handle)
        assert directory[handle]["ooo"] == want, f"v2 directory: {handle}'s ooo as {viewer}"
        assert world.get(viewer, f"/api/v2/users/{handle}").json()["ooo"] == want
        assert world.get(viewer, f"/api/v2/users/{handle}/status").json()["ooo"] == want
        assert boot[handle]["ooo"] == want, f"boot: {handle}'s ooo as {viewer}"


def entry_ids(r: httpx.Response) -> list[int]:
    """The ids of the entries a Huddle query answered."""
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["presenceEntities"]]


@pytest.mark.parametrize("viewer", PEOPLE)
def test_huddle_ooo_routes_and_queries(world: World, viewer: str) -> None:
    ids = world.ids
    alex, jin = ids["pk:alex.kim"], ids["pk:jin.park"]
    # A user's list and audits: the owner and admins; anyone else UserNotFound.
    for owner, pk in (("alex.kim", alex), ("jin.park", jin)):
        for url in (f"/presence/{pk}", f"/presence/{pk}/audits"):
            r = world.get(viewer, url)
            if viewer in (owner, "hr.admin"):
                assert r.status_code == 200, url
            else:
                assert (r.status_code, r.json()["errorCode"]) == (404, "UserNotFound"), f"{url} as {viewer}"
    # One entry: also mates; anyone else PresenceNotFound.
    for pk, entry, allowed in ((alex, ids["alex_ooo"], SEES_ALEX_OOO), (jin, ids["jin_ooo"], SEES_JIN_OOO)):
        r = world.get(viewer, f"/presence/{pk}/{entry}")
        if viewer in allowed:
            assert r.status_code == 200
        else:
            assert (r.status_code, r.json()["errorCode"]) == (404, "PresenceNotFound"), f"entry {entry} as {viewer}"
    # By users: the entries of people whose OOO the viewer may not see are left out.
    links = [{"rel": "user", "href": f"/users/{h}"} for h in PEOPLE]
    got = entry_ids(world.clients[viewer].post("/presence", json={"links": links}))
    want = [e for e, allowed in ((ids["alex_ooo"], SEES_ALEX_OOO), (ids["jin_ooo"], SEES_JIN_OOO)) if viewer in allowed]
    assert sorted(got) == sorted(want), f"by users as {viewer}"
    # By team and by workspace: members and admins; anyone else 403 TeamMembershipRequired.
    infrastructure, design, platform = ids["teams:infrastructure"], ids["teams:design"], ids["workspaces:platform"]
    queries = [
        (f"/presence/teams/{infrastructure}", {"alex.kim", "jin.park", "maya.chen"}, [ids["alex_ooo"], ids["jin_ooo"]]),
        (f"/presence/teams/{design}", {"lee.wong", "sam.ortiz"}, []),
        (f"/presence/workspace/{platform}", {"alex.kim", "maya.chen", "lee.wong"}, [ids["alex_ooo"]]),
    ]
    for url, members, entries in queries:
        r = world.clients[viewer].post(url, json={})
        if viewer in members or viewer == "hr.admin":
            assert sorted(entry_ids(r)) == sorted(entries), f"{url} as {viewer}"
        else:
            code = "TeamMembershipRequired" if "/teams/" in url else "WorkspaceMembershipRequired"
            assert (r.status_code, r.json()["errorCode"]) == (403, code), f"{url} as {viewer}"


# ---- everything else: every GET route with every id, searched for what may not be there ----
def get_routes(world: World) -> list[str]:
    """The path of every GET route of the app (but the event stream, read below)."""
    routes: list[Any] = list(world.server.app.routes)
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x nests included routers
    if iterate is not None:
        routes = list(iterate(routes))
    paths = {r.path for r in routes if r.methods and "GET" in r.methods}
    return sorted(paths - {"/api/events"})


def candidates(world: World) -> dict[str, list[Any]]:
    """Every id a path parameter can take here."""
    ids = world.ids
    messages = [ids["dm"], ids["channel_message"], *ids["posts"], *(m for _, m in ids["convos"])]
    return {
        "handle": list(PEOPLE),
        "user_id": [*PEOPLE, *(ids[f"pk:{h}"] for h in PEOPLE)],
        "presence_id": [ids["alex_ooo"], ids["jin_ooo"], ids["draft_ooo"]],
        "group_id": sorted({*ids["teams"], *ids["workspaces"]}),
        "team_id": ids["teams"],
        "workspace_id": ids["workspaces"],
        "message_id": messages,
        "call_id": [ids["call"]],
        "channel_id": [ids["general"]],
        "convo_id": [c for c, _ in ids["convos"]],
        "stream_id": ids["streams"],
        "invite_id": [ids["invite"]],
    }


QUERIES = {"/api/v2/messages": {"limit": 200}, "/api/v2/calls": {"limit": 200}, "/api/Convo": {"count": 50}}


def sweep(world: World, viewer: str) -> str:
    """The text of every GET route's answer with every id, and of the Huddle queries, as `viewer`."""
    params = candidates(world)
    texts = []
    for route in get_routes(world):
        names = [n.split("}")[0] for n in route.split("{")[1:]]
        missing = [n for n in names if n not in params]
        assert not missing, f"the sweep has no ids for {missing} of {route}: add them to candidates()"
        query: dict[str, Any] = QUERIES.get(route, {})
        if route == "/api/messages":
            query = {"ids[]": params["message_id"]}
        for values in itertools.product(*(params[n] for n in names)):
            url = route.format(**dict(zip(names, values, strict=True)))
            texts.append(world.get(viewer, url, params=query).text)
    links = [{"rel": "user", "href": f"/users/{h}"} for h in PEOPLE]
    texts.append(world.clients[viewer].post("/presence", json={"links": links}).text)
    for team in params["team_id"]:
        texts.append(world.clients[viewer].post(f"/presence/teams/{team}", json={}).text)
    for space in params["workspace_id"]:
        texts.append(world.clients[viewer].post(f"/presence/workspace/{space}", json={}).text)
    return "\n".join(texts)


@pytest.mark.parametrize("viewer", PEOPLE)
def test_no_route_shows_what_the_viewer_may_not_see(world: World, viewer: str) -> None:
    text = sweep(world, viewer)
    for what, (markers, allowed) in world.private.markers.items():
        if viewer in allowed:
            if what != "alex's OOO history":  # (only in audits: the owner's and admins')
                assert markers[0] in text, f"{viewer} should see {what} somewhere (is the sweep blind?)"
        else:
            shown = [m for m in markers if m in text]
            assert not shown, f"{viewer} sees {what}: {shown}"


# ---- the event stream (SSE and WebSocket): replayed from before anything happened ---------
def is_sentinel(data: dict[str, Any]) -> bool:
    """The last event of the world: hr's message to #general."""
    return bool(data.get("type") == "message" and data.get("body") == "sentinel")


async def replay(world: World, viewer: str) -> tuple[list[Ev], list[Ev]]:
    """Every event `viewer` receives from the start, on SSE and on a WebSocket."""
    token = world.tokens[viewer]
    async with SSE(world.server, token, resume_point=world.start_point) as sse:
        over_sse = await collect(sse, is_sentinel)
    async with WS(world.server, token, resume_point=world.start_point) as ws:
        over_ws = await collect(ws, is_sentinel)
    return over_sse, over_ws


@pytest.mark.parametrize("viewer", PEOPLE)
async def test_events_carry_only_what_the_viewer_may_see(world: World, viewer: str) -> None:
    over_sse, over_ws = await replay(world, viewer)
    assert over_sse == over_ws  # the same events, the same renderings, on both transports
    events = [data for _, data in over_sse]
    hidden_since = str(timefmt.precise(world.private.hidden_at))

    presence = [d for d in events if d["type"] == "presence"]
    for handle in ("alex.kim", "jin.park", "maya.chen"):
        mine = [d for d in presence if d["user"] == handle]
        assert mine, f"{viewer} got no presence change of {handle}"
        for d in mine:
            if handle != "jin.park" and d["at"] >= hidden_since and viewer != handle:
                assert d["last_seen"] is None, f"{viewer} sees {handle}'s hidden last_seen in {d}"
            if ooo_of(world, viewer, handle) is None:
                assert d["ooo"] is None, f"{viewer} sees {handle}'s OOO in {d}"
    # The owner sees their own last_seen move while hidden; mates see the OOO in the presence change.
    own = [d["last_seen"] for d in presence if d["user"] == viewer]
    if viewer in ("alex.kim", "maya.chen"):
        seen = world.private.alex_seen if viewer == "alex.kim" else world.private.maya_seen
        assert timefmt.precise(seen) in own
    alex_presence_ooo = [d["ooo"]["message"] for d in presence if d["user"] == "alex.kim" and d["ooo"]]
    assert bool(alex_presence_ooo) == (viewer in SEES_ALEX_OOO)

    ooo = [d for d in events if d["type"] == "ooo"]
    kinds = sorted((d["user"], d["event"]) for d in ooo)
    want = []
    if viewer in SEES_ALEX_OOO:
        want += [("alex.kim", "created"), ("alex.kim", "created"), ("alex.kim", "deleted"), ("alex.kim", "updated")]
    if viewer in SEES_JIN_OOO:
        want += [("jin.park", "created"), ("jin.park", "updated")]
    assert kinds == sorted(want), f"ooo events of {viewer}"
    # Nothing of a private value in any field of any event the viewer may not see it in, the
    # events' own `at` included: a hidden user's activity is announced to its owner only.
    text = repr(events)
    for what, (markers, allowed) in world.private.markers.items():
        if viewer not in allowed:
            assert not [m for m in markers if m in text], f"{viewer}'s events hold {what}"
