"""Names other people see are refused when they carry controls, bidi tricks or invisible
characters, in every dialect that sets one; handles are matched whole; bodies keep every byte."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from server.cli import main as server_main
from server.domain.names import handle_problem, name_problem
from tests.support import LiveServer

# What a hostile teammate puts in a name. Every one must be refused wherever a name is set.
BAD_NAMES = {
    "escape": "Maya\x1b]2;pwned\x07",
    "csi": "Maya\x1b[2J",
    "8-bit csi": "Maya\x9b2J",
    "newline": "Maya\nChen",
    "carriage return": "Maya\rJin",
    "delete": "Maya\x7f",
    "nul": "Maya\x00",
    "rlo": "Maya \u202enehC",
    "isolate": "Maya \u2066Chen\u2069",
    "zero-width space": "Ma\u200bya Chen",
    "bom": "\ufeffMaya",
    "line separator": "Maya\u2028Chen",
    "hangul filler": "Maya\u3164",
}
# Names that look odd but are fine: markup is text, emoji sequences keep their joiners.
GOOD_NAMES = ["Maya Chen [/]", "[@click=app.quit]Jin", "👩\u200d💻 Maya", "Zoë Ångström", "نور"]


@pytest.mark.parametrize(("label", "name"), sorted(BAD_NAMES.items()))
def test_name_problem_names_the_character(label: str, name: str) -> None:
    problem = name_problem(name)
    assert problem is not None, label
    assert "U+" in problem or "line break" in problem


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_pass(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("handle", "says"),
    [
        ("jin.park\n", "not a valid handle"),
        ("jin.park\r\n", "not a valid handle"),
        ("Jin.Park", "use 'jin.park'"),
        ("ｊｉｎ.park", "use 'jin.park'"),  # fullwidth folds (NFKC) to an existing-looking handle
        ("j\u0456n.park", "Cyrillic"),  # a Cyrillic і among Latin letters
        ("\u03b1lex.kim", "Greek"),
        ("jin park", "no spaces"),
        ("", "required"),
        ("x" * 65, "at most 64"),
    ],
)
def test_handles_are_whole_and_plain(handle: str, says: str) -> None:
    problem = handle_problem(handle)
    assert problem is not None
    assert says in problem
    assert handle_problem("jin.park") is None


def test_v2_display_names(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    for label, name in BAD_NAMES.items():
        r = alex.patch("/api/v2/users/alex.kim", json={"display_name": name})
        assert r.status_code == 400, label
        assert r.json()["error"]["code"] == "InvalidDisplayName", label
    assert alex.get("/api/v2/users/alex.kim").json()["display_name"] == "Alex Kim"  # nothing stored
    for name in GOOD_NAMES:
        r = alex.patch("/api/v2/users/alex.kim", json={"display_name": name})
        assert (r.status_code, r.json()["display_name"]) == (200, name)


def test_huddle_ooo_messages(server: LiveServer) -> None:
    maya = server.client("maya.chen")
    for label, text in BAD_NAMES.items():
        r = maya.post("/presence/create", json={"isActive": True, "message": text})
        assert (r.status_code, r.json()["errorCode"]) == (400, "MessageInvalid"), label
    made = maya.post("/presence/create", json={"isActive": True, "message": "[@click=app.quit] back soon"})
    assert made.status_code == 201
    entry = made.json()["id"]
    r = maya.put(f"/presence/maya.chen/{entry}", json={"isActive": True, "message": "back \u202etomorrow"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "MessageInvalid")
    shown = maya.get(f"/presence/maya.chen/{entry}").json()
    assert shown["message"] == "[@click=app.quit] back soon"


def test_convos_subjects(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    jin = alex.get("/api/v2/users/jin.park").json()["id"]
    for label, subject in BAD_NAMES.items():
        r = alex.post("/api/Convo", json={"Participant": jin, "Subject": subject})
        assert (r.status_code, r.headers["X-Result-Code"]) == (400, "1"), label
    made = alex.post("/api/Convo", json={"Participant": jin, "Subject": "standup [b]notes"})
    assert made.status_code == 201
    convo = made.headers["X-URI-Reference"].rsplit("/", 1)[-1]
    r = alex.patch(f"/api/Convo/{convo}", json={"Subject": "x\x1b[31m"})
    assert (r.status_code, r.headers["X-Result-Code"]) == (400, "1")


def test_pilcrow_channels_and_invitations(server: LiveServer) -> None:
    alex = server.client("alex.kim")
    for label, name in BAD_NAMES.items():
        r = alex.post("/api/channels", json={"name": name})
        assert r.status_code == 400, label
        assert r.headers["content-type"].startswith("text/plain")
    invite = alex.post("/api/invite", json={}).json()["id"]
    with httpx.Client(base_url=server.url) as guest:
        for handle in ("jin.park\n", "Jin.Park", "j\u0456n.park", "jin.park\u200b"):
            r = guest.post(f"/api/invite/{invite}", json={"name": handle, "password": "pw"})
            assert r.status_code == 400, repr(handle)
        assert guest.post(f"/api/invite/{invite}", json={"name": "jin.park", "password": "pw"}).status_code == 409
    users = [u["user"] for u in alex.get("/api/v2/users").json()["users"]]
    assert users.count("jin.park") == 1
    assert not [u for u in users if u.strip() != u or ("park" in u and u != "jin.park")]


def test_teams_and_workspaces(server: LiveServer) -> None:
    hr = server.client("hr.admin")
    for label, name in BAD_NAMES.items():
        assert hr.post("/teams", json={"name": name, "members": []}).status_code == 400, label
        assert hr.post("/workspaces", json={"name": name, "members": []}).status_code == 400, label
    team = hr.post("/teams", json={"name": "support", "members": []}).json()["id"]
    r = hr.patch(f"/teams/{team}", json={"name": "sup\u202eport"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "InvalidRequest")
    assert hr.get(f"/teams/{team}").json()["name"] == "support"


def test_bodies_keep_every_byte(server: LiveServer) -> None:
    alex, jin = server.client("alex.kim"), server.client("jin.park")
    body = "log: \x1b[31mred\x1b[0m \u202eevil\u202c \x9b2J [b]x[/b]\ttab"
    sent = alex.post("/api/v2/messages", json={"to": "jin.park", "body": body}).json()
    assert jin.get(f"/api/v2/messages/{sent['message_id']}").json()["body"] == body


def test_load_refuses_bad_names(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    db = tmp_path / "names.db"
    team = tmp_path / "team.toml"
    team.write_text('[[users]]\nhandle = "ada"\ndisplay_name = "Ada\\u001b]2;x\\u0007"\npassword = "pw"\n')
    assert server_main(["load", "--db", str(db), str(team)]) != 0
    team.write_text('[[users]]\nhandle = "ada\\n"\npassword = "pw"\n')
    assert server_main(["load", "--db", str(db), str(team)]) != 0
    team.write_text('[[teams]]\nname = "ops\\u202e"\nmembers = []\n')
    assert server_main(["load", "--db", str(db), str(team)]) != 0
    server = make_server(db=db, team=None)
    assert server.client().get("/api/v2/users").status_code == 401  # nothing was created...
    assert server.domain.store.read_sync(lambda repo: repo.count_users()) == 0  # ...at all
