"""Tables, in SQLAlchemy Core, and the schema's migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Integers are 64-bit on PostgreSQL (times are microseconds since the epoch); on SQLite INTEGER already
# is, and an INTEGER PRIMARY KEY must stay so to remain the rowid.
Int = Integer().with_variant(BigInteger(), "postgresql")

users = Table(
    "users",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("handle", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", String(16), nullable=False, default="member"),
    Column("password_hash", Text, nullable=True),
    Column("auto_status", String(16), nullable=False, default="away"),
    Column("status_override", String(32), nullable=True),
    Column("last_seen", Int, nullable=True),
    Column("hide_last_seen", Boolean, nullable=False, default=False),
    Column("primary_team_pk", Int, nullable=True),
    Column("status_updated_by", Int, nullable=True),
    Column("status_updated_at", Int, nullable=True),
    Column("created_at", Int, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("creator_pk", Int, nullable=True),
    Column("created_at", Int, nullable=False),
    Column("stream_uuid", String(36), nullable=False, unique=True),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("state", String(16), nullable=False, default="active"),
    Column("creator_pk", Int, nullable=True),
    Column("created_at", Int, nullable=False),
    Column("stream_uuid", String(36), nullable=False, unique=True),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_pk", Int, ForeignKey("teams.pk"), nullable=False),
    Column("user_pk", Int, ForeignKey("users.pk"), nullable=False),
    PrimaryKeyConstraint("team_pk", "user_pk"),
    Index("ix_team_members_user", "user_pk"),
)

workspace_members = Table(
    "workspace_members",
    metadata,
    Column("workspace_pk", Int, ForeignKey("workspaces.pk"), nullable=False),
    Column("user_pk", Int, ForeignKey("users.pk"), nullable=False),
    PrimaryKeyConstraint("workspace_pk", "user_pk"),
    Index("ix_workspace_members_user", "user_pk"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("public_id", String(64), nullable=True, unique=True),
    Column("user_a", Int, nullable=True),
    Column("user_b", Int, nullable=True),
    Column("name", Text, nullable=True),
    Column("name_key", Text, nullable=True, unique=True),
    Column("subject", Text, nullable=True),
    Column("creator_pk", Int, nullable=True),
    Column("owner_team_pk", Int, nullable=True),
    Column("owner_workspace_pk", Int, nullable=True),
    Column("created_at", Int, nullable=False),
    Column("updated_at", Int, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_conversations_pair", "kind", "user_a", "user_b"),
)

messages = Table(
    "messages",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("public_id", String(40), nullable=False, unique=True),
    Column("conversation_pk", Int, ForeignKey("conversations.pk"), nullable=False),
    Column("sender_pk", Int, nullable=False),
    Column("recipient_pk", Int, nullable=True),
    Column("body", Text, nullable=False),
    Column("parent_pk", Int, nullable=True),
    Column("attachments", JSON, nullable=True),
    Column("created_at", Int, nullable=False),
    Column("read_at", Int, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("edited_at", Int, nullable=True),
    Index("ix_messages_conversation", "conversation_pk", "pk"),
    Index("ix_messages_recipient_unread", "recipient_pk", "read_at"),
    Index("ix_messages_sender", "sender_pk", "pk"),
)

# One row a reaction; `pk` keeps the order people reacted in.
reactions = Table(
    "reactions",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("message_pk", Int, nullable=False),
    Column("emoji", String(128), nullable=False),
    Column("user_pk", Int, nullable=False),
    Column("at", Int, nullable=False),
    UniqueConstraint("message_pk", "emoji", "user_pk"),
    Index("ix_reactions_message", "message_pk", "pk"),
)

read_markers = Table(
    "read_markers",
    metadata,
    Column("conversation_pk", Int, nullable=False),
    Column("reader_pk", Int, nullable=False),
    Column("message_pk", Int, nullable=False),
    Column("read_at", Int, nullable=False),
    PrimaryKeyConstraint("conversation_pk", "reader_pk"),
)

calls = Table(
    "calls",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("public_id", String(40), nullable=False, unique=True),
    Column("caller_pk", Int, nullable=False),
    Column("callee_pk", Int, nullable=False),
    Column("type", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Int, nullable=False),
    Column("answered_at", Int, nullable=True),
    Column("ended_at", Int, nullable=True),
    Index("ix_calls_status", "status"),
    Index("ix_calls_callee", "callee_pk", "status"),
    Index("ix_calls_caller", "caller_pk"),
)

ooo_entries = Table(
    "ooo_entries",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("user_pk", Int, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("start_date", Int, nullable=True),
    Column("end_date", Int, nullable=True),
    Column("message", Text, nullable=True),
    Column("created_at", Int, nullable=False),
    Index("ix_ooo_user", "user_pk"),
    # Entries are deleted for good; their ids are never given out again (audits and old links
    # name them). Databases of version 1 are rebuilt so (sqlite.py, migration 2).
    sqlite_autoincrement=True,
)

audits = Table(
    "audits",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("user_pk", Int, nullable=False),
    Column("audit_type", String(16), nullable=False),
    Column("at", Int, nullable=False),
    Column("context", Text, nullable=False),
    Index("ix_audits_user", "user_pk", "pk"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("user_pk", Int, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Int, nullable=False),
    Column("last_used_at", Int, nullable=False),
    Column("revoked_at", Int, nullable=True),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("user_pk", Int, nullable=False),
    Column("key", String(255), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Int, nullable=False),
    PrimaryKeyConstraint("user_pk", "key"),
)

events = Table(
    "events",
    metadata,
    Column("id", Int, primary_key=True, autoincrement=True),
    Column("at", Int, nullable=False),
    Column("variants", JSON, nullable=False),
    # The public id of the message whose body the event carries (`message sent`, `message
    # updated`): deleting the message rewrites these events without it.
    Column("message_id", String(40), nullable=True),
    Index("ix_events_message", "message_id"),
    sqlite_autoincrement=True,
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    UniqueConstraint("key"),
)

invites = Table(
    "invites",
    metadata,
    Column("pk", Int, primary_key=True),
    Column("public_id", String(40), nullable=False, unique=True),
    Column("issuer_pk", Int, nullable=False),
    Column("issued_at", Int, nullable=False),
    Column("used_at", Int, nullable=True),
    Column("used_by", Int, nullable=True),
)

# Server processes on this database (several on PostgreSQL) and which of them hold an event stream of
# which user (server/store/holders.py). A process's id is new at each start.
processes = Table(
    "processes",
    metadata,
    Column("process", String(32), primary_key=True),
    Column("seen_at", Int, nullable=False),
)

stream_holders = Table(
    "stream_holders",
    metadata,
    Column("process", String(32), nullable=False),
    Column("user_pk", Int, nullable=False),
    PrimaryKeyConstraint("process", "user_pk"),
    Index("ix_stream_holders_user", "user_pk"),
)

# The schema version this code writes. Migration N brings a database from N-1 to N.
# 2: ooo_entries ids are never reused (AUTOINCREMENT).
# 3: messages.edited_at, events.message_id, the search index (server/store/search.py).
SCHEMA_VERSION = 3
