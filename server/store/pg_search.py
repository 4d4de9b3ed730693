"""Full-text search on PostgreSQL: the same queries as SQLite's FTS5 (server.store.search), matched as
case-insensitive regular expressions on word boundaries over a trigram index.

A query's terms (every word must match; `word*` a prefix; "quoted words" a phrase) become one regular
expression each: `\\mword\\M`, `\\mprefix`, `\\mquoted\\s+words\\M`. PostgreSQL's pg_trgm GIN index
(`CREATE EXTENSION pg_trgm`, trusted since PostgreSQL 13: the database's owner may create it) serves
them for terms of three characters or more; where the extension cannot be had, or for shorter terms,
the matching messages are found by a scan of the viewer's conversations, bounded by SEARCH_TIMEOUT
(past it the query is refused: 400, never a stalled reader). The matches' offsets are found again by
Python's `re` on the page's bodies.

Where it differs from FTS5: a word is a run of letters, digits and `_` (FTS5's unicode61 also splits
on `_` and folds diacritics: `café` does not find `cafe` here), and punctuation inside a term is
matched as written (`don't` finds `don't`, not `don` and `t`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, func, select, text
from sqlalchemy.exc import DBAPIError

from server.model import Message
from server.store import schema as s
from server.store.rows import Queries, columns, records
from server.store.search import Hits, QueryRefused, Span

log = logging.getLogger("huddle.store")
_M = s.messages
_MESSAGE = columns(_M, Message)
INDEX = "ix_messages_body_trgm"
# How long one search may read (the query's count and its page); then it is refused.
SEARCH_TIMEOUT_MS = 2000


def install(conn: Connection) -> bool:
    """The trigram index of message bodies (a migration step); False when pg_trgm cannot be had (search
    then scans, bounded)."""
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(
                text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON messages USING gin (body gin_trgm_ops) WHERE NOT deleted")
            )
    except DBAPIError as exc:
        log.warning("no pg_trgm (%s): search scans the viewer's conversations, bounded", exc.orig)
        return False
    return True


def terms(query: str) -> list[tuple[list[str], bool]]:
    """A query's terms, as FTS5 reads it (server.store.search.expression): the words of each, and
    whether it is a prefix."""
    out: list[tuple[list[str], bool]] = []
    rest = query
    while rest.strip():
        rest = rest.lstrip()
        if rest.startswith('"'):
            phrase, _, rest = rest[1:].partition('"')
            words, prefix = phrase.split(), False
        else:
            word, _, rest = rest.partition(" ")
            words, prefix = ([word[:-1]], True) if word.endswith("*") else ([word], False)
        words = [w for w in words if w]
        if words:
            out.append((words, prefix))
    if not out:
        raise QueryRefused("the query has no words")
    return out


def _sql_pattern(words: list[str], prefix: bool) -> str:
    # re.escape leaves letters and digits alone and puts a backslash before anything else: in
    # PostgreSQL's regular expressions too a backslash before a non-alphanumeric is that character.
    body = r"\s+".join(re.escape(w) for w in words)
    return r"\m" + body + ("" if prefix else r"\M")


def _py_pattern(words: list[str], prefix: bool) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(r"(?<!\w)" + body + ("" if prefix else r"(?!\w)"), re.IGNORECASE)


def spans(body: str, found: list[tuple[list[str], bool]]) -> list[Span]:
    """Where each term matches in a body, in order."""
    out = [(m.start(), m.end()) for words, prefix in found for m in _py_pattern(words, prefix).finditer(body)]
    return sorted(set(out))


class PgSearchReads(Queries):
    """Searching message bodies on PostgreSQL."""

    def search_messages(self, query: str, conversation_pks: Sequence[int], before_pk: int | None, limit: int) -> Hits:
        """Live messages of these conversations matching `query`, newest first, older than before_pk;
        QueryRefused when it has no words or takes longer than SEARCH_TIMEOUT_MS."""
        if not conversation_pks:
            return Hits([], 0)
        found = terms(query)
        where: list[ColumnElement[bool]] = [
            _M.c.conversation_pk.in_(sorted(set(conversation_pks))),
            _M.c.deleted.is_(False),
        ]
        where += [_M.c.body.regexp_match(_sql_pattern(w, p), flags="i") for w, p in found]
        page_where = [*where, _M.c.pk < before_pk] if before_pk is not None else where
        try:
            self.conn.execute(text(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}"))
            total = int(self.conn.execute(select(func.count()).select_from(_M).where(*where)).scalar_one())
            rows = self.conn.execute(select(*_MESSAGE).where(*page_where).order_by(_M.c.pk.desc()).limit(limit))
            page = records(Message, rows)
            self.conn.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled: the timeout
                raise QueryRefused("it takes too long; use longer words") from None
            raise
        return Hits([(m, spans(m.body, found)) for m in page], total)

    def search_index_bytes(self) -> int:
        """The size of the trigram index (a figure for bench W8; 0 without one)."""
        size = self.conn.execute(select(func.coalesce(func.pg_relation_size(func.to_regclass(INDEX)), 0)))
        return int(size.scalar_one())
