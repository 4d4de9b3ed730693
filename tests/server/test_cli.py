"""huddle-server load | token | user, also while the server runs on the same database."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from server.cli import main
from server.store.open import open_store
from tests.support import TEAM_TOML, LiveServer
from tests.support.events import SSE, collect

MORE = """
[[users]]
handle = "lee.wong"
display_name = "Lee Wong"
password = "lee-pass"
team = "design"

[[channels]]
name = "random"
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every command works the same on a SQLite file and on a PostgreSQL database."""
    return str(request.param)


def snapshot(db: Path | str) -> tuple[object, ...]:
    store = open_store(db)
    try:
        return store.read_sync(
            lambda r: (
                [(u.handle, u.display_name, u.role, u.primary_team_pk) for u in r.list_users()],
                sorted((pk, [t.name for t in ts]) for pk, ts in r.teams_of().items()),
                sorted((pk, [w.name for w in ws]) for pk, ws in r.workspaces_of().items()),
                [c.name for c in r.list_channels()],
                r.max_event_id(),
                [r.password_hash(u.pk) for u in r.list_users()],
            )
        )
    finally:
        store.close()


def test_load_is_idempotent(
    new_db: Callable[[], Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = new_db()
    toml = tmp_path / "team.toml"
    toml.write_text(TEAM_TOML)
    assert main(["load", "--db", str(db), str(toml)]) == 0
    first = snapshot(db)
    assert main(["load", "--db", str(db), str(toml)]) == 0
    assert "changed 0 users, 0 teams, 0 workspaces, 0 channels" in capsys.readouterr().err
    assert snapshot(db) == first  # nothing changed, not even a password hash or an event


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[users]]\nhandle = 'Not Valid!'\n", "not a valid handle"),
        ("[[teams]]\nname = 'x'\nmembers = ['ghost']\n", "no user 'ghost'"),
        ("[[users]]\nhandle = 'a'\ncolour = 'red'\n", "unknown keys: colour"),
        ("[[workspaces]]\nname = 'w'\nstate = 'melted'\n", "workspace state must be one of"),
        ("users = 3\n", "must be an array of tables"),
        ("[[users]\n", "Expected"),
    ],
)
def test_load_refuses_bad_files_clearly(
    new_db: Callable[[], Path | str], tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    assert main(["load", "--db", str(new_db()), str(toml)]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_token_prints_a_working_token(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--db", str(server.settings.db), "maya.chen"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    assert " " not in token
    r = httpx.get(f"{server.url}/api/v2/users/maya.chen", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["user"] == "maya.chen"
    assert main(["token", "--db", str(server.settings.db), "nobody"]) == 1


def with_stdin(text: str, argv: list[str]) -> int:
    """main(argv) with `text` on stdin (passwords come from there, never from arguments)."""
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return main(argv)
    finally:
        sys.stdin = saved


def test_user_add_and_passwd_while_serving(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(server.settings.db)
    add = ["user", "add", "--db", db, "kai.lee", "--password-stdin"]
    assert with_stdin("pw-1\n", [*add, "--display-name", "Kai Lee"]) == 0
    r = httpx.post(f"{server.url}/api/v2/auth/login", json={"user": "kai.lee", "password": "pw-1"})
    assert r.status_code == 200
    token = r.json()["token"]
    assert r.json()["user"]["display_name"] == "Kai Lee"
    assert with_stdin("x\n", add) == 1
    assert "already exists" in capsys.readouterr().err

    assert with_stdin("pw-2\n", ["user", "passwd", "--db", db, "kai.lee", "--password-stdin"]) == 0
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 10  # the server trusts a checked token for a few seconds
    while httpx.get(f"{server.url}/api/v2/users", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "the old token still works after passwd"
        time.sleep(0.25)
    bad = httpx.post(f"{server.url}/api/v2/auth/login", json={"user": "kai.lee", "password": "pw-1"})
    good = httpx.post(f"{server.url}/api/v2/auth/login", json={"user": "kai.lee", "password": "pw-2"})
    assert (bad.status_code, good.status_code) == (401, 200)


async def test_load_while_serving_reaches_subscribers(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server()
    alex = server.client("alex.kim")
    token = alex.headers["Authorization"].split()[1]
    point = alex.get("/api/boot").json()["resume_point"]
    more = tmp_path / "more.toml"
    more.write_text(MORE)
    async with SSE(server, token, resume_point=point) as stream:
        code = await asyncio.to_thread(main, ["load", "--db", str(server.settings.db), str(more)])
        assert code == 0
        got = await collect(stream, lambda d: d["type"] == "channel")
    assert [(d["type"], d["event"], d.get("name")) for _, d in got] == [
        ("user", "created", "lee.wong"),
        ("channel", "created", "random"),
    ]
    boot = alex.get("/api/boot").json()
    assert "lee.wong" in [u["id"] for u in boot["users"]]
    assert [c["name"] for c in boot["channels"]] == ["general", "random"]
