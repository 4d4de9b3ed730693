"""The client's config file: TOML read with tomllib, written with tomli-w, mode 0600."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
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


def user_file(directory: Path, server: str, user: str, stem: str) -> Path:
    """A file of this user on this server in the data directory (`outbox-<tag>.json`)."""
    tag = hashlib.sha256(f"{server}|{user}".encode()).hexdigest()[:16]
    return directory / f"{stem}-{tag}.json"


class ConfigError(Exception):
    """The config file cannot be used; the message says why and what to do."""


class Unreadable(ConfigError):
    """The file is there but cannot be read (permissions, a directory): it is left alone."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _text(value: Any) -> str:
    return "" if isinstance(value, str) else f"should be text, not {_shown(value)}"


def _server(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return ""
    return f"should be an address like http://127.0.0.1:8080, not {_shown(value)}"


def _notify(value: Any) -> str:
    return "" if value in NOTIFY_METHODS else f"should be one of {', '.join(NOTIFY_METHODS)}, not {_shown(value)}"


def _hours(value: Any) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return "" if ok else f"should be a number of hours, not {_shown(value)}"


def _tokens(value: Any) -> str:
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return ""
    return f"should be a table of sign-ins, not {_shown(value)}"


# What each setting must look like: a check that says what is wrong ("" when nothing is).
CHECKS: dict[str, Callable[[Any], str]] = {
    "server": _server,
    "user": _text,
    "token": _text,
    "notify": _notify,
    "theme": _text,
    "stale_hours": _hours,
    "tokens": _tokens,
}


def _read(path: Path) -> dict[str, Any]:
    """The file's TOML table; {} when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise Unreadable(f"Huddle cannot read its settings file {path} ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"Your settings file {path} is not a text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Your settings file {path} is not valid TOML ({exc})") from None


def _aside(path: Path) -> Path:
    """A free name next to the file for a copy of it: config.toml.bad, config.toml.bad.2, …"""
    bad = path.with_name(path.name + ".bad")
    n = 1
    while bad.exists() or bad.is_symlink():
        n += 1
        bad = path.with_name(f"{path.name}.bad.{n}")
    return bad


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
    # Every saved sign-in, `user@server` -> token; server, user and token above are the last used.
    tokens: dict[str, str] = field(default_factory=dict)

    def switch(self, server: str, user: str) -> None:
        """Use the sign-in saved for this user on this server (none: sign in), keeping the
        current one for later."""
        self.remember()
        self.server, self.user = server, user
        self.token = self.tokens.get(f"{user}@{server}", "")

    def remember(self) -> None:
        """The current sign-in among the saved ones (a token of "" forgets it)."""
        key = f"{self.user}@{self.server}"
        if self.token and self.user:
            self.tokens[key] = self.token
        else:
            self.tokens.pop(key, None)

    @classmethod
    def _values(cls, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The usable settings, and what is wrong with the others (unknown keys are ignored)."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            if f.name not in data:
                continue
            why = CHECKS[f.name](data[f.name])
            if why:
                problems.append(f"{f.name} {why}")
            else:
                values[f.name] = float(data[f.name]) if f.name == "stale_hours" else data[f.name]
        return values, problems

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        """Read the file (a missing file is a fresh config); ConfigError when it is unusable."""
        path = path or config_path()
        values, problems = cls._values(_read(path))
        if problems:
            raise ConfigError(f"{path}: {'; '.join(problems)}")
        return cls(**values)

    @classmethod
    def recover(cls, path: Path | None = None) -> Loaded:
        """Read the file as well as it can be read; never fails.

        A file that is not TOML is moved aside and Huddle starts afresh; settings of the wrong
        kind fall back to their defaults (the original is moved aside, the rest is kept); a file
        that cannot be read at all is left alone and never written over.
        """
        path = path or config_path()
        try:
            data = _read(path)
        except Unreadable as exc:
            hint = "Huddle starts without it and will not save your settings until you fix or remove it."
            return Loaded(cls(), f"{exc}. {hint}", writable=False)
        except ConfigError as exc:
            return cls._set_aside(path, cls(), str(exc), "Huddle started afresh: sign in again.")
        values, problems = cls._values(data)
        if not problems:
            return Loaded(cls(**values))
        if ({"server", "user"} & data.keys()) - values.keys():
            values.pop("token", None)  # a token belongs to the server and the user it was issued for
        return cls._set_aside(
            path,
            cls(**values),
            f"Your settings file {path} has settings Huddle cannot use: {'; '.join(problems)}",
            "Huddle uses the defaults for those.",
        )

    @classmethod
    def _set_aside(cls, path: Path, config: Config, problem: str, outcome: str) -> Loaded:
        """Keep the broken file as config.toml.bad (nothing is lost) and start from `config`."""
        try:
            bad = _aside(path)
            os.replace(path, bad)
        except OSError as exc:
            hint = f"It could not be moved aside ({exc.strerror or exc}): fix or remove it."
            return Loaded(config, f"{problem}. {hint} {outcome}", writable=False)
        if config != cls():
            with contextlib.suppress(OSError):  # the next save says so
                config.save(path)  # what could be kept is kept, even if the user quits now
        return Loaded(config, f"{problem}. It was moved to {bad.name}. {outcome}")

    def save(self, path: Path | None = None) -> None:
        """Write the file, readable by the owner only (it holds a token)."""
        path = path or config_path()
        self.remember()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(tomli_w.dumps(asdict(self)).encode("utf-8"))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


@dataclass
class Loaded:
    """A config read as well as it could be, and what was wrong with the file (for people)."""

    config: Config
    problem: str = ""
    # False when the file is in the way (unreadable, a directory): Huddle must not write over it.
    writable: bool = True
