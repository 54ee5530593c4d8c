"""What every ingestion source provides to the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from paperfeed.models import Parsed


class Source(Protocol):
    """A stream of parsed records that can resume from a cursor.

    ``name`` names the source in reports ("arxiv-api", "oai", "rss", "snapshot",
    "hf-daily", "sample"). ``checkpoint_key`` identifies *this job* (source plus
    its query or file) so an interrupted run resumes; ``None`` means the job is
    short and is simply rerun. ``total`` is the number of records when known (for
    the progress bar); it may become known once the first page arrives.
    """

    name: str

    @property
    def checkpoint_key(self) -> str | None: ...

    @property
    def total(self) -> int | None: ...

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield records after ``cursor`` (from the start when ``None``)."""
        ...
