"""Bad input gets its exact 4xx in the v2 error shape (never a 500 or a traceback); hide_last_seen; Idempotency-Key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support import LiveServer, load_team

TEN_MB = 10 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
NO_JSON: Any = object()


class Team:
    """Clients of one server: one signed-in client per handle, made on first use."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self._clients: dict[str | None, httpx.Client] = {}

    def client(self, handle: str | None) -> httpx.Client:
        """A signed-in client (None: no credentials)."""
        if handle not in self._clients:
            self._clients[handle] = self.server.client(handle)
        return self._clients[handle]

    def send(self, sender: str, to: str, body: str) -> str:
        """Send a DM; returns its id."""
        r = self.client(sender).post("/api/v2/messages", json={"to": to, "body": body})
        assert r.status_code == 200, r.text
        return str(r.json()["message_id"])

    def close(self) -> None:
        """Close every client."""
        for c in self._clients.values():
            c.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """One live server (conftest's LiveServer) for the whole table: a fresh one per case would cost ~0.7 s."""
    base = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as mp:
        for kind in ("CONFIG", "DATA", "STATE", "CACHE"):
            mp.setenv(f"XDG_{kind}_HOME", str(base / kind.lower()))
        db = base / "db" / "huddle.db"
        db.parent.mkdir()
        load_team(db)
        server = LiveServer(Settings(db=db, tick_seconds=0.05), None).start()
        team = Team(server)
        try:
            yield team
        finally:
            team.close()
            server.stop()


@pytest.fixture
def team(server: LiveServer) -> Iterator[Team]:
    """Clients of conftest's per-test server."""
    t = Team(server)
    yield t
    t.close()


def assert_no_traceback(r: httpx.Response) -> None:
    """No stack trace leaks into a response."""
    assert "Traceback" not in r.text
    assert 'File "' not in r.text


def assert_v2_error(r: httpx.Response, status: int, code: str) -> None:
    """A v2 error: the exact status and `{"error": {"code", "message"}}` with the exact code."""
    assert r.status_code == status, r.text
    assert_no_traceback(r)
    assert r.headers["content-type"].startswith("application/json"), r.headers.get("content-type")
    body = r.json()
    assert list(body) == ["error"], body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"].strip()


# ---- the table --------------------------------------------------------------------------
def chunked(total: int) -> Iterator[bytes]:
    """A request body of `total` bytes sent as chunks (no Content-Length)."""
    chunk = b"x" * 65_536
    for _ in range(total // len(chunk)):
        yield chunk


def others_message(t: Team) -> dict[str, str]:
    """A DM between jin.park and maya.chen (alex.kim is no party)."""
    return {"id": t.send("jin.park", "maya.chen", "between jin and maya")}


def my_sent_message(t: Team) -> dict[str, str]:
    """A DM alex.kim sent to jin.park."""
    return {"id": t.send("alex.kim", "jin.park", "sent by alex")}


def ringing_call(t: Team) -> dict[str, str]:
    """A call from alex.kim ringing for sam.ortiz."""
    r = t.client("alex.kim").post("/api/v2/calls", json={"to": "sam.ortiz", "type": "video"})
    assert r.status_code == 200, r.text
    return {"id": r.json()["call_id"]}


SETUP_BODIES = {"between jin and maya", "sent by alex"}


@dataclass(frozen=True)
class Case:
    """One bad request and the error it must get."""

    name: str
    method: str
    path: str
    status: int
    code: str
    json: Any = NO_JSON
    content: Callable[[], bytes | Iterator[bytes]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    setup: Callable[[Team], dict[str, str]] | None = None
    user: str | None = "alex.kim"

    def run(self, t: Team) -> httpx.Response:
        """Make the request as `user`."""
        values = self.setup(t) if self.setup else {}
        kwargs: dict[str, Any] = {"headers": dict(self.headers), "params": dict(self.params)}
        if self.json is not NO_JSON:
            kwargs["json"] = self.json
        if self.content is not None:
            kwargs["content"] = self.content()
        r = t.client(self.user).request(self.method, self.path.format(**values), **kwargs)
        if not isinstance(kwargs.get("content", b""), bytes):
            # A generator body goes out chunked: the server cannot trust a Content-Length.
            assert "content-length" not in r.request.headers
            assert r.request.headers["transfer-encoding"] == "chunked"
        return r


def post_message(name: str, payload: Any, status: int, code: str) -> Case:
    """POST /api/v2/messages with a JSON payload."""
    return Case(name, "POST", "/api/v2/messages", status, code, json=payload)


def list_messages(name: str, params: Mapping[str, str], status: int, code: str) -> Case:
    """GET /api/v2/messages with query parameters."""
    return Case(name, "GET", "/api/v2/messages", status, code, params=params)


def patch(name: str, handle: str, payload: Any, status: int, code: str) -> Case:
    """PATCH /api/v2/users/{handle} as alex.kim (a member)."""
    return Case(name, "PATCH", f"/api/v2/users/{handle}", status, code, json=payload)


CASES = [
    # POST /api/v2/messages
    post_message("missing-to", {"body": "hi"}, 400, "InvalidRequest"),
    post_message("missing-body", {"to": "jin.park"}, 400, "InvalidRequest"),
    post_message("to-is-a-number", {"to": 7, "body": "hi"}, 400, "InvalidRequest"),
    post_message("body-is-a-list", {"to": "jin.park", "body": ["hi"]}, 400, "InvalidRequest"),
    post_message("body-is-null", {"to": "jin.park", "body": None}, 400, "InvalidRequest"),
    post_message("json-array", [{"to": "jin.park", "body": "hi"}], 400, "InvalidRequest"),
    post_message("json-string", "hi", 400, "InvalidRequest"),
    Case("not-json", "POST", "/api/v2/messages", 400, "InvalidRequest", content=lambda: b"to=jin.park&body=hi"),
    Case(
        "not-json-said-json",
        "POST",
        "/api/v2/messages",
        400,
        "InvalidRequest",
        content=lambda: b'{"to": "jin.park", "body": ',
        headers=JSON,
    ),
    Case(
        "invalid-utf8",
        "POST",
        "/api/v2/messages",
        400,
        "InvalidRequest",
        content=lambda: b'{"to": "jin.park", "body": "\xff\xfe"}',
        headers=JSON,
    ),
    Case(
        "deeply-nested-json",
        "POST",
        "/api/v2/messages",
        400,
        "InvalidRequest",
        content=lambda: b'{"to": "jin.park", "body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        headers=JSON,
    ),
    post_message("empty-body", {"to": "jin.park", "body": ""}, 400, "EmptyBody"),
    post_message("blank-body", {"to": "jin.park", "body": " \n\t "}, 400, "EmptyBody"),
    post_message("body-64001-chars", {"to": "jin.park", "body": "x" * 64_001}, 400, "BodyTooLong"),
    post_message("unknown-recipient", {"to": "nobody.here", "body": "hi"}, 404, "UserNotFound"),
    post_message("to-yourself", {"to": "alex.kim", "body": "hi"}, 400, "InvalidRecipient"),
    Case(
        "ten-mb-body",
        "POST",
        "/api/v2/messages",
        413,
        "PayloadTooLarge",
        content=lambda: b"x" * TEN_MB,
        headers=JSON,
    ),
    Case(
        "ten-mb-chunked",
        "POST",
        "/api/v2/messages",
        413,
        "PayloadTooLarge",
        content=lambda: chunked(TEN_MB),
        headers=JSON,
    ),
    Case(
        "idempotency-key-too-long",
        "POST",
        "/api/v2/messages",
        400,
        "InvalidIdempotencyKey",
        json={"to": "jin.park", "body": "hi"},
        headers={"Idempotency-Key": "k" * 256},
    ),
    # GET /api/v2/messages
    list_messages("since-not-a-date", {"since": "not-a-date"}, 400, "InvalidDate"),
    list_messages("since-month-13", {"since": "2024-13-45"}, 400, "InvalidDate"),
    list_messages("since-no-offset", {"since": "2024-03-15T10:00:00"}, 400, "InvalidDate"),
    list_messages("since-offset-25h", {"since": "2024-03-15T10:00:00+25:00"}, 400, "InvalidDate"),
    list_messages("limit-negative", {"limit": "-1"}, 400, "InvalidRequest"),
    list_messages("limit-zero", {"limit": "0"}, 400, "InvalidRequest"),
    list_messages("limit-100000", {"limit": "100000"}, 400, "InvalidRequest"),
    list_messages("limit-abc", {"limit": "abc"}, 400, "InvalidRequest"),
    list_messages("before-unknown", {"before": "msg_doesnotexist"}, 404, "MessageNotFound"),
    list_messages("to-and-from", {"to": "jin.park", "from": "maya.chen"}, 400, "InvalidRequest"),
    list_messages("with-unknown-user", {"with": "nobody.here"}, 404, "UserNotFound"),
    # one message
    Case("message-unknown", "GET", "/api/v2/messages/msg_nope", 404, "MessageNotFound"),
    Case("message-of-others", "GET", "/api/v2/messages/{id}", 404, "MessageNotFound", setup=others_message),
    Case("read-message-of-others", "POST", "/api/v2/messages/{id}/read", 404, "MessageNotFound", setup=others_message),
    Case("read-my-own-message", "POST", "/api/v2/messages/{id}/read", 403, "NotRecipient", setup=my_sent_message),
    # calls
    Case(
        "call-type-hologram",
        "POST",
        "/api/v2/calls",
        400,
        "InvalidCallType",
        json={"to": "jin.park", "type": "hologram"},
    ),
    Case("call-type-number", "POST", "/api/v2/calls", 400, "InvalidRequest", json={"to": "jin.park", "type": 1}),
    Case("call-unknown-user", "POST", "/api/v2/calls", 404, "UserNotFound", json={"to": "nobody.here"}),
    Case("call-yourself", "POST", "/api/v2/calls", 400, "InvalidRecipient", json={"to": "alex.kim"}),
    Case("call-unknown", "GET", "/api/v2/calls/call_doesnotexist", 404, "CallNotFound"),
    Case("answer-as-caller", "POST", "/api/v2/calls/{id}/answer", 403, "NotCallee", setup=ringing_call),
    Case("calls-missed-maybe", "GET", "/api/v2/calls", 400, "InvalidRequest", params={"missed": "maybe"}),
    # users
    patch("patch-another-user", "jin.park", {"status": "dnd"}, 403, "Forbidden"),
    patch("patch-own-medical-leave", "alex.kim", {"status": "medical_leave"}, 403, "Forbidden"),
    patch("patch-status-banana", "alex.kim", {"status": "banana"}, 400, "InvalidStatus"),
    patch("patch-empty-object", "alex.kim", {}, 400, "InvalidRequest"),
    patch("patch-hide-last-seen-yes", "alex.kim", {"hide_last_seen": "yes"}, 400, "InvalidRequest"),
    patch("patch-display-name-empty", "alex.kim", {"display_name": ""}, 400, "InvalidDisplayName"),
    patch("patch-json-array", "alex.kim", [], 400, "InvalidRequest"),
    patch("patch-unknown-user", "nobody.here", {"status": "dnd"}, 404, "UserNotFound"),
    Case("user-unknown", "GET", "/api/v2/users/nobody.here/status", 404, "UserNotFound"),
    # auth and routing
    Case(
        "login-wrong-password",
        "POST",
        "/api/v2/auth/login",
        401,
        "InvalidCredentials",
        json={"user": "alex.kim", "password": "not-alex-pass"},
        user=None,
    ),
    Case(
        "login-unknown-user",
        "POST",
        "/api/v2/auth/login",
        401,
        "InvalidCredentials",
        json={"user": "nobody.here", "password": "x"},
        user=None,
    ),
    Case(
        "login-missing-password",
        "POST",
        "/api/v2/auth/login",
        400,
        "InvalidRequest",
        json={"user": "alex.kim"},
        user=None,
    ),
    Case("unknown-route", "GET", "/api/v2/no/such/thing", 404, "NotFound"),
    Case("unknown-route-anonymous", "GET", "/api/v2/no/such/thing", 404, "NotFound", user=None),
    Case("wrong-method", "DELETE", "/api/v2/messages", 405, "MethodNotAllowed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_request_gets_a_v2_error(shared: Team, case: Case) -> None:
    """Each bad request: the exact 4xx and code, in the v2 error shape, no traceback."""
    assert_v2_error(case.run(shared), case.status, case.code)


# Lone surrogates (`"\ud800"`) are valid JSON escapes but not encodable text: once they reached
# SQLite and scrypt and crashed the request with a 500.
SURROGATE_CASES = [
    ("message-body", "/api/v2/messages", b'{"to": "jin.park", "body": "\\ud800"}'),
    ("message-to", "/api/v2/messages", b'{"to": "\\ud800", "body": "hi"}'),
    ("call-to", "/api/v2/calls", b'{"to": "\\udfff", "type": "audio"}'),
    ("display-name", "/api/v2/users/alex.kim", b'{"display_name": "Alex \\ud83d"}'),
    ("login-user", "/api/v2/auth/login", b'{"user": "\\ud800", "password": "x"}'),
    ("login-password", "/api/v2/auth/login", b'{"user": "alex.kim", "password": "\\ud800"}'),
]


@pytest.mark.parametrize(("path", "content"), [c[1:] for c in SURROGATE_CASES], ids=[c[0] for c in SURROGATE_CASES])
def test_lone_surrogate_is_bad_input_not_a_crash(shared: Team, path: str, content: bytes) -> None:
    """A string that is not encodable text is a 400 InvalidRequest, not a 500."""
    method = "PATCH" if path.startswith("/api/v2/users/") else "POST"
    with shared.server.client("alex.kim") as fresh:  # a 500 would close the connection it came on
        r = fresh.request(method, path, content=content, headers=JSON)
        assert_v2_error(r, 400, "InvalidRequest")
        # A well-formed surrogate pair is ordinary text.
        if path == "/api/v2/messages":
            ok = fresh.post(path, content=b'{"to": "jin.park", "body": "\\ud83d\\ude00"}', headers=JSON)
            assert ok.status_code == 200, ok.text


# ---- credentials ------------------------------------------------------------------------
BAD_CREDENTIALS = {
    "none": {},
    "garbage-token": {"Authorization": "Bearer not-a-real-token"},
    "basic": {"Authorization": "Basic xyz"},
    "bare-bearer": {"Authorization": "Bearer"},
    "garbage-cookie": {"Cookie": "identity=not-a-real-token"},
}
V2_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v2/users", NO_JSON),
    ("GET", "/api/v2/users/jin.park/status", NO_JSON),
    ("GET", "/api/v2/messages", NO_JSON),
    ("POST", "/api/v2/messages", {"to": "jin.park", "body": "hi"}),
    ("POST", "/api/v2/calls", {"to": "jin.park", "type": "audio"}),
    ("PATCH", "/api/v2/users/alex.kim", {"status": "dnd"}),
    ("POST", "/api/v2/activity", NO_JSON),
    ("GET", "/api/v2/conversations", NO_JSON),
]


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize(("method", "path", "payload"), V2_ROUTES, ids=[f"{m} {p}" for m, p, _ in V2_ROUTES])
def test_v2_refuses_bad_credentials(shared: Team, method: str, path: str, payload: Any, credentials: str) -> None:
    """v2 routes answer 401 Unauthorized in the v2 shape (a cookie from the server's own pages)."""
    headers = BAD_CREDENTIALS[credentials]
    if "Cookie" in headers:
        headers = {**headers, "Origin": shared.server.url}
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 10}
    if payload is not NO_JSON:
        kwargs["json"] = payload
    r = httpx.request(method, shared.server.url + path, **kwargs)
    assert_v2_error(r, 401, "Unauthorized")


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize("path", ["/api/boot", "/api/events"])
def test_pilcrow_refuses_bad_credentials_in_plain_text(shared: Team, path: str, credentials: str) -> None:
    """pilcrow routes answer 401 with a text/plain body meant for a person."""
    r = httpx.get(shared.server.url + path, headers=BAD_CREDENTIALS[credentials], timeout=10)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers.get("content-type")
    assert r.text.strip()
    assert not r.text.lstrip().startswith(("{", "["))
    assert_no_traceback(r)


def test_a_revoked_token_is_refused(team: Team) -> None:
    """After logout the token used gets 401 on v2 and on boot."""
    alex = team.client("alex.kim")
    assert alex.get("/api/v2/users").status_code == 200
    assert alex.post("/api/v2/auth/logout").status_code == 204
    assert_v2_error(alex.get("/api/v2/users"), 401, "Unauthorized")
    r = alex.get("/api/boot")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/plain")


# ---- nothing broke ----------------------------------------------------------------------
def test_the_data_is_intact_after_every_bad_request(team: Team) -> None:
    """Run the whole table on one server: the earlier message, users and profile are unchanged."""
    before_id = team.send("alex.kim", "jin.park", "sent before the storm")
    alex = team.client("alex.kim")
    profile = alex.get("/api/v2/users/alex.kim").json()
    for case in CASES:
        r = case.run(team)
        assert r.status_code == case.status, f"{case.name}: {r.status_code} {r.text[:200]}"

    r = alex.get(f"/api/v2/messages/{before_id}")
    assert r.status_code == 200, r.text
    assert (r.json()["body"], r.json()["to"], r.json()["status"]) == ("sent before the storm", "jin.park", "delivered")
    users = alex.get("/api/v2/users").json()
    assert users["total"] == 5
    assert sorted(u["user"] for u in users["users"]) == ["alex.kim", "hr.admin", "jin.park", "maya.chen", "sam.ortiz"]
    after = alex.get("/api/v2/users/alex.kim").json()
    keys = ("display_name", "status", "role", "hide_last_seen", "team")
    assert {k: after[k] for k in keys} == {k: profile[k] for k in keys}
    # No bad request stored a message: alex's DMs are the first one and what the setups sent.
    mine = alex.get("/api/v2/messages", params={"limit": "200"}).json()["messages"]
    assert {m["body"] for m in mine} <= {"sent before the storm", *SETUP_BODIES}
    assert [m["message_id"] for m in mine].count(before_id) == 1
    # The server still takes good requests.
    team.send("alex.kim", "jin.park", "and after")


# ---- hide_last_seen ---------------------------------------------------------------------
def boot_user(client: httpx.Client, handle: str) -> dict[str, Any]:
    """A user as /api/boot shows them to this client."""
    r = client.get("/api/boot")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = {u["name"]: u for u in r.json()["users"]}[handle]
    return found


def directory_user(client: httpx.Client, handle: str) -> dict[str, Any]:
    """A user as GET /api/v2/users shows them to this client."""
    r = client.get("/api/v2/users")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = {u["user"]: u for u in r.json()["users"]}[handle]
    return found


def status_of(client: httpx.Client, handle: str) -> dict[str, Any]:
    """GET /api/v2/users/{handle}/status."""
    r = client.get(f"/api/v2/users/{handle}/status")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def presence_event(client: httpx.Client, resume_point: int, handle: str) -> dict[str, Any]:
    """The first `presence changed` of a user after resume_point on this client's SSE stream (bounded)."""
    deadline = time.monotonic() + 10
    with client.stream("GET", "/api/events", params={"resume_point": resume_point}, timeout=5) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                data: dict[str, Any] = json.loads(line.removeprefix("data:"))
                if data.get("type") == "presence" and data.get("user") == handle:
                    return data
            assert time.monotonic() < deadline, "no presence event came"
    raise AssertionError("the event stream ended early")


def test_hide_last_seen_hides_it_from_others_only(team: Team) -> None:
    """Others get last_seen null in status, directory, boot and events; the owner still sees it."""
    jin, alex, maya = team.client("jin.park"), team.client("alex.kim"), team.client("maya.chen")
    seen = status_of(alex, "jin.park")["last_seen"]
    assert seen is not None
    resume_point = alex.get("/api/boot").json()["resume_point"]

    r = jin.patch("/api/v2/users/jin.park", json={"hide_last_seen": True})
    assert r.status_code == 200, r.text
    assert r.json()["hide_last_seen"] is True
    assert r.json()["last_seen"] is not None

    for other in (alex, maya):
        assert status_of(other, "jin.park")["last_seen"] is None
        assert directory_user(other, "jin.park")["last_seen"] is None
        assert boot_user(other, "jin.park")["last_seen"] is None
    assert presence_event(alex, resume_point, "jin.park")["last_seen"] is None
    # The owner still sees it, and others' last_seen is untouched.
    assert status_of(jin, "jin.park")["last_seen"] is not None
    assert directory_user(jin, "jin.park")["last_seen"] is not None
    assert boot_user(jin, "jin.park")["last_seen"] is not None
    assert presence_event(jin, resume_point, "jin.park")["last_seen"] is not None
    assert status_of(alex, "alex.kim")["last_seen"] is not None
    assert directory_user(jin, "alex.kim")["last_seen"] is not None

    r = jin.patch("/api/v2/users/jin.park", json={"hide_last_seen": False})
    assert r.status_code == 200, r.text
    assert status_of(alex, "jin.park")["last_seen"] is not None


# ---- Idempotency-Key --------------------------------------------------------------------
def sent_to_jin(client: httpx.Client) -> list[dict[str, Any]]:
    """What alex.kim sent jin.park."""
    r = client.get("/api/v2/messages", params={"to": "jin.park", "limit": "200"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["messages"])
    messages: list[dict[str, Any]] = body["messages"]
    return messages


def test_a_retry_with_the_same_idempotency_key_stores_nothing_new(team: Team) -> None:
    """Same key: the first answer again and one message; another key: a new message."""
    alex = team.client("alex.kim")
    payload = {"to": "jin.park", "body": "exactly once"}
    first = alex.post("/api/v2/messages", json=payload, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 200, first.text
    again = alex.post("/api/v2/messages", json=payload, headers={"Idempotency-Key": "retry-1"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [m["message_id"] for m in sent_to_jin(alex)] == [first.json()["message_id"]]

    other = alex.post("/api/v2/messages", json=payload, headers={"Idempotency-Key": "retry-2"})
    assert other.status_code == 200
    assert other.json()["message_id"] != first.json()["message_id"]
    assert len(sent_to_jin(alex)) == 2
    # Keys belong to their user: jin's "retry-1" is his own first send.
    mine = team.client("jin.park").post(
        "/api/v2/messages", json={"to": "alex.kim", "body": "hi"}, headers={"Idempotency-Key": "retry-1"}
    )
    assert mine.status_code == 200
    assert mine.json()["message_id"] != first.json()["message_id"]


def test_concurrent_posts_with_one_idempotency_key_make_one_message(team: Team) -> None:
    """Ten simultaneous POSTs with one key: one message, ten identical answers."""
    token = team.server.login("alex.kim")
    n = 10
    barrier = threading.Barrier(n)

    def post(_: int) -> tuple[int, Any]:
        with httpx.Client(base_url=team.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
            barrier.wait(timeout=10)
            r = c.post(
                "/api/v2/messages",
                json={"to": "jin.park", "body": "once, please"},
                headers={"Idempotency-Key": "burst"},
            )
            return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(post, range(n)))
    assert [status for status, _ in results] == [200] * n, results
    answers = {json.dumps(body, sort_keys=True) for _, body in results}
    assert len(answers) == 1, answers
    sent = sent_to_jin(team.client("alex.kim"))
    assert [m["message_id"] for m in sent] == [results[0][1]["message_id"]]
