"""A member's steering of their recommendations (``/account/recommendations``): what the
page shows, read in one place, and the seeds a pasted list or a BibTeX / RIS file adds.

The single changes (exploration, exclusions, topics, the feed token) are in
:mod:`paperfeed.store.recommendations`, follows in :mod:`paperfeed.store.follows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from paperfeed.models import StoredPaper
from paperfeed.store import follows as follows_store
from paperfeed.store import recommendations as rec
from paperfeed.store.papers import read_papers


@dataclass(frozen=True)
class Steering:
    """Everything the steering page shows of one member."""

    signals: rec.MemberSignals
    has_feed: bool
    #: The papers the member seeded, in the order they were added.
    seed_papers: list[StoredPaper]
    own_topics: list[str]
    follows: list[follows_store.Follow]
    #: Who writes under the name asked about (``?author=``), to pin a follow; else ``None``.
    profile: follows_store.NameProfile | None


def read_steering(conn: Connection, user_id: int, *, author: str = "") -> Steering:
    """The member's signals, feed, seeds, topics and follows, and the profile of ``author``
    when one is asked about."""
    signals = rec.signals_of(conn, user_id)
    seeds = [s.paper_id for s in signals.positives if s.kind == "seed"]
    found = read_papers(conn, seeds)
    return Steering(
        signals=signals,
        has_feed=rec.has_feed_token(conn, user_id),
        seed_papers=[found[p] for p in seeds if p in found],
        own_topics=rec.own_topics(conn, user_id),
        follows=follows_store.follows_of(conn, user_id),
        profile=follows_store.name_profile(conn, author) if author else None,
    )


def add_seeds(
    conn: Connection,
    *,
    user_id: int,
    arxiv_ids: Sequence[str],
    dois: Sequence[str],
    title_keys: Sequence[str],
    now: datetime,
) -> int:
    """Seed the member's recommendations with the stored papers that match any of these
    arXiv ids, DOIs or normalised titles; how many papers matched (seeded before or not)."""
    matched = rec.match_references(conn, arxiv_ids=arxiv_ids, dois=dois, title_keys=title_keys)
    for paper_id in matched:
        rec.add_signal(conn, user_id=user_id, paper_id=paper_id, kind="seed", now=now)
    return len(matched)
