"""The SQLite-only speed-up: the few statements every send and every request runs, run straight on the
sqlite3 connection instead of through SQLAlchemy's execution.

The SQL is still SQLAlchemy's, compiled once per statement; what is skipped is the per-execution
bookkeeping (result metadata, type processors, the connection's event hooks), which cost several
times the statements themselves on the send path. Results come back as they would from SQLAlchemy:
JSON columns decoded and Boolean columns as bools, so rows make the same records (server.store.rows).
Other engines never get here: `FastPath.of(conn)` is None for them and the queries run as usual.

What it earns, measured in one sitting with this module on and off (`FastPath.of` answering None),
three alternating pairs of `python -m bench --only W1,W4`: W4 with 8 senders 1,781 / 2,231 / 1,786
against 1,548 / 1,256 / 1,199 acknowledged sends a second (32 senders: 2,692 / 3,198 / 2,555 against
2,025 / 1,774 / 1,750): with it, about 40 % more sends a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Boolean, Connection
from sqlalchemy.sql import Executable, Insert

Convert = Callable[[Any], Any]


class Compiled:
    """One statement compiled for SQLite, with how its parameters go in and its columns come out."""

    def __init__(self, stmt: Any, conn: Connection, keys: tuple[str, ...]) -> None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys) or None)
        self.compiled = compiled
        self.sql = str(compiled)
        self.positions: tuple[str, ...] = tuple(compiled.positiontup or ())
        table = getattr(stmt, "table", None)
        self.json_in = {c.key for c in table.columns if isinstance(c.type, JSON)} if table is not None else set()
        selected = list(getattr(stmt, "selected_columns", []))
        out: list[tuple[int, Convert]] = []
        for i, column in enumerate(selected):
            if isinstance(column.type, JSON):
                out.append((i, _json))
            elif isinstance(column.type, Boolean):
                out.append((i, _bool))
        self.convert_out = out
        self.plan: tuple[set[str], list[tuple[bool, Any]]] | None = None

    def args(self, params: dict[str, Any]) -> list[Any]:
        """The positional parameters of one execution."""
        plan = self.plan
        if plan is not None and plan[0] == params.keys():
            # Each position is a caller's value or a constant of the statement (`kind = 'dm'`).
            values = [params[key] if mine else key for mine, key in plan[1]]
        else:
            values = self._plan(params)
        return [
            json.dumps(v) if n in self.json_in and v is not None else v
            for n, v in zip(self.positions, values, strict=True)
        ]

    def _plan(self, params: dict[str, Any]) -> list[Any]:
        """The positional values as SQLAlchemy builds them; remember where each came from when
        every one is either the caller's value as given or a constant, so later calls skip this."""
        built = self.compiled.construct_params(params)
        values = [built[n] for n in self.positions]
        steps: list[tuple[bool, Any]] = []
        for n, v in zip(self.positions, values, strict=True):
            if n in params:
                if v is not params[n]:
                    return values  # converted on the way: keep asking SQLAlchemy
                steps.append((True, n))
            else:
                steps.append((False, v))
        self.plan = (set(params), steps)
        return values

    def row(self, raw: tuple[Any, ...]) -> Sequence[Any]:
        """A row as SQLAlchemy would give it (JSON decoded, booleans as bools)."""
        if not self.convert_out:
            return raw
        values = list(raw)
        for i, convert in self.convert_out:
            values[i] = convert(values[i])
        return values


def _json(value: Any) -> Any:
    return None if value is None else json.loads(value)


def _bool(value: Any) -> Any:
    return None if value is None else bool(value)


class FastPath:
    """Prebuilt statements run on the sqlite3 connection under a SQLAlchemy one."""

    # Compiled statements, shared by every transaction (keyed by statement and parameter names).
    _compiled: dict[tuple[int, tuple[str, ...]], Compiled] = {}

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        driver = conn.connection.driver_connection
        assert driver is not None
        self.driver = driver

    @classmethod
    def of(cls, conn: Connection) -> FastPath | None:
        """The fast path of a connection; None unless it is SQLite's."""
        return cls(conn) if conn.dialect.name == "sqlite" else None

    def _run(self, stmt: Executable, params: dict[str, Any]) -> tuple[Compiled, Any]:
        keys = tuple(sorted(params)) if isinstance(stmt, Insert) else ()
        compiled = FastPath._compiled.get((id(stmt), keys))
        if compiled is None:
            compiled = FastPath._compiled[(id(stmt), keys)] = Compiled(stmt, self.conn, keys)
        return compiled, self.driver.execute(compiled.sql, compiled.args(params))

    def first(self, stmt: Executable, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of a prebuilt select, or None."""
        compiled, cursor = self._run(stmt, params)
        raw = cursor.fetchone()
        return None if raw is None else compiled.row(raw)

    def insert(self, stmt: Executable, params: dict[str, Any]) -> int:
        """Run a prebuilt insert; the new row's primary key."""
        _, cursor = self._run(stmt, params)
        return int(cursor.lastrowid)
