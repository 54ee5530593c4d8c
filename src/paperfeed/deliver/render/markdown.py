"""Markdown of comments, rendered safely: markdown-it (CommonMark, raw HTML off) and then
nh3 (ammonia), which keeps only an allow-list of tags and attributes, only http(s) and
mailto links, and marks every link ``rel="nofollow noopener ugc"``. Math (``$…$``,
``$$…$$``) passes through as text in a ``span.math`` for KaTeX, and bare URLs become
links (:mod:`paperfeed.deliver.render.comment_text`)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from paperfeed.deliver.render.comment_text import prepare, restore

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
TAGS = {
    "p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h3", "h4", "h5", "h6", "hr", "del", "span",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}
#: The only classes a span keeps: what comment_text.restore writes around math.
CLASSES = {"span": {"math", "inline", "display"}}


def render_markdown(text: str) -> Markup:
    """Safe HTML for a comment's Markdown."""
    source, maths = prepare(text)
    html = restore(_MD.render(source), maths)
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 (sanitised by nh3 just above)
