"""The client's config file: TOML read with tomllib, written with tomli-w, mode 0600."""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w
from platformdirs import user_config_dir, user_data_dir

NOTIFY_METHODS = ("osc", "notify-send", "bell", "off")


def config_path() -> Path:
    """Where the config file lives."""
    return Path(user_config_dir("huddle", appauthor=False)) / "config.toml"


def data_dir() -> Path:
    """Where the outbox and other client data live."""
    return Path(user_data_dir("huddle", appauthor=False))


class ConfigError(Exception):
    """The config file cannot be used; the message says why and what to do."""


@dataclass
class Config:
    """What the client remembers between runs."""

    server: str = "http://127.0.0.1:8080"
    user: str = ""
    token: str = ""
    # Desktop notifications: OSC 9/777 escape codes, notify-send, only the bell, or nothing.
    notify: str = "osc"
    theme: str = "textual-dark"
    # Hint when someone you wrote to has unread messages and was last seen longer ago than this.
    stale_hours: float = 4.0

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        """Read the file (a missing file is a fresh config); ConfigError when it is unusable."""
        path = path or config_path()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); fix it or delete it to start over") from None
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            default = getattr(cls(), key)
            if not isinstance(value, type(default)) and not (isinstance(default, float) and isinstance(value, int)):
                raise ConfigError(f"{path}: {key} should be {type(default).__name__}, not {value!r}")
            values[key] = value
        config = cls(**values)
        if config.notify not in NOTIFY_METHODS:
            raise ConfigError(f"{path}: notify must be one of {', '.join(NOTIFY_METHODS)}")
        return config

    def save(self, path: Path | None = None) -> None:
        """Write the file, readable by the owner only (it holds a token)."""
        path = path or config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(tomli_w.dumps(asdict(self)).encode("utf-8"))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
