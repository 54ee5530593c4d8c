"""What a comment's Markdown gets before and after markdown-it (#18): math kept whole and
bare URLs made links.

Before: a scan that skips code (fenced blocks and inline code) and existing links finds
``$$…$$`` and ``$…$`` and sets each aside behind a placeholder, so Markdown cannot read a
``_`` or ``*`` inside the math as emphasis, and turns each bare ``http(s)://`` URL into a
CommonMark autolink (``<url>``). After: each placeholder becomes a
``<span class="math inline|display">`` holding the math, delimiters included, as escaped
text, which the page renders with KaTeX (and shows as TeX without JavaScript). The result
still goes through nh3 (:mod:`paperfeed.deliver.render.markdown`): the math is text in a
span, never markup.
"""

from __future__ import annotations

import re
from html import escape

_PLACEHOLDER = "\ue000{}\ue001"
_RESTORE = re.compile("\ue000(\\d+)\ue001")
_SCAN = re.compile(
    r"(?P<fence>^[ \t]*(?P<f>```|~~~)[^\n]*\n[\s\S]*?(?:^[ \t]*(?P=f)[ \t]*$|\Z))"
    r"|(?P<code>(?P<ticks>`+)[\s\S]*?(?P=ticks))"
    r"|(?P<escaped>\\[$\\`<\[])"
    r"|(?P<link>\]\([^)\s]*\)|<[a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*>|^\s{0,3}\[[^\]]+\]:[^\n]*)"
    r"|(?P<display>\$\$(?P<d>[\s\S]+?)\$\$)"
    r"|(?P<inline>\$(?P<i>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?!\d))"
    r"|(?P<url>\bhttps?://[^\s<>\[\]\"'`]+)",
    re.MULTILINE,
)
_TRAILING = ".,;:!?*_~'\""


def _trim_url(url: str) -> tuple[str, str]:
    """The URL without the punctuation that ends its sentence, and that punctuation."""
    end = len(url)
    while end and (
        url[end - 1] in _TRAILING
        or (url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end))
    ):
        end -= 1
    return url[:end], url[end:]


def prepare(text: str) -> tuple[str, list[tuple[str, bool]]]:
    """``text`` with its math behind placeholders and bare URLs as autolinks, and the
    math set aside (source, display?)."""
    maths: list[tuple[str, bool]] = []
    text = text.replace("\ue000", "").replace("\ue001", "")  # only ours are placeholders

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if match.group("display") is not None or match.group("inline") is not None:
            display = match.group("display") is not None
            maths.append((whole, display))
            return _PLACEHOLDER.format(len(maths) - 1)
        if match.group("url") is not None:
            url, rest = _trim_url(whole)
            return f"<{url}>{rest}" if url else whole
        return whole

    return _SCAN.sub(replace, text), maths


def restore(html: str, maths: list[tuple[str, bool]]) -> str:
    """Put the math back into markdown-it's HTML, as escaped text in a span."""

    def put(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number >= len(maths):
            return ""
        source, display = maths[number]
        kind = "display" if display else "inline"
        return f'<span class="math {kind}">{escape(source, quote=False)}</span>'

    return _RESTORE.sub(put, html)
