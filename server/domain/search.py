"""Search: the messages a viewer may see that match a query, newest first, each with an excerpt.

Who sees what is the one rule of server.domain.access: the viewer's DMs and convos, every live
channel, the streams they may read. The store finds the matches (server.store.search).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.domain.access import readable_streams
from server.domain.actors import actor_of
from server.domain.errors import Invalid
from server.domain.messaging import Messaging
from server.domain.views import MessageView
from server.store.base import ReadTx, Store
from server.store.search import QueryRefused

MAX_QUERY = 200
EXCERPT = 160  # characters of a body around its first match
LEAD = 40  # of them, at most this many before it

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Hit:
    """A message found: its view, an excerpt of its body, and where the matches are in the excerpt."""

    view: MessageView
    excerpt: str
    matches: list[Span]


@dataclass(frozen=True, slots=True)
class Found:
    """A page of hits, newest first; every match counted; the cursor to the next page."""

    hits: list[Hit]
    total: int
    next_before: str | None


def check_query(query: Any) -> str:
    """Words to look for: not blank, at most 200 characters."""
    if not isinstance(query, str) or not query.strip():
        raise Invalid("InvalidQuery", "q must hold a word to look for")
    if len(query) > MAX_QUERY:
        raise Invalid("InvalidQuery", f"q is {len(query)} characters; the limit is {MAX_QUERY}")
    return query


def excerpt(body: str, spans: list[Span]) -> tuple[str, list[Span]]:
    """At most EXCERPT characters of a body around its first match (with "…" where cut), and the matches
    that fall inside it, as offsets into the excerpt."""
    first = spans[0][0] if spans else 0
    start = max(0, min(first - LEAD, len(body) - EXCERPT))
    end = min(len(body), start + EXCERPT)
    head = "…" if start > 0 else ""
    text = head + body[start:end] + ("…" if end < len(body) else "")
    shift = len(head) - start
    inside = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return text, inside


class Search:
    """Searching what a viewer may see."""

    def __init__(self, store: Store, messages: Messaging) -> None:
        self.store = store
        self.messages = messages

    async def find(self, viewer_pk: int, query: Any, *, before: str | None = None, limit: int = 30) -> Found:
        """Messages the viewer may see matching `query`, newest first, older than `before` (a message id)."""
        query = check_query(query)

        def run(repo: ReadTx) -> Found:
            viewer = actor_of(repo, viewer_pk)
            convs = {
                c.pk: c
                for c in (
                    *repo.dm_conversations_of(viewer.pk),
                    *repo.convos_of(viewer.pk),
                    *repo.list_channels(),
                    *readable_streams(repo, viewer),
                )
            }
            before_pk = self.messages.visible(repo, viewer, before)[0].pk if before is not None else None
            try:
                hits = repo.search_messages(query, list(convs), before_pk, limit + 1)
            except QueryRefused as exc:
                raise Invalid("InvalidQuery", f"the search engine cannot run this query: {exc}") from None
            page = hits.messages[:limit]
            people = repo.users_by_pk({m.sender_pk for m, _ in page} | {m.recipient_pk or 0 for m, _ in page})
            out = []
            for message, spans in page:
                recipient = people[message.recipient_pk].handle if message.recipient_pk in people else None
                view = MessageView(message, people[message.sender_pk].handle, recipient, convs[message.conversation_pk])
                text, inside = excerpt(message.body, spans)
                out.append(Hit(view, text, inside))
            more = len(hits.messages) > limit
            return Found(out, hits.total, page[-1][0].public_id if more and page else None)

        return await self.store.read(run)
