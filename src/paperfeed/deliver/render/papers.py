"""Pure helpers that shape papers for people and clients: highlighted text, BibTeX,
and the JSON objects of the API (Hugging Face field names where they fit)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

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
    pattern = re.compile(
        r"(?<![\w&])(" + "|".join(re.escape(s) for s in reversed(stems)) + r")\w*", re.IGNORECASE
    )
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", safe))  # noqa: S704


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
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T00:00:00.000Z"


def paper_json(stored: StoredPaper, *, votes: int | None = None) -> dict[str, object]:
    """A paper as the API returns it: Hugging Face's ``paper`` object, plus arXiv fields."""
    p = stored.paper
    return {
        "id": p.arxiv_id or f"pf{stored.id}",
        "arxivId": p.arxiv_id,
        "title": p.title,
        "summary": p.abstract,
        "authors": [{"name": name} for name in p.authors],
        "publishedAt": _iso(p.published_at),
        "updatedAt": _iso(p.updated_at),
        "submittedOnDailyAt": _iso(p.featured_on),
        "upvotes": votes if votes is not None else p.upvotes or 0,
        "githubRepo": p.code_url,
        "projectPage": p.project_url,
        "ai_keywords": list(p.keywords),
        "categories": list(p.categories),
        "primaryCategory": p.primary_category,
        "version": p.version,
        "versions": [
            {"version": v.number, "submittedAt": _iso(v.submitted_at)} for v in p.versions
        ],
        "doi": p.doi,
        "journalRef": p.journal_ref,
        "comments": p.comments,
        "license": p.license,
        "absUrl": p.abs_url,
        "pdfUrl": p.pdf_url,
        "url": paper_path(stored),
    }


def daily_item(
    stored: StoredPaper, *, votes: int | None = None, comments: int = 0
) -> dict[str, object]:
    """One item of ``/api/daily_papers``, shaped like Hugging Face's: ``upvotes`` counts
    the hub's votes too, ``numComments`` the visible comments."""
    paper = paper_json(stored, votes=votes)
    return {
        "paper": paper,
        "title": paper["title"],
        "summary": paper["summary"],
        "publishedAt": paper["submittedOnDailyAt"] or paper["publishedAt"],
        "numComments": comments,
    }
