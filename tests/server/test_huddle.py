"""The Huddle presence dialect (the Huddle Presence API reference): every operation, teams, workspaces
(the error rows are in test_huddle_errors.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import LiveServer, manual_clock
from tests.support.events import SSE, collect
from tests.support.huddle_world import World, build_world

ENTRY_KEYS = {"links", "id", "isActive", "startDate", "endDate", "message"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """These routes answer the same on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def world(make_server: Callable[..., LiveServer]) -> World:
    """A fresh world for tests that change it."""
    return build_world(make_server(clock=manual_clock("2024-04-15T09:00:00Z")))


# ---- the operations ---------------------------------------------------------------------
def resolves(world: World, client: httpx.Client, links: list[dict[str, str]]) -> None:
    """Every href answers 200 for the caller."""
    for ln in links:
        if ln["rel"] in ("first", "previous", "next"):
            continue
        assert client.get(ln["href"]).status_code == 200, ln


def test_create(world: World) -> None:
    alex = world.clients["alex"]
    r = alex.post(
        "/presence/create",
        json={
            "isActive": True,
            "startDate": "2024-05-01T09:00:00+02:00",
            "endDate": "2024-05-03T18:00:00-05:00",
            "message": "conference",
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == ENTRY_KEYS
    assert [ln["rel"] for ln in body["links"]] == ["self", "user"]
    assert r.headers["Content-Location"] == f"/presence/{world.ids['alex']}/{body['id']}"
    # Any offset in; UTC out, in the reference's form.
    assert (body["startDate"], body["endDate"]) == ("2024-05-01T07:00:00+00:00", "2024-05-03T23:00:00+00:00")
    resolves(world, alex, body["links"])
    # The earlier entry was not replaced.
    listing = alex.get(f"/presence/{world.ids['alex']}").json()
    assert [e["message"] for e in listing["presenceEntities"]] == ["back friday", "conference"]


def test_entry_ids_are_never_reused(world: World) -> None:
    """Create, delete, create: the second entry gets a new id, so the audit trail and old links never
    name two entries with one id (they were reused: create 2, delete 2, create 2)."""
    alex = world.clients["alex"]
    first = alex.post("/presence/create", json={"isActive": True, "message": "one"}).json()["id"]
    assert alex.delete(f"/presence/{world.ids['alex']}/{first}").status_code == 204
    second = alex.post("/presence/create", json={"isActive": True, "message": "two"}).json()["id"]
    assert second > first
    audits = alex.get(f"/presence/{world.ids['alex']}/audits", params={"pagesize": 100}).json()["audits"]
    assert [a["context"] for a in audits][-3:] == [f"{{'id':{first}}}", f"{{'id':{first}}}", f"{{'id':{second}}}"]


def test_queries_without_a_body(world: World) -> None:
    """A query's fields are all optional: no body is an empty query (by team: every member's entries)."""
    alex = world.clients["alex"]
    r = alex.post(world.fmt("/presence/teams/{team}"))
    assert r.status_code == 200
    assert "back friday" in [e["message"] for e in r.json()["presenceEntities"]]


def test_by_user_pages_with_links(world: World) -> None:
    alex = world.clients["alex"]
    for i in range(3):
        alex.post("/presence/create", json={"isActive": False, "message": f"m{i}"})
    first = alex.get(f"/presence/{world.ids['alex']}", params={"pagesize": 2}).json()
    assert [e["message"] for e in first["presenceEntities"]] == ["back friday", "m0"]
    rels = {ln["rel"]: ln["href"] for ln in first["links"]}
    assert set(rels) == {"self", "first", "next"}
    second = alex.get(rels["next"]).json()
    assert [e["message"] for e in second["presenceEntities"]] == ["m1", "m2"]
    assert {ln["rel"] for ln in second["links"]} == {"self", "first", "previous"}
    for e in first["presenceEntities"]:
        assert [ln["rel"] for ln in e["links"]] == ["user", "presence"]
        resolves(world, alex, e["links"])
    # By handle too.
    assert alex.get("/presence/alex.kim").json()["presenceEntities"][0]["id"] == world.ids["entry"]
    # Others' entries are not listed for you.
    assert world.clients["jin"].get(f"/presence/{world.ids['alex']}").status_code == 404


def test_by_users_team_workspace_and_date_overlap(world: World) -> None:
    jin, maya, sam = world.clients["jin"], world.clients["maya"], world.clients["sam"]
    jin.post("/presence/create", json={"isActive": True, "message": "open-ended"})
    jin.post(
        "/presence/create",
        json={
            "isActive": True,
            "startDate": "2024-06-01T00:00:00+00:00",
            "endDate": "2024-06-10T00:00:00+00:00",
            "message": "june",
        },
    )
    links = [{"rel": "user", "href": f"/users/{world.ids['alex']}"}, {"rel": "user", "href": "/users/jin.park"}]
    april = {"startDate": "2024-04-18T00:00:00+00:00", "endDate": "2024-04-25T00:00:00+00:00"}
    got = maya.post("/presence", json={**april, "links": links}).json()
    assert [e["message"] for e in got["presenceEntities"]] == ["back friday", "open-ended"]
    assert got["links"][0] == {"rel": "self", "href": "/presence"}
    for e in got["presenceEntities"]:
        resolves(world, maya, e["links"])
    everything = maya.post("/presence", json={"links": links}).json()
    assert len(everything["presenceEntities"]) == 3
    # Sam shares no team or workspace with them: their OOO is not his to see.
    assert sam.post("/presence", json={"links": links}).json()["presenceEntities"] == []

    team = maya.post(f"/presence/teams/{world.ids['team']}", json=april).json()
    assert [e["message"] for e in team["presenceEntities"]] == ["back friday", "open-ended"]
    assert team["links"][0] == {"rel": "self", "href": f"/teams/{world.ids['team']}"}
    resolves(world, maya, team["links"][:1])
    narrowed = maya.post(
        f"/presence/teams/{world.ids['team']}", json={"links": [{"rel": "user", "href": "/users/jin.park"}]}
    ).json()
    assert [e["message"] for e in narrowed["presenceEntities"]] == ["open-ended", "june"]

    space = maya.post(f"/presence/workspace/{world.ids['space']}", json=april).json()
    assert [e["message"] for e in space["presenceEntities"]] == ["back friday"]
    assert space["links"][0] == {"rel": "self", "href": f"/workspaces/{world.ids['space']}"}
    resolves(world, maya, space["links"][:1])


def test_update_and_delete_with_audits(world: World) -> None:
    alex = world.clients["alex"]
    path = world.fmt("/presence/{alex}/{entry}")
    r = alex.put(path, json={"isActive": False, "message": "cancelled trip"})
    assert r.status_code == 200
    assert r.headers["Content-Location"] == path
    body = r.json()
    assert set(body) == ENTRY_KEYS
    assert [ln["rel"] for ln in body["links"]] == ["self", "user", "presence"]
    assert (body["isActive"], body["message"], body["startDate"]) == (
        False,
        "cancelled trip",
        "2024-04-15T00:00:00+00:00",
    )
    resolves(world, alex, body["links"])
    r = alex.delete(path)
    assert (r.status_code, r.content) == (204, b"")
    assert alex.get(path).json()["errorCode"] == "PresenceNotFound"
    audits = alex.get(world.fmt("/presence/{alex}/audits")).json()
    assert [a["auditType"] for a in audits["audits"]] == ["create", "update", "delete"]
    entry = world.ids["entry"]
    assert audits["audits"][0]["context"] == f"{{'id':{entry}}}"
    assert audits["audits"][1]["context"] == f"{{'id':{entry},'message':'cancelled trip'}}"
    assert audits["audits"][0]["timeStamp"] == "2024-04-15T09:00:00+00:00"
    rels = {ln["rel"]: ln["href"] for ln in audits["links"]}
    assert rels["parent"] == f"/users/{world.ids['alex']}"
    resolves(world, alex, audits["links"])
    # Nobody else reads your audit trail (an admin may).
    assert world.clients["jin"].get(world.fmt("/presence/{alex}/audits")).status_code == 404
    assert world.clients["hr"].get(world.fmt("/presence/{alex}/audits")).status_code == 200


def test_message_limit_counts_characters_not_bytes(world: World) -> None:
    alex = world.clients["alex"]
    ok = alex.post("/presence/create", json={"isActive": True, "message": "🏖" * 280})
    assert ok.status_code == 201
    assert len(ok.json()["message"]) == 280
    too_long = alex.post("/presence/create", json={"isActive": True, "message": "🏖" * 281})
    assert (too_long.status_code, too_long.json()["errorCode"]) == (400, "MessageLengthLimitExceeded")


def test_only_the_owner_reads_or_changes_entries(world: World) -> None:
    jin, sam, maya = world.clients["jin"], world.clients["sam"], world.clients["maya"]
    path = world.fmt("/presence/{alex}/{entry}")
    assert jin.put(path, json={"message": "hacked"}).json()["errorCode"] == "InsufficientPermission"
    assert jin.delete(path).json()["errorCode"] == "InsufficientPermission"
    # Reading one entry: team mates may, outsiders get 404.
    assert maya.get(path).status_code == 200
    assert sam.get(path).json()["errorCode"] == "PresenceNotFound"
    assert world.clients["alex"].get(path).json()["message"] == "back friday"


def test_admins_manage_teams_and_workspaces_members_cannot(world: World) -> None:
    hr, alex = world.clients["hr"], world.clients["alex"]
    refused = alex.post("/teams", json={"name": "mine"})
    assert (refused.status_code, refused.json()["errorCode"]) == (403, "InsufficientPermissions")
    assert alex.patch(f"/teams/{world.ids['team']}", json={"name": "x"}).status_code == 403
    assert alex.put(f"/teams/{world.ids['team']}/members/sam.ortiz").status_code == 403
    made = hr.post("/teams", json={"name": "support", "members": ["sam.ortiz"]})
    assert made.status_code == 201
    team = made.json()
    assert made.headers["Content-Location"] == f"/teams/{team['id']}"
    assert hr.post("/teams", json={"name": "support"}).status_code == 409
    assert hr.put(f"/teams/{team['id']}/members/jin.park").status_code == 204
    assert [m["user"] for m in hr.get(f"/teams/{team['id']}").json()["members"]] == ["jin.park", "sam.ortiz"]
    assert hr.delete(f"/teams/{team['id']}/members/sam.ortiz").status_code == 204
    assert hr.patch(f"/teams/{team['id']}", json={"name": "help"}).json()["name"] == "help"
    assert "help" in [t["name"] for t in world.clients["jin"].get("/teams").json()["teams"]]
    assert world.clients["sam"].get(f"/teams/{team['id']}").json()["errorCode"] == "TeamMembershipRequired"
    space = hr.post("/workspaces", json={"name": "launch", "members": ["jin.park"]}).json()
    assert space["state"] == "active"
    assert hr.patch(f"/workspaces/{space['id']}", json={"state": "locked"}).json()["state"] == "locked"
    locked = world.clients["jin"].post(f"/presence/workspace/{space['id']}", json={})
    assert locked.json()["errorCode"] == "WorkspaceLocked"


def test_ooo_joins_presence_for_those_allowed(world: World) -> None:
    alex_pk = world.ids["alex"]
    mate = world.clients["maya"].get("/api/v2/users/alex.kim/status").json()
    assert mate["ooo"] == {
        "id": world.ids["entry"],
        "message": "back friday",
        "startDate": "2024-04-15T00:00:00+00:00",
        "endDate": "2024-04-19T17:00:00+00:00",
    }
    assert world.clients["hr"].get("/api/v2/users/alex.kim").json()["ooo"]["message"] == "back friday"
    assert world.clients["sam"].get("/api/v2/users/alex.kim/status").json()["ooo"] is None
    boot = {u["id"]: u for u in world.clients["maya"].get("/api/boot").json()["users"]}
    assert boot["alex.kim"]["ooo"]["message"] == "back friday"
    boot_sam = {u["id"]: u for u in world.clients["sam"].get("/api/boot").json()["users"]}
    assert boot_sam["alex.kim"]["ooo"] is None
    assert world.clients["jin"].get(f"/users/{alex_pk}").json()["user"] == "alex.kim"


async def test_ooo_events_reach_owner_mates_and_admins_only(world: World) -> None:
    server = world.server
    tokens = {n: c.headers["Authorization"].split()[1] for n, c in world.clients.items()}
    point = world.clients["alex"].get("/api/boot").json()["resume_point"]

    def alex_presence(d: dict[str, Any]) -> bool:
        return d["type"] == "presence" and d["user"] == "alex.kim"

    async with (
        SSE(server, tokens["jin"], resume_point=point) as jin,
        SSE(server, tokens["hr"], resume_point=point) as hr,
        SSE(server, tokens["sam"], resume_point=point) as sam,
    ):
        # An entry replacing the active one (no dates: open-ended, active now).
        created = await asyncio.to_thread(
            lambda: world.clients["alex"].post("/presence/create", json={"isActive": True, "message": "sick"}).json()
        )
        got = {"jin": await collect(jin, alex_presence), "hr": await collect(hr, alex_presence)}
        got_sam = await collect(sam, alex_presence)
    for events in got.values():
        ooo = [d for _, d in events if d["type"] == "ooo"]
        assert [(d["event"], d["user"], d["id"], d["message"]) for d in ooo] == [
            ("created", "alex.kim", created["id"], "sick")
        ]
        assert events[-1][1]["ooo"]["message"] == "sick"
    # Sam shares nothing with Alex: no ooo event, and the presence change carries no details.
    assert [d["type"] for _, d in got_sam] == ["presence"]
    assert got_sam[-1][1]["ooo"] is None


def test_an_entry_starting_later_becomes_presence_when_it_starts(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-04-15T09:00:00Z"))
    alex, maya = server.client("alex.kim"), server.client("maya.chen")
    r = alex.post(
        "/presence/create",
        json={
            "isActive": True,
            "startDate": "2024-04-16T00:00:00+00:00",
            "endDate": "2024-04-17T00:00:00+00:00",
            "message": "tomorrow",
        },
    )
    assert r.status_code == 201
    assert maya.get("/api/v2/users/alex.kim/status").json()["ooo"] is None
    point = maya.get("/api/boot").json()["resume_point"]
    server.clock.set(server.clock.now() + 15 * 3600 * 1_000_000)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    assert maya.get("/api/v2/users/alex.kim/status").json()["ooo"]["message"] == "tomorrow"
    events = maya.get("/api/boot").json()["resume_point"]
    assert events > point  # the start was announced as a presence change
    # The end date is the last moment of the entry; just after it, the entry is over.
    server.clock.set(server.clock.now() + 24 * 3600 * 1_000_000 + 1_000_000)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    assert maya.get("/api/v2/users/alex.kim/status").json()["ooo"] is None
