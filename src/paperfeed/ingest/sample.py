"""The 660 seed-page papers (``paperfeed ingest sample --seed-pages``), which search
quality is measured against; the default demo is :mod:`paperfeed.ingest.demo`.

The papers come from five Hugging Face papers pages (``shared/data/seed_pages.jsonl``,
deduplicated by normalised title, first occurrence kept with its page and rank;
``bench/build_sample.py`` rebuilds the file). They carry a title and an abstract
only: no arXiv id, authors or dates. :class:`SampleSource` features them on the
``days`` days ending ``today`` so the daily, weekly and trending views all have
content; the spread is deterministic, and every day gets its share of each
page (each page is about a different topic) rather than one page per day.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

from paperfeed.errors import InvalidInputError
from paperfeed.models import Paper, Parsed

SOURCE_NAME = "sample"
_PACKAGE = "paperfeed.ingest"
_RESOURCE = ("data", "sample_papers.jsonl.gz")


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One bundled paper and where it first appeared among the seed pages."""

    title: str
    abstract: str
    page: str
    rank: int


def load_sample_rows() -> list[SampleRow]:
    """The bundled papers in file order (read with importlib.resources, so it works installed)."""
    resource = resources.files(_PACKAGE).joinpath(*_RESOURCE)
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return [
            SampleRow(row["title"], row["abstract"], row["page"], int(row["rank"]))
            for row in map(json.loads, lines)
        ]


def spread_order(rows: list[SampleRow]) -> list[SampleRow]:
    """The rows page by page, each page in rank order.

    Dealt out in this order, paper ``i`` to day ``i % days``, each page's papers
    go round all the days in turn (its top ranks first), so every day gets
    ``n / days`` (rounded) of a page of ``n`` papers and the days stay balanced.
    """
    return sorted(rows, key=lambda row: (row.page, row.rank))


class SampleSource:
    """Yield the sample papers, the i-th (0-based) featured on ``today - (i % days)``."""

    name = SOURCE_NAME

    def __init__(self, today: date, days: int = 14) -> None:
        if days < 1:
            raise InvalidInputError(f"the sample needs at least one day, got days={days}")
        self.today = today
        self.days = days
        self._rows: list[SampleRow] | None = None

    def _ordered(self) -> list[SampleRow]:
        if self._rows is None:
            self._rows = spread_order(load_sample_rows())
        return self._rows

    @property
    def checkpoint_key(self) -> str | None:
        return None

    @property
    def total(self) -> int:
        return len(self._ordered())

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Every sample paper (``cursor`` is ignored: the job is small and simply rerun)."""
        for index, row in enumerate(self._ordered()):
            paper = Paper(
                title=row.title,
                abstract=row.abstract,
                featured_on=self.today - timedelta(days=index % self.days),
                source=SOURCE_NAME,
            )
            yield Parsed(paper, index + 1)
