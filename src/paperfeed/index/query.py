"""The search syntax people know, parsed into a :class:`Query` first, then compiled
for each engine (FTS5, tsquery) by the lexical index.

Syntax::

    diffusion transformer          words: any may match, more matches rank higher
    feed-forward                   a hyphenated word matches as a phrase
    "exact phrase"                 must appear as written
    -word   -"some phrase"         must not appear
    author:Vaswani  author:"Ada Lovelace"
    cat:cs.LG   cat:cs             a category, or every category of an archive
    after:2026-01-01  before:2026-02-01   by publication day (inclusive)

Any string parses: what is not syntax is text, and characters that mean
something to a search engine never reach it unquoted. The only error is
:class:`~paperfeed.errors.InvalidQueryError`, with a message for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from paperfeed.errors import InvalidQueryError

#: Longest query accepted (characters); longer input is an invalid query, not a slow one.
MAX_QUERY_CHARS = 1000
#: Most words or phrases one query may hold.
MAX_UNITS = 64

_FILTERS = ("author", "cat", "after", "before")
_TOKEN = re.compile(
    r"""
    (?P<neg>-)?
    (?:(?P<key>[A-Za-z]+):)?
    (?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
#: Words too common to rank by; dropped from the optional terms (kept in phrases, and kept
#: when a query has nothing else), so "a study of the attention" looks for "study attention".
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours
    """.split()  # noqa: SIM905 (a word list reads best as text)
)


@dataclass(frozen=True)
class Query:
    """A parsed search query."""

    text: str
    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    after: date | None = None
    before: date | None = None
    _extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_text(self) -> bool:
        """Whether there is something to look for (not only filters)."""
        return bool(self.terms or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.categories or self.after or self.before)

    @property
    def semantic_text(self) -> str:
        """What the embedding model reads: the words and phrases, in order typed."""
        return " ".join((*self.phrases, *self.terms))

    def with_filters(
        self,
        *,
        authors: tuple[str, ...] = (),
        categories: tuple[str, ...] = (),
        after: date | None = None,
        before: date | None = None,
    ) -> Query:
        """The same query with structured filters added (API parameters)."""
        merged = replace(
            self,
            authors=self.authors + tuple(a for a in authors if a.strip()),
            categories=self.categories + tuple(c for c in categories if c.strip()),
            after=after or self.after,
            before=before or self.before,
        )
        _check_dates(merged)
        return merged


def _words(text: str) -> str:
    """The searchable words of ``text``, space-joined ("" when none)."""
    return " ".join(_WORD.findall(text.lower()))


def _check_dates(query: Query) -> None:
    if query.after and query.before and query.after > query.before:
        raise InvalidQueryError(
            f"after:{query.after.isoformat()} is later than before:{query.before.isoformat()}"
        )


_DAY_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def typed_day(what: str, value: str) -> date:
    """A day as a person types it (YYYY-MM-DD). :class:`InvalidQueryError` (a 400) says
    which is wrong: the shape, or a day that does not exist (``2026-02-30``)."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        if _DAY_SHAPE.match(value):
            raise InvalidQueryError(f"{what}: {value} is not a real date") from exc
        raise InvalidQueryError(
            f"{what}: expected a date as YYYY-MM-DD, got {value[:40]!r}"
        ) from exc


def _day(key: str, value: str) -> date:
    return typed_day(key, value)


def parse_query(text: str) -> Query:
    """Parse what a user typed. Raises :class:`InvalidQueryError` with a readable message."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the query is too long ({len(text):,} characters; at most 1,000)")
    terms: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    authors: list[str] = []
    categories: list[str] = []
    after: date | None = None
    before: date | None = None
    for match in _TOKEN.finditer(text):
        negative = bool(match.group("neg"))
        key = (match.group("key") or "").lower()
        quoted = match.group("quoted")
        raw = quoted if quoted is not None else match.group("bare") or ""
        if key and key not in _FILTERS:
            # "foo:bar" that is not a filter is just text.
            raw = f"{match.group('key')}:{raw}"
            key = ""
        if key == "author":
            if name := " ".join(raw.split()):
                authors.append(name)
            continue
        if key == "cat":
            if cat := raw.strip():
                categories.append(cat)
            continue
        if key in ("after", "before"):
            day = _day(key, raw.strip())
            if key == "after":
                after = day
            else:
                before = day
            continue
        words = _words(raw)
        if not words:
            continue
        if negative:
            excluded.append(words)
        elif quoted is not None:
            phrases.append(words)
        else:
            terms.append(words)
    units = len(terms) + len(phrases) + len(excluded)
    if units > MAX_UNITS:
        raise InvalidQueryError(f"the query has {units} words and phrases; at most {MAX_UNITS}")
    meaningful = [t for t in terms if t not in STOPWORDS]
    if meaningful or phrases:
        terms = meaningful
    query = Query(
        text=text,
        terms=tuple(dict.fromkeys(terms)),
        phrases=tuple(dict.fromkeys(phrases)),
        excluded=tuple(dict.fromkeys(excluded)),
        authors=tuple(authors),
        categories=tuple(categories),
        after=after,
        before=before,
    )
    _check_dates(query)
    return query


def fts5_match(query: Query) -> str | None:
    """The FTS5 MATCH expression: any term (ranked by bm25), every phrase, no excluded.

    Every unit is a quoted FTS5 string of plain words (``\\w+`` only), so no user
    input is ever read as FTS5 syntax. ``None`` when there is nothing to match.
    """
    if not query.has_text:
        return None

    def quote(words: str) -> str:
        return '"' + words.replace('"', '""') + '"'

    parts = []
    if query.terms:
        parts.append("(" + " OR ".join(quote(t) for t in query.terms) + ")")
    parts.extend(quote(p) for p in query.phrases)
    expression = " AND ".join(parts)
    for words in query.excluded:
        expression = f"({expression}) NOT {quote(words)}"
    return expression
