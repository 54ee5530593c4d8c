"""XML and text helpers shared by the arXiv sources (API, OAI-PMH, RSS).

Every document from the network is parsed here with :mod:`defusedxml`, so a
hostile entity declaration cannot blow up memory, and every way a document can
be unreadable (cut off mid-download, not well-formed, bytes in another encoding
than declared) becomes one :class:`~paperfeed.errors.SourceError` that says
which and where, instead of a bare ``ParseError`` deep in a run.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import errors as expat_errors

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.models import collapse_whitespace

ATOM = "http://www.w3.org/2005/Atom"
ARXIV_ATOM = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
DC = "http://purl.org/dc/elements/1.1/"
OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_ARXIV = "http://arxiv.org/OAI/arXiv/"
OAI_ARXIV_RAW = "http://arxiv.org/OAI/arXivRaw/"

#: expat errors that mean "the document stopped early" rather than "it is garbled".
_TRUNCATION_ERRORS = frozenset(
    {
        expat_errors.codes[expat_errors.XML_ERROR_NO_ELEMENTS],
        expat_errors.codes[expat_errors.XML_ERROR_UNCLOSED_TOKEN],
        expat_errors.codes[expat_errors.XML_ERROR_PARTIAL_CHAR],
    }
)
_CATEGORY = re.compile(r"^[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def q(namespace: str, tag: str) -> str:
    """The ElementTree (Clark) name of ``tag`` in ``namespace``: ``{ns}tag``."""
    return f"{{{namespace}}}{tag}"


def parse_xml(data: bytes, what: str) -> Element:
    """Parse ``data`` safely and return its root element.

    ``what`` names the document in the error ("arXiv API response", ...).
    Raises :class:`SourceError` when the document is truncated, malformed, not
    in its declared encoding, or uses the entity tricks defusedxml forbids.
    """
    try:
        root: Element = safe_et.fromstring(data)
    except DefusedXmlException as exc:
        raise SourceError(f"{what} refused: forbidden XML construct ({exc})") from exc
    except ParseError as exc:
        raise SourceError(_describe_parse_error(data, what, exc)) from exc
    return root


def _describe_parse_error(data: bytes, what: str, exc: ParseError) -> str:
    encoding = declared_encoding(data)
    try:
        data.decode(encoding)
    except UnicodeDecodeError as bad:
        byte = data[bad.start]
        return (
            f"{what} is not valid {encoding} as it declares: byte 0x{byte:02x} at offset "
            f"{bad.start} (the server sent text in another encoding)"
        )
    except LookupError:
        return f"{what} declares an unknown encoding {encoding!r}"
    line, column = getattr(exc, "position", (0, 0))
    message = str(exc).split(":", 1)[0]
    if getattr(exc, "code", None) in _TRUNCATION_ERRORS or not data.strip():
        return (
            f"{what} is truncated ({message} at line {line}, column {column} of "
            f"{len(data)} bytes); the download was probably cut off"
        )
    return f"{what} is malformed XML: {message} at line {line}, column {column}"


def declared_encoding(data: bytes) -> str:
    """The encoding an XML document declares, ``utf-8`` when it declares none."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    match = _DECLARED_ENCODING.match(data[:200])
    return match.group(1).decode("ascii").lower() if match else "utf-8"


def child_text(parent: Element, name: str) -> str | None:
    """The stripped text of ``parent``'s first child ``name``; ``None`` when absent or blank."""
    node = parent.find(name)
    if node is None:
        return None
    text = "".join(node.itertext()).strip()
    return text or None


def clean(text: str | None) -> str | None:
    """Collapse arXiv's hard-wrapped text to single spaces; ``None`` stays ``None``."""
    if text is None:
        return None
    collapsed = collapse_whitespace(text)
    return collapsed or None


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp (``2026-06-11T17:59:49Z``) as an aware UTC datetime.

    A timestamp without an offset is taken as UTC. Raises ``ValueError`` for a
    malformed or impossible one (``2026-02-30T00:00:00Z``).
    """
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_day(value: str) -> datetime:
    """A ``YYYY-MM-DD`` date as midnight UTC. Raises ``ValueError`` for an impossible one."""
    day = date.fromisoformat(value.strip())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_rfc2822(value: str) -> datetime:
    """An RFC 2822 date (``Mon, 2 Apr 2007 19:18:42 GMT``) as an aware UTC datetime.

    Raises ``ValueError`` for a malformed or impossible one.
    """
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, IndexError) as exc:
        raise ValueError(f"not an RFC 2822 date: {value!r}") from exc
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def ordered_categories(primary: str | None, others: Iterable[str]) -> tuple[str, ...]:
    """Categories without duplicates, the primary first, the rest in source order."""
    seen: dict[str, None] = {}
    if primary:
        seen[primary] = None
    for category in others:
        category = category.strip()
        if category:
            seen.setdefault(category, None)
    return tuple(seen)


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_LEADING_AND = re.compile(r"^and\s+", re.IGNORECASE)
#: Name suffixes that arXiv authors write after a comma ("John Smith, Jr.").
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def split_authors(text: str) -> tuple[str, ...]:
    """Split arXiv's one-string author list into names, in order.

    Handles ``A, B and C``, the Oxford comma ``A, B, and C``, affiliations in
    parentheses (``A (1 and 2), B (1) ((1) CERN, (2) MIT)``, dropped, and never
    split inside), and suffixes written after a comma (``John Smith, Jr.``).
    """
    pieces: list[str] = []
    for chunk in _split_top_level(_strip_parentheses(" ".join(text.split()))):
        pieces.extend(_AND.split(_LEADING_AND.sub("", chunk.strip())))
    names: list[str] = []
    for piece in pieces:
        name = " ".join(piece.split()).strip(" ,;")
        if not name:
            continue
        if names and name.casefold() in _SUFFIXES:
            names[-1] = f"{names[-1]}, {name}"
        else:
            names.append(name)
    return tuple(names)


def _strip_parentheses(text: str) -> str:
    """Drop every parenthesised group (arXiv's affiliation notation), nested ones too."""
    out: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _split_top_level(text: str) -> list[str]:
    """Split on commas and semicolons that are not inside TeX braces."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        if char in ",;" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def check_categories(categories: str | Sequence[str]) -> tuple[str, ...]:
    """The categories as a tuple; :class:`InvalidInputError` unless each looks like ``cs.LG``."""
    cats = (categories,) if isinstance(categories, str) else tuple(categories)
    bad = [c for c in cats if not _CATEGORY.match(c)]
    if not cats or bad:
        shown = bad or "none given"
        raise InvalidInputError(f"not arXiv categories: {shown} (expected e.g. cs.LG)")
    return cats
