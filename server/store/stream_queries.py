"""Queries for ESN activity streams (mixed into Repo)."""

from __future__ import annotations

from sqlalchemy import Connection


class StreamQueries:
    """Table access for activity streams; `conn` is the transaction's connection."""

    conn: Connection
