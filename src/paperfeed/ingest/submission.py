"""A member submits a paper by arXiv id or URL; it is featured on today's list.

    parse the id  ->  already featured?  ->  stored already? else look it up on arXiv
      ->  decide (pure: recent enough?)  ->  ingest it featured today  ->  record who

A paper is featured once: one already on a daily list (by submission, RSS or Hugging
Face) cannot be submitted. Only papers whose arXiv date (first version) is at most
``PAPERFEED_SUBMISSION_MAX_AGE_DAYS`` old may be. A paper the hub stores already is
featured from its stored record, without asking arXiv (so it works offline); any other
is looked up through the process's one paced :mod:`~paperfeed.ingest.arxiv_lookup`,
awaited for at most ``PAPERFEED_SUBMISSION_WAIT_SECONDS`` (504 after that). The database
work runs in worker threads; waiting for arXiv holds none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial

import anyio.to_thread
from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError, SourceError
from paperfeed.ingest import arxiv_lookup, jobs
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


def check_reference(engine: Engine, reference: str) -> tuple[str, StoredPaper | None]:
    """The arXiv id ``reference`` names and its stored paper (None when the hub has none);
    :class:`ConflictError` when it was featured already."""
    arxiv_id = parse_reference(reference)
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, arxiv_id)
    problem = featured_problem(stored)
    if problem:
        raise ConflictError(f"a paper is featured once: {problem}")
    return arxiv_id, stored


def feature(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    user_id: int,
    paper: Paper,
    today: date,
    after_batch: Callable[[list[int]], None] | None = None,
) -> StoredPaper:
    """Store ``paper`` featured on ``today``, submitted by ``user_id``."""
    now = clock.now()
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
            f"arXiv's record of {paper.key} cannot be stored: {report.as_dict()}"
        )
    with writing(engine) as conn:
        stored = store.get_by_arxiv_id(conn, paper.arxiv_id or "")
        if stored is None:
            raise SourceError(f"arXiv's record of {paper.key} was not stored")
        if stored.paper.featured_on != today:
            raise ConflictError(f"a paper is featured once: {featured_problem(stored)}")
        submissions.record(conn, paper_id=stored.id, user_id=user_id, now=now)
    return stored


async def submit(
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
    arxiv_id, stored = await anyio.to_thread.run_sync(check_reference, engine, reference)
    if stored is not None:
        paper: Paper | None = stored.paper
    else:
        lookup = arxiv_lookup.shared(settings)
        paper = await lookup.paper_within(arxiv_id, settings.submission_wait_seconds)
    if paper is None:
        raise NotFoundError(f"arXiv has no paper {arxiv_id}")
    return await anyio.to_thread.run_sync(
        partial(
            feature,
            engine,
            settings,
            clock,
            user_id=user_id,
            paper=paper,
            today=today,
            after_batch=after_batch,
        )
    )
