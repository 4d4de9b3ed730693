"""ESN activity streams: posts, replies, shares, RFC 822 mail, timelines; one identity across dialects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support import LiveServer, load_team
from tests.support.events import SSE, collect

MAIL = (
    b"From: 'Sender Name' <sender@example.com>\r\n"
    b"To: 'Receiver Name' <receiver@example.com>\r\n"
    b"Subject: Hello world!\r\n"
    b"\r\n"
    b"How are you today?\r\n"
)
RFC822 = {"Content-Type": "message/rfc822"}
# Over the default mail bounds (200 header fields), whatever else it says.
OVER_BOUNDS = b"From: a@b\r\n" + b"".join(b"X-Filler-%d: v\r\n" % i for i in range(200)) + b"\r\nhi\r\n"


def client(server: LiveServer, handle: str) -> httpx.Client:
    """A signed-in client (a token as `huddle-server token` prints it)."""
    headers = {"Authorization": f"Bearer {server.token(handle)}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def uuids(c: httpx.Client) -> dict[str, str]:
    """The readable streams by owner name."""
    return {s["name"]: s["uuid"] for s in c.get("/api/activitystreams").json()}


def post(c: httpx.Client, stream: str, text: str, **extra: Any) -> str:
    """Post to one stream; the new message id."""
    body = {"object": {"objectType": "whatsup", "description": text}, "targets": [{"id": stream}], **extra}
    r = c.post("/api/messages", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["_id"])


@dataclass
class Shared:
    """One server for the error cases (none of them stores anything), with signed-in clients."""

    server: LiveServer
    clients: dict[str, httpx.Client]
    streams: dict[str, str]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    db = tmp_path_factory.mktemp("esn") / "huddle.db"
    load_team(db)
    server = LiveServer(Settings(db=db, tick_seconds=0.05), None).start()
    clients = {h: client(server, h) for h in ("alex.kim", "hr.admin")}
    yield Shared(server, clients, uuids(clients["hr.admin"]))
    server.stop()


def fill(value: Any, names: dict[str, str]) -> Any:
    """A request body with placeholder stream names replaced by uuids."""
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def assert_error(r: httpx.Response, status: int) -> None:
    """An ESN error: both code and status, the phrase, and details for a person."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert set(error) == {"code", "status", "message", "details"}
    assert (error["code"], error["status"], error["message"]) == (status, status, HTTPStatus(status).phrase)
    assert isinstance(error["details"], str)
    assert error["details"]


def test_streams_the_caller_may_read(server: LiveServer) -> None:
    alex, jin, sam, admin = (client(server, h) for h in ("alex.kim", "jin.park", "sam.ortiz", "hr.admin"))
    r = alex.get("/api/activitystreams")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    teams = {t["name"]: t["id"] for t in alex.get("/teams").json()["teams"]}
    spaces = {w["name"]: w["id"] for w in alex.get("/workspaces").json()["workspaces"]}
    listed = r.json()
    assert [(s["objectType"], s["name"]) for s in listed] == [("team", "infrastructure"), ("workspace", "platform")]
    assert [s["id"] for s in listed] == [teams["infrastructure"], spaces["platform"]]
    assert all(set(s) == {"uuid", "objectType", "id", "name"} and len(s["uuid"]) == 36 for s in listed)
    assert list(uuids(jin)) == ["infrastructure"]
    assert list(uuids(sam)) == ["design"]
    assert list(uuids(admin)) == ["design", "infrastructure", "platform"]
    assert uuids(jin)["infrastructure"] == uuids(alex)["infrastructure"]


def test_post_and_read_it_back(server: LiveServer) -> None:
    alex, maya = client(server, "alex.kim"), client(server, "maya.chen")
    infra = uuids(alex)["infrastructure"]
    before = int(time.time() * 1000)
    files = [{"_id": "9829892-9982982-87222-238388", "name": "chuck.png", "contentType": "image/png", "length": 988288}]
    body = {
        "object": {
            "objectType": "whatsup",
            "description": "whatsup message content",
            "attachments": files,
            "parsers": [{"name": "markdown"}],
            "data": {"mood": "sunny"},
        },
        "targets": [{"objectType": "activitystream", "id": infra}],
    }
    r = alex.post("/api/messages", json=body)
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"_id"}
    message_id = r.json()["_id"]
    assert message_id.startswith("msg_")
    assert r.headers["location"] == f"/api/messages/{message_id}"
    got = maya.get(f"/api/messages/{message_id}")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    m = got.json()
    assert {k: m[k] for k in ("objectType", "_id", "description", "creator")} == {
        "objectType": "whatsup",
        "_id": message_id,
        "description": "whatsup message content",
        "creator": "alex.kim",
    }
    assert before <= m["timestamps"]["creation"] <= int(time.time() * 1000)
    assert m["target"] == [{"objectType": "activitystream", "id": infra}]
    assert (m["attachments"], m["parsers"], m["data"]) == (files, [{"name": "markdown"}], {"mood": "sunny"})
    assert (m["responses"], m["shares"]) == ([], [])
    assert "inReplyTo" not in m
    # `content` is accepted for the text too, and a urn names the stream.
    urn = {"objectType": "activitystream", "id": f"urn:linagora.com:activitystream:{infra}"}
    r = alex.post(
        "/api/messages", json={"object": {"objectType": "whatsup", "content": "via content"}, "targets": [urn]}
    )
    assert r.status_code == 201
    assert maya.get(f"/api/messages/{r.json()['_id']}").json()["description"] == "via content"
    # A file alone needs no text.
    photo = {"objectType": "whatsup", "description": "", "attachments": files}
    r = alex.post("/api/messages", json={"object": photo, "targets": [{"id": infra}]})
    assert r.status_code == 201
    assert maya.get(f"/api/messages/{r.json()['_id']}").json()["attachments"] == files
    # The same id in the urn form the reference uses elsewhere.
    assert alex.get(f"/api/messages/urn:linagora:esn:whatsup:{message_id}").json()["_id"] == message_id


async def test_one_message_across_dialects_and_one_event(server: LiveServer) -> None:
    alex, jin, sam, admin = (client(server, h) for h in ("alex.kim", "jin.park", "sam.ortiz", "hr.admin"))
    infra = uuids(alex)["infrastructure"]
    general = next(c["id"] for c in alex.get("/api/boot").json()["channels"] if c["name"] == "general")
    point = jin.get("/api/boot").json()["resume_point"]
    jin_token, sam_token = (c.headers["Authorization"].split()[1] for c in (jin, sam))
    async with (
        SSE(server, jin_token, resume_point=point) as jin_events,
        SSE(server, sam_token, resume_point=point) as sam_events,
    ):
        message_id = await asyncio.to_thread(post, alex, infra, "deploy at 5")
        # A channel message everyone receives marks the end of what each stream must show.
        await asyncio.to_thread(lambda: alex.post(f"/api/channels/{general}", json={"body": "marker"}))

        def is_marker(d: dict[str, Any]) -> bool:
            return d.get("channel") == general

        jin_got = await collect(jin_events, is_marker)
        sam_got = await collect(sam_events, is_marker)
    sent = [d for _, d in jin_got if (d["type"], d["event"]) == ("message", "sent") and d["id"] == message_id]
    assert len(sent) == 1
    assert {k: sent[0][k] for k in ("sender", "body", "parent", "stream")} == {
        "sender": "alex.kim",
        "body": "deploy at 5",
        "parent": None,
        "stream": infra,
    }
    assert not any(d.get("id") == message_id or "stream" in d for _, d in sam_got)
    # Readable by stream members (and admins) in ESN and in v2; to others 403 in ESN (the reference
    # names it), 404 in v2.
    for reader in (jin, admin):
        assert reader.get(f"/api/messages/{message_id}").json()["description"] == "deploy at 5"
        assert reader.get(f"/api/v2/messages/{message_id}").status_code == 200
    assert jin.get(f"/api/v2/messages/{message_id}").json()["body"] == "deploy at 5"
    assert_error(sam.get(f"/api/messages/{message_id}"), 403)
    assert sam.get(f"/api/v2/messages/{message_id}").status_code == 404
    # In the boot snapshot of members only.
    booted = [m for m in jin.get("/api/boot").json()["messages"] if m["id"] == message_id]
    assert [(m["stream"], m["sender"], m["body"]) for m in booted] == [(infra, "alex.kim", "deploy at 5")]
    assert all(m["id"] != message_id for m in sam.get("/api/boot").json()["messages"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"targets": [{"id": "INFRA"}]}, 400),  # no object
        ({"object": {"objectType": "whatsup", "description": "hi"}}, 400),  # no targets
        ({"object": {"objectType": "whatsup", "description": "hi"}, "targets": []}, 400),
        ({"object": {"objectType": "whatsup", "description": "hi"}, "targets": {"id": "INFRA"}}, 400),
        (
            {"object": {"objectType": "whatsup", "description": "hi"}, "targets": [{"objectType": "activitystream"}]},
            400,
        ),
        (
            {
                "object": {"objectType": "whatsup", "description": "hi"},
                "targets": [{"objectType": "user", "id": "INFRA"}],
            },
            400,
        ),
        ({"object": {"objectType": "event", "description": "hi"}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup"}, "targets": [{"id": "INFRA"}]}, 400),  # no text
        ({"object": {"objectType": "whatsup", "description": 5}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": ["x"]}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": "  "}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": "x" * 64_001}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": "a", "content": "b"}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": "hi", "colour": 1}, "targets": [{"id": "INFRA"}]}, 400),
        ({"object": {"objectType": "whatsup", "description": "hi"}, "target": [{"id": "INFRA"}]}, 400),
        (
            {
                "object": {"objectType": "whatsup", "description": "hi", "data": {"x": "y" * 20_000}},
                "targets": [{"id": "INFRA"}],
            },
            400,
        ),
        (
            {
                "object": {"objectType": "whatsup", "description": "hi", "attachments": [{"name": "a"}]},
                "targets": [{"id": "INFRA"}],
            },
            400,
        ),
        (
            {"object": {"objectType": "whatsup", "description": "hi"}, "targets": [{"id": "DESIGN"}]},
            403,
        ),  # not a member
        ({"object": {"objectType": "whatsup", "description": "hi"}, "targets": [{"id": "INFRA"}, {"id": "nope"}]}, 403),
        ({"object": {"objectType": "whatsup", "description": "hi"}, "inReplyTo": {"_id": "msg_0000"}}, 404),
    ],
)
def test_post_errors(shared: Shared, body: dict[str, Any], status: int) -> None:
    alex, streams = shared.clients["alex.kim"], shared.streams
    names = {"INFRA": streams["infrastructure"], "DESIGN": streams["design"]}
    assert_error(alex.post("/api/messages", json=fill(body, names)), status)
    # Nothing was stored, even in the streams that were allowed.
    assert alex.get(f"/api/activitystreams/{streams['infrastructure']}").json() == []


def test_bad_json_and_no_credentials(server: LiveServer) -> None:
    alex = client(server, "alex.kim")
    assert_error(alex.post("/api/messages", content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    assert_error(alex.post("/api/messages", json=["a list"]), 400)
    anonymous = httpx.Client(base_url=server.url)
    for r in (
        anonymous.get("/api/activitystreams"),
        anonymous.get("/api/messages/msg_1"),
        anonymous.post("/api/messages", json={}),
    ):
        assert_error(r, 401)


def test_several_targets_make_copies(server: LiveServer) -> None:
    alex, jin, maya = client(server, "alex.kim"), client(server, "jin.park"), client(server, "maya.chen")
    infra, platform = uuids(alex)["infrastructure"], uuids(alex)["platform"]
    body = {
        "object": {"objectType": "whatsup", "description": "both"},
        "targets": [{"id": infra}, {"id": platform}, {"id": infra}],
    }
    message_id = alex.post("/api/messages", json=body).json()["_id"]
    original = alex.get(f"/api/messages/{message_id}").json()
    assert original["target"] == [{"objectType": "activitystream", "id": infra}]
    [share] = original["shares"]
    assert share["objectType"] == "activitystream"
    assert share["id"] == platform
    copy = maya.get(f"/api/messages/{share['_id']}").json()
    assert (copy["description"], copy["creator"]) == ("both", "alex.kim")
    assert copy["copyOf"] == {"_id": message_id, "resource": {"objectType": "activitystream", "id": infra}}
    # jin is not in the platform workspace: the copy is hidden from him, and so is the share.
    assert jin.get(f"/api/messages/{message_id}").json()["shares"] == []
    assert_error(jin.get(f"/api/messages/{share['_id']}"), 403)


def test_replies(server: LiveServer) -> None:
    alex, jin, maya, sam = (client(server, h) for h in ("alex.kim", "jin.park", "maya.chen", "sam.ortiz"))
    infra, platform = uuids(alex)["infrastructure"], uuids(alex)["platform"]
    parent = post(alex, infra, "who has the pager?")
    r = jin.post(
        "/api/messages", json={"object": {"objectType": "whatsup", "content": "me"}, "inReplyTo": {"_id": parent}}
    )
    assert r.status_code == 201
    assert r.headers["location"] == f"/api/messages/{r.json()['_id']}"
    assert set(r.json()) == {"_id", "parentId"}
    assert r.json()["parentId"] == parent
    first = r.json()["_id"]
    # The reference's form: a urn in `id` (its example calls the parent an activitystream).
    reply = {"objectType": "activitystream", "id": f"urn:linagora:esn:whatsup:{parent}"}
    r = maya.post(
        "/api/messages",
        json={"object": {"objectType": "whatsup", "content": "me too"}, "inReplyTo": reply, "targets": [{"id": infra}]},
    )
    assert (r.status_code, r.json()["parentId"]) == (201, parent)
    second = r.json()["_id"]
    assert alex.get(f"/api/messages/{parent}").json()["responses"] == [first, second]
    child = alex.get(f"/api/messages/{first}").json()
    assert child["inReplyTo"] == {"objectType": "whatsup", "_id": parent}
    assert (child["parentId"], child["target"][0]["id"]) == (parent, infra)
    # Errors: an unreadable parent is 404; a reply cannot go elsewhere; no parent id is 400.
    answer = {"objectType": "whatsup", "content": "x"}
    assert_error(sam.post("/api/messages", json={"object": answer, "inReplyTo": {"_id": parent}}), 404)
    assert_error(
        alex.post(
            "/api/messages", json={"object": answer, "inReplyTo": {"_id": parent}, "targets": [{"id": platform}]}
        ),
        400,
    )
    assert_error(alex.post("/api/messages", json={"object": answer, "inReplyTo": {"objectType": "whatsup"}}), 400)
    # A deleted reply (pilcrow) leaves the thread.
    assert jin.delete(f"/api/messages/{first}").status_code == 202
    assert alex.get(f"/api/messages/{parent}").json()["responses"] == [second]
    assert_error(alex.get(f"/api/messages/{first}"), 404)


def test_archived_workspace_is_read_only_and_deleted_owners_hide_their_stream(server: LiveServer) -> None:
    alex, admin = client(server, "alex.kim"), client(server, "hr.admin")
    platform = uuids(alex)["platform"]
    space = next(w["id"] for w in alex.get("/workspaces").json()["workspaces"] if w["name"] == "platform")
    message_id = post(alex, platform, "before the freeze")
    for state in ("archived", "locked"):
        assert admin.patch(f"/workspaces/{space}", json={"state": state}).status_code == 200
        assert [e["_id"] for e in alex.get(f"/api/activitystreams/{platform}").json()] == [message_id]
        assert "platform" in uuids(alex)
        body = {"object": {"objectType": "whatsup", "description": "x"}, "targets": [{"id": platform}]}
        assert_error(alex.post("/api/messages", json=body), 403)
        reply = {"object": {"objectType": "whatsup", "description": "x"}, "inReplyTo": {"_id": message_id}}
        assert_error(alex.post("/api/messages", json=reply), 403)
    assert admin.patch(f"/workspaces/{space}", json={"state": "deleted"}).status_code == 200
    assert_error(alex.get(f"/api/activitystreams/{platform}"), 404)
    assert_error(alex.get(f"/api/messages/{message_id}"), 403)
    assert "platform" not in uuids(alex)
    # Admins read every stream, but post only where they are members.
    assert admin.get(f"/api/messages/{message_id}").status_code == 200
    infra = uuids(admin)["infrastructure"]
    assert_error(
        admin.post(
            "/api/messages", json={"object": {"objectType": "whatsup", "description": "x"}, "targets": [{"id": infra}]}
        ),
        403,
    )


def test_shares(server: LiveServer) -> None:
    alex, jin, maya, sam = (client(server, h) for h in ("alex.kim", "jin.park", "maya.chen", "sam.ortiz"))
    infra, platform = uuids(alex)["infrastructure"], uuids(alex)["platform"]
    message_id = post(jin, infra, "postmortem is up")
    resource = {"objecType": "activitystream", "id": infra}  # the reference's own spelling
    r = alex.post(
        f"/api/messages/{message_id}/shares",
        json={"resource": resource, "targets": [{"objectType": "activitystream", "id": platform}]},
    )
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"_id"}
    copy_id = r.json()["_id"]
    assert copy_id != message_id
    copy = maya.get(f"/api/messages/{copy_id}").json()
    assert (copy["description"], copy["creator"]) == ("postmortem is up", "alex.kim")
    assert copy["copyOf"] == {"_id": message_id, "resource": {"objectType": "activitystream", "id": infra}}
    assert copy["target"] == [{"objectType": "activitystream", "id": platform}]
    entry = maya.get(f"/api/activitystreams/{platform}").json()[0]
    assert (entry["_id"], entry["verb"], entry["actor"]["_id"]) == (copy_id, "share", "alex.kim")
    assert alex.get(f"/api/messages/{message_id}").json()["shares"] == [
        {"objectType": "activitystream", "id": platform, "_id": copy_id}
    ]
    assert jin.get(f"/api/messages/{message_id}").json()["shares"] == []  # jin cannot read platform
    # `target` (one) works as well as `targets`.
    r = maya.post(f"/api/messages/{copy_id}/shares", json={"resource": {"id": platform}, "target": {"id": infra}})
    assert r.status_code == 201
    share = {"resource": {"id": infra}, "targets": [{"id": platform}]}
    assert_error(alex.post(f"/api/messages/{message_id}/shares", json={"targets": [{"id": platform}]}), 400)
    assert_error(alex.post(f"/api/messages/{message_id}/shares", json={"resource": {"id": infra}}), 400)
    assert_error(alex.post(f"/api/messages/{message_id}/shares", json={**share, "targets": [{"id": infra}]}), 400)
    assert_error(alex.post(f"/api/messages/{message_id}/shares", json={**share, "extra": 1}), 400)
    assert_error(alex.post(f"/api/messages/{message_id}/shares", json={**share, "resource": {"id": platform}}), 404)
    assert_error(alex.post("/api/messages/msg_nope/shares", json=share), 404)
    assert_error(sam.post(f"/api/messages/{message_id}/shares", json=share), 404)  # cannot read it
    assert_error(jin.post(f"/api/messages/{message_id}/shares", json=share), 403)  # cannot write platform


def mail_with_attachment() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Jin Park <jin@example.com>"
    mail["Subject"] = "Logs"
    mail.set_content("Attached.\n")
    mail.add_attachment(b"x" * 300, maintype="application", subtype="gzip", filename="logs.gz")
    return bytes(mail)


def test_email(server: LiveServer) -> None:
    alex, jin = client(server, "alex.kim"), client(server, "jin.park")
    infra = uuids(alex)["infrastructure"]
    r = alex.post(f"/api/messages/email?id={infra}&objectType=activitystream", content=MAIL, headers=RFC822)
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"_id"}
    m = jin.get(f"/api/messages/{r.json()['_id']}").json()
    assert (m["description"], m["creator"], m["objectType"]) == (
        "Hello world!\n\nHow are you today?",
        "alex.kim",
        "whatsup",
    )
    assert m["email"]["subject"] == "Hello world!"
    assert m["target"] == [{"objectType": "activitystream", "id": infra}]
    r = alex.post(
        f"/api/messages/email?id=urn:linagora.com:activitystream:{infra}&objectType=activitystream",
        content=mail_with_attachment(),
        headers=RFC822,
    )
    m = jin.get(f"/api/messages/{r.json()['_id']}").json()
    assert m["description"] == "Logs\n\nAttached."
    assert m["attachments"] == [{"name": "logs.gz", "contentType": "application/gzip", "length": 300}]
    # Undecodable 8-bit header bytes are replaced, never stored as they came.
    r = alex.post(
        f"/api/messages/email?id={infra}&objectType=activitystream",
        content=b"From: a@b\r\nSubject: caf\xe9\r\n\r\n",
        headers=RFC822,
    )
    assert jin.get(f"/api/messages/{r.json()['_id']}").json()["description"] == "caf\ufffd"


@pytest.mark.parametrize(
    ("query", "body", "headers", "status"),
    [
        ("objectType=activitystream&id=INFRA", b"", RFC822, 400),  # empty
        ("objectType=activitystream&id=INFRA", b"no headers at all, just words", RFC822, 400),
        ("objectType=activitystream&id=INFRA", b"\x00\xff\xfe\x80", RFC822, 400),
        ("objectType=activitystream&id=INFRA", b"Subject: hi\r\n\r\nno sender\r\n", RFC822, 400),
        ("objectType=activitystream&id=INFRA", b"From: a@b\r\n\r\n   \r\n", RFC822, 400),  # no text at all
        (
            "objectType=activitystream&id=INFRA",
            b"From: a@b\r\nContent-Type: text/plain; charset=bogus\r\n\r\nhi",
            RFC822,
            400,
        ),
        (
            "objectType=activitystream&id=INFRA",
            b"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
            RFC822,
            400,
        ),
        ("objectType=activitystream&id=INFRA", MAIL, {"Content-Type": "text/plain"}, 400),
        ("objectType=activitystream", MAIL, RFC822, 400),  # no id
        ("objectType=community&id=INFRA", MAIL, RFC822, 400),
        ("id=INFRA", MAIL, RFC822, 400),
        ("objectType=activitystream&id=DESIGN", MAIL, RFC822, 403),
        ("objectType=activitystream&id=nope", MAIL, RFC822, 403),
        ("objectType=activitystream&id=INFRA", b"From: a@b\r\n\r\n" + b"x" * (1024 * 1024), RFC822, 413),
        ("objectType=activitystream&id=INFRA", OVER_BOUNDS, RFC822, 400),  # past the mail bounds
        # Whether the caller may post there is checked before the mail is read.
        ("objectType=activitystream&id=nope", OVER_BOUNDS, RFC822, 403),
        ("objectType=activitystream&id=DESIGN", OVER_BOUNDS, RFC822, 403),
    ],
)
def test_bad_email(shared: Shared, query: str, body: bytes, headers: dict[str, str], status: int) -> None:
    alex, streams = shared.clients["alex.kim"], shared.streams
    query = query.replace("INFRA", streams["infrastructure"]).replace("DESIGN", streams["design"])
    assert_error(alex.post(f"/api/messages/email?{query}", content=body, headers=headers), status)
    assert alex.get(f"/api/activitystreams/{streams['infrastructure']}").json() == []


def test_the_reference_mail_example_is_accepted(shared: Shared) -> None:
    """Seed 004's own example has no blank line after the headers: its first non-header line starts the body."""
    alex, infra = shared.clients["alex.kim"], shared.streams["infrastructure"]
    mail = b"From: 'Sender Name' <sender@example.com>\nTo: 'Receiver Name' <receiver@example.com>\n"
    mail += b"Subject: Hello world!\nHow are you today?\n"
    r = alex.post(f"/api/messages/email?id={infra}&objectType=activitystream", content=mail, headers=RFC822)
    assert r.status_code == 201, r.text
    message = alex.get(f"/api/messages/{r.json()['_id']}").json()
    assert message["description"] == "Hello world!\n\nHow are you today?"
    alex.delete(f"/api/messages/{r.json()['_id']}")  # the shared stream stays empty for the error cases


def test_mail_past_the_bounds_is_refused_in_the_esn_shape(shared: Shared) -> None:
    """The 400 says which bound, in ESN's error shape."""
    alex, infra = shared.clients["alex.kim"], shared.streams["infrastructure"]
    r = alex.post(f"/api/messages/email?id={infra}&objectType=activitystream", content=OVER_BOUNDS, headers=RFC822)
    assert_error(r, 400)
    assert r.json()["error"]["details"] == "the message is too big to read: it has more than 200 header fields"


def test_mail_is_read_only_after_the_send_rate_allows_it(make_server: Callable[..., LiveServer]) -> None:
    """--send-rate 1: the second mail is 429 even when it would be refused as unreadable; it is counted first."""
    server = make_server(send_rate=1)
    alex = client(server, "alex.kim")
    url = f"/api/messages/email?id={uuids(alex)['infrastructure']}&objectType=activitystream"
    assert alex.post(url, content=MAIL, headers=RFC822).status_code == 201
    assert_error(alex.post(url, content=OVER_BOUNDS, headers=RFC822), 429)
    assert_error(alex.post(url, content=b"not a mail", headers=RFC822), 429)


def test_get_many(server: LiveServer) -> None:
    alex, sam = client(server, "alex.kim"), client(server, "sam.ortiz")
    mine = post(alex, uuids(alex)["infrastructure"], "one")
    theirs = post(sam, uuids(sam)["design"], "not for alex")
    dm = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "a DM reads here too"}).json()["message_id"]
    r = alex.get(
        "/api/messages",
        params=[("ids[]", mine), ("ids[]", "123"), ("ids[]", theirs), ("ids[]", dm), ("ids[]", "%00' OR 1=1")],
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    found, unknown, unreadable, direct, junk = r.json()
    assert (found["_id"], found["description"]) == (mine, "one")
    # One model: any message the caller may see reads here, in the ESN shape.
    assert (direct["_id"], direct["description"], direct["creator"]) == (dm, "a DM reads here too", "alex.kim")
    assert direct["target"] == [{"objectType": "user", "id": "jin.park"}]
    missing = [unknown, junk]
    assert [m["error"]["details"] for m in missing] == [
        f"The message {i} can not be found" for i in ("123", "%00' OR 1=1")
    ]
    assert all(
        m == {"error": {"code": 404, "status": 404, "message": "Not Found", "details": m["error"]["details"]}}
        for m in missing
    )
    # One that exists but is not the caller's to read: 403, as GET /api/messages/{id} answers.
    details = f"You do not have the permission to read the message {theirs}"
    assert unreadable == {"error": {"code": 403, "status": 403, "message": "Forbidden", "details": details}}
    assert_error(sam.get(f"/api/messages/{dm}"), 403)  # not Sam's DM
    assert_error(sam.get("/api/messages/msg_0000000000000000"), 404)  # no such message
    assert [m["_id"] for m in alex.get("/api/messages", params=[("ids", mine)]).json()] == [mine]
    assert_error(alex.get("/api/messages", params=[("ids[]", "123"), ("ids[]", theirs)]), 404)
    assert_error(alex.get("/api/messages"), 400)
    assert_error(alex.get("/api/messages", params=[("ids[]", "")]), 400)
    assert_error(alex.get("/api/messages", params=[("ids[]", f"m{i}") for i in range(101)]), 400)


def test_timeline_pages(server: LiveServer) -> None:
    alex, jin, sam = client(server, "alex.kim"), client(server, "jin.park"), client(server, "sam.ortiz")
    infra, platform = uuids(alex)["infrastructure"], uuids(alex)["platform"]
    r = alex.get(f"/api/activitystreams/{platform}")  # nothing posted yet
    assert (r.status_code, r.json(), r.headers["x-esn-items-count"]) == (200, [], "0")
    ids = [post(alex if i % 2 else jin, infra, f"m{i}") for i in range(5)]
    r = jin.get(f"/api/activitystreams/{infra}", params={"limit": 2})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-esn-items-count"] == "5"
    newest = r.json()
    assert [e["_id"] for e in newest] == [ids[4], ids[3]]
    entry = newest[0]
    assert set(entry) == {"_id", "verb", "published", "actor", "object", "target"}
    assert (entry["verb"], entry["actor"]) == (
        "post",
        {"objectType": "user", "_id": "jin.park", "displayName": "Jin Park"},
    )
    assert entry["object"] == jin.get(f"/api/messages/{ids[4]}").json()
    assert entry["target"] == [{"objectType": "activitystream", "_id": infra}]
    assert entry["published"].endswith("Z")
    assert len(entry["published"]) == len("2024-09-27T23:19:10.208Z")

    def page(**params: Any) -> list[str]:
        return [e["_id"] for e in jin.get(f"/api/activitystreams/{infra}", params=params).json()]

    assert page(before=ids[3], limit=2) == [ids[2], ids[1]]
    assert page(before=ids[1]) == [ids[0]]
    assert page(before=ids[0]) == []
    assert page(after=ids[0], limit=2) == [ids[2], ids[1]]  # just after: no gap going forward
    assert page(after=ids[3]) == [ids[4]]
    assert page(after=ids[0], before=ids[4]) == [ids[3], ids[2], ids[1]]
    assert page(before=f"urn:linagora:esn:whatsup:{ids[1]}") == [ids[0]]
    reply = jin.post(
        "/api/messages", json={"object": {"objectType": "whatsup", "content": "re"}, "inReplyTo": {"_id": ids[0]}}
    ).json()
    entry = jin.get(f"/api/activitystreams/{infra}", params={"limit": 1}).json()[0]
    assert (entry["_id"], entry["inReplyTo"]) == (reply["_id"], [{"objectType": "whatsup", "_id": ids[0]}])
    assert_error(jin.get(f"/api/activitystreams/{infra}", params={"before": "msg_nope"}), 400)
    assert_error(jin.get(f"/api/activitystreams/{infra}", params={"limit": 0}), 400)
    assert_error(jin.get(f"/api/activitystreams/{infra}", params={"limit": "ten"}), 400)
    assert_error(sam.get(f"/api/activitystreams/{infra}"), 404)
    assert_error(jin.get("/api/activitystreams/not-a-stream"), 404)
    assert_error(jin.get(f"/api/activitystreams/{platform}"), 404)  # not in the workspace


def test_idempotent_post(server: LiveServer) -> None:
    alex = client(server, "alex.kim")
    infra = uuids(alex)["infrastructure"]
    body = {"object": {"objectType": "whatsup", "description": "once"}, "targets": [{"id": infra}]}
    first = alex.post("/api/messages", json=body, headers={"Idempotency-Key": "k1"})
    again = alex.post("/api/messages", json=body, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code, first.json()) == (201, 201, again.json())
    assert [e["_id"] for e in alex.get(f"/api/activitystreams/{infra}").json()] == [first.json()["_id"]]
    assert_error(alex.post("/api/messages", json=body, headers={"Idempotency-Key": "k" * 256}), 400)


async def test_deleting_a_stream_message_tells_its_readers_and_links_resolve(server: LiveServer) -> None:
    alex, maya = client(server, "alex.kim"), client(server, "maya.chen")
    infra = uuids(alex)["infrastructure"]
    team_id = next(t["id"] for t in alex.get("/teams").json()["teams"] if t["name"] == "infrastructure")
    links = {ln["rel"]: ln["href"] for ln in alex.get(f"/teams/{team_id}").json()["links"]}
    assert links["activitystream"] == f"/api/activitystreams/{infra}"
    assert alex.get(links["activitystream"]).status_code == 200
    message_id = post(alex, infra, "to be removed")
    assert alex.get(f"/api/v2/messages/{message_id}").json()["stream"] == infra
    token = maya.headers["Authorization"].split()[1]
    point = maya.get("/api/boot").json()["resume_point"]
    async with SSE(server, token, resume_point=point) as stream:
        r = await asyncio.to_thread(lambda: alex.delete(f"/api/messages/{message_id}"))
        assert r.status_code == 202
        got = await collect(stream, lambda d: (d["type"], d["event"]) == ("message", "deleted"))
    assert got[-1][1]["id"] == message_id
    assert maya.get(f"/api/messages/{message_id}").status_code == 404


def deep(levels: int) -> dict[str, Any]:
    """An object nested `levels` deep: {"a": {"a": ... 1}}."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return dict(value)


def test_data_nesting_is_bounded_at_write(shared: Shared) -> None:
    """`data` may nest 32 objects and lists deep (--esn-data-depth); deeper is 400 (it was stored, and
    reading it then answered 500)."""
    alex, infra = shared.clients["alex.kim"], shared.streams["infrastructure"]

    def send(data: Any) -> httpx.Response:
        body = {"object": {"objectType": "whatsup", "description": "d", "data": data}, "targets": [{"id": infra}]}
        return alex.post("/api/messages", json=body)

    for data in (deep(33), {"list": [[[[1]]]] * 2, "deep": deep(32)}, deep(900)):
        r = send(data)
        assert_error(r, 400)
        assert r.json()["error"]["details"] == "object.data is nested more than 32 levels deep"
    at = send(deep(32))
    assert at.status_code == 201
    message_id = at.json()["_id"]
    assert alex.get(f"/api/messages/{message_id}").json()["data"] == deep(32)
    alex.delete(f"/api/messages/{message_id}")  # the shared stream stays empty for the error cases


def test_a_message_stored_with_deeper_data_still_reads(server: LiveServer) -> None:
    """Data stored before the bound (900 levels) is left out of answers; everything else reads."""
    alex = client(server, "alex.kim")
    infra = uuids(alex)["infrastructure"]
    message_id = post(alex, infra, "deep inside")
    store = server.domain.store
    message = store.read_sync(lambda repo: repo.get_message(message_id))
    assert message is not None
    meta = [{"kind": "esn", "objectType": "whatsup", "attachments": [], "parsers": [], "data": deep(900)}]
    store.write_sync(lambda tx: tx.set_message_attachments(message.pk, meta))
    one = alex.get(f"/api/messages/{message_id}")
    assert one.status_code == 200
    assert one.json()["description"] == "deep inside"
    assert "data" not in one.json()
    assert [m["_id"] for m in alex.get("/api/messages", params={"ids[]": message_id}).json()] == [message_id]
    assert [e["_id"] for e in alex.get(f"/api/activitystreams/{infra}").json()] == [message_id]
    assert alex.get(f"/api/v2/messages/{message_id}").status_code == 200
    assert alex.get("/api/boot").status_code == 200
