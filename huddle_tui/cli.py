"""`huddle` (sign in and chat) and `huddle demo` (a bundled server with a simulated team)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from huddle_tui import untrusted
from huddle_tui.config import Config, config_path

if TYPE_CHECKING:
    from huddle_tui.app import HuddleApp


def _server_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a server address: it should start with http:// or https://")
    return text.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huddle", description="Huddle: presence and chat for your team.")
    parser.add_argument("--server", type=_server_url, help="server URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--user", help="your user name (handle); each user's sign-in is kept (default: the last used)")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="start a bundled server with a demo team and sign in to it")
    demo.add_argument("--port", type=int, default=0, help="port for the demo server (default: a free one)")
    return parser


def client(server: str | None = None, user: str | None = None) -> HuddleApp:
    """The app `huddle` runs: the config file, read as well as it can be, then the command line."""
    from huddle_tui.app import make_app

    path = config_path()
    # A broken config file never stops the client: it says what was wrong (in `notice`) and
    # what it did about it, and shows sign-in.
    loaded = Config.recover(path)
    config = loaded.config
    wanted = ((server or config.server).rstrip("/"), user or config.user)
    if wanted != (config.server.rstrip("/"), config.user):
        config.switch(*wanted)  # that user on that server: their saved sign-in, if any
    return make_app(config, config_file=path if loaded.writable else None, notice=loaded.problem)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `huddle`."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from huddle_tui.demo import run_demo

        return run_demo(port=args.port)
    app = client(args.server, args.user)
    if app.notice:
        # Also before the screen opens, so it stays in the terminal after the client exits.
        print(f"huddle: {untrusted.line(app.notice, limit=2000)}", file=sys.stderr)
    app.run()
    return 0
