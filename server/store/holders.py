"""Which server processes hold an event stream of which user, and which processes are alive: with several
processes on one database, a user whose last stream on one process closed is not away while another
process still holds one."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from server.store import schema as s
from server.store.rows import Queries

_H, _P = s.stream_holders, s.processes


class HolderReads(Queries):
    """Reading stream holders."""

    def streams_elsewhere(self, user_pk: int, process: str, alive_since: int) -> bool:
        """Whether a process other than this one, seen alive since `alive_since`, holds a stream of the user."""
        q = (
            select(_H.c.process)
            .join(_P, _P.c.process == _H.c.process)
            .where(_H.c.user_pk == user_pk, _H.c.process != process, _P.c.seen_at >= alive_since)
            .limit(1)
        )
        return self.conn.execute(q).first() is not None


class HolderWrites(HolderReads):
    """Changing stream holders."""

    def hold_stream(self, process: str, user_pk: int) -> None:
        """This process holds a stream of the user."""
        held = select(_H.c.user_pk).where(_H.c.process == process, _H.c.user_pk == user_pk)
        if self.conn.execute(held).first() is None:
            self.conn.execute(insert(_H).values(process=process, user_pk=user_pk))

    def release_stream(self, process: str, user_pk: int) -> None:
        """This process holds no stream of the user any more."""
        self.conn.execute(delete(_H).where(_H.c.process == process, _H.c.user_pk == user_pk))

    def process_seen(self, process: str, at: int) -> None:
        """This process is alive at `at`."""
        if self.conn.execute(update(_P).where(_P.c.process == process).values(seen_at=at)).rowcount == 0:
            self.conn.execute(insert(_P).values(process=process, seen_at=at))

    def forget_processes(self, before: int, *, keep: str) -> None:
        """Forget processes (but `keep`, the caller) not seen since `before` (they stopped, or were killed)
        and what they held."""
        stale = (_P.c.seen_at < before, _P.c.process != keep)
        self.conn.execute(delete(_H).where(_H.c.process.in_(select(_P.c.process).where(*stale))))
        self.conn.execute(delete(_P).where(*stale))
