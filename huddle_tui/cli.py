"""`huddle` (sign in and chat) and `huddle demo` (a bundled server with a simulated team)."""

from __future__ import annotations

import argparse
import sys

from huddle_tui.config import Config, ConfigError, config_path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huddle", description="Huddle: presence and chat for your team.")
    parser.add_argument("--server", help="server URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--user", help="your user name (handle)")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="start a bundled server with a demo team and sign in to it")
    demo.add_argument("--port", type=int, default=0, help="port for the demo server (default: a free one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `huddle`."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from huddle_tui.demo import run_demo

        return run_demo(port=args.port)
    from huddle_tui.app import make_app

    path = config_path()
    try:
        config = Config.load(path)
    except ConfigError as exc:
        print(f"huddle: {exc}", file=sys.stderr)
        return 2
    if args.server and args.server.rstrip("/") != config.server.rstrip("/"):
        config.server, config.token = args.server.rstrip("/"), ""
    if args.user and args.user != config.user:
        config.user, config.token = args.user, ""
    make_app(config, config_file=path).run()
    return 0
