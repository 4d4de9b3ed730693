"""A Huddle presence world for the dialect's tests: everyone signed in, a deleted team, workspaces in
every state, and one OOO entry of Alex's."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.support import LiveServer


@dataclass
class World:
    """A server with OOO entries, a deleted team and workspaces in every state."""

    server: LiveServer
    clients: dict[str, httpx.Client]
    ids: dict[str, int]

    def fmt(self, text: str) -> str:
        return text.format(**self.ids)


def pk(client: httpx.Client, handle: str) -> int:
    return int(client.get(f"/api/v2/users/{handle}").json()["id"])


def build_world(server: LiveServer) -> World:
    """Sign everyone in; add a deleted team, workspaces in every state, and one OOO entry of Alex's."""
    clients = {
        h.split(".")[0]: server.client(h) for h in ("alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin")
    }
    hr = clients["hr"]
    people = (("alex", "kim"), ("jin", "park"), ("maya", "chen"), ("sam", "ortiz"))
    ids = {name: pk(hr, f"{name}.{last}") for name, last in people}
    teams = {t["name"]: t["id"] for t in hr.get("/teams").json()["teams"]}
    ids["team"] = teams["infrastructure"]
    old = hr.post("/teams", json={"name": "old-team", "members": ["alex.kim"]}).json()
    assert hr.patch(f"/teams/{old['id']}", json={"deleted": True}).status_code == 200
    ids["deleted_team"] = old["id"]
    spaces = {w["name"]: w["id"] for w in hr.get("/workspaces").json()["workspaces"]}
    ids["space"] = spaces["platform"]
    for state in ("archived", "locked", "deleted"):
        made = hr.post("/workspaces", json={"name": f"ws-{state}", "members": ["alex.kim"], "state": state})
        assert made.status_code == 201, made.text
        ids[f"{state}_space"] = made.json()["id"]
    entry = clients["alex"].post(
        "/presence/create",
        json={
            "isActive": True,
            "startDate": "2024-04-15T00:00:00+00:00",
            "endDate": "2024-04-19T17:00:00+00:00",
            "message": "back friday",
        },
    )
    assert entry.status_code == 201, entry.text
    ids["entry"] = entry.json()["id"]
    return World(server, clients, ids)
