"""Message bodies as Markdown, drawn as one Content: bold, italics, code, fenced code with
highlighting, quotes, lists, headings. Links always show where they go.

The text comes through the door first (huddle_tui/untrusted.py): no control byte is left
in it. Markdown is then parsed with markdown-it (CommonMark, the parser Textual itself uses)
with HTML off, so nothing in a message is markup for Textual and nothing is raw HTML: a
`<b>` shows as `<b>`. The result is plain Content with styles we chose, never a link target
the reader cannot see: `[docs](https://x)` shows as `docs ⟨https://x⟩`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Name, Number, Operator, String
from pygments.util import ClassNotFound
from textual.content import Content

OPENABLE = ("http://", "https://", "mailto:")  # what `o` may hand to the system opener
CODE = "$text-accent on $boost"
QUOTE_BAR = "▎ "
TOKEN_STYLES = [
    (Comment, "italic $text-muted"),
    (Keyword, "bold $accent"),
    (String, "$success"),
    (Number, "$warning"),
    (Name.Function, "$secondary"),
    (Name.Builtin, "$secondary"),
    (Operator, "$text"),
]


@functools.cache
def _parser() -> MarkdownIt:
    # "breaks": a line break in a chat message is a line break. No HTML, no typographer.
    return MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True}).enable(
        ["strikethrough", "linkify"]
    )


def render(text: str) -> Content:
    """A body (already through the door) as styled Content."""
    if not any(ch in text for ch in "*_`[>#-~<:0123456789+|\\") and "\n" not in text:
        return Content(text)  # most chat lines have no Markdown at all
    try:
        tokens = _parser().parse(text)
    except Exception:  # a parser bug must not cost the reader the message
        return Content(text)
    shown = Content.assemble(*_blocks(tokens))
    while shown.plain.endswith("\n"):
        shown = shown[:-1]
    return shown if shown.plain else Content(text)


def links(text: str) -> list[str]:
    """Where the links of a body go, in order (each once), the ones the opener may open first."""
    try:
        tokens = _parser().parse(text)
    except Exception:
        return []
    found: dict[str, None] = {}
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                found[str(child.attrGet("href") or "")] = None
    return sorted((h for h in found if h), key=lambda h: not h.startswith(OPENABLE))


def _blocks(tokens: list[Token]) -> Iterator[Content]:
    quote = 0
    lists: list[list[int]] = []  # each open list: [its next number], or [] when bulleted
    item = ""  # the bullet or number of a list item's first line
    heading = False
    for token in tokens:
        kind = token.type
        if kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "bullet_list_open":
            lists.append([])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            indent = "  " * (len(lists) - 1)
            counter = lists[-1] if lists else []
            item = f"{indent}{counter[0]}. " if counter else f"{indent}• "
            if counter:
                counter[0] += 1
        elif kind == "heading_open":
            heading = True
        elif kind == "inline":
            body = _inline(token.children or [])
            if heading:
                body = body.stylize("bold")
            if quote:  # every line of a quote carries its bar
                bar = Content.styled(QUOTE_BAR * quote, "$text-muted")
                body = Content("\n").join(Content.assemble(bar, line.stylize("italic")) for line in body.split("\n"))
            yield Content.assemble(item, body, "\n")
            item, heading = "", False
        elif kind in ("fence", "code_block"):
            yield _code(token.content, (token.info or "").strip().split(" ")[0])
        elif kind == "hr":
            yield Content.styled("──────\n", "$text-muted")


def _inline(children: list[Token]) -> Content:
    parts: list[str | tuple[str, str]] = []
    styles: list[str] = []
    links: list[tuple[str, int]] = []  # open links: (target, where their text starts)

    def add(text: str, extra: str = "") -> None:
        style = " ".join(filter(None, [*styles, extra]))
        parts.append((text, style) if style else text)

    def plain() -> str:
        return "".join(p if isinstance(p, str) else p[0] for p in parts)

    for child in children:
        kind = child.type
        if kind in ("text", "html_inline"):  # html is off: should any come, it is text
            add(child.content)
        elif kind in ("softbreak", "hardbreak"):
            add("\n")
        elif kind == "code_inline":
            add(child.content, CODE)
        elif kind in STYLE_OF:
            styles.append(STYLE_OF[kind])
        elif kind in ("strong_close", "em_close", "s_close") and styles:
            styles.pop()
        elif kind == "link_open":
            links.append((str(child.attrGet("href") or ""), len(plain())))
            styles.append("underline")
        elif kind == "link_close" and links:
            styles.pop()
            href, start = links.pop()
            if href and _bare(href) != _bare(plain()[start:]):
                add(f" ⟨{href}⟩", "$text-muted")  # where it goes, always in sight
        elif kind == "image":
            add(f"[image: {child.content or 'image'}] ⟨{child.attrGet('src') or ''}⟩", "$text-muted")
    return Content.assemble(*parts) if parts else Content("")


STYLE_OF = {"strong_open": "bold", "em_open": "italic", "s_open": "strike"}


def _bare(url: str) -> str:
    for scheme in ("mailto:", "https://", "http://"):
        url = url.removeprefix(scheme)
    return url.rstrip("/")


def _code(source: str, language: str) -> Content:
    """A fenced block: each line in the code style, highlighted when the language is known."""
    source = source.rstrip("\n")
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return Content.assemble(*(Content.styled(line or " ", CODE) + "\n" for line in source.split("\n")))
    parts: list[tuple[str, str] | str] = []
    for token_type, value in lexer.get_tokens(source):
        style = next((s for t, s in TOKEN_STYLES if token_type in t), "")
        parts.append((value, f"{style} on $boost".strip()))
    code = Content.assemble(*parts)
    while code.plain.endswith("\n"):
        code = code[:-1]
    return Content.assemble(code, "\n")
