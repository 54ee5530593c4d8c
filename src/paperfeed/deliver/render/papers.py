"""Pure helpers that shape papers for people and clients: highlighted text, BibTeX,
and the JSON objects of the API (Hugging Face field names where they fit)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache

from markupsafe import Markup, escape

from paperfeed.models import StoredPaper

_NON_WORD = re.compile(r"\W+")


def highlight(text: str, words: Iterable[str]) -> Markup:
    """``text`` escaped, with every word starting with one of ``words`` in ``<mark>``.

    Prefix matching stands in for stemming ("model" marks "models", "modelling").
    """
    stems = sorted({w.lower() for unit in words for w in unit.split() if len(w) > 1}, key=len)
    safe = str(escape(text))
    if not stems:
        return Markup(safe)  # noqa: S704 (escaped above)
    pattern = _stems_pattern(tuple(stems))
    # A template, not a function: no Python call per match (the abstracts of a page of
    # results hold hundreds).
    return Markup(pattern.sub(r"<mark>\g<0></mark>", safe))  # noqa: S704


@lru_cache(maxsize=256)
def _stems_pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    """The pattern marking words that start with one of ``stems`` (shortest first)."""
    return re.compile(
        r"(?<![\w&])(" + "|".join(re.escape(s) for s in reversed(stems)) + r")\w*", re.IGNORECASE
    )


def paper_path(stored: StoredPaper) -> str:
    """The hub's page of a paper."""
    if stored.paper.arxiv_id:
        return f"/papers/{stored.paper.arxiv_id}"
    return f"/papers/id/{stored.id}"


def _bib_escape(text: str) -> str:
    return " ".join(text.replace("{", r"\{").replace("}", r"\}").split())


def bibtex(stored: StoredPaper) -> str:
    """A BibTeX entry in the form arXiv's own export uses (``@misc`` with eprint fields)."""
    paper = stored.paper
    year = (paper.published_at or stored.first_seen_at).year
    first = paper.authors[0].split()[-1] if paper.authors else "paper"
    title_word = next((w for w in _NON_WORD.split(paper.title.lower()) if len(w) > 3), "paper")
    key = _NON_WORD.sub("", f"{first}{year}{title_word}".lower()) or f"paper{stored.id}"
    fields = [("title", "{" + _bib_escape(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(_bib_escape(a) for a in paper.authors)))
    fields.append(("year", str(year)))
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        if paper.primary_category:
            fields.append(("primaryClass", paper.primary_category))
        fields.append(("url", f"https://arxiv.org/abs/{paper.arxiv_id}"))
    if paper.doi:
        fields.append(("doi", paper.doi))
    if paper.journal_ref:
        fields.append(("journal", _bib_escape(paper.journal_ref)))
    body = ",\n".join(f"  {name}={{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def _iso(value: datetime | date | None) -> str | None:
    """A time as huggingface.co writes it: UTC, to the millisecond (``...T20:00:00.000Z``);
    a day is its midnight."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return f"{value.isoformat()}T00:00:00.000Z"
    utc = value.astimezone(UTC) if value.tzinfo else value
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def paper_ident(stored: StoredPaper) -> str:
    """The id the API hands out: the arXiv id without version, else ``pfN`` (N the
    paper's number on this hub). Both open the paper at ``/papers/{id}``."""
    return stored.paper.arxiv_id or f"pf{stored.id}"


def _user(name: str | None, fullname: str | None) -> dict[str, object] | None:
    """A Hugging Face user object as the API nests it (``user`` is what
    ``huggingface_hub``'s ``User`` reads, ``name`` what huggingface.co's items carry)."""
    if not name:
        return None
    return {"user": name, "name": name, "fullname": fullname or name, "type": "user"}


def paper_json(
    stored: StoredPaper,
    *,
    votes: int | None = None,
    comments: int = 0,
    submitter: str | None = None,
) -> dict[str, object]:
    """A paper as ``/api/papers/{id}`` returns it: Hugging Face's paper object (the same
    field names and types; a field the hub does not know is left out, as huggingface.co
    leaves it out), then paperfeed's own arXiv fields. ``votes`` counts the hub's votes
    too; ``comments`` are the hub's visible comments, added to those imported;
    ``submitter`` is the member who submitted it on this hub (a paper imported from
    Hugging Face names its Hugging Face submitter)."""
    p = stored.paper
    out: dict[str, object] = {
        "id": paper_ident(stored),
        "authors": [{"name": name} for name in p.authors],
        "publishedAt": _iso(p.published_at),
        "submittedOnDailyAt": _iso(p.submitted_on_daily_at or p.featured_on),
        "title": p.title,
        "submittedOnDailyBy": (
            _user(p.submitted_by, p.submitted_by_fullname)
            if p.submitted_by
            else _user(submitter, None)
        ),
        "summary": p.abstract,
        "upvotes": votes if votes is not None else p.upvotes or 0,
        "discussionId": p.discussion_id,
        "ai_summary": p.ai_summary,
        "ai_summary_model": p.ai_summary_model,
        "ai_keywords": list(p.keywords),
        "organization": (
            {"name": p.organization, "fullname": p.organization_fullname or p.organization}
            if p.organization
            else None
        ),
        "githubRepo": p.code_url,
        "githubStars": p.github_stars,
        "projectPage": p.project_url,
        "numComments": (p.num_comments or 0) + comments,
    }
    hf = {key: value for key, value in out.items() if value is not None}
    return {**hf, **_arxiv_fields(stored)}


def _arxiv_fields(stored: StoredPaper) -> dict[str, object]:
    """paperfeed's additions to Hugging Face's paper object (always present, null when
    unknown). None shares a name with an attribute of ``huggingface_hub``'s
    ``PaperInfo``, which would overwrite it: arXiv's comment is ``arxivComments``."""
    p = stored.paper
    return {
        "arxivId": p.arxiv_id,
        "updatedAt": _iso(p.updated_at),
        "categories": list(p.categories),
        "primaryCategory": p.primary_category,
        "version": p.version,
        "versions": [
            {"version": v.number, "submittedAt": _iso(v.submitted_at)} for v in p.versions
        ],
        "doi": p.doi,
        "journalRef": p.journal_ref,
        "arxivComments": p.comments,
        "license": p.license,
        "absUrl": p.abs_url,
        "pdfUrl": p.pdf_url,
        "url": paper_path(stored),
    }


#: Fields of the paper object that a daily item repeats at its top level, where
#: ``huggingface_hub``'s ``PaperInfo`` reads them (huggingface.co nests them only).
_LIFTED = ("ai_summary", "ai_keywords", "githubRepo", "githubStars", "projectPage")


def daily_item(
    stored: StoredPaper,
    *,
    votes: int | None = None,
    comments: int = 0,
    submitter: str | None = None,
) -> dict[str, object]:
    """One element of ``/api/daily_papers`` and ``/api/papers/search``, shaped like
    huggingface.co's: the paper object under ``paper``; ``publishedAt`` is when the list
    published it; ``numComments`` counts the imported comments and the hub's."""
    paper = paper_json(stored, votes=votes, comments=comments, submitter=submitter)
    p = stored.paper
    item: dict[str, object] = {
        "paper": paper,
        "publishedAt": _iso(
            p.listed_at or p.submitted_on_daily_at or p.featured_on or p.published_at
        ),
        "title": p.title,
        "summary": p.abstract,
        "thumbnail": p.thumbnail_url,
        "numComments": paper["numComments"],
        "submittedBy": paper.get("submittedOnDailyBy"),
        "organization": paper.get("organization"),
    }
    item.update({key: paper[key] for key in _LIFTED if key in paper})
    return {key: value for key, value in item.items() if value is not None}
