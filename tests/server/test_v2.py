"""v2 beyond the story: paging, receipts, calls, dnd, limits, logout, directory, unread counts."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support import LiveServer, manual_clock

# SQLite only: the rules behind these routes run on both stores in tests/domain, and their
# PostgreSQL queries in tests/server/test_events.py and test_v2_chat.py (CI time stays in bounds).


def send(client: httpx.Client, to: str, body: str) -> str:
    r = client.post("/api/v2/messages", json={"to": to, "body": body})
    assert r.status_code == 200, r.text
    return str(r.json()["message_id"])


def test_history_pages_back_with_before(server: LiveServer) -> None:
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    ids = []
    for i in range(7):
        ids.append(send(alex if i % 2 == 0 else jin, "jin.park" if i % 2 == 0 else "alex.kim", f"m{i}"))
    page = alex.get("/api/v2/messages", params={"with": "jin.park", "limit": 3}).json()
    assert [m["body"] for m in page["messages"]] == ["m4", "m5", "m6"]
    assert page["total"] == 7
    assert page["next_before"] == ids[4]
    assert set(page["messages"][0]) == {
        *("message_id", "from", "to", "body", "timestamp", "status", "read_at"),
        *("edited_at", "reply_to", "reactions"),
    }
    page2 = alex.get("/api/v2/messages", params={"with": "jin.park", "limit": 3, "before": page["next_before"]}).json()
    assert [m["body"] for m in page2["messages"]] == ["m1", "m2", "m3"]
    page3 = alex.get("/api/v2/messages", params={"with": "jin.park", "limit": 3, "before": page2["next_before"]}).json()
    assert [m["body"] for m in page3["messages"]] == ["m0"]
    assert page3["next_before"] is None
    # Maya shares none of it.
    maya = server.client("maya.chen")
    assert maya.get("/api/v2/messages", params={"with": "jin.park"}).json()["total"] == 0
    assert maya.get(f"/api/v2/messages/{ids[0]}").status_code == 404


def test_read_marks_everything_earlier_and_never_moves_back(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T10:00:00Z"))
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    first, second, third = (send(alex, "jin.park", b) for b in ("a", "b", "c"))
    server.clock.advance(5)  # type: ignore[union-attr]
    r = jin.post(f"/api/v2/messages/{second}/read")
    assert r.json() == {"message_id": second, "status": "read", "read_at": "2024-03-15T10:00:05Z"}
    statuses = [alex.get(f"/api/v2/messages/{m}").json()["status"] for m in (first, second, third)]
    assert statuses == ["read", "read", "delivered"]
    assert jin.get("/api/v2/conversations").json()["conversations"][0]["unread"] == 1
    server.clock.advance(5)  # type: ignore[union-attr]
    # Reading an older one again changes nothing: read_at is set once.
    again = jin.post(f"/api/v2/messages/{first}/read").json()
    assert again["read_at"] == "2024-03-15T10:00:05Z"
    third_read = jin.post(f"/api/v2/messages/{third}/read").json()
    assert third_read["read_at"] == "2024-03-15T10:00:10Z"
    assert alex.get(f"/api/v2/messages/{second}").json()["read_at"] == "2024-03-15T10:00:05Z"


def test_conversations_list_unread_per_partner_newest_first(server: LiveServer) -> None:
    alex, jin, maya = server.client("alex.kim"), server.client("jin.park"), server.client("maya.chen")
    send(jin, "alex.kim", "1")
    send(jin, "alex.kim", "2")
    send(maya, "alex.kim", "3")
    rows = alex.get("/api/v2/conversations").json()["conversations"]
    assert [(r["with"], r["unread"], r["last_message"]["body"]) for r in rows] == [
        ("maya.chen", 1, "3"),
        ("jin.park", 2, "2"),
    ]


def test_call_lifecycle(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T10:00:00Z"))
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    call = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "video"}).json()
    assert (call["type"], call["from"], call["to"]) == ("video", "alex.kim", "jin.park")
    busy = alex.post("/api/v2/calls", json={"to": "jin.park"})
    assert (busy.status_code, busy.json()["error"]["code"]) == (409, "CallInProgress")
    server.clock.advance(3)  # type: ignore[union-attr]
    answered = jin.post(f"/api/v2/calls/{call['call_id']}/answer").json()
    assert answered["status"] == "answered"
    server.clock.advance(95)  # type: ignore[union-attr]
    server.call(server.domain.tick())  # an answered call never times out
    ended = alex.post(f"/api/v2/calls/{call['call_id']}/end").json()
    assert (ended["status"], ended["duration_seconds"], ended["ended_at"]) == ("ended", 95, "2024-03-15T10:01:38Z")
    again = alex.post(f"/api/v2/calls/{call['call_id']}/end")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "CallNotActive")

    declined = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "audio"}).json()
    assert jin.post(f"/api/v2/calls/{declined['call_id']}/decline").json()["status"] == "declined"
    cancelled = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "audio"}).json()
    assert alex.post(f"/api/v2/calls/{cancelled['call_id']}/end").json()["status"] == "cancelled"
    late = jin.post(f"/api/v2/calls/{cancelled['call_id']}/answer")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "CallNotRinging")
    # Only no_answer counts as missed.
    assert jin.get("/api/v2/calls", params={"missed": "true"}).json() == {"calls": [], "total": 0}
    assert jin.get("/api/v2/calls").json()["total"] == 3
    assert server.client("maya.chen").get(f"/api/v2/calls/{call['call_id']}").status_code == 404


def test_dnd_sticks_until_cleared(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-15T10:00:00Z"))
    jin, alex = server.client("jin.park"), server.client("alex.kim")
    r = jin.patch("/api/v2/users/jin.park", json={"status": "dnd"})
    assert (r.json()["status"], r.json()["updated_by"]) == ("dnd", "jin.park")
    server.clock.advance(45)  # type: ignore[union-attr]
    jin.post("/api/v2/activity")
    status = alex.get("/api/v2/users/jin.park/status").json()
    assert (status["status"], status["last_seen"]) == ("dnd", "2024-03-15T10:00:45Z")
    server.clock.advance(600)  # type: ignore[union-attr]
    server.call(server.domain.tick())
    assert alex.get("/api/v2/users/jin.park/status").json()["status"] == "dnd"
    jin.patch("/api/v2/users/jin.park", json={"status": None})
    status = alex.get("/api/v2/users/jin.park/status").json()
    assert status["status"] == "active"  # the PATCH itself is activity
    assert "updated_by" not in status


def test_directory_and_user_object(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    body = alex.get("/api/v2/users").json()
    assert body["total"] == 5
    by_handle = {u["user"]: u for u in body["users"]}
    maya = by_handle["maya.chen"]
    assert maya["teams"] == [{"id": maya["teams"][0]["id"], "name": "infrastructure"}]
    assert [w["name"] for w in maya["workspaces"]] == ["platform"]
    assert (maya["role"], maya["team"], by_handle["hr.admin"]["role"]) == ("member", "infrastructure", "admin")
    assert "hide_last_seen" in by_handle["alex.kim"]
    assert "hide_last_seen" not in maya
    assert alex.get("/api/v2/users/nobody").json()["error"]["code"] == "UserNotFound"


def test_logout_revokes_the_token(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    assert alex.post("/api/v2/auth/logout").status_code == 204
    r = alex.get("/api/v2/users")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "Unauthorized")


def test_send_rate_limit(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(send_rate=3)
    alex = server.client("alex.kim")
    codes = [alex.post("/api/v2/messages", json={"to": "jin.park", "body": str(i)}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    r = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "again"})
    assert r.json()["error"]["code"] == "RateLimited"
    assert int(r.headers["Retry-After"]) >= 1
    assert alex.get("/api/v2/messages", params={"to": "jin.park"}).json()["total"] == 3


def test_login_rate_limit_per_handle(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(login_rate=3)
    url = f"{server.url}/api/v2/auth/login"
    codes = [httpx.post(url, json={"user": "jin.park", "password": "wrong"}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Even the right password waits now: guessing is what the limit stops.
    r = httpx.post(url, json={"user": "jin.park", "password": "jin-pass"})
    assert r.status_code == 429
    assert "Retry-After" in r.headers


def test_updated_by_names_who_set_the_sticky_status(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(clock=manual_clock("2024-03-18T09:30:00Z"))
    hr, jin, alex = server.client("hr.admin"), server.client("jin.park"), server.client("alex.kim")
    hr.patch("/api/v2/users/jin.park", json={"status": "medical_leave"})
    server.clock.advance(60)  # type: ignore[union-attr]
    # Jin renaming himself is not a status change: the leave still names the admin.
    renamed = jin.patch("/api/v2/users/jin.park", json={"display_name": "Jin P."}).json()
    assert (renamed["updated_by"], renamed["updated_at"]) == ("jin.park", "2024-03-18T09:31:00Z")
    status = alex.get("/api/v2/users/jin.park/status").json()
    assert (status["status"], status["display_name"]) == ("medical_leave", "Jin P.")
    assert (status["updated_by"], status["updated_at"]) == ("hr.admin", "2024-03-18T09:30:00Z")
    # Changing someone else is activity of the admin's own.
    assert alex.get("/api/v2/users/hr.admin/status").json()["last_seen"] == "2024-03-18T09:30:00Z"


def test_health_answers_without_sign_in_with_the_newest_event(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/api/v2/health")
    assert r.status_code == 200
    body = r.json()
    assert body == {"status": "ok", "resume_point": body["resume_point"]}
    alex = server.client("alex.kim")
    send(alex, "jin.park", "moves the log on")
    assert httpx.get(f"{server.url}/api/v2/health").json()["resume_point"] > body["resume_point"]
