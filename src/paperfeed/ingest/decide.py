"""Pure decisions of ingestion: validate a paper, merge two views of one paper,
and plan what a batch does to the store. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from paperfeed.models import Paper, Rejection, StoredPaper, Version
from paperfeed.store.papers import Matches

#: arXiv opened in August 1991; anything earlier is an impossible date.
EARLIEST = datetime(1991, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Limits:
    """Sizes past which a record is rejected as malformed."""

    max_title_chars: int = 1000
    max_abstract_chars: int = 20000
    max_authors: int = 10000
    max_author_chars: int = 500
    max_field_chars: int = 4000


def validate(paper: Paper, limits: Limits, now: datetime) -> str | None:
    """Why ``paper`` cannot be stored, or ``None`` when it can."""
    if not paper.title.strip():
        return "missing title"
    if len(paper.title) > limits.max_title_chars:
        return f"title of {len(paper.title):,} characters (limit {limits.max_title_chars:,})"
    if len(paper.abstract) > limits.max_abstract_chars:
        return (
            f"abstract of {len(paper.abstract):,} characters (limit {limits.max_abstract_chars:,})"
        )
    if where := _nul_field(paper):  # PostgreSQL cannot store it; SQLite would
        return f"NUL character in {where}"
    if len(paper.authors) > limits.max_authors:
        return f"{len(paper.authors):,} authors (limit {limits.max_authors:,})"
    for name in paper.authors:
        if not name.strip() or len(name) > limits.max_author_chars:
            return f"malformed author name {name[:60]!r}"
    for cat in paper.categories:
        if not cat or len(cat) > 64 or any(ch.isspace() for ch in cat):
            return f"malformed category {cat[:60]!r}"
    if paper.doi is not None and (len(paper.doi) > 255 or not paper.doi.strip()):
        return "malformed DOI"
    for name in ("comments", "journal_ref", "license", "code_url", "project_url"):
        value = getattr(paper, name)
        if value is not None and len(value) > limits.max_field_chars:
            return f"{name} of {len(value):,} characters (limit {limits.max_field_chars:,})"
    latest = now + timedelta(days=2)
    for label, when in (("published", paper.published_at), ("updated", paper.updated_at)):
        if when is not None and not (EARLIEST <= when <= latest):
            return f"impossible {label} date {when.isoformat()}"
    if paper.featured_on is not None and paper.featured_on > latest.date():
        return f"featured date {paper.featured_on.isoformat()} is in the future"
    numbers = [v.number for v in paper.versions]
    if any(n < 1 for n in numbers) or len(set(numbers)) != len(numbers):
        return "malformed version history"
    if paper.version is not None and paper.version < 1:
        return f"impossible version v{paper.version}"
    for name in ("upvotes", "github_stars", "num_comments"):
        value = getattr(paper, name)
        if value is not None and value < 0:
            return f"negative {name}"
    return None


def _nul_field(paper: Paper) -> str | None:
    """The first text field of ``paper`` holding a NUL character, if any."""
    for each in fields(paper):
        value = getattr(paper, each.name)
        texts = value if isinstance(value, tuple) else (value,)
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            return each.name
    return None


def _merge_versions(a: tuple[Version, ...], b: tuple[Version, ...]) -> tuple[Version, ...]:
    by_number: dict[int, Version] = {}
    for version in (*a, *b):
        known = by_number.get(version.number)
        if known is None:
            by_number[version.number] = version
        else:
            by_number[version.number] = Version(
                version.number,
                known.submitted_at or version.submitted_at,
                known.size or version.size,
            )
    return tuple(by_number[n] for n in sorted(by_number))


def merge(old: Paper, new: Paper) -> Paper:
    """What the store should hold after seeing ``new`` for a paper it holds as ``old``.

    * Metadata comes from the newer arXiv version (a record without a version,
      such as Hugging Face's, counts as older than any versioned one); fields
      the winner lacks are kept from the other.
    * The version history is the union of both.
    * A paper is featured at most once: the first featured day stays.
    * Imported upvotes take the latest value seen.
    * The first source that brought the paper stays its source.
    * Hugging Face's counts (stars, comments) take the latest value seen; when the
      paper was listed stays with the first featured day; its other fields (AI
      summary, organization, submitter, ...) come from the winner, else the other.
    """
    new_wins = (new.version or 0) >= (old.version or 0)
    primary, other = (new, old) if new_wins else (old, new)
    versions = _merge_versions(old.versions, new.versions)
    latest = max([v.number for v in versions] + [old.version or 0, new.version or 0])
    return replace(
        primary,
        arxiv_id=old.arxiv_id or new.arxiv_id,
        version=latest or None,
        versions=versions,
        doi=primary.doi or other.doi,
        authors=primary.authors or other.authors,
        categories=primary.categories or other.categories,
        primary_category=primary.primary_category or other.primary_category,
        published_at=primary.published_at or other.published_at,
        updated_at=primary.updated_at or other.updated_at,
        abs_url=primary.abs_url or other.abs_url,
        pdf_url=primary.pdf_url or other.pdf_url,
        code_url=primary.code_url or other.code_url,
        project_url=primary.project_url or other.project_url,
        license=primary.license or other.license,
        comments=primary.comments or other.comments,
        journal_ref=primary.journal_ref or other.journal_ref,
        keywords=primary.keywords or other.keywords,
        featured_on=old.featured_on or new.featured_on,
        upvotes=new.upvotes if new.upvotes is not None else old.upvotes,
        source=old.source,
        abstract=primary.abstract or other.abstract,
        **_merge_hf(primary, other, old, new),
    )


#: Hugging Face counts that change over time: the latest value seen wins.
_LATEST = ("github_stars", "num_comments")
#: Other Hugging Face fields: the winner's, else the other's.
_KEPT = (
    "ai_summary",
    "ai_summary_model",
    "organization",
    "organization_fullname",
    "submitted_by",
    "submitted_by_fullname",
    "discussion_id",
    "thumbnail_url",
)
#: When the paper was put on its list: follows ``featured_on``, so the first listing's stay.
_LISTING = ("submitted_on_daily_at", "listed_at")


def _merge_hf(primary: Paper, other: Paper, old: Paper, new: Paper) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in _LATEST:
        value = getattr(new, name)
        merged[name] = value if value is not None else getattr(old, name)
    for name in _KEPT:
        value = getattr(primary, name)
        merged[name] = value if value is not None else getattr(other, name)
    for name in _LISTING:
        value = getattr(old, name)
        merged[name] = value if value is not None else getattr(new, name)
    return merged


@dataclass
class Plan:
    """What one batch does: papers to insert, papers to update, and what to report."""

    inserts: list[Paper] = field(default_factory=list)
    updates: list[tuple[int, Paper]] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0
    merges: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def _match(paper: Paper, matches: Matches) -> tuple[StoredPaper | None, str | None]:
    """The stored paper ``paper`` is, and the rule that merged them (None for an id match)."""
    if paper.arxiv_id:
        hit = matches.by_arxiv_id.get(paper.arxiv_id)
        if hit is not None:
            return hit, None
    if paper.doi:
        hit = matches.by_doi.get(paper.doi.lower())
        if hit is not None and (not paper.arxiv_id or hit.paper.arxiv_id in (None, paper.arxiv_id)):
            return hit, "DOI"
    hit = matches.by_title_key.get(paper.title_key)
    if hit is not None and (not paper.arxiv_id or hit.paper.arxiv_id is None):
        return hit, "title"
    return None, None


@dataclass
class _Slot:
    """One paper of a batch: the stored paper it updates (None: a new one), and the
    paper as the batch's records for it have merged it so far."""

    position: int
    stored: StoredPaper | None
    paper: Paper


def _keys(paper: Paper) -> list[str]:
    keys = []
    if paper.arxiv_id:
        keys.append(f"arxiv:{paper.arxiv_id}")
    if paper.doi:
        keys.append(f"doi:{paper.doi.lower()}")
    if not paper.arxiv_id:
        keys.append(f"title:{paper.title_key}")
    return keys


def plan_batch(
    batch: list[tuple[int, Paper]], matches: Matches, limits: Limits, now: datetime
) -> Plan:
    """Decide, for each (position, paper) of a batch, whether it is new, an update,
    unchanged, a merge into a paper known under another key, or rejected.

    The same paper twice in one batch (by arXiv id, DOI or, without an id, by title)
    is merged into the first, exactly as if it came in the next batch: a newer version
    wins, counts and listings follow :func:`merge`, so the result does not depend on
    where the batches begin and end.
    """
    plan = Plan()
    slots: list[_Slot] = []
    seen: dict[str, int] = {}  # key -> slot
    claimed: dict[int, int] = {}  # stored paper id -> slot
    for position, incoming in batch:
        reason = validate(incoming, limits, now)
        if reason is not None:
            plan.rejections.append(Rejection(position, reason, incoming.key))
            continue
        # Only http(s) links are kept, for every source, here (see models.web_link).
        incoming = incoming.with_web_links().with_arxiv_links()
        keys = _keys(incoming)
        index = next((seen[k] for k in keys if k in seen), None)
        stored: StoredPaper | None = None
        rule: str | None = None
        if index is None:
            stored, rule = _match(incoming, matches)
            index = claimed.get(stored.id) if stored is not None else None
        if index is None:
            index = len(slots)
            slots.append(_Slot(position, stored, stored.paper if stored else incoming))
            if stored is None:  # a new paper
                for key in keys:
                    seen[key] = index
                continue
            claimed[stored.id] = index
        slot = slots[index]
        for key in keys:
            seen.setdefault(key, index)
        merged = merge(slot.paper, incoming)
        if rule is not None:
            into = f"paper {slot.stored.id}" if slot.stored else f"record #{slot.position}"
            plan.merges.append(
                f"#{position} ({incoming.key}) merged into {into} ({slot.paper.key}) by {rule}"
            )
        elif merged != slot.paper:
            plan.updated += 1
        else:
            plan.unchanged += 1
        slot.paper = merged
    for slot in slots:
        if slot.stored is None:
            plan.inserts.append(slot.paper)
        elif slot.paper != slot.stored.paper:
            plan.updates.append((slot.stored.id, slot.paper))
    return plan
