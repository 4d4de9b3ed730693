"""What tests share: a real server (`LiveServer`), the test team, event-stream readers, a subprocess server."""

from tests.support.live import PASSWORDS, TEAM_TOML, LiveServer, load_team, manual_clock

__all__ = ["PASSWORDS", "TEAM_TOML", "LiveServer", "load_team", "manual_clock"]
