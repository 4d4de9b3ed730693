"""Seed 000 replayed end to end: the shapes and the timestamps of the story."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from server.dialects.times import parse_rfc3339
from tests.support import TEAM_TOML, LiveServer, manual_clock

STATUS_KEYS = {"user", "status", "last_seen", "display_name", "team"}


def at(server: LiveServer, iso: str) -> None:
    """Move the server's clock to a moment of the story and let its timers run."""
    server.clock.set(parse_rfc3339(iso))  # type: ignore[union-attr]
    server.call(server.domain.tick())


def status(client: httpx.Client, handle: str) -> dict[str, Any]:
    r = client.get(f"/api/v2/users/{handle}/status")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body.keys() >= STATUS_KEYS
    return body


def send(client: httpx.Client, to: str, body: str) -> dict[str, Any]:
    r = client.post("/api/v2/messages", json={"to": to, "body": body})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert set(out) == {"message_id", "status", "timestamp"}
    assert out["message_id"].startswith("msg_")
    assert out["status"] == "delivered"
    return out


def test_the_story(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    # The operator creates the team with the real command.
    db = tmp_path / "story" / "huddle.db"
    db.parent.mkdir()
    team = tmp_path / "team.toml"
    team.write_text(TEAM_TOML)
    done = subprocess.run(
        [sys.executable, "-m", "server", "load", "--db", str(db), str(team)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr

    clock = manual_clock("2024-03-15T09:14:22Z")
    server = make_server(clock=clock, team=None, db=db, ring_timeout=30, away_after=300)
    jin = server.client("jin.park")  # signing in is activity: 09:14:22
    alex = server.client("alex.kim")
    maya = server.client("maya.chen")

    assert status(alex, "jin.park") == {
        "user": "jin.park",
        "status": "active",
        "last_seen": "2024-03-15T09:14:22Z",
        "display_name": "Jin Park",
        "team": "infrastructure",
        "ooo": None,
    }

    at(server, "2024-03-15T14:47:03Z")
    assert jin.post("/api/v2/activity").status_code == 204
    at(server, "2024-03-15T14:48:00Z")
    s = status(alex, "jin.park")
    assert (s["status"], s["last_seen"]) == ("active", "2024-03-15T14:47:03Z")

    at(server, "2024-03-15T15:01:44Z")
    first = send(alex, "jin.park", "hey, you coming to standup?")
    assert first["timestamp"] == "2024-03-15T15:01:44Z"
    r = alex.get(f"/api/v2/messages/{first['message_id']}")
    assert r.status_code == 200
    message = r.json()
    assert {k: message[k] for k in ("message_id", "to", "body", "status", "read_at")} == {
        "message_id": first["message_id"],
        "to": "jin.park",
        "body": "hey, you coming to standup?",
        "status": "delivered",
        "read_at": None,
    }

    # Jin has been idle for over five minutes: away, and last_seen stays put.
    s = status(alex, "jin.park")
    assert (s["status"], s["last_seen"]) == ("away", "2024-03-15T14:47:03Z")

    at(server, "2024-03-15T15:34:19Z")
    second = send(alex, "jin.park", "missed you at standup. everything ok?")
    assert second["timestamp"] == "2024-03-15T15:34:19Z"
    r = alex.get("/api/v2/messages", params={"to": "jin.park", "since": "2024-03-15"})
    listing = r.json()
    assert listing["total"] == 2
    assert listing["messages"] == [
        {
            "message_id": first["message_id"],
            "body": "hey, you coming to standup?",
            "status": "delivered",
            "read_at": None,
        },
        {
            "message_id": second["message_id"],
            "body": "missed you at standup. everything ok?",
            "status": "delivered",
            "read_at": None,
        },
    ]

    at(server, "2024-03-15T18:22:07Z")
    send(alex, "jin.park", "jin seriously are you ok? call me")
    at(server, "2024-03-15T18:23:14Z")
    r = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "audio"})
    assert r.status_code == 200
    call = r.json()
    assert (call["status"], call["started_at"]) == ("ringing", "2024-03-15T18:23:14Z")
    assert call["call_id"].startswith("call_")

    at(server, "2024-03-15T18:23:45Z")  # the ring timer fires
    r = alex.get(f"/api/v2/calls/{call['call_id']}")
    ended = r.json()
    assert {k: ended[k] for k in ("call_id", "status", "started_at", "ended_at", "duration_seconds")} == {
        "call_id": call["call_id"],
        "status": "no_answer",
        "started_at": "2024-03-15T18:23:14Z",
        "ended_at": "2024-03-15T18:23:44Z",
        "duration_seconds": 0,
    }
    missed = jin.get("/api/v2/calls", params={"missed": "true"}).json()
    assert [c["call_id"] for c in missed["calls"]] == [call["call_id"]]
    assert status(alex, "jin.park")["status"] == "away"

    at(server, "2024-03-15T19:05:33Z")
    to_maya = send(alex, "maya.chen", "have you heard from jin today? he dropped off after lunch and isn't answering")
    at(server, "2024-03-15T19:05:51Z")
    assert maya.post(f"/api/v2/messages/{to_maya['message_id']}/read").status_code == 200
    read = alex.get(f"/api/v2/messages/{to_maya['message_id']}").json()
    assert (read["status"], read["read_at"]) == ("read", "2024-03-15T19:05:51Z")

    at(server, "2024-03-15T19:06:12Z")
    reply = send(maya, "alex.kim", "no... that's not like him. did you try calling?")
    r = alex.get("/api/v2/messages", params={"from": "maya.chen", "since": "2024-03-15T19:00:00Z"})
    assert r.json() == {
        "messages": [
            {
                "message_id": reply["message_id"],
                "from": "maya.chen",
                "body": "no... that's not like him. did you try calling?",
                "timestamp": "2024-03-15T19:06:12Z",
            }
        ],
        "total": 1,
        "next_before": None,
    }
    at(server, "2024-03-15T19:06:44Z")
    send(alex, "maya.chen", "yeah. no answer. his last_seen hasn't changed since 2:47")
    at(server, "2024-03-15T19:30:00Z")
    r = alex.get("/api/v2/messages", params={"from": "maya.chen", "since": "2024-03-15T19:30:00Z"})
    assert (r.json()["messages"], r.json()["total"]) == ([], 0)

    at(server, "2024-03-15T21:02:33Z")
    send(maya, "alex.kim", "he's at the hospital. his sister found him. he's alive but")
    at(server, "2024-03-15T21:02:47Z")
    send(maya, "alex.kim", "i don't know the details yet")
    r = alex.get("/api/v2/messages", params={"from": "maya.chen", "since": "2024-03-15T20:14:00Z"})
    assert [m["timestamp"] for m in r.json()["messages"]] == ["2024-03-15T21:02:33Z", "2024-03-15T21:02:47Z"]

    # Three days later: nothing has moved.
    at(server, "2024-03-18T09:29:00Z")
    s = status(alex, "jin.park")
    assert (s["status"], s["last_seen"]) == ("away", "2024-03-15T14:47:03Z")
    unread = jin.get("/api/v2/conversations").json()["conversations"]
    assert {row["with"]: row["unread"] for row in unread} == {"alex.kim": 3}

    # A member cannot change someone else; the admin can, and it says who and when.
    r = alex.patch("/api/v2/users/jin.park", json={"status": "medical_leave"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden"
    at(server, "2024-03-18T09:30:00Z")
    hr = server.client("hr.admin")
    r = hr.patch("/api/v2/users/jin.park", json={"status": "medical_leave", "display_name": "Jin Park"})
    assert r.status_code == 200
    patched = r.json()
    assert {k: patched[k] for k in (*STATUS_KEYS, "updated_by", "updated_at")} == {
        "user": "jin.park",
        "status": "medical_leave",
        "last_seen": "2024-03-15T14:47:03Z",
        "display_name": "Jin Park",
        "team": "infrastructure",
        "updated_by": "hr.admin",
        "updated_at": "2024-03-18T09:30:00Z",
    }
    s = status(alex, "jin.park")
    assert (s["status"], s["updated_by"]) == ("medical_leave", "hr.admin")

    # Two weeks later Jin is back and clears the leave himself.
    at(server, "2024-04-02T10:03:17Z")
    jin = server.client("jin.park")
    assert jin.patch("/api/v2/users/jin.park", json={"status": None}).status_code == 200
    s = status(alex, "jin.park")
    assert s == {
        "user": "jin.park",
        "status": "active",
        "last_seen": "2024-04-02T10:03:17Z",
        "display_name": "Jin Park",
        "team": "infrastructure",
        "ooo": None,
    }
    at(server, "2024-04-02T10:04:33Z")
    back = send(jin, "alex.kim", "hey. i'm back. sorry about everything")
    r = alex.get("/api/v2/messages", params={"from": "jin.park", "since": "2024-04-02"})
    assert [(m["message_id"], m["body"]) for m in r.json()["messages"]] == [
        (back["message_id"], "hey. i'm back. sorry about everything")
    ]
    at(server, "2024-04-02T10:04:58Z")
    lunch = send(alex, "jin.park", "don't be sorry. lunch?")
    at(server, "2024-04-02T10:05:02Z")
    assert jin.post(f"/api/v2/messages/{lunch['message_id']}/read").json()["read_at"] == "2024-04-02T10:05:02Z"
    read = alex.get(f"/api/v2/messages/{lunch['message_id']}").json()
    assert (read["status"], read["read_at"]) == ("read", "2024-04-02T10:05:02Z")
    # Reading the newest also read everything older from alex (the three unread of March 15).
    assert jin.get("/api/v2/conversations").json()["conversations"][0]["unread"] == 0
    old = alex.get(f"/api/v2/messages/{first['message_id']}").json()
    assert (old["status"], old["read_at"]) == ("read", "2024-04-02T10:05:02Z")
    at(server, "2024-04-02T10:05:11Z")
    send(jin, "alex.kim", "yeah. i'd like that")
    r = alex.get("/api/v2/messages", params={"from": "jin.park", "since": "2024-04-02T10:04:00Z"})
    assert [m["body"] for m in r.json()["messages"]] == ["hey. i'm back. sorry about everything", "yeah. i'd like that"]
    assert r.json()["total"] == 2
