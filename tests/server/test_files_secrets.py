"""Files and secrets: the database private to its owner, passwords never on the command line."""

from __future__ import annotations

import getpass
import io
import os
import stat
import sys
from pathlib import Path

import pytest

from server.cli import main
from server.domain.auth import verify_password
from server.settings import default_db_path
from server.store.base import WriteTx
from server.store.sqlite import SqliteStore


def mode(path: Path) -> int:
    """The permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def write_something(store: SqliteStore) -> None:
    """A committed write, so the WAL and shared-memory files exist."""

    def run(tx: WriteTx) -> None:
        tx.set_meta("touched", "yes")

    store.write_sync(run)


def test_a_new_database_is_private(tmp_path: Path) -> None:
    """A new data directory is 0700 and the database, its WAL and shared-memory files 0600 (umask 022)."""
    old = os.umask(0o022)
    try:
        db = tmp_path / "data" / "huddle.db"
        store = SqliteStore(db)
        write_something(store)
        files = {p.name: mode(p) for p in db.parent.iterdir()}
        assert mode(db.parent) == 0o700
        assert files == {"huddle.db": 0o600, "huddle.db-wal": 0o600, "huddle.db-shm": 0o600}
        store.close()
    finally:
        os.umask(old)


def test_an_existing_readable_database_is_tightened(tmp_path: Path) -> None:
    """A database left 0644 (and its -wal and -shm) by an older version is 0600 once opened again."""
    db = tmp_path / "huddle.db"
    store = SqliteStore(db)
    write_something(store)
    companions = [db, db.with_name("huddle.db-wal"), db.with_name("huddle.db-shm")]
    for path in companions:
        path.chmod(0o644)
    other = SqliteStore(db)  # while the first one still holds the WAL open, as a CLI command beside serve does
    try:
        assert [mode(p) for p in companions] == [0o600, 0o600, 0o600]
    finally:
        other.close()
        store.close()


def test_the_default_data_directory_is_made_private(tmp_path: Path) -> None:
    """The default place (under XDG_DATA_HOME here) is Huddle's own: 0700, also when it was 0755 before."""
    team = tmp_path / "team.toml"
    team.write_text('[[users]]\nhandle = "kai.lee"\n')
    folder = default_db_path().parent
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    assert main(["load", str(team)]) == 0
    assert mode(folder) == 0o700
    assert {p.name: mode(p) for p in folder.iterdir() if p.name.startswith("huddle.db")}["huddle.db"] == 0o600
    named = tmp_path / "mine"
    named.mkdir(mode=0o755)
    assert main(["load", "--db", str(named / "huddle.db"), str(team)]) == 0
    assert mode(named) == 0o755  # the operator's directory: only the files are ours
    assert mode(named / "huddle.db") == 0o600


# ---- passwords --------------------------------------------------------------------------------
def run_with_stdin(text: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """main(argv) reading `text` on stdin (not a terminal)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return main(argv)


def test_passwords_are_never_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--password PW` is gone (it showed in ps): the commands refuse it, without repeating what followed it."""
    db = str(tmp_path / "huddle.db")
    for command in (["user", "add", "--db", db, "kai.lee"], ["user", "passwd", "--db", db, "kai.lee"]):
        with pytest.raises(SystemExit) as refused:
            main([*command, "--password", "visible-in-ps"])
        assert refused.value.code == 2
        said = capsys.readouterr().err
        assert "--password is gone" in said
        assert "visible-in-ps" not in said


def test_password_stdin_sets_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--password-stdin reads the first line (without its line end); the password then signs in."""
    db = tmp_path / "huddle.db"
    assert (
        run_with_stdin(
            "pw one\r\nignored\n", ["user", "add", "--db", str(db), "kai.lee", "--password-stdin"], monkeypatch
        )
        == 0
    )
    user = SqliteStore(db)
    try:
        kai = user.read_sync(lambda r: r.get_user_by_handle("kai.lee"))
        assert kai is not None
        assert verify_password("pw one", user.read_sync(lambda r: r.password_hash(kai.pk)))
    finally:
        user.close()
    assert run_with_stdin("", ["user", "passwd", "--db", str(db), "kai.lee", "--password-stdin"], monkeypatch) == 1
    assert "a password is required" in capsys.readouterr().err


def test_without_a_terminal_or_password_stdin_the_command_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No terminal to prompt on and no --password-stdin: nothing is read from a pipe by surprise."""
    code = run_with_stdin("piped\n", ["user", "add", "--db", str(tmp_path / "h.db"), "kai.lee"], monkeypatch)
    assert code == 1
    assert "pipe it in with --password-stdin" in capsys.readouterr().err


def test_the_prompt_asks_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal the password is asked for, and again; two different answers set nothing."""
    answers = iter(["secret-1", "secret-2", "secret-3", "secret-3"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    db = str(tmp_path / "h.db")
    assert main(["user", "add", "--db", db, "kai.lee"]) == 1
    assert "the passwords differ" in capsys.readouterr().err
    assert main(["user", "add", "--db", db, "kai.lee"]) == 0
