"""Mail into activity streams (ESN's `POST /api/messages/email`): an RFC 822 message read within bounds,
off the event loop.

A mail is untrusted bytes of up to the body cap (1 MiB). The standard library's structured
header parsers (`email.policy.default`) are quadratic on crafted headers: a Subject of 20,000
encoded words took seconds and gigabytes. So the message is split by the legacy `compat32`
parser (linear: header values stay raw strings) through a policy that counts every header as
the parser reads it and stops the parse past the bounds (MailLimits); then only the few
headers a post needs are decoded, by linear code here. The work runs on a small thread pool
(MailReader), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import collapse_rfc2231_value, decode_params, unquote
from typing import Any

from server.domain.errors import Invalid
from server.domain.streams import Draft, check_text
from server.settings import Settings

# Defects that mean the bytes are not an RFC 822 message at all (others are tolerated). A
# missing blank line between the headers and the body is tolerated: the first line that is not
# a header starts the body, as mail software reads it (the ESN reference's own example has none).
FATAL_DEFECTS = frozenset(
    {
        "NoBoundaryInMultipartDefect",
        "StartBoundaryNotFoundDefect",
        "MultipartInvariantViolationDefect",
    }
)
# An RFC 2047 encoded word: =?charset?B|Q?text?=
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BODY_TYPES = {("text", "plain"), ("text", "html"), ("multipart", "related"), ("multipart", "alternative")}
_KEPT_HEADERS = ("from", "to", "subject", "date", "message-id")


@dataclass(frozen=True, slots=True)
class MailLimits:
    """How much of a mail the server reads (0 = no bound)."""

    # Header fields in the whole message, every MIME part's together.
    max_headers: int = 200
    # One header field, name and value, folded lines joined.
    max_header_bytes: int = 16 * 1024
    # RFC 2047 encoded words (`=?utf-8?q?…?=`) in all header fields together.
    max_encoded_words: int = 200
    # MIME parts of any kind, the message itself included.
    max_parts: int = 100
    # multipart/* parts: each level of MIME nesting is one (the parser's work grows with nesting).
    max_multiparts: int = 10


class _TooBig(Exception):
    """A mail past one of the bounds (raised out of the parser to stop it)."""


class _Budget:
    """What a mail has used of its limits so far."""

    def __init__(self, limits: MailLimits) -> None:
        self.limits = limits
        self.headers = 0
        self.encoded_words = 0
        self.multiparts = 0
        self.parts = 0

    def part(self) -> None:
        """Count one MIME part as the parser starts it; _TooBig past the bound."""
        self.parts += 1
        if self.limits.max_parts and self.parts > self.limits.max_parts:
            raise _TooBig(f"it has more than {self.limits.max_parts} MIME parts")

    def header(self, name: str, value: str) -> None:
        """Count one header field as the parser reads it; _TooBig past a bound."""
        lim = self.limits
        self.headers += 1
        if lim.max_headers and self.headers > lim.max_headers:
            raise _TooBig(f"it has more than {lim.max_headers} header fields")
        if lim.max_header_bytes and len(name) + len(value) + 1 > lim.max_header_bytes:
            raise _TooBig(f"its {name[:40]!r} header is over {lim.max_header_bytes} bytes")
        if "=?" in value:
            for _ in _ENCODED_WORD.finditer(value):
                self.encoded_words += 1
                if lim.max_encoded_words and self.encoded_words > lim.max_encoded_words:
                    raise _TooBig(f"its headers hold more than {lim.max_encoded_words} encoded words")
        if name.strip().lower() == "content-type" and value.lstrip().lower().startswith("multipart/"):
            self.multiparts += 1
            if lim.max_multiparts and self.multiparts > lim.max_multiparts:
                raise _TooBig(f"it has more than {lim.max_multiparts} multipart parts")


class _Counting(Compat32):
    """compat32 (header values kept raw: linear), counting each part and header as the parser reads it."""

    def __init__(self, budget: _Budget) -> None:
        super().__init__()
        # Policies refuse attribute assignment. The parser makes every part with message_factory.
        object.__setattr__(self, "budget", budget)
        object.__setattr__(self, "message_factory", self._new_part)

    def _new_part(self, policy: Compat32) -> Message:
        self.budget.part()  # type: ignore[attr-defined]
        return Message(policy=policy)

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        """Split a header as compat32 does, then count it."""
        name, value = super().header_source_parse(sourcelines)
        self.budget.header(name, value)  # type: ignore[attr-defined]
        return name, value


def _clean(text: str) -> str:
    # Never store surrogates (undecodable bytes); line ends become \n.
    return text.encode("utf-8", "replace").decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _header(part: Message, name: str) -> str | None:
    """A header's raw value as the parser kept it (the first of that name), never parsed."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


# One parameter of a Content-Type or Content-Disposition value: `; name=token` or `; name="quoted"`.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _param(part: Message, header: str, wanted: str) -> str | None:
    """A parameter of a header (RFC 2231 continuations and charsets decoded), read in one linear pass.

    The standard library's get_param rescans the value for every `;` inside an open quote:
    quadratic in a crafted header.
    """
    value = _header(part, header)
    if value is None or "=" not in value:
        return None
    pairs = [("", "")] + [(m[1].lower(), m[2].strip()) for m in _PARAM.finditer(_FOLD.sub("", value))]
    for name, found in decode_params(pairs)[1:]:
        if name == wanted:
            if isinstance(found, tuple):  # (charset, language, quoted text)
                found = (found[0], found[1], unquote(found[2]))
            return collapse_rfc2231_value(found).strip()
    return None


def _raw_text(value: str) -> str:
    """A raw header value as text: 8-bit bytes (kept as surrogates by the parser) read as UTF-8."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return value


def _charset_decode(data: bytes, charset: str | None) -> str:
    if charset is None:  # decode_header's unencoded runs
        return data.decode("raw-unicode-escape")
    try:
        return data.decode(charset.split("*", 1)[0], "replace")  # RFC 2231 adds *language
    except LookupError:
        return data.decode("ascii", "replace")


def header_text(value: str | None) -> str:
    """A header value as a person reads it: unfolded, encoded words decoded (linear in its length)."""
    if value is None:
        return ""
    text = _raw_text(_FOLD.sub("", str(value)))
    if "=?" in text:
        with contextlib.suppress(HeaderParseError, ValueError):  # a broken encoded word stays as written
            text = "".join(_charset_decode(data, charset) for data, charset in decode_header(text))
    return _clean(text)


def _parts(message: Message) -> Iterator[Message]:
    """Every part, depth first, without recursion."""
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment"


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _plain_body(part: Message, depth: int = 0) -> Message | None:
    """The first text/plain part that is not an attachment, as EmailMessage.get_body(("plain",)) finds it."""
    if depth > 100 or _is_attachment(part):
        return None
    maintype, subtype = part.get_content_type().split("/", 1)
    if maintype == "text":
        return part if subtype == "plain" else None
    if maintype != "multipart":
        return None
    subparts = _subparts(part)
    if subtype == "related":
        start = _param(part, "content-type", "start")
        root = next((p for p in subparts if start and _header(p, "content-id") == start), None)
        subparts = [root] if root is not None else subparts[:1]
    for subpart in subparts:
        found = _plain_body(subpart, depth + 1)
        if found is not None:
            return found
    return None


def _attachments(message: Message) -> list[Message]:
    """The parts EmailMessage.iter_attachments lists: a multipart's parts but the first of each body type."""
    maintype, subtype = message.get_content_type().split("/", 1)
    parts = _subparts(message)
    if maintype != "multipart" or subtype == "alternative" or not parts:
        return []
    if subtype == "related":
        start = _param(message, "content-type", "start")
        if start and any(_header(p, "content-id") == start for p in parts):
            return [p for p in parts if _header(p, "content-id") != start]
        return parts[1:]
    seen: set[str] = set()
    out = []
    for part in parts:
        kind = tuple(part.get_content_type().split("/", 1))
        if kind in _BODY_TYPES and not _is_attachment(part) and kind[1] not in seen:
            seen.add(kind[1])
            continue
        out.append(part)
    return out


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = (_param(part, "content-type", "charset") or "us-ascii").lower()
    try:
        return data.decode(charset, "replace")
    except LookupError:
        raise Invalid("InvalidEmail", f"the text is in an unknown charset {charset[:40]!r}") from None


def _file(part: Message) -> dict[str, Any]:
    payload = part.get_payload(decode=True)
    return {
        "name": header_text(_param(part, "content-disposition", "filename") or _param(part, "content-type", "name")),
        "contentType": part.get_content_type(),
        "length": len(payload) if isinstance(payload, bytes) else 0,
    }


def parse_email(raw: bytes, limits: MailLimits | None = None) -> Draft:
    """A post from an RFC 822 message: the Subject and the text/plain body; 400 when malformed or past the limits."""
    if not raw.strip():
        raise Invalid("InvalidEmail", "the body is empty; send an RFC 822 message")
    budget = _Budget(limits or MailLimits())
    try:
        message = BytesParser(policy=_Counting(budget)).parsebytes(raw)
        defects = {type(d).__name__ for part in _parts(message) for d in part.defects}
        fatal = sorted(defects & FATAL_DEFECTS)
        if fatal:
            raise Invalid("InvalidEmail", f"not a well-formed RFC 822 message ({', '.join(fatal)})")
        if _header(message, "from") is None:
            raise Invalid("InvalidEmail", "not an RFC 822 message: it has no From header")
        subject = header_text(_header(message, "subject")).strip()
        body = _plain_body(message)
        text = _clean(_text_of(body)).strip() if body is not None else ""
        files = [_file(part) for part in _attachments(message)]
        headers = {k: header_text(v) for k in _KEPT_HEADERS if (v := _header(message, k))}
    except _TooBig as exc:
        raise Invalid("MailTooBig", f"the message is too big to read: {exc}") from None
    except Invalid:
        raise
    except Exception as exc:  # untrusted bytes: any failure of the parser is the sender's 400
        raise Invalid("InvalidEmail", f"the message cannot be read: {type(exc).__name__}") from None
    if not subject and not text:
        raise Invalid("InvalidEmail", "the message has neither a Subject nor a text/plain part")
    description = f"{subject}\n\n{text}" if subject and text else subject or text
    meta = {"objectType": "whatsup", "attachments": files, "parsers": [], "email": headers}
    return Draft(check_text(description, has_attachments=bool(files)), meta)


class MailReader:
    """Reads mails on its own few threads: the event loop never parses one."""

    def __init__(self, limits: MailLimits, workers: int) -> None:
        self.limits = limits
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="huddle-mail")

    async def read(self, raw: bytes) -> Draft:
        """parse_email on a worker thread; mails beyond the workers wait their turn."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, parse_email, raw, self.limits)

    def close(self) -> None:
        """Stop the workers (a parse under way finishes)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def mail_reader(settings: Settings) -> MailReader:
    """The mail reader of a server with these settings (its bounds and threads)."""
    limits = MailLimits(
        max_headers=settings.mail_max_headers,
        max_header_bytes=settings.mail_max_header_bytes,
        max_encoded_words=settings.mail_max_encoded_words,
        max_parts=settings.mail_max_parts,
        max_multiparts=settings.mail_max_multiparts,
    )
    return MailReader(limits, settings.mail_workers)
