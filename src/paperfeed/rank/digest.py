"""What one digest says: pure composition from data that was already looked up.

A digest has sections, each a titled list of papers: the trending papers of the day (or
week), then one section per saved search ("New papers matching 'training-free
adaptation'"), then whatever other sections the caller passes in (recommendations, #7,
arrive that way). Only papers the hub first saw within the edition's window count as
new for a saved search, so consecutive digests do not repeat them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from paperfeed.models import StoredPaper
from paperfeed.rank.editions import Edition

SectionKind = Literal["trending", "search", "recommended"]


@dataclass(frozen=True)
class Section:
    kind: SectionKind
    title: str
    papers: tuple[StoredPaper, ...]
    #: The saved search a ``search`` section answers.
    query: str | None = None


@dataclass(frozen=True)
class Digest:
    edition: Edition
    subject: str
    sections: tuple[Section, ...]

    @property
    def empty(self) -> bool:
        return not any(s.papers for s in self.sections)

    @property
    def paper_count(self) -> int:
        return sum(len(s.papers) for s in self.sections)


def new_in_window(
    found: Sequence[StoredPaper], start: datetime, end: datetime, limit: int
) -> list[StoredPaper]:
    """The papers of ``found`` (in their order) first seen in (start, end], at most ``limit``."""
    return [s for s in found if start < s.first_seen_at <= end][:limit]


def _subject(edition: Edition, matched: int) -> str:
    when = edition.day.strftime("%A, %B %d").replace(" 0", " ")
    head = "Your weekly papers" if edition.frequency == "weekly" else "Trending papers"
    alerts = f" · {matched} new for your searches" if matched else ""
    return f"{head}, {when}{alerts}"


def compose(
    edition: Edition,
    *,
    trending: Sequence[StoredPaper],
    matches: Sequence[tuple[str, Sequence[StoredPaper]]],
    extra: Sequence[Section] = (),
) -> Digest:
    """The digest of ``edition``: trending, then each saved search's new papers (searches
    with nothing new are left out), then ``extra`` sections."""
    period = "this week" if edition.frequency == "weekly" else "today"
    sections: list[Section] = []
    if trending:
        sections.append(Section("trending", f"Trending {period}", tuple(trending)))
    matched = 0
    for query, papers in matches:
        if papers:
            matched += len(papers)
            title = f"New papers matching “{query}”"
            sections.append(Section("search", title, tuple(papers), query=query))
    sections.extend(s for s in extra if s.papers)
    return Digest(edition, _subject(edition, matched), tuple(sections))
