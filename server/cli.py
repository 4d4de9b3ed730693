"""huddle-server serve | load | token | user."""

from __future__ import annotations

import argparse
import gc
import getpass
import logging
import secrets
import socket
import sys
import tomllib
from pathlib import Path

from server.domain.errors import DomainError
from server.settings import Settings, db_arg, default_db_path


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


DB_HELP = (
    f"the SQLite database file (default {default_db_path()}), or a PostgreSQL database "
    "postgresql://USER@HOST:PORT/DB that several server processes share"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huddle-server", description="The Huddle server.")
    sub = parser.add_subparsers(dest="command", required=True)
    d = Settings()

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=d.host)
    serve.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    serve.add_argument("--db", type=db_arg, default=None, help=DB_HELP)
    serve.add_argument("--ring-timeout", type=float, default=d.ring_timeout, help="seconds before no_answer")
    serve.add_argument("--away-after", type=float, default=d.away_after, help="idle seconds before away")
    serve.add_argument(
        "--stream-grace",
        type=float,
        default=d.stream_grace,
        help="seconds after a user's last event stream closes before they are away (a reconnect within it is not)",
    )
    serve.add_argument("--heartbeat", type=int, default=d.heartbeat, help="event stream heartbeat, seconds")
    serve.add_argument("--event-retention", type=float, default=d.event_retention, help="seconds of events kept")
    serve.add_argument("--send-rate", type=int, default=d.send_rate, help="messages per user per minute (0 = off)")
    serve.add_argument(
        "--login-rate",
        type=int,
        default=d.login_rate,
        help="sign-in attempts per minute for one account from one address (0 = off)",
    )
    serve.add_argument(
        "--login-rate-account",
        type=int,
        default=d.login_rate_account,
        help="sign-in attempts per minute for one account from all addresses but those it signed in from (0 = off)",
    )
    serve.add_argument(
        "--login-rate-address",
        type=int,
        default=d.login_rate_address,
        help="sign-in attempts per minute from one address, any account (0 = off)",
    )
    serve.add_argument(
        "--login-tracked-keys",
        type=int,
        default=d.login_tracked_keys,
        help="keys each rate limiter remembers at most (0 = no bound)",
    )
    serve.add_argument(
        "--hash-workers", type=_positive, default=d.hash_workers, help="threads that hash passwords (at least 1)"
    )
    serve.add_argument(
        "--max-streams-per-user", type=int, default=d.max_streams_per_user, help="open event streams (0 = off)"
    )
    serve.add_argument(
        "--max-buffered-bytes",
        type=int,
        default=d.max_buffered_bytes,
        help="bytes of events a stream may have waiting for a slow reader; then it is closed to resume (0 = off)",
    )
    serve.add_argument(
        "--boot-window", type=int, default=d.boot_window, help="newest messages per conversation in boot (0 = all)"
    )
    serve.add_argument(
        "--boot-body-bytes",
        type=int,
        default=d.boot_body_bytes,
        help="longest message body in boot, bytes of UTF-8; longer ones are cut and flagged (0 = off)",
    )
    serve.add_argument(
        "--boot-body-budget",
        type=int,
        default=d.boot_body_budget,
        help="bytes of message bodies in one boot, newest first; older ones come cut (0 = off)",
    )
    serve.add_argument(
        "--max-body-bytes", type=int, default=d.max_body_bytes, help="largest request body, bytes (0 = off)"
    )
    serve.add_argument(
        "--mail-max-headers",
        type=int,
        default=d.mail_max_headers,
        help="header fields of a mail, all MIME parts together (0 = off)",
    )
    serve.add_argument(
        "--mail-max-header-bytes",
        type=int,
        default=d.mail_max_header_bytes,
        help="bytes of one mail header field (0 = off)",
    )
    serve.add_argument(
        "--mail-max-encoded-words",
        type=int,
        default=d.mail_max_encoded_words,
        help="RFC 2047 encoded words in a mail's headers (0 = off)",
    )
    serve.add_argument("--mail-max-parts", type=int, default=d.mail_max_parts, help="MIME parts of a mail (0 = off)")
    serve.add_argument(
        "--mail-max-multiparts",
        type=int,
        default=d.mail_max_multiparts,
        help="multipart parts of a mail, which bound its MIME nesting (0 = off)",
    )
    serve.add_argument(
        "--mail-workers", type=_positive, default=d.mail_workers, help="threads that read mails (at least 1)"
    )
    serve.add_argument(
        "--esn-data-depth",
        type=_positive,
        default=d.esn_data_depth,
        help="how deeply objects and lists may nest in an ESN post's data (at least 1)",
    )
    serve.add_argument(
        "--timeout-keep-alive", type=int, default=d.timeout_keep_alive, help="idle seconds before a connection closes"
    )
    serve.add_argument(
        "--timeout-request",
        type=float,
        default=d.timeout_request,
        help="seconds a client has to send a whole request (0 = off)",
    )
    serve.add_argument(
        "--limit-concurrency",
        type=int,
        default=d.limit_concurrency,
        help="connections or requests in progress before 503 (0 = off)",
    )
    serve.add_argument(
        "--max-head-bytes",
        type=int,
        default=d.max_head_bytes,
        help="largest request head (request line and headers), bytes; then 431 (0 = off)",
    )
    serve.add_argument(
        "--allowed-hosts",
        action="append",
        default=[],
        metavar="NAMES",
        help="host names to answer besides the bound host, localhost and 127.0.0.1, comma-separated, repeatable "
        "(behind a proxy: the public name); other Host headers get 400",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin (https://chat.example.com) whose pages may use the identity cookie besides the server's own; "
        "repeatable",
    )
    serve.add_argument("--synchronous", choices=("FULL", "NORMAL"), default=d.synchronous)
    serve.add_argument("--ssl-certfile", default=None)
    serve.add_argument("--ssl-keyfile", default=None)
    serve.add_argument("--log-level", default="warning")

    load = sub.add_parser("load", help="create users, teams, workspaces and channels from TOML (idempotent)")
    load.add_argument("--db", type=db_arg, default=None, help=DB_HELP)
    load.add_argument("file", type=Path)

    token = sub.add_parser("token", help="print a new bearer token for a user")
    token.add_argument("--db", type=db_arg, default=None, help=DB_HELP)
    token.add_argument("handle")

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user (password asked for, or --password-stdin)")
    add.add_argument("--db", type=db_arg, default=None, help=DB_HELP)
    add.add_argument("handle")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--display-name", default=None)
    add.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    add.add_argument("--password", action=NoPasswordArgument, help=argparse.SUPPRESS)
    passwd = user_sub.add_parser("passwd", help="set a password (asked for, or --password-stdin); revokes tokens")
    passwd.add_argument("--db", type=db_arg, default=None, help=DB_HELP)
    passwd.add_argument("handle")
    passwd.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    passwd.add_argument("--password", action=NoPasswordArgument, help=argparse.SUPPRESS)
    return parser


class CommandError(Exception):
    """The command cannot go on: its message is for the operator."""


class NoPasswordArgument(argparse.Action):
    """`--password PW` of earlier versions: refused with what to do instead, without repeating the password."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        parser.error("--password is gone (every local user could read it in ps): use the prompt or --password-stdin")


# Never an argument: arguments are visible to every local user (ps, /proc/PID/cmdline).
PASSWORD_STDIN = "read the password from the first line of stdin instead of asking for it"


def _read_password(from_stdin: bool) -> str:
    """The password from stdin's first line, or asked for twice on the terminal; "" when none was given."""
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password on: pipe it in with --password-stdin")
    first = getpass.getpass("password: ")
    if first and getpass.getpass("again: ") != first:
        raise CommandError("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    """Entry point of `huddle-server`."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        return _offline(args)
    except DomainError as exc:
        print(f"huddle-server: {exc.message}", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(f"huddle-server: {exc}", file=sys.stderr)
        return 1
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"huddle-server: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # ctrl-c: uvicorn has shut down already; no traceback
        return 130


def _private_data_dir(given: Path | str | None) -> None:
    """Huddle's own data directory (the default database's) is its owner's alone, also when an older
    version made it 0755. A directory named with --db is the operator's: only the files are tightened."""
    folder = default_db_path().parent
    if given is None and folder.is_dir() and folder.stat().st_mode & 0o077:
        try:
            folder.chmod(0o700)
        except PermissionError:
            print(f"huddle-server: {folder} is open to others and not ours to change", file=sys.stderr)


def _offline(args: argparse.Namespace) -> int:
    """Commands that work on the database directly (also while `serve` runs)."""
    from server.dialects.events import render
    from server.domain.core import Domain
    from server.store.open import open_store

    settings = Settings(db=args.db or default_db_path())
    _private_data_dir(args.db)
    store = open_store(settings.db, synchronous=settings.synchronous)
    try:
        domain = Domain(store, settings, render)
        if args.command == "load":
            with args.file.open("rb") as fh:
                data = tomllib.load(fh)
            changed = domain.admin.load(data)
            summary = ", ".join(f"{n} {k}" for k, n in changed.items())
            print(f"loaded {args.file}: changed {summary}", file=sys.stderr)
        elif args.command == "token":
            print(domain.auth.issue_for(args.handle))
        elif args.user_command == "add":
            password = _read_password(args.password_stdin)
            if not password:
                print("huddle-server: a password is required", file=sys.stderr)
                return 1
            domain.admin.add_user(args.handle, password, admin=args.admin, display_name=args.display_name)
            print(f"created {args.handle}", file=sys.stderr)
        else:
            password = _read_password(args.password_stdin)
            if not password:
                print("huddle-server: a password is required", file=sys.stderr)
                return 1
            domain.admin.set_password(args.handle, password)
            print(f"password of {args.handle} changed; its tokens are revoked", file=sys.stderr)
        return 0
    finally:
        store.close()


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; prints `listening on http://HOST:PORT` first."""
    from server.app import Server, uvicorn_config
    from server.embedded import bind
    from server.logs import redact_everywhere

    settings = Settings(
        db=args.db or default_db_path(),
        host=args.host,
        port=args.port,
        ring_timeout=args.ring_timeout,
        away_after=args.away_after,
        stream_grace=args.stream_grace,
        heartbeat=args.heartbeat,
        event_retention=args.event_retention,
        send_rate=args.send_rate,
        login_rate=args.login_rate,
        login_rate_account=args.login_rate_account,
        login_rate_address=args.login_rate_address,
        login_tracked_keys=args.login_tracked_keys,
        hash_workers=args.hash_workers,
        max_streams_per_user=args.max_streams_per_user,
        max_buffered_bytes=args.max_buffered_bytes,
        max_body_bytes=args.max_body_bytes,
        mail_max_headers=args.mail_max_headers,
        mail_max_header_bytes=args.mail_max_header_bytes,
        mail_max_encoded_words=args.mail_max_encoded_words,
        mail_max_parts=args.mail_max_parts,
        mail_max_multiparts=args.mail_max_multiparts,
        mail_workers=args.mail_workers,
        esn_data_depth=args.esn_data_depth,
        timeout_keep_alive=args.timeout_keep_alive,
        timeout_request=args.timeout_request,
        limit_concurrency=args.limit_concurrency,
        max_head_bytes=args.max_head_bytes,
        boot_window=args.boot_window,
        boot_body_bytes=args.boot_body_bytes,
        boot_body_budget=args.boot_body_budget,
        synchronous=args.synchronous,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        allowed_hosts=[name for names in args.allowed_hosts for name in names.split(",") if name.strip()],
        allow_origins=args.allow_origin,
        setup_token=secrets.token_urlsafe(24),
    )
    _private_data_dir(args.db)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Listening before the line is printed: connections made right after it wait in the
    # backlog until the app has started, instead of being refused.
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    scheme = "https" if settings.ssl_certfile else "http"
    host = f"[{settings.host}]" if sock.family == socket.AF_INET6 else settings.host
    server = Server(uvicorn_config(settings, log_level=args.log_level, access_log=False))
    redact_everywhere()  # after uvicorn has set up its handlers
    print(f"listening on {scheme}://{host}:{port}", flush=True)
    # What exists now (the modules, the app) lives as long as the process: frozen, the
    # collector's full passes skip it, instead of walking it all (~30 ms) every few requests.
    gc.freeze()
    server.run(sockets=[sock])
    return 0
