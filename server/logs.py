"""Log hygiene: no token ever reaches a log line, whoever logs it (uvicorn, websockets, us)."""

from __future__ import annotations

import logging
import re

# A bearer header, a cookie value, or a token in a query string, as libraries log them:
# `< authorization: Bearer t`, `< cookie: identity=t`, `"WebSocket /api/events?token=t" 401`.
_SECRET = re.compile(
    r"(?i)(authorization\W+(?:bearer\s+)?|x-authorization\W+(?:bearer\s+)?|cookie\W+(?:[^=;\s]+=)"
    r"|[?&;]\s*(?:token|access_token|identity)=)([^\s&;\"',]+)"
)


def redact(text: str) -> str:
    """The text with every credential replaced by `[redacted]`."""
    return _SECRET.sub(lambda m: f"{m.group(1)}[redacted]", text)


class Redact(logging.Filter):
    """Rewrites a record whose message carries a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only its text changes."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_everywhere() -> None:
    """Put the filter on every handler configured so far (records reach handlers by propagation)."""
    known = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, Redact) for f in handler.filters):
                handler.addFilter(Redact())
