"""Descriptions as safe Markdown: the one place the UI turns an asset's text into HTML.

markdown-it-py (CommonMark) with raw HTML off (``<script>``, ``<img onerror=...>`` and any
other tag come out as text), links and autolinks only to ``http``, ``https`` and ``mailto``
(``javascript:``, ``data:``, ``vbscript:``, relative and protocol-relative ones stay text),
headings two levels down (the page has its own h1 and h2), no images (they would load from
elsewhere, and the page's CSP allows only its own files: an image becomes a link to it),
links marked ``rel="nofollow ugc noopener"``, and a bounded input (``MAX_CHARS``; longer
text is cut at a line end, with a note).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

MAX_CHARS = 20_000  # of Markdown source per description
MAX_NESTING = 12  # lists in quotes in lists ...: deeper levels stay text
SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"


def safe_link(url: str) -> bool:
    """Only absolute http(s) links with a host and mailto: links (no controls, no spaces)."""
    if not url or any(ord(c) < 0x21 or c in "\\<>\"'`" for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return False
    if scheme == "mailto":
        return bool(parts.path) and "@" in parts.path
    return bool(parts.netloc) and not parts.netloc.startswith("@")


def _heading(tag: str) -> str:
    """A description's headings sit under the page's h1 and its section's h2."""
    return f"h{min(6, int(tag[1:]) + 2)}"


class _Renderer(RendererHTML):
    """Links with rel=nofollow; images rendered as links (no outside loads); headings
    two levels down."""

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children or [], options, env) or src
        if not safe_link(src):
            return str(escape(alt))
        return f'<a href="{escape(src)}" rel="{LINK_REL}">{escape(alt)}</a>'

    def heading_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return "<" + _heading(tokens[idx].tag) + ">"

    def heading_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return "</" + _heading(tokens[idx].tag) + ">\n"

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        tokens[idx].attrSet("rel", LINK_REL)
        return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING},
        renderer_cls=_Renderer,
    )
    md.validateLink = safe_link  # type: ignore[method-assign]
    return md


def _cut(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_CHARS:
        return text, False
    head = text[:MAX_CHARS]
    end = head.rfind("\n")
    return (head[:end] if end > MAX_CHARS // 2 else head), True


def render_markdown(text: Any) -> Markup:
    """The HTML of ``text`` read as Markdown (empty for nothing); safe to put in a page."""
    if not isinstance(text, str) or not text.strip():
        return Markup("")
    source, cut = _cut(text.replace("\r\n", "\n").replace("\x00", "\ufffd"))
    html = _parser().render(source)
    if cut:
        html += '<p class="muted">(The description is longer; the formats menu has all of it.)</p>'
    return Markup(html)  # markdown-it with raw HTML off (above)


def lead_and_rest(text: str | None, lead_chars: int) -> tuple[str, str]:
    """The description split between Markdown blocks (blank lines outside code fences):
    the first blocks (about ``lead_chars``) and the rest (``''`` when nothing is left)."""
    if not text:
        return "", ""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    used = 0
    for at, block in enumerate(blocks):
        if at and used + len(block) > lead_chars:
            return "\n\n".join(blocks[:at]), "\n\n".join(blocks[at:])
        used += len(block)
    return "\n\n".join(blocks), ""
