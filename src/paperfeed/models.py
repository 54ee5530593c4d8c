"""Plain data shared by every layer: no I/O here.

A :class:`Paper` is what every ingestion source produces and what the store
keeps. Its identity is the arXiv id *without* version (``2606.13677``,
``hep-th/9901001``); a paper without an arXiv id (a title-only listing) is
matched by DOI or by its normalised title instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache

#: New-style (0704.0001 .. 2606.13677) and old-style (hep-th/9901001) arXiv ids,
#: with an optional version suffix.
_ARXIV_ID = re.compile(
    r"^(?P<base>(?:\d{4}\.\d{4,5})|(?:[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7}))(?:v(?P<version>\d+))?$"
)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf|html)/(?P<id>[^?#\s]+?)(?:\.pdf)?/?(?:[?#].*)?$")


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return ``(base_id, version)`` for an arXiv id, an ``oai:arXiv.org:`` id or a URL.

    >>> split_arxiv_id("2606.13677v2")
    ('2606.13677', 2)
    >>> split_arxiv_id("http://arxiv.org/abs/hep-th/9901001v1")
    ('hep-th/9901001', 1)

    Raises ``ValueError`` for anything that is not an arXiv identifier.
    """
    text = raw.strip()
    match_url = _ARXIV_URL.search(text)
    if match_url:
        text = match_url.group("id")
    for prefix in ("oai:arXiv.org:", "arXiv:", "arxiv:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    match = _ARXIV_ID.match(text)
    if not match:
        raise ValueError(f"not an arXiv identifier: {raw[:80]!r}")
    version = match.group("version")
    return match.group("base"), int(version) if version else None


_NOT_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)
def normalise_title(title: str) -> str:
    """The key two titles share when they name the same paper.

    Case, accents, TeX braces, punctuation and whitespace are ignored.
    """
    if title.isascii():
        text = title.lower()
    else:
        text = unicodedata.normalize("NFKD", title)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NOT_WORD.sub(" ", text).strip()


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def collapse_whitespace(text: str) -> str:
    """Join the hard-wrapped lines arXiv sends into one line per paragraph."""
    if _PARAGRAPH_BREAK.search(text) is None:
        return " ".join(text.split())
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


@dataclass(frozen=True, slots=True)
class Version:
    """One arXiv version of a paper."""

    number: int
    submitted_at: datetime | None = None
    size: str | None = None


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper's metadata as one source saw it.

    ``featured_on`` is the day the paper is on the hub's daily list, distinct
    from arXiv's dates; ``upvotes`` are those imported from a source (such as
    Hugging Face), not the hub's own votes.

    Fields from a Hugging Face ``/api/daily_papers`` item (``paper.X`` is the item's
    paper object, ``X`` the item itself):

    * ``keywords``: ``paper.ai_keywords``; ``code_url``: ``paper.githubRepo``;
      ``project_url``: ``paper.projectPage``; ``upvotes``: ``paper.upvotes``;
      ``published_at``: ``paper.publishedAt`` (the arXiv date).
    * ``ai_summary`` / ``ai_summary_model``: ``paper.ai_summary`` / ``paper.ai_summary_model``.
    * ``github_stars``: ``paper.githubStars``.
    * ``organization`` / ``organization_fullname``: ``paper.organization.name`` /
      ``.fullname`` (the HF organization's handle and display name).
    * ``submitted_by`` / ``submitted_by_fullname``: the HF user who put the paper on the
      daily list, ``submittedBy`` / ``paper.submittedOnDailyBy`` (``user``, else
      ``name``) and its ``fullname``.
    * ``discussion_id``: ``paper.discussionId``; ``num_comments``: ``numComments``;
      ``thumbnail_url``: ``thumbnail``.
    * ``submitted_on_daily_at``: ``paper.submittedOnDailyAt`` (else the item's own);
      ``listed_at``: the item's ``publishedAt``, the moment the list published it.
    * ``featured_on``: the list day (the archive's ``featured_on``, else the day of
      ``submittedOnDailyAt``, else of ``listed_at``).
    """

    title: str
    abstract: str
    arxiv_id: str | None = None
    version: int | None = None
    versions: tuple[Version, ...] = ()
    doi: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    license: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    keywords: tuple[str, ...] = ()
    featured_on: date | None = None
    upvotes: int | None = None
    source: str = "unknown"
    ai_summary: str | None = None
    ai_summary_model: str | None = None
    github_stars: int | None = None
    organization: str | None = None
    organization_fullname: str | None = None
    submitted_by: str | None = None
    submitted_by_fullname: str | None = None
    discussion_id: str | None = None
    num_comments: int | None = None
    thumbnail_url: str | None = None
    submitted_on_daily_at: datetime | None = None
    listed_at: datetime | None = None

    @property
    def title_key(self) -> str:
        return normalise_title(self.title)

    @property
    def key(self) -> str:
        """A human-readable handle: the arXiv id, else the DOI, else the title."""
        return self.arxiv_id or self.doi or self.title[:80]

    def with_web_links(self) -> Paper:
        """This paper with every link that is not http(s) (``javascript:``, ``data:``,
        ``vbscript:``, ...) set to None: see :func:`web_link`."""
        links = (self.abs_url, self.pdf_url, self.code_url, self.project_url, self.thumbnail_url)
        abs_url, pdf_url, code_url, project_url, thumbnail_url = map(web_link, links)
        if (abs_url, pdf_url, code_url, project_url, thumbnail_url) == links:
            return self
        return replace(
            self,
            abs_url=abs_url,
            pdf_url=pdf_url,
            code_url=code_url,
            project_url=project_url,
            thumbnail_url=thumbnail_url,
        )

    def with_arxiv_links(self) -> Paper:
        """Fill the abs / PDF links from the arXiv id where a source gave none."""
        if not self.arxiv_id or (self.abs_url and self.pdf_url):
            return self
        return replace(
            self,
            abs_url=self.abs_url or f"https://arxiv.org/abs/{self.arxiv_id}",
            pdf_url=self.pdf_url or f"https://arxiv.org/pdf/{self.arxiv_id}",
        )


_WEB_LINK = re.compile(r"https?://[^\x00-\x20\x7f]+", re.IGNORECASE)


def web_link(url: str | None) -> str | None:
    """``url`` (trimmed) when it is an http or https link, else None.

    Links come from upstream (arXiv, RSS, Hugging Face); only http(s) ones may become an
    ``href``: ``javascript:``, ``data:`` and ``vbscript:`` links, however spelt, run code
    in the reader's browser. Ingestion drops them and reading a stored paper does too.
    """
    if url is None:
        return None
    url = url.strip()
    return url if _WEB_LINK.fullmatch(url) else None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record a source could not turn into a :class:`Paper`, or that failed validation.

    ``position`` is the record's 1-based place in the source (line, entry or
    record number), so the reader can find it.
    """

    position: int
    reason: str
    ident: str | None = None

    def __str__(self) -> str:
        where = f"#{self.position}" + (f" ({self.ident})" if self.ident else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """One record from a source: a paper or a rejection, with where the source stands after it.

    ``cursor`` is an opaque string from which the source can resume *after*
    this record (``None`` when the source cannot resume mid-way).
    """

    item: Paper | Rejection
    position: int
    cursor: str | None = None


@dataclass(slots=True)
class IngestReport:
    """What one ingestion run did.

    Counts add up: fetched = new + updated + unchanged + merged + rejected.
    """

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    resumed_from: str | None = None
    completed: bool = False
    error: str | None = None

    #: Keep at most this many rejection / merge lines in memory; counts stay exact.
    keep_lines: int = 1000

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < self.keep_lines:
            self.rejections.append(rejection)

    def merge(self, line: str) -> None:
        self.merged += 1
        if len(self.merges) < self.keep_lines:
            self.merges.append(line)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "rejected": self.rejected,
            "rejections": [
                {"position": r.position, "id": r.ident, "reason": r.reason} for r in self.rejections
            ],
            "merges": list(self.merges),
            "resumed_from": self.resumed_from,
            "completed": self.completed,
            "error": self.error,
        }

    def summary(self) -> str:
        """One line: what the run did."""
        state = "completed" if self.completed else f"stopped early: {self.error}"
        return (
            f"{self.source}: fetched {self.fetched:,}, new {self.new:,}, updated {self.updated:,}, "
            f"unchanged {self.unchanged:,}, merged {self.merged:,}, rejected {self.rejected:,} "
            f"({state})"
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked result: every ranker returns these, so filtering, fusion and
    pagination are written once. ``reason`` says why, where a ranker knows."""

    paper_id: int
    score: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPaper:
    """A paper as the store holds it: the metadata plus the hub's own bookkeeping."""

    id: int
    paper: Paper
    first_seen_at: datetime
    changed_at: datetime

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields (dates as ISO 8601 strings)."""
        p = self.paper

        def iso(value: datetime | date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": p.arxiv_id,
            "paper_id": self.id,
            "version": p.version,
            "versions": [
                {"version": v.number, "submitted_at": iso(v.submitted_at), "size": v.size}
                for v in p.versions
            ],
            "title": p.title,
            "abstract": p.abstract,
            "authors": list(p.authors),
            "categories": list(p.categories),
            "primary_category": p.primary_category,
            "doi": p.doi,
            "published_at": iso(p.published_at),
            "updated_at": iso(p.updated_at),
            "abs_url": p.abs_url,
            "pdf_url": p.pdf_url,
            "code_url": p.code_url,
            "project_url": p.project_url,
            "license": p.license,
            "comments": p.comments,
            "journal_ref": p.journal_ref,
            "keywords": list(p.keywords),
            "featured_on": iso(p.featured_on),
            "upvotes": p.upvotes or 0,
            "source": p.source,
            "first_seen_at": iso(self.first_seen_at),
            "ai_summary": p.ai_summary,
            "ai_summary_model": p.ai_summary_model,
            "github_stars": p.github_stars,
            "organization": p.organization,
            "organization_fullname": p.organization_fullname,
            "submitted_by": p.submitted_by,
            "submitted_by_fullname": p.submitted_by_fullname,
            "discussion_id": p.discussion_id,
            "num_comments": p.num_comments,
            "thumbnail_url": p.thumbnail_url,
            "submitted_on_daily_at": iso(p.submitted_on_daily_at),
            "listed_at": iso(p.listed_at),
        }
