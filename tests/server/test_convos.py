"""Convos (the Convos reference): convos and their messages, X-* headers and result codes, paging, one
store with the others."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support import LiveServer, load_team
from tests.support.events import SSE, collect

PLAIN_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
CONVO_FIELDS = {"Id", "Creator", "Participant", "Subject", "DateCreated", "DateUpdated", "NumMessages"}
MESSAGE_FIELDS = {"Id", "ConvoId", "Sender", "Recipient", "Body", "IsRead", "DateCreated"}


def pk_of(server: LiveServer, handle: str) -> int:
    user = server.domain.store.read_sync(lambda repo: repo.get_user_by_handle(handle))
    assert user is not None
    return user.pk


def ok(r: httpx.Response, status: int = 200, code: int = 0) -> httpx.Response:
    """A success: its status and result code, and an X-Message."""
    assert (r.status_code, r.headers.get("X-Result-Code")) == (status, str(code)), (r.status_code, r.headers)
    assert r.headers.get("X-Message")
    return r


def refused(r: httpx.Response, status: int, code: int) -> None:
    """An error in the Convos shape: status, result code, a message, and no body."""
    assert (r.status_code, r.headers.get("X-Result-Code")) == (status, str(code)), (r.status_code, r.headers, r.text)
    assert r.headers.get("X-Message")
    assert r.content == b""


def create(client: httpx.Client, participant: int, subject: str | None = "Lunch?") -> int:
    r = ok(client.post("/api/Convo", json={"Participant": participant, "Subject": subject}), 201, 5)
    return int(r.headers["X-URI-Reference"].rsplit("/", 1)[1])


def post(client: httpx.Client, convo: int, body: str, parent: str | None = None) -> str:
    path = f"/api/Convo/{convo}/Message" + (f"/{parent}" if parent else "")
    r = ok(client.post(path, json={"Body": body}), 201, 5)
    return r.headers["X-URI-Reference"].rsplit("/", 1)[1]


@pytest.fixture
def people(server: LiveServer) -> Iterator[dict[str, Any]]:
    """Signed-in clients of alex, jin and maya, and every user's pk."""
    clients = {h: server.client(h) for h in ("alex.kim", "jin.park", "maya.chen")}
    pks = {h: pk_of(server, h) for h in ("alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin")}
    yield {"server": server, "pk": pks, **clients}
    for c in clients.values():
        c.close()


# ---- convos -----------------------------------------------------------------------------
def test_create_list_and_get(people: dict[str, Any]) -> None:
    alex, jin, pk = people["alex.kim"], people["jin.park"], people["pk"]
    r = ok(alex.post("/api/Convo", json={"Participant": pk["jin.park"], "Subject": "Lunch?"}), 201, 5)
    assert r.content == b""
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/Convo/\d+", r.headers["X-URI-Reference"])
    convo = int(r.headers["X-URI-Reference"].rsplit("/", 1)[1])
    for client in (alex, jin):  # creator and participant see it alike
        listed = ok(client.get("/api/Convo"))
        assert (listed.headers["X-Total-Count"], listed.headers["X-Response-Count"]) == ("1", "1")
        assert PLAIN_TIME.match(listed.headers["X-Last-Modified"])
        assert "X-URI-Next-Page" not in listed.headers
        [item] = listed.json()
        assert set(item) == CONVO_FIELDS  # no message yet: DateOfLastMessage is omitted
        expected = {"Id": convo, "Creator": pk["alex.kim"], "Participant": pk["jin.park"], "Subject": "Lunch?"}
        assert {k: item[k] for k in expected} == expected
        assert item["NumMessages"] == 0
        assert PLAIN_TIME.match(item["DateCreated"])
        assert item["DateUpdated"] == item["DateCreated"]
    one = ok(jin.get(f"/api/Convo/{convo}"))
    assert one.json() == listed.json()[0]
    assert one.headers["X-Last-Modified"] == one.json()["DateUpdated"]


def test_list_order_and_paging(people: dict[str, Any]) -> None:
    alex, pk = people["alex.kim"], people["pk"]
    first = create(alex, pk["jin.park"], "first")
    second = create(alex, pk["maya.chen"], "second")
    third = create(alex, pk["sam.ortiz"], None)
    post(alex, first, "the only message")
    # Newest message first; convos without messages after, newest created first.
    order = [c["Id"] for c in ok(alex.get("/api/Convo")).json()]
    assert order == [first, third, second]
    listed = ok(alex.get("/api/Convo")).json()
    assert "Subject" not in listed[1]  # nulls are omitted
    assert PLAIN_TIME.match(listed[0]["DateOfLastMessage"])
    assert listed[0]["NumMessages"] == 1

    page = ok(alex.get("/api/Convo", params={"count": 2}))
    assert [c["Id"] for c in page.json()] == [first, third]
    assert (page.headers["X-Total-Count"], page.headers["X-Response-Count"]) == ("3", "2")
    next_page = page.headers["X-URI-Next-Page"]
    assert next_page.endswith("/api/Convo?index=1&count=2&before=9999-12-31T23%3A59%3A59")
    last = ok(alex.get(next_page))
    assert [c["Id"] for c in last.json()] == [second]
    assert (last.headers["X-Total-Count"], last.headers["X-Response-Count"]) == ("3", "1")
    assert "X-URI-Next-Page" not in last.headers
    refused(alex.get("/api/Convo", params={"index": 2, "count": 2}), 404, 3)

    # `before` (a Convos time, UTC) limits the list to what was created before it.
    refused(alex.get("/api/Convo", params={"before": "2015-06-15T10:04:33"}), 404, 3)
    later = ok(alex.get("/api/Convo", params={"before": "2999-01-01T00:00:00", "count": 1}))
    assert later.headers["X-URI-Next-Page"].endswith("index=1&count=1&before=2999-01-01T00%3A00%3A00")
    ok(alex.get("/api/Convo", params={"before": "2999-01-01T00:00:00+02:00"}))
    for params in ({"count": 51}, {"count": 0}, {"index": -1}, {"count": "ten"}, {"before": "yesterday"}):
        refused(alex.get("/api/Convo", params=params), 400, 1)
    assert len(ok(alex.get("/api/Convo", params={"count": 50})).json()) == 3


def test_empty_list_is_no_results(people: dict[str, Any]) -> None:
    r = people["maya.chen"].get("/api/Convo")
    refused(r, 404, 3)
    assert r.headers["X-Total-Count"] == "0"


def test_patch_and_delete(people: dict[str, Any]) -> None:
    alex, jin, maya, pk = people["alex.kim"], people["jin.park"], people["maya.chen"], people["pk"]
    convo = create(alex, pk["jin.park"])
    r = ok(alex.patch(f"/api/Convo/{convo}", json={"Subject": "s" * 140}))
    assert r.content == b""
    assert ok(jin.get(f"/api/Convo/{convo}")).json()["Subject"] == "s" * 140
    refused(alex.patch(f"/api/Convo/{convo}", json={"Subject": "s" * 141}), 400, 1)
    refused(jin.patch(f"/api/Convo/{convo}", json={"Subject": "mine now"}), 401, 4)  # the creator only
    refused(maya.patch(f"/api/Convo/{convo}", json={"Subject": "hello"}), 404, 2)  # an outsider: not found
    ok(alex.patch(f"/api/Convo/{convo}", json={"Subject": None}))
    assert "Subject" not in ok(alex.get(f"/api/Convo/{convo}")).json()

    refused(jin.delete(f"/api/Convo/{convo}"), 401, 4)
    refused(maya.delete(f"/api/Convo/{convo}"), 404, 2)
    r = ok(alex.delete(f"/api/Convo/{convo}"), 204, 6)
    assert r.content == b""
    refused(alex.get(f"/api/Convo/{convo}"), 404, 2)
    refused(jin.get(f"/api/Convo/{convo}/Message"), 404, 2)
    refused(alex.delete(f"/api/Convo/{convo}"), 404, 2)
    refused(jin.get("/api/Convo"), 404, 3)


# ---- messages ---------------------------------------------------------------------------
def test_messages_replies_and_threads(people: dict[str, Any]) -> None:
    alex, jin, pk = people["alex.kim"], people["jin.park"], people["pk"]
    convo = create(alex, pk["jin.park"])
    r = ok(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "noodles?", "Recipient": pk["jin.park"]}), 201, 5)
    assert r.content == b""
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:\d+/api/Convo/{convo}/Message/msg_[0-9a-f]+", r.headers["X-URI-Reference"]
    )
    root = r.headers["X-URI-Reference"].rsplit("/", 1)[1]
    answer = post(jin, convo, "yes, at 12", parent=root)
    again = post(alex, convo, "see you", parent=answer)

    listed = ok(jin.get(f"/api/Convo/{convo}/Message"))
    assert (listed.headers["X-Total-Count"], listed.headers["X-Response-Count"]) == ("3", "3")
    assert PLAIN_TIME.match(listed.headers["X-Last-Modified"])
    items = listed.json()
    assert [m["Id"] for m in items] == [again, answer, root]  # newest first
    assert set(items[2]) == MESSAGE_FIELDS  # a message replying to none: no Parent, no Thread
    assert items[2] | {"DateCreated": "x"} == {
        "Id": root,
        "ConvoId": convo,
        "Sender": pk["alex.kim"],
        "Recipient": pk["jin.park"],
        "Body": "noodles?",
        "IsRead": False,
        "DateCreated": "x",
    }
    assert (items[1]["Parent"], items[1]["Thread"], items[1]["Sender"]) == (root, root, pk["jin.park"])
    assert (items[0]["Parent"], items[0]["Thread"], items[0]["Recipient"]) == (answer, root, pk["jin.park"])
    one = ok(alex.get(f"/api/Convo/{convo}/Message/{again}"))
    assert one.json() == items[0]
    assert PLAIN_TIME.match(one.headers["X-Last-Modified"])

    page = ok(alex.get(f"/api/Convo/{convo}/Message", params={"count": 2}))
    assert [m["Id"] for m in page.json()] == [again, answer]
    assert page.headers["X-URI-Next-Page"].endswith(
        f"/api/Convo/{convo}/Message?index=1&count=2&before=9999-12-31T23%3A59%3A59"
    )
    assert [m["Id"] for m in ok(alex.get(page.headers["X-URI-Next-Page"])).json()] == [root]
    convo_now = ok(alex.get(f"/api/Convo/{convo}")).json()
    assert convo_now["NumMessages"] == 3
    assert convo_now["DateOfLastMessage"] == items[0]["DateCreated"]


def test_message_errors(people: dict[str, Any]) -> None:
    alex, jin, pk = people["alex.kim"], people["jin.park"], people["pk"]
    convo = create(alex, pk["jin.park"])
    refused(jin.get(f"/api/Convo/{convo}/Message"), 404, 3)  # no messages yet
    other = create(alex, pk["maya.chen"])
    elsewhere = post(alex, other, "in another convo")
    refused(alex.get(f"/api/Convo/{convo}/Message/{elsewhere}"), 404, 2)
    refused(alex.post(f"/api/Convo/{convo}/Message/{elsewhere}", json={"Body": "x"}), 404, 2)
    refused(alex.get(f"/api/Convo/{convo}/Message/msg_0000000000000000"), 404, 2)
    refused(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "x", "Recipient": pk["maya.chen"]}), 400, 1)
    refused(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "x", "Recipient": pk["alex.kim"]}), 400, 1)
    refused(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "  "}), 400, 1)
    refused(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "b" * 64_001}), 400, 1)
    ok(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "b" * 64_000}), 201, 5)
    refused(alex.post("/api/Convo/999999/Message", json={"Body": "x"}), 404, 2)
    refused(alex.get("/api/Convo/999999"), 404, 2)


def test_read_edit_and_delete_a_message(people: dict[str, Any]) -> None:
    alex, jin, pk = people["alex.kim"], people["jin.park"], people["pk"]
    convo = create(alex, pk["jin.park"])
    older = post(alex, convo, "one")
    newer = post(alex, convo, "two")
    path = f"/api/Convo/{convo}/Message/{newer}"
    refused(alex.patch(path, json={"IsRead": True}), 401, 4)  # the recipient only
    refused(jin.patch(path, json={"IsRead": False}), 400, 1)  # receipts never move back
    r = ok(jin.patch(path, json={"IsRead": True}))
    assert r.content == b""
    # Marking one read marks the earlier unread ones too (as v2 does).
    assert [m["IsRead"] for m in ok(alex.get(f"/api/Convo/{convo}/Message")).json()] == [True, True]
    assert alex.get(f"/api/v2/messages/{older}").json()["status"] == "read"
    ok(jin.patch(path, json={"IsRead": True}))  # idempotent

    refused(jin.patch(path, json={"Body": "edited by the wrong one"}), 401, 4)  # the sender only
    refused(alex.patch(path, json={"Body": "b" * 64_001}), 400, 1)
    refused(alex.patch(path, json={}), 400, 1)
    ok(alex.patch(path, json={"Body": "two (edited)"}))
    assert ok(jin.get(path)).json()["Body"] == "two (edited)"

    refused(jin.delete(path), 401, 4)  # the sender only
    r = ok(alex.delete(path), 204, 6)
    assert r.content == b""
    refused(jin.get(path), 404, 2)
    refused(alex.delete(path), 404, 2)
    assert ok(jin.get(f"/api/Convo/{convo}")).json()["NumMessages"] == 1


def test_idempotent_post(people: dict[str, Any]) -> None:
    alex, pk = people["alex.kim"], people["pk"]
    convo = create(alex, pk["jin.park"])
    key = {"Idempotency-Key": "convo-1"}
    first = ok(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "once"}, headers=key), 201, 5)
    again = ok(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "once"}, headers=key), 201, 5)
    assert first.headers["X-URI-Reference"] == again.headers["X-URI-Reference"]
    assert ok(alex.get(f"/api/Convo/{convo}")).json()["NumMessages"] == 1


def test_outsiders_see_nothing(people: dict[str, Any]) -> None:
    alex, maya, pk = people["alex.kim"], people["maya.chen"], people["pk"]
    convo = create(alex, pk["jin.park"])
    mid = post(alex, convo, "between us")
    base = f"/api/Convo/{convo}"
    refused(maya.get(base), 404, 2)
    refused(maya.get(f"{base}/Message"), 404, 2)
    refused(maya.get(f"{base}/Message/{mid}"), 404, 2)
    refused(maya.post(f"{base}/Message", json={"Body": "hi"}), 404, 2)
    refused(maya.post(f"{base}/Message/{mid}", json={"Body": "hi"}), 404, 2)
    refused(maya.patch(f"{base}/Message/{mid}", json={"IsRead": True}), 404, 2)
    refused(maya.delete(f"{base}/Message/{mid}"), 404, 2)
    refused(maya.get("/api/Convo"), 404, 3)
    # Admins are not participants either.
    admin = people["server"].client("hr.admin")
    refused(admin.get(base), 404, 2)
    refused(admin.delete(f"{base}/Message/{mid}"), 404, 2)


# ---- credentials and paths --------------------------------------------------------------
def test_credentials(people: dict[str, Any]) -> None:
    server, alex, pk = people["server"], people["alex.kim"], people["pk"]
    create(alex, pk["jin.park"])
    anonymous = httpx.Client(base_url=server.url)
    refused(anonymous.get("/api/Convo"), 401, 4)
    refused(anonymous.post("/api/Convo", json={"Participant": pk["jin.park"], "Subject": "x"}), 401, 4)
    # X-Authorization alone is never trusted.
    refused(anonymous.get("/api/Convo", headers={"X-Authorization": str(pk["alex.kim"])}), 401, 4)
    refused(alex.get("/api/Convo", headers={"X-Authorization": str(pk["jin.park"])}), 401, 4)
    refused(alex.get("/api/Convo", headers={"X-Authorization": "alex.kim"}), 401, 4)
    ok(alex.get("/api/Convo", headers={"X-Authorization": str(pk["alex.kim"])}))
    refused(anonymous.get("/api/Convo", headers={"Authorization": "Bearer not-a-token"}), 401, 4)
    # pilcrow's identity cookie is accepted like a bearer token.
    login = anonymous.post("/api/auth/login", json={"name": "jin.park", "password": "jin-pass"})
    assert login.status_code == 200
    assert len(ok(anonymous.get("/api/Convo")).json()) == 1


def test_paths_are_case_insensitive(people: dict[str, Any]) -> None:
    alex, jin, pk = people["alex.kim"], people["jin.park"], people["pk"]
    r = ok(alex.post("/API/CONVO", json={"Participant": pk["jin.park"], "Subject": "caps"}), 201, 5)
    assert "/api/Convo/" in r.headers["X-URI-Reference"]
    convo = int(r.headers["X-URI-Reference"].rsplit("/", 1)[1])
    ok(jin.get("/api/convo"))
    ok(jin.get(f"/Api/cOnVo/{convo}"))
    ok(jin.get("/api/convo/"))
    made = ok(alex.post(f"/api/convo/{convo}/MESSAGE", json={"Body": "shouting"}), 201, 5)
    mid = made.headers["X-URI-Reference"].rsplit("/", 1)[1]
    assert f"/api/Convo/{convo}/Message/{mid}" in made.headers["X-URI-Reference"]
    assert ok(jin.get(f"/api/CONVO/{convo}/message/{mid}")).json()["Body"] == "shouting"
    ok(jin.patch(f"/api/convo/{convo}/message/{mid}/", json={"IsRead": True}))
    refused(jin.get("/api/convos"), 404, 2)  # not a Convos route, still the Convos error shape
    refused(jin.get(f"/api/Convo/{convo}/Thread"), 404, 2)


# ---- bad input --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One live server for the table of bad requests (a fresh one per case would cost ~0.7 s)."""
    base = tmp_path_factory.mktemp("convos-bad-input")
    with pytest.MonkeyPatch.context() as mp:
        for kind in ("CONFIG", "DATA", "STATE", "CACHE"):
            mp.setenv(f"XDG_{kind}_HOME", str(base / kind.lower()))
        db = base / "db" / "huddle.db"
        db.parent.mkdir()
        load_team(db)
        server = LiveServer(Settings(db=db, tick_seconds=0.05), None).start()
        alex = server.client("alex.kim")
        jin = pk_of(server, "jin.park")
        convo = create(alex, jin)
        mid = post(alex, convo, "hello")
        try:
            yield {"alex": alex, "alex_pk": pk_of(server, "alex.kim"), "jin": jin, "convo": convo, "mid": mid}
        finally:
            alex.close()
            server.stop()


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS: list[tuple[str, str, Any]] = [
    # (method, path with {convo}/{mid}, body: a dict is sent as JSON, bytes as they are)
    ("POST", "/api/Convo", b"{not json"),
    ("POST", "/api/Convo", b"[1, 2]"),
    ("POST", "/api/Convo", b'"just a string"'),
    ("POST", "/api/Convo", b""),
    ("POST", "/api/Convo", {"Participant": "2", "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": True, "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": 2.5, "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": 0, "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": -4, "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": 2**70, "Subject": "x"}),
    ("POST", "/api/Convo", {"Participant": 99_999, "Subject": "x"}),  # no such user
    ("POST", "/api/Convo", {"Participant": "{alex}", "Subject": "with myself"}),
    ("POST", "/api/Convo", {"Participant": "{jin}"}),
    ("POST", "/api/Convo", {"Subject": "no participant"}),
    ("POST", "/api/Convo", {"Participant": "{jin}", "Subject": 5}),
    ("POST", "/api/Convo", {"Participant": "{jin}", "Subject": "x", "Extra": 1}),
    ("POST", "/api/Convo", {"Participant": "{jin}", "Subject": "x" * 141}),
    ("PATCH", "/api/Convo/{convo}", {}),
    ("PATCH", "/api/Convo/{convo}", {"Subject": ["a"]}),
    ("PATCH", "/api/Convo/{convo}", {"subject": "lower-case field"}),
    ("POST", "/api/Convo/{convo}/Message", {"Body": 5}),
    ("POST", "/api/Convo/{convo}/Message", {"Body": None}),
    ("POST", "/api/Convo/{convo}/Message", {"Text": "x"}),
    ("POST", "/api/Convo/{convo}/Message", {"Body": "x", "Recipient": "jin.park"}),
    ("POST", "/api/Convo/{convo}/Message", {"Body": "x", "Recipient": 2**64}),
    ("POST", "/api/Convo/{convo}/Message/{mid}", {"Body": ""}),
    ("PATCH", "/api/Convo/{convo}/Message/{mid}", {"IsRead": "yes"}),
    ("PATCH", "/api/Convo/{convo}/Message/{mid}", {"Body": 3}),
    ("PATCH", "/api/Convo/{convo}/Message/{mid}", {"IsRead": True, "Other": 1}),
    ("GET", "/api/Convo/abc", None),
    ("GET", "/api/Convo/0", None),
    ("GET", "/api/Convo/-3", None),
    ("GET", "/api/Convo/99999999999999999999999", None),
    ("DELETE", "/api/Convo/1.5", None),
    ("GET", "/api/Convo/abc/Message/{mid}", None),
    ("GET", "/api/Convo?index=99999999999999999999999", None),
    ("GET", "/api/Convo?count=-1", None),
    ("GET", "/api/Convo?before=9999-12-31T23:59:59-05:00", None),  # past year 9999 in UTC
    ("GET", "/api/Convo?before=0001-01-01T00:00:00%2B01:00", None),
    ("GET", "/api/Convo/{convo}/Message?before=2024-13-45", None),
    ("GET", "/api/Convo/{convo}/Message?index=abc", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_REQUESTS)
def test_bad_input_is_400(shared: dict[str, Any], method: str, path: str, body: Any) -> None:
    path = path.format(convo=shared["convo"], mid=shared["mid"])
    if isinstance(body, dict):
        names = {"{jin}": shared["jin"], "{alex}": shared["alex_pk"]}
        body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        r = shared["alex"].request(method, path, json=body)
    else:
        r = shared["alex"].request(method, path, content=body, headers=JSON if body is not None else None)
    refused(r, 400, 1)


def test_no_500_for_odd_requests(shared: dict[str, Any]) -> None:
    alex, convo, mid = shared["alex"], shared["convo"], shared["mid"]
    huge = b'{"Body": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = alex.post(f"/api/Convo/{convo}/Message", content=huge, headers=JSON)
    assert (r.status_code, r.headers["X-Result-Code"], r.content) == (413, "1", b"")
    refused(alex.get(f"/api/Convo/{convo}/Message/{'z' * 5000}"), 404, 2)
    refused(alex.get(f"/api/Convo/{convo}/Message/%00%ff"), 404, 2)
    refused(alex.get(f"/api/Convo/{convo}/Message/{mid}/extra"), 404, 2)
    r = alex.put(f"/api/Convo/{convo}", json={"Subject": "x"})
    assert (r.status_code, r.headers["X-Result-Code"]) == (405, "1")
    ok(alex.post(f"/api/Convo/{convo}/Message", json={"Body": "emoji 🎉 and ünïcode"}), 201, 5)
    r = alex.post(f"/api/Convo/{convo}/Message", content=b'{"Body": "\\ud800"}', headers=JSON)
    refused(r, 400, 1)


# ---- one store, one event log -------------------------------------------------------------
def is_marker(data: dict[str, Any]) -> bool:
    return bool((data["type"], data["event"]) == ("channel", "created"))


async def test_convo_messages_across_dialects(people: dict[str, Any]) -> None:
    server, alex, jin, maya, pk = (people[k] for k in ("server", "alex.kim", "jin.park", "maya.chen", "pk"))
    jin_token = jin.headers["Authorization"].split()[1]
    maya_token = maya.headers["Authorization"].split()[1]
    point = jin.get("/api/boot").json()["resume_point"]

    def act() -> dict[str, Any]:
        convo = create(alex, pk["jin.park"], "plans")
        mid = post(alex, convo, "friday?")
        ok(jin.patch(f"/api/Convo/{convo}/Message/{mid}", json={"IsRead": True}))
        ok(alex.patch(f"/api/Convo/{convo}/Message/{mid}", json={"Body": "friday at 7?"}))
        ok(alex.patch(f"/api/Convo/{convo}", json={"Subject": "plans (friday)"}))
        ok(alex.delete(f"/api/Convo/{convo}/Message/{mid}"), 204, 6)
        ok(alex.delete(f"/api/Convo/{convo}"), 204, 6)
        assert alex.post("/api/channels", json={"name": "after-convo"}).status_code == 202
        return {"convo": convo, "mid": mid}

    async with (
        SSE(server, jin_token, resume_point=point) as jin_stream,
        SSE(server, maya_token, resume_point=point) as maya_stream,
    ):
        done = await asyncio.to_thread(act)
        jin_events = [d for _, d in await collect(jin_stream, is_marker) if d["type"] != "presence"]
        maya_events = [d for _, d in await collect(maya_stream, is_marker) if d["type"] != "presence"]
    assert [f"{d['type']} {d['event']}" for d in jin_events] == [
        "convo created",
        "message sent",
        "message read",
        "message updated",
        "convo updated",
        "message deleted",
        "convo deleted",
        "channel created",
    ]
    created, sent, read, edited, updated = jin_events[:5]
    assert created | {"at": "x"} == {
        "type": "convo",
        "event": "created",
        "at": "x",
        "id": done["convo"],
        "creator": "alex.kim",
        "participant": "jin.park",
        "subject": "plans",
    }
    assert (sent["id"], sent["convo"], sent["sender"], sent["body"], sent["parent"]) == (
        done["mid"],
        done["convo"],
        "alex.kim",
        "friday?",
        None,
    )
    assert (read["id"], read["reader"]) == (done["mid"], "jin.park")
    assert (edited["id"], edited["body"]) == (done["mid"], "friday at 7?")
    assert updated["subject"] == "plans (friday)"
    assert jin_events[5]["id"] == done["mid"]
    # Maya takes no part: she hears of none of it.
    assert [(d["type"], d["event"]) for d in maya_events] == [("channel", "created")]


def test_convo_message_in_v2_and_boot(people: dict[str, Any]) -> None:
    alex, jin, maya, pk = people["alex.kim"], people["jin.park"], people["maya.chen"], people["pk"]
    convo = create(alex, pk["jin.park"])
    mid = post(alex, convo, "readable elsewhere")
    reply = post(jin, convo, "indeed", parent=mid)
    for client in (alex, jin):
        got = client.get(f"/api/v2/messages/{mid}")
        assert got.status_code == 200
        assert (got.json()["message_id"], got.json()["from"], got.json()["to"]) == (mid, "alex.kim", "jin.park")
        boot = client.get("/api/boot").json()["messages"]
        mine = [m for m in boot if m.get("convo") == convo]
        assert [(m["id"], m["parent"], m["to"]) for m in mine] == [(mid, None, "jin.park"), (reply, mid, "alex.kim")]
    assert maya.get(f"/api/v2/messages/{mid}").status_code == 404
    assert not [m for m in maya.get("/api/boot").json()["messages"] if m.get("convo") == convo]
    # A convo message is not a DM: it stays out of the DM lists.
    assert jin.get("/api/v2/messages", params={"with": "alex.kim"}).json()["total"] == 0
    # Deleting the convo takes its messages with it, everywhere.
    ok(alex.delete(f"/api/Convo/{convo}"), 204, 6)
    assert jin.get(f"/api/v2/messages/{mid}").status_code == 404
    assert not [m for m in jin.get("/api/boot").json()["messages"] if m.get("convo") == convo]


def test_writes_are_activity(server: LiveServer) -> None:
    # Tokens made like `huddle-server token`: no sign-in, so no activity yet.
    alex = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token('alex.kim')}"})
    jin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token('jin.park')}"})
    assert alex.get("/api/v2/users/alex.kim").json()["last_seen"] is None
    refused(alex.get("/api/Convo"), 404, 3)
    assert alex.get("/api/v2/users/alex.kim").json()["last_seen"] is None  # reads are not activity
    convo = create(alex, pk_of(server, "jin.park"))
    assert alex.get("/api/v2/users/alex.kim").json()["last_seen"] is not None
    assert jin.get("/api/v2/users/jin.park").json()["last_seen"] is None
    post(jin, convo, "hi")
    assert jin.get("/api/v2/users/jin.park").json()["last_seen"] is not None


@pytest.mark.parametrize("key", ["\b", "\x00", "\x1b[31m", "é\u2028"])
def test_control_characters_never_reach_a_header(server: LiveServer, key: str) -> None:
    # Found by schemathesis: an unknown key echoed into X-Message made uvicorn drop the connection.
    r = server.client("alex.kim").post("/api/Convo", json={key: None})
    assert r.status_code == 400
    assert r.headers["X-Result-Code"] == "1"
    assert all(" " <= ch <= "~" or ch >= "\xa0" for ch in r.headers["X-Message"])


def test_a_convo_message_reads_through_esn_for_its_participants_only(server: LiveServer) -> None:
    alex, jin, sam = server.client("alex.kim"), server.client("jin.park"), server.client("sam.ortiz")
    convo = create(alex, pk_of(server, "jin.park"))
    message_id = post(alex, convo, "read me anywhere")
    for reader in (alex, jin):
        r = reader.get(f"/api/messages/{message_id}")
        assert r.status_code == 200
        assert (r.json()["_id"], r.json()["description"]) == (message_id, "read me anywhere")
        assert r.json()["target"] == [{"objectType": "convo", "id": str(convo)}]
    refused = sam.get(f"/api/messages/{message_id}")  # it exists, but is not Sam's: ESN's 403
    assert refused.status_code == 403
    assert refused.json()["error"]["status"] == 403
