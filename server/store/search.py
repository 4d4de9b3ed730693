"""Full-text search of message bodies: every FTS5-specific statement of the SQLite store is here.

`messages_fts` is an FTS5 index over `messages.body` with external content (it keeps the words, not
a second copy of the text). Triggers on `messages` keep it in step inside the same transaction as
every write, whichever path wrote (a send, a Convos edit, a delete): a live message is indexed as
it is now, a deleted one not at all. Another engine supplies its own `install` and `SearchReads`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from server.model import Message
from server.store import schema as s
from server.store.rows import Queries, columns, records

_M = s.messages
_MESSAGE = columns(_M, Message)
# Marks highlight() puts around each match; text a body holds anyway is told apart (see _spans).
_OPEN, _CLOSE = "\x02", "\x03"
Span = tuple[int, int]

_INSTALL = (
    # Prefix indexes of 2 and 3 characters: `sta*` over 100,000 messages 129 -> 34 ms (bench W8), the
    # index 3.4 -> 8.9 MiB.
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts"
    " USING fts5(body, content='messages', content_rowid='pk', prefix='2 3')",
    """CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages WHEN new.deleted = 0 BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.pk, new.body);
    END""",
    # An external-content index is told the old text to drop, exactly as it was indexed.
    """CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF body, deleted ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) SELECT 'delete', old.pk, old.body WHERE old.deleted = 0;
        INSERT INTO messages_fts (rowid, body) SELECT new.pk, new.body WHERE new.deleted = 0;
    END""",
    """CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages WHEN old.deleted = 0 BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.pk, old.body);
    END""",
)


class QueryRefused(ValueError):
    """The search engine cannot run this query (no words, or a syntax it refuses)."""


def install(conn: Connection) -> None:
    """Create the index and its triggers (a migration step), indexing the live messages already there."""
    made = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'").first() is None
    for statement in _INSTALL:
        conn.exec_driver_sql(statement)
    if made:
        conn.exec_driver_sql("INSERT INTO messages_fts (rowid, body) SELECT pk, body FROM messages WHERE deleted = 0")
    if sqlite3.sqlite_version_info >= (3, 42):
        # A delete then removes the words from the index's pages at once, not at the next merge.
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1)")


def expression(query: str) -> str:
    """A user's query as an FTS5 expression: every word must match (AND), `word*` is a prefix,
    "quoted words" a phrase. Each term is quoted, so no text is read as an FTS5 operator."""
    terms: list[str] = []
    rest = query
    while rest.strip():
        rest = rest.lstrip()
        if rest.startswith('"'):
            phrase, _, rest = rest[1:].partition('"')
            text, prefix = phrase, False
        else:
            word, _, rest = rest.partition(" ")
            text, prefix = (word[:-1], True) if word.endswith("*") else (word, False)
        if text.strip():
            terms.append('"' + text.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise QueryRefused("the query has no words")
    return " ".join(terms)


def _spans(highlighted: str, body: str) -> list[Span]:
    """The matches highlight() marked, as character offsets into the body."""
    out: list[Span] = []
    j = 0
    start = 0
    for ch in highlighted:
        if j < len(body) and ch == body[j]:
            j += 1
        elif ch == _OPEN:
            start = j
        elif ch == _CLOSE:
            out.append((start, j))
    return out


@dataclass(frozen=True, slots=True)
class Hits:
    """A page of matching messages, newest first, each with its matches' offsets; and how many match."""

    messages: list[tuple[Message, list[Span]]]
    total: int


class SearchReads(Queries):
    """Searching message bodies."""

    def search_messages(self, query: str, conversation_pks: Sequence[int], before_pk: int | None, limit: int) -> Hits:
        """Live messages of these conversations matching `query` (see `expression`), newest first, older
        than before_pk; QueryRefused when the engine cannot run it."""
        if not conversation_pks:
            return Hits([], 0)
        match = expression(query)
        convs = ",".join(str(int(pk)) for pk in set(conversation_pks))
        where = f"messages_fts MATCH ? AND m.conversation_pk IN ({convs}) AND m.deleted = 0"
        source = "FROM messages_fts JOIN messages AS m ON m.pk = messages_fts.rowid"
        page_where = where + (" AND messages_fts.rowid < ?" if before_pk is not None else "")
        params: tuple[object, ...] = (match,) if before_pk is None else (match, before_pk)
        try:
            total = int(self.conn.exec_driver_sql(f"SELECT count(*) {source} WHERE {where}", (match,)).scalar_one())
            pks = [
                int(r[0])
                for r in self.conn.exec_driver_sql(
                    f"SELECT m.pk {source} WHERE {page_where} ORDER BY messages_fts.rowid DESC LIMIT ?",
                    (*params, limit),
                )
            ]
            marked = self._highlighted(match, pks)
        except DBAPIError as exc:  # FTS5 refused the expression (e.g. a term it cannot tokenize)
            raise QueryRefused(str(exc.orig)) from None
        found = {m.pk: m for m in records(Message, self.conn.execute(select(*_MESSAGE).where(_M.c.pk.in_(pks))))}
        page = [(found[pk], _spans(marked.get(pk, ""), found[pk].body)) for pk in pks if pk in found]
        return Hits(page, total)

    def _highlighted(self, match: str, pks: list[int]) -> dict[int, str]:
        if not pks:
            return {}
        listed = ",".join(str(pk) for pk in pks)
        rows = self.conn.exec_driver_sql(
            f"SELECT rowid, highlight(messages_fts, 0, '{_OPEN}', '{_CLOSE}') FROM messages_fts"
            f" WHERE messages_fts MATCH ? AND rowid IN ({listed})",
            (match,),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    def search_index_bytes(self) -> int:
        """The size of the search index's pages (a figure for bench W8)."""
        row = self.conn.exec_driver_sql("SELECT sum(length(block)) FROM messages_fts_data").scalar_one()
        return int(row or 0)
