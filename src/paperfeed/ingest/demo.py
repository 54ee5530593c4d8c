"""The bundled demo: three months of real Hugging Face daily lists (June to August 2026).

``data/demo_papers.jsonl.gz`` holds every item of the Hugging Face daily-papers
archive listed from 2026-06-01 to 2026-08-21 (its last day), verbatim: 1,374 listings
of 1,371 papers on 59 list days, with their arXiv ids, authors, dates, imported
upvotes, code and project links, AI keywords and summaries, organizations and
submitters (``data/SOURCE.md`` says where they come from, their licence and their
caveats; ``bench/build_demo.py`` rebuilds the file). :class:`DemoSource` reads them
with the Hugging Face parser, so each paper is featured on the day Hugging Face
listed it: the dates are the real ones, not moved to today. The front page shows the
latest list day, and the trending page, when the hub has had no list for longer than
its window, ranks the window that ends on the latest list day.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from importlib import resources

from paperfeed.ingest.hf_daily import collapse_repeats, parse_daily_lines
from paperfeed.models import Parsed

SOURCE_NAME = "sample"
_RESOURCE = ("data", "demo_papers.jsonl.gz")


def demo_lines() -> list[bytes]:
    """The bundled archive lines (read with importlib.resources, so it works installed)."""
    resource = resources.files("paperfeed.ingest").joinpath(*_RESOURCE)
    with resource.open("rb") as raw:
        return gzip.decompress(raw.read()).splitlines()


class DemoSource:
    """Yield the demo papers, one record per paper (a paper listed twice is merged)."""

    name = SOURCE_NAME

    def __init__(self) -> None:
        self._records: list[Parsed] | None = None

    def _read(self) -> list[Parsed]:
        if self._records is None:
            self._records = collapse_repeats(parse_daily_lines(demo_lines()))
        return self._records

    @property
    def checkpoint_key(self) -> str | None:
        return None

    @property
    def total(self) -> int:
        return len(self._read())

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Every demo paper (``cursor`` is ignored: the job is small and simply rerun)."""
        yield from self._read()
