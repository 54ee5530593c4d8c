"""A member submits a paper by arXiv id or URL; it is featured on today's list.

    parse the id  ->  already featured?  ->  fetch its metadata from the arXiv API
      ->  decide (pure: recent enough?)  ->  ingest it featured today  ->  record who

A paper is featured once: one already on a daily list (by submission, RSS or Hugging
Face) cannot be submitted. Only papers whose arXiv date (first version) is at most
``PAPERFEED_SUBMISSION_MAX_AGE_DAYS`` old may be; the metadata comes through the same
arXiv API client as ``paperfeed ingest arxiv``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError
from paperfeed.ingest import jobs
from paperfeed.ingest.arxiv_api import arxiv_fetcher, fetch_by_ids
from paperfeed.ingest.pipeline import IngestOptions, ingest
from paperfeed.models import Paper, Parsed, StoredPaper, split_arxiv_id
from paperfeed.store import papers as store
from paperfeed.store import submissions
from paperfeed.store.engine import writing


def parse_reference(text: str) -> str:
    """The arXiv id (without version) of ``2606.13677``, ``arXiv:2606.13677v2`` or an
    arxiv.org abs / pdf / html URL."""
    try:
        base, _ = split_arxiv_id(text.strip()[:300])
    except ValueError as exc:
        raise InvalidInputError(
            "give an arXiv id (2606.13677) or an arxiv.org link to the paper"
        ) from exc
    return base


def featured_problem(stored: StoredPaper | None) -> str | None:
    """Why a stored paper cannot be submitted (it was featured already), or None. Pure."""
    if stored is not None and stored.paper.featured_on is not None:
        return f"{stored.paper.arxiv_id} was featured on {stored.paper.featured_on.isoformat()}"
    return None


def age_problem(paper: Paper, now: datetime, max_age_days: int) -> str | None:
    """Why ``paper`` is too old (or undated) to submit, or None. Pure."""
    published = paper.published_at
    if published is None:
        return "arXiv gives no date for this paper"
    if published < now - timedelta(days=max_age_days):
        return (
            f"only papers from the last {max_age_days} days can be submitted; "
            f"{paper.arxiv_id} is from {published.date().isoformat()}"
        )
    return None


@dataclass
class _One:
    """A source of one paper, for the ingest pipeline."""

    paper: Paper
    name: str = "submission"

    @property
    def checkpoint_key(self) -> str | None:
        return None

    @property
    def total(self) -> int | None:
        return 1

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        yield Parsed(self.paper, 1, "1")


def submit(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    user_id: int,
    reference: str,
    today: date,
    after_batch: Callable[[list[int]], None] | None = None,
) -> StoredPaper:
    """Feature the paper ``reference`` names on ``today``'s list, submitted by ``user_id``."""
    arxiv_id = parse_reference(reference)
    now = clock.now()
    with engine.connect() as conn:
        problem = featured_problem(store.get_by_arxiv_id(conn, arxiv_id))
    if problem:
        raise ConflictError(f"a paper is featured once: {problem}")
    fetcher = arxiv_fetcher(settings, clock)
    fetcher.retries = min(fetcher.retries, 1)  # a person is waiting for the answer
    with fetcher:
        found = fetch_by_ids(fetcher, settings.arxiv_api_url, [arxiv_id])
    if not found:
        raise NotFoundError(f"arXiv has no paper {arxiv_id}")
    paper = found[0]
    problem = age_problem(paper, now, settings.submission_max_age_days)
    if problem:
        raise InvalidInputError(problem)
    report = ingest(
        engine,
        _One(replace(paper, featured_on=today)),
        clock=clock,
        options=IngestOptions(limits=jobs.limits(settings)),
        after_batch=after_batch,
    )
    if report.error or report.rejected:
        raise InvalidInputError(
            f"arXiv's record of {arxiv_id} cannot be stored: {report.as_dict()}"
        )
    with writing(engine) as conn:
        stored = store.get_by_arxiv_id(conn, arxiv_id)
        assert stored is not None
        if stored.paper.featured_on != today:
            raise ConflictError(f"a paper is featured once: {featured_problem(stored)}")
        submissions.record(conn, paper_id=stored.id, user_id=user_id, now=now)
    return stored
