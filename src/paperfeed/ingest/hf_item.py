"""One Hugging Face daily-papers item (``/api/daily_papers``) as a Paper, every field kept.

An item holds a ``paper`` object (arXiv id, authors, arXiv date, upvotes, links,
AI summary and keywords, organization, who submitted it to the list) and a few
listing fields (the list's own ``publishedAt``, ``numComments``, ``thumbnail``,
``submittedBy``; the archive in ``shared/data/hf_daily_archive`` adds
``featured_on``). :func:`parse_item` turns an item into a
:class:`~paperfeed.models.Paper`, or into a :class:`~paperfeed.models.Rejection`
naming the first malformed value: a paper is never kept with part of its item
silently dropped. Which item field lands in which Paper field is listed in
:class:`~paperfeed.models.Paper`'s docstring.

The day a paper is featured is the day Hugging Face listed it, never its arXiv date:
the item's ``featured_on``, else the calendar day of ``submittedOnDailyAt`` (the
paper's, else the item's, as written: a UTC midnight that names the day), else the
day the caller asked for, else the UTC day of the item's ``publishedAt``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from paperfeed.models import Paper, Rejection, collapse_whitespace, split_arxiv_id

SOURCE_NAME = "hf-daily"


class BadItem(Exception):
    """An item that cannot become a Paper; the message is the rejection's reason."""


def parse_item(item: object, position: int, day: date | None = None) -> Paper | Rejection:
    """The Paper an item describes, or a Rejection at ``position`` saying what is wrong.

    ``day`` is the list the caller asked for, used only when the item names no day.
    """
    if not isinstance(item, dict):
        return Rejection(position, f"expected an object, got {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        return Rejection(position, "missing paper object")
    raw_id = paper.get("id")
    ident = raw_id if isinstance(raw_id, str) and raw_id else None
    try:
        return _paper(item, paper, ident, day)
    except BadItem as exc:
        return Rejection(position, str(exc), ident)


def _paper(
    item: dict[str, Any], paper: dict[str, Any], raw_id: str | None, day: date | None
) -> Paper:
    if raw_id is None:
        raise BadItem("missing paper.id")
    try:
        arxiv_id, version = split_arxiv_id(raw_id)
    except ValueError as exc:
        raise BadItem(str(exc)) from exc
    title = _first_text(paper, item, "title")
    if not title:
        raise BadItem("missing title")
    submitted_at = _timestamp(paper.get("submittedOnDailyAt"), "submittedOnDailyAt")
    if submitted_at is None:
        submitted_at = _timestamp(item.get("submittedOnDailyAt"), "submittedOnDailyAt")
    listed_at = _timestamp(item.get("publishedAt"), "publishedAt")
    submitter = item.get("submittedBy")
    if submitter is None:
        submitter = paper.get("submittedOnDailyBy")
    user, user_fullname = _account(submitter, "submittedBy", "user", "name")
    organization, organization_fullname = _account(
        paper.get("organization"), "organization", "name"
    )
    return Paper(
        title=title,
        abstract=_first_text(paper, item, "summary"),
        arxiv_id=arxiv_id,
        version=version,
        authors=_authors(paper.get("authors")),
        published_at=_timestamp(paper.get("publishedAt"), "paper.publishedAt"),
        code_url=_url(paper.get("githubRepo"), "githubRepo"),
        project_url=_url(paper.get("projectPage"), "projectPage"),
        keywords=_keywords(paper.get("ai_keywords")),
        featured_on=_featured_on(item, paper, submitted_at, listed_at, day),
        upvotes=_count(paper.get("upvotes"), "upvotes"),
        source=SOURCE_NAME,
        ai_summary=_text(paper.get("ai_summary"), "ai_summary"),
        ai_summary_model=_text(paper.get("ai_summary_model"), "ai_summary_model"),
        github_stars=_count(paper.get("githubStars"), "githubStars"),
        organization=organization,
        organization_fullname=organization_fullname,
        submitted_by=user,
        submitted_by_fullname=user_fullname,
        discussion_id=_text(paper.get("discussionId"), "discussionId"),
        num_comments=_count(_either(item, paper, "numComments"), "numComments"),
        thumbnail_url=_url(item.get("thumbnail"), "thumbnail"),
        submitted_on_daily_at=submitted_at,
        listed_at=listed_at,
    )


def _either(item: dict[str, Any], paper: dict[str, Any], key: str) -> object:
    value = item.get(key)
    return paper.get(key) if value is None else value


def _featured_on(
    item: dict[str, Any],
    paper: dict[str, Any],
    submitted_at: datetime | None,
    listed_at: datetime | None,
    day: date | None,
) -> date | None:
    named = item.get("featured_on")
    if named is not None:
        if not isinstance(named, str):
            raise BadItem(f"featured_on is not a string: {named!r}")
        try:
            return date.fromisoformat(named)
        except ValueError as exc:
            raise BadItem(f"impossible featured_on {named!r}") from exc
    if submitted_at is not None:
        # The date part as written (a UTC midnight naming the day), not shifted to a zone.
        written = paper.get("submittedOnDailyAt") or item.get("submittedOnDailyAt")
        return date.fromisoformat(str(written)[:10])
    if day is not None:
        return day
    return listed_at.date() if listed_at is not None else None


def _first_text(paper: dict[str, Any], item: dict[str, Any], key: str) -> str:
    """``paper[key]``, else the item's copy of it, whitespace collapsed; ``""`` when absent."""
    return _text(_either(paper, item, key), key) or ""


def _text(value: object, field: str) -> str | None:
    """A string field, whitespace collapsed; ``None`` when absent or blank."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadItem(f"{field} is {type(value).__name__}, not a string")
    return collapse_whitespace(value) or None


def _count(value: object, field: str) -> int | None:
    """A count HF sends (upvotes, stars, comments); ``None`` when it sent none."""
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise BadItem(f"{field} is not a count: {value!r}")
    return value


def _timestamp(value: object, field: str) -> datetime | None:
    """An ISO 8601 instant (``2026-05-30T00:00:00.000Z``) as an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadItem(f"{field} is not a string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadItem(f"impossible {field} {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _authors(raw: object) -> tuple[str, ...]:
    """Every named author in order; ``hidden`` only hides the name on HF's page, so it is kept."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadItem("authors is not a list")
    names = []
    for entry in raw:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(" ".join(name.split()))
    return tuple(names)


def _url(value: object, field: str) -> str | None:
    """An http(s) URL. A URL holds no whitespace, so any inside is dropped: HF keeps links
    as their submitters pasted them (``https://github.com/ owner/repo`` is in the archive)."""
    text = _text(value, field)
    if text is None:
        return None
    text = "".join(text.split())
    if not text.startswith(("https://", "http://")) or len(text) <= len("https://"):
        raise BadItem(f"{field} is not an http(s) URL: {text[:80]!r}")
    return text


def _keywords(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadItem(f"ai_keywords is {type(raw).__name__}, not a list")
    seen: dict[str, None] = {}
    for keyword in raw:
        if not isinstance(keyword, str):
            raise BadItem(f"ai_keywords holds a {type(keyword).__name__}, not a string")
        if keyword.strip():
            seen.setdefault(" ".join(keyword.split()), None)
    return tuple(seen)


def _account(raw: object, field: str, *handles: str) -> tuple[str | None, str | None]:
    """(handle, full name) of a user or organization object; the handle is the first of
    ``handles`` present (``submittedBy`` has ``user``; the API's copy says ``name``)."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise BadItem(f"{field} is {type(raw).__name__}, not an object")
    handle = next((raw[key] for key in handles if raw.get(key) is not None), None)
    return _text(handle, f"{field}.{handles[0]}"), _text(raw.get("fullname"), f"{field}.fullname")
