"""A member's recommendation signals, settings, exclusions, topics and private feed token.

Votes (``paper_votes``) and collection saves (``collection_items``) are read from the
community's tables; views, "not interested" and seeds live in ``rec_signals``. The
*signal version* (:func:`signal_version`) changes whenever any of them changes, so a model
cached under it is never stale: the member's own counter (bumped by every write here) plus
the count and latest time of their votes and saves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Connection, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.tables.community import collection_items, collections, paper_votes
from paperfeed.store.tables.digests import saved_searches, subscribers
from paperfeed.store.tables.papers import papers
from paperfeed.store.tables.recommendations import (
    rec_exclusions,
    rec_settings,
    rec_signals,
    rec_topics,
)

SignalKind = Literal["view", "not_interested", "seed"]
SIGNAL_KINDS: tuple[SignalKind, ...] = ("view", "not_interested", "seed")
ExclusionKind = Literal["keyword", "category", "author"]
EXCLUSION_KINDS: tuple[ExclusionKind, ...] = ("keyword", "category", "author")
DEFAULT_EXPLORATION = 10


@dataclass(frozen=True)
class Signal:
    """One positive signal: ``kind`` is upvote, save, view or seed."""

    paper_id: int
    kind: str
    at: datetime


@dataclass(frozen=True)
class Exclusions:
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.keywords or self.categories or self.authors)


@dataclass(frozen=True)
class RecSettings:
    paused: bool = False
    #: Share of trending papers mixed in, in percent.
    exploration: int = DEFAULT_EXPLORATION
    reset_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True)
class MemberSignals:
    user_id: int
    positives: tuple[Signal, ...]
    #: Papers marked "not interested", with when.
    negatives: tuple[Signal, ...]
    topics: tuple[str, ...]
    exclusions: Exclusions
    settings: RecSettings


def _upsert_ignore(conn: Connection, table: Table, values: Mapping[str, object]) -> bool:
    """Insert unless the primary key exists; True when this call inserted."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    stmt = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(stmt).first() is not None


def _ensure(conn: Connection, user_id: int, now: datetime) -> None:
    _upsert_ignore(conn, rec_settings, {"user_id": user_id, "updated_at": now})


def bump(conn: Connection, user_id: int, now: datetime) -> None:
    """Change the member's signal version (every write here calls it)."""
    _ensure(conn, user_id, now)
    conn.execute(
        update(rec_settings)
        .where(rec_settings.c.user_id == user_id)
        .values(version=rec_settings.c.version + 1, updated_at=now)
    )


def add_signal(
    conn: Connection, *, user_id: int, paper_id: int, kind: SignalKind, now: datetime
) -> bool:
    """Record the signal (once per member, paper and kind); True when it is new."""
    values = {"user_id": user_id, "paper_id": paper_id, "kind": kind, "at": now}
    added = _upsert_ignore(conn, rec_signals, values)
    if added:
        bump(conn, user_id, now)
    return added


def has_signal(conn: Connection, *, user_id: int, paper_id: int, kind: SignalKind) -> bool:
    query = select(rec_signals.c.at).where(
        rec_signals.c.user_id == user_id,
        rec_signals.c.paper_id == paper_id,
        rec_signals.c.kind == kind,
    )
    return conn.execute(query).first() is not None


def remove_signal(
    conn: Connection, *, user_id: int, paper_id: int, kind: SignalKind, now: datetime
) -> bool:
    done = conn.execute(
        delete(rec_signals).where(
            rec_signals.c.user_id == user_id,
            rec_signals.c.paper_id == paper_id,
            rec_signals.c.kind == kind,
        )
    )
    if done.rowcount:
        bump(conn, user_id, now)
    return bool(done.rowcount)


def settings_of(conn: Connection, user_id: int) -> RecSettings:
    row = conn.execute(select(rec_settings).where(rec_settings.c.user_id == user_id)).first()
    if row is None:
        return RecSettings()
    return RecSettings(
        paused=bool(row.paused),
        exploration=int(row.exploration),
        reset_at=row.reset_at,
        version=int(row.version),
    )


def update_settings(
    conn: Connection,
    *,
    user_id: int,
    now: datetime,
    paused: bool | None = None,
    exploration: int | None = None,
) -> None:
    values: dict[str, object] = {}
    if paused is not None:
        values["paused"] = int(paused)
    if exploration is not None:
        values["exploration"] = max(0, min(100, int(exploration)))
    bump(conn, user_id, now)
    if values:
        conn.execute(update(rec_settings).where(rec_settings.c.user_id == user_id).values(**values))


def reset(conn: Connection, *, user_id: int, now: datetime) -> None:
    """Forget what was learned: views, "not interested", seeds, topics, and every vote
    and save made until now (they stay votes and saves, but no longer teach the model).
    Exclusions, follows and the feed token stay: they are settings, not signals."""
    conn.execute(delete(rec_signals).where(rec_signals.c.user_id == user_id))
    conn.execute(delete(rec_topics).where(rec_topics.c.user_id == user_id))
    bump(conn, user_id, now)
    conn.execute(update(rec_settings).where(rec_settings.c.user_id == user_id).values(reset_at=now))


def add_exclusion(
    conn: Connection, *, user_id: int, kind: ExclusionKind, value: str, now: datetime
) -> bool:
    values = {"user_id": user_id, "kind": kind, "value": value, "at": now}
    added = _upsert_ignore(conn, rec_exclusions, values)
    if added:
        bump(conn, user_id, now)
    return added


def remove_exclusion(
    conn: Connection, *, user_id: int, kind: ExclusionKind, value: str, now: datetime
) -> bool:
    done = conn.execute(
        delete(rec_exclusions).where(
            rec_exclusions.c.user_id == user_id,
            rec_exclusions.c.kind == kind,
            rec_exclusions.c.value == value,
        )
    )
    if done.rowcount:
        bump(conn, user_id, now)
    return bool(done.rowcount)


def exclusions_of(conn: Connection, user_id: int) -> Exclusions:
    rows = conn.execute(
        select(rec_exclusions.c.kind, rec_exclusions.c.value)
        .where(rec_exclusions.c.user_id == user_id)
        .order_by(rec_exclusions.c.kind, rec_exclusions.c.value)
    ).all()
    by: dict[str, list[str]] = {k: [] for k in EXCLUSION_KINDS}
    for kind, value in rows:
        by.setdefault(kind, []).append(value)
    return Exclusions(tuple(by["keyword"]), tuple(by["category"]), tuple(by["author"]))


def add_topic(conn: Connection, *, user_id: int, query: str, now: datetime) -> bool:
    added = _upsert_ignore(conn, rec_topics, {"user_id": user_id, "query": query, "at": now})
    if added:
        bump(conn, user_id, now)
    return added


def remove_topic(conn: Connection, *, user_id: int, query: str, now: datetime) -> bool:
    done = conn.execute(
        delete(rec_topics).where(rec_topics.c.user_id == user_id, rec_topics.c.query == query)
    )
    if done.rowcount:
        bump(conn, user_id, now)
    return bool(done.rowcount)


def own_topics(conn: Connection, user_id: int) -> list[str]:
    """The member's own topics (not their digest's saved searches), oldest first."""
    query = select(rec_topics.c.query).where(rec_topics.c.user_id == user_id)
    return list(conn.execute(query.order_by(rec_topics.c.at, rec_topics.c.query)).scalars())


def topics_of(conn: Connection, user_id: int) -> tuple[str, ...]:
    """The member's own topics, then their digest's saved searches."""
    own = conn.execute(
        select(rec_topics.c.query).where(rec_topics.c.user_id == user_id).order_by(rec_topics.c.at)
    ).scalars()
    saved = conn.execute(
        select(saved_searches.c.query)
        .select_from(saved_searches.join(subscribers))
        .where(subscribers.c.user_id == user_id)
        .order_by(saved_searches.c.position)
    ).scalars()
    return tuple(dict.fromkeys([*own, *saved]))


def _since(column: ColumnElement[datetime], reset_at: datetime | None) -> list[ColumnElement[bool]]:
    return [column > reset_at] if reset_at is not None else []


def signals_of(conn: Connection, user_id: int) -> MemberSignals:
    """Everything the member's recommendations are learned from (one read each)."""
    settings = settings_of(conn, user_id)
    votes = conn.execute(
        select(paper_votes.c.paper_id, paper_votes.c.at).where(
            paper_votes.c.user_id == user_id, *_since(paper_votes.c.at, settings.reset_at)
        )
    ).all()
    saves = conn.execute(
        select(collection_items.c.paper_id, func.max(collection_items.c.added_at))
        .select_from(collection_items.join(collections))
        .where(
            collections.c.user_id == user_id,
            *_since(collection_items.c.added_at, settings.reset_at),
        )
        .group_by(collection_items.c.paper_id)
    ).all()
    own = conn.execute(
        select(rec_signals.c.paper_id, rec_signals.c.kind, rec_signals.c.at).where(
            rec_signals.c.user_id == user_id
        )
    ).all()
    positives = [Signal(int(p), "upvote", at) for p, at in votes]
    positives += [Signal(int(p), "save", at) for p, at in saves]
    positives += [Signal(int(p), k, at) for p, k, at in own if k != "not_interested"]
    negatives = [Signal(int(p), k, at) for p, k, at in own if k == "not_interested"]
    return MemberSignals(
        user_id=user_id,
        positives=tuple(sorted(positives, key=lambda s: (s.paper_id, s.kind))),
        negatives=tuple(sorted(negatives, key=lambda s: s.paper_id)),
        topics=topics_of(conn, user_id),
        exclusions=exclusions_of(conn, user_id),
        settings=settings,
    )


def signal_version(conn: Connection, user_id: int) -> str:
    """A key that changes whenever any of the member's signals or settings change."""
    version = conn.execute(
        select(rec_settings.c.version).where(rec_settings.c.user_id == user_id)
    ).scalar()
    votes = conn.execute(
        select(func.count(), func.max(paper_votes.c.at)).where(paper_votes.c.user_id == user_id)
    ).one()
    saves = conn.execute(
        select(func.count(), func.max(collection_items.c.added_at))
        .select_from(collection_items.join(collections))
        .where(collections.c.user_id == user_id)
    ).one()
    return f"{version or 0}:{votes[0]}:{votes[1]}:{saves[0]}:{saves[1]}"


def not_interested(conn: Connection, user_id: int, paper_ids: list[int]) -> set[int]:
    """Which of these papers the member marked "not interested"."""
    if not paper_ids:
        return set()
    return set(
        conn.execute(
            select(rec_signals.c.paper_id).where(
                rec_signals.c.user_id == user_id,
                rec_signals.c.kind == "not_interested",
                rec_signals.c.paper_id.in_(paper_ids),
            )
        ).scalars()
    )


def set_feed_token(
    conn: Connection, *, user_id: int, token_hash: str | None, now: datetime
) -> None:
    """Store the private feed token's hash (``None`` revokes it)."""
    _ensure(conn, user_id, now)
    conn.execute(
        update(rec_settings)
        .where(rec_settings.c.user_id == user_id)
        .values(feed_token_hash=token_hash, updated_at=now)
    )


def has_feed_token(conn: Connection, user_id: int) -> bool:
    value = conn.execute(
        select(rec_settings.c.feed_token_hash).where(rec_settings.c.user_id == user_id)
    ).scalar()
    return value is not None


def user_by_feed_token(conn: Connection, token_hash: str) -> int | None:
    value = conn.execute(
        select(rec_settings.c.user_id).where(rec_settings.c.feed_token_hash == token_hash)
    ).scalar()
    return int(value) if value is not None else None


def match_references(
    conn: Connection,
    *,
    arxiv_ids: Sequence[str],
    dois: Sequence[str],
    title_keys: Sequence[str],
) -> list[int]:
    """Stored papers matching any of these arXiv ids, DOIs or normalised titles."""
    found: set[int] = set()
    for column, values in (
        (papers.c.arxiv_id, list(arxiv_ids)),
        (func.lower(papers.c.doi), [d.lower() for d in dois]),
        (papers.c.title_key, list(title_keys)),
    ):
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            found.update(conn.execute(select(papers.c.id).where(column.in_(chunk))).scalars())
    return sorted(found)
