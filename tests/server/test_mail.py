"""Reading mail for ESN: what is taken from a message, and the bounds on what is read (in-process)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from server.dialects.esn_mail import MailLimits, parse_email
from server.domain.errors import Invalid

# The ESN reference's own example: no blank line between the headers and the body.
REFERENCE_MAIL = (
    b"From: 'Sender Name' <sender@example.com>\n"
    b"To: 'Receiver Name' <receiver@example.com>\n"
    b"Subject: Hello world!\n"
    b"How are you today?\n"
)


def refused(raw: bytes, limits: MailLimits | None = None) -> Invalid:
    """The 400 a mail gets."""
    with pytest.raises(Invalid) as caught:
        parse_email(raw, limits)
    return caught.value


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_the_reference_example_without_a_blank_line_is_read(eol: bytes) -> None:
    """The first line that is not a header starts the body, as mail software reads it."""
    draft = parse_email(REFERENCE_MAIL.replace(b"\n", eol))
    assert draft.text == "Hello world!\n\nHow are you today?"
    assert draft.meta["email"] == {
        "from": "'Sender Name' <sender@example.com>",
        "to": "'Receiver Name' <receiver@example.com>",
        "subject": "Hello world!",
    }


def test_headers_are_decoded() -> None:
    """Encoded words (any charset), folded lines and raw UTF-8 headers read as text; bad bytes become U+FFFD."""
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9?= <j@example.com>\r\n"
        b"Subject: =?utf-8?b?Y2Fmw6k=?=\r\n =?iso-8859-1?q?caf=E9?= and\r\n\tmore\r\n"
        b"To: \xe6\x97\xa5\xe6\x9c\xac <n@example.com>\r\n"
        b"Date: caf\xe9\r\n"
        b"\r\nbody\r\n"
    )
    draft = parse_email(raw)
    assert draft.text == "cafécafé and\tmore\n\nbody"
    assert draft.meta["email"]["from"] == "José <j@example.com>"
    assert draft.meta["email"]["to"] == "日本 <n@example.com>"
    assert draft.meta["email"]["date"] == "caf\ufffd"


def test_the_body_and_attachments_of_a_multipart_mail() -> None:
    """The text/plain alternative is the text; the other parts are listed (RFC 2231 file names decoded)."""
    mail = EmailMessage()
    mail["From"] = "Jin Park <jin@example.com>"
    mail["Subject"] = "Logs"
    mail.set_content("plain words\n")
    mail.add_alternative("<p>html words</p>", subtype="html")
    mail.add_attachment(b"x" * 300, maintype="application", subtype="gzip", filename="lögs.gz")
    mail.add_attachment("notes\n", filename="notes.txt")
    draft = parse_email(bytes(mail))
    assert draft.text == "Logs\n\nplain words"
    assert draft.meta["attachments"] == [
        {"name": "lögs.gz", "contentType": "application/gzip", "length": 300},
        {"name": "notes.txt", "contentType": "text/plain", "length": 6},
    ]


def test_the_charset_of_the_text_is_honoured() -> None:
    """A declared charset decodes the text; an unknown one is refused."""
    raw = b'From: a@b\r\nContent-Type: text/plain; charset="iso-8859-1"\r\n\r\ncaf\xe9'
    assert parse_email(raw).text == "café"
    assert "unknown charset" in refused(raw.replace(b"iso-8859-1", b"bogus")).message


LIMITS = MailLimits(max_headers=5, max_header_bytes=200, max_encoded_words=3, max_parts=4, max_multiparts=2)


def nested(depth: int) -> bytes:
    """multipart/mixed nested `depth` deep, one text part at the bottom."""
    heads = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    tails = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"From: a@b\r\n" + heads + b"Content-Type: text/plain\r\n\r\nhi" + tails


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"From: a@b\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(5)) + b"\r\nhi", "more than 5 header fields"),
        (b"From: a@b\r\nSubject: " + b"s" * 200 + b"\r\n\r\nhi", "'Subject' header is over 200 bytes"),
        (b"From: a@b\r\nSubject: " + b" ".join([b"=?utf-8?q?a?="] * 4) + b"\r\n\r\nhi", "more than 3 encoded words"),
        (
            b"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\nx\r\n" * 4 + b"--b--\r\n",
            "more than 4 MIME parts",
        ),
        (nested(3), "more than 2 multipart parts"),
    ],
)
def test_each_bound_refuses_a_mail_past_it(raw: bytes, why: str) -> None:
    """Past a bound: 400 MailTooBig, saying which; at it, the mail is read."""
    error = refused(raw, LIMITS)
    assert error.code == "MailTooBig"
    assert why in error.message


def test_a_mail_at_every_bound_is_read() -> None:
    """The same shapes, one less: read."""
    at = [
        b"From: a@b\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(4)) + b"\r\nhi",
        b"From: a@b\r\nSubject: " + b"s" * 190 + b"\r\n\r\nhi",
        b"From: a@b\r\nSubject: " + b" ".join([b"=?utf-8?q?a?="] * 3) + b"\r\n\r\nhi",
        b"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\nx\r\n" * 3 + b"--b--\r\n",
        nested(2),
    ]
    assert [bool(parse_email(raw, LIMITS).text) for raw in at] == [True] * len(at)


def test_the_default_bounds_refuse_the_reviewed_mail_at_once() -> None:
    """A Subject of 20,000 encoded words (273 KiB) is refused by the default bounds, before decoding."""
    raw = b"From: M <m@example.com>\r\nSubject: " + b" ".join([b"=?utf-8?q?a?="] * 20_000) + b"\r\n\r\nhello\r\n"
    assert len(raw) > 273 * 1024
    assert refused(raw).code == "MailTooBig"


@pytest.mark.parametrize(
    ("header", "text"),
    [
        (b"To: " + b'"a\\"' * 3000, "s\n\ntext"),  # quadratic in email.policy.default's address parser
        (b"Content-Type: text/plain; " + b"(a)" * 4000, "s\n\ntext"),  # nested-comment parsing
        (b'Content-Type: text/plain; charset="' + b";" * 12000, None),  # an open quote: get_param rescans per ';'
    ],
)
def test_headers_that_choked_the_structured_parsers_are_read_plainly(header: bytes, text: str | None) -> None:
    """Crafted headers within the bounds: read, or refused as unreadable (the charset `"`), like any other."""
    raw = b"From: a@b\r\nSubject: s\r\n" + header + b"\r\n\r\ntext\r\n"
    if text is None:
        assert refused(raw).code == "InvalidEmail"
    else:
        assert parse_email(raw).text == text
