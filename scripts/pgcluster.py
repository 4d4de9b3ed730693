"""A throwaway PostgreSQL for the tests and the benchmarks: Debian's binaries, a cluster in a temporary
directory, a fresh database whenever asked.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and its commands
run through `runuser`. Where the binaries are missing, `Cluster()` raises Missing: the tests that need it
are skipped then, unless HUDDLE_REQUIRE_PG=1 (CI) makes that a failure (tests/conftest.py).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("HUDDLE_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRED = os.environ.get("HUDDLE_REQUIRE_PG") == "1"
USER = "huddle"
# Settings for a cluster that only tests and benchmarks use: nothing of it survives a power cut (the tests
# kill server processes, never the cluster).
_OPTIONS = "-c fsync=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"


class Missing(RuntimeError):
    """PostgreSQL cannot run here."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One PostgreSQL server on 127.0.0.1, its data directory and socket in one temporary directory."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise Missing(f"no PostgreSQL binaries in {BIN} (apt-get install postgresql)")
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise Missing("running as root without runuser: PostgreSQL refuses root")
            self._as = ["runuser", "-u", "postgres", "--"]
        # As root, in /tmp: the postgres user must reach it, which a private TMPDIR of root's would forbid.
        self.dir = Path(tempfile.mkdtemp(prefix="huddle-pg-", dir="/tmp" if self._as else None))
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._run("initdb", "-N", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C")
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 {_OPTIONS}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        # From the cluster's own directory: the postgres user may not enter the caller's (root's home…).
        command = [*self._as, str(BIN / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        """The URL of a database, as `--db` takes it."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
