"""Server settings: what `huddle-server serve` flags set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir


def default_db_path() -> Path:
    """The database under the platform data directory."""
    return Path(user_data_dir("huddle", appauthor=False)) / "huddle.db"


def db_arg(text: str) -> Path | str:
    """A --db value: a PostgreSQL URL stays as given (a Path would fold its `//`), anything else is a file."""
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return text
    return Path(text)


@dataclass
class Settings:
    """Everything that shapes a running server."""

    # A SQLite file, or a PostgreSQL URL (`postgresql://USER@HOST:PORT/DB`) for several processes.
    db: Path | str = field(default_factory=default_db_path)
    host: str = "127.0.0.1"
    port: int = 8080
    ring_timeout: float = 30.0
    away_after: float = 300.0
    # A user whose last event stream closed is away after this many seconds without a new one.
    stream_grace: float = 5.0
    heartbeat: int = 30
    event_retention: float = 604_800.0
    # Limits (0 = off).
    send_rate: int = 600  # messages per user per minute
    # Sign-in attempts per minute, counted before the password is checked (a success is taken
    # back): per account from one address; per account from anywhere (not from addresses that
    # signed in to it before); per address whatever the account.
    login_rate: int = 10
    login_rate_account: int = 100
    login_rate_address: int = 100
    # Keys each rate limiter tracks at most (the least recently hit is forgotten first).
    login_tracked_keys: int = 100_000
    # Threads that compute password hashes (scrypt; the event loop never does).
    hash_workers: int = 1
    max_streams_per_user: int = 20
    # Bytes of events one stream may have waiting for a reader that does not keep up; past it the
    # stream is closed and its client resumes from its last id.
    max_buffered_bytes: int = 4 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    # Mail (`POST /api/messages/email`): header fields in the whole message, bytes of one
    # header field, RFC 2047 encoded words in all headers, MIME parts, multipart parts (each
    # level of nesting is one); past one, 400.
    mail_max_headers: int = 200
    mail_max_header_bytes: int = 16 * 1024
    mail_max_encoded_words: int = 200
    mail_max_parts: int = 100
    mail_max_multiparts: int = 10
    # Threads that read mails (the event loop never does); more mails wait their turn.
    mail_workers: int = 1
    # How deeply objects and lists may nest in an ESN post's `data` (deeper: 400 at write,
    # left out of answers when stored earlier).
    esn_data_depth: int = 32
    # Connections: idle keep-alive connections close after timeout_keep_alive seconds (0: after
    # each answer); a request must arrive whole within timeout_request seconds of its first
    # byte, or of connecting (slowloris); past limit_concurrency connections or requests in
    # progress, uvicorn answers 503.
    timeout_keep_alive: int = 30
    timeout_request: float = 20.0
    limit_concurrency: int = 10_000
    # A request head (request line and headers) over this many bytes: 431, connection closed.
    max_head_bytes: int = 64 * 1024
    # Boot carries the newest this-many messages of each conversation (0 = all of them), each body
    # cut to boot_body_bytes of UTF-8, all bodies together to boot_body_budget (newest first; 0 = off).
    boot_window: int = 50
    boot_body_bytes: int = 4096
    boot_body_budget: int = 1024 * 1024
    # Durability: FULL survives power loss; NORMAL a process crash only.
    synchronous: str = "FULL"
    # How often the server checks ring timeouts, away flips and retention.
    tick_seconds: float = 1.0
    # How long a token lives without use.
    token_ttl: float = 30 * 86_400.0
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # Same-site: host names answered besides the bound host and loopback; origins besides the
    # server's own whose pages may use the identity cookie (server.dialects.origins).
    allowed_hosts: list[str] = field(default_factory=list)
    allow_origins: list[str] = field(default_factory=list)
    # A one-time token that lets POST /api/setup come from elsewhere than loopback (set by serve).
    setup_token: str | None = None
