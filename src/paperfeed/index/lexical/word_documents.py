"""What the tantivy word index holds for a paper: its schema, its analyzer, and the
documents read from the database (see :mod:`paperfeed.index.lexical.tantivy_index`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import tantivy
from sqlalchemy import Connection, func, select

from paperfeed.store.tables.papers import paper_authors, paper_categories, papers

#: The one ranked text field and its parts. The title is written TITLE_REPEATS times, which
#: weighs its words like FTS5's bm25 column weight does (term frequencies add up before
#: BM25 saturates them); separate fields with boosts ranked SciFact clearly worse
#: (docs/design.md).
FIELDS = (("text", 1.0),)
TITLE_REPEATS = 3
#: Hugging Face's ``ai_keywords`` and ``ai_summary`` are written this many times each (the
#: same term-frequency weighting as the title's repeats; docs/benchmarks.md, 2026-12-07).
KEYWORD_REPEATS = 1
AI_SUMMARY_REPEATS = 1
#: Papers read from the database per chunk while (re)indexing.
READ_CHUNK = 5_000
EPOCH = date(1970, 1, 1)


def analyzer() -> tantivy.TextAnalyzer:
    """Words as FTS5's ``porter unicode61 remove_diacritics`` sees them, near enough:
    split on what is not a letter or digit, lower-cased, accents folded, English stems."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    for name, _weight in FIELDS:
        builder.add_text_field(name, tokenizer_name="paper", index_option="position")
    builder.add_text_field("cats", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", indexed=True, fast=True)
    return builder.build()


def day_number(moment: datetime | None) -> int:
    if moment is None:
        return 0
    return (moment.astimezone(UTC).date() - EPOCH).days


def category_terms(categories: Sequence[str]) -> set[str]:
    """What the ``cats`` field holds for a paper: each category and each archive, so that
    ``cat:cs.LG`` matches exactly and ``cat:cs`` matches every ``cs.*`` (as SQL does)."""
    terms: set[str] = set()
    for category in categories:
        lowered = category.lower()
        terms.add(lowered)
        terms.add("archive:" + lowered.split(".", 1)[0])
    return terms


def filter_term(category: str) -> str:
    lowered = category.lower()
    return lowered if "." in lowered else "archive:" + lowered


# --- reading papers for the index ------------------------------------------------------------


def _within(column: Any, first: int, last: int, only: Sequence[int] | None) -> list[Any]:
    """Rows of papers in [first, last], and in ``only`` when given: a journal replay's ids
    are scattered over the whole range, whose every author row must not be read (#17)."""
    where = [column >= first, column <= last]
    if only is not None:
        where.append(column.in_(list(only)))
    return where


def documents(conn: Connection, first: int, last: int, only: Sequence[int] | None) -> list[Any]:
    """Documents for the papers with ids in [first, last] (and in ``only`` when given)."""
    where = [papers.c.id >= first, papers.c.id <= last]
    if only is not None:
        where.append(papers.c.id.in_(list(only)))
    base = conn.execute(
        select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            func.coalesce(papers.c.published_at, papers.c.first_seen_at),
            papers.c.keywords,
            papers.c.ai_summary,
        )
        .where(*where)
        .order_by(papers.c.id)
    ).all()
    authors: dict[int, list[str]] = {}
    cats: dict[int, list[str]] = {}
    if base:
        for pid, name in conn.execute(
            select(paper_authors.c.paper_id, paper_authors.c.name)
            .where(*_within(paper_authors.c.paper_id, first, last, only))
            .order_by(paper_authors.c.paper_id, paper_authors.c.position)
        ):
            authors.setdefault(int(pid), []).append(name)
        for pid, category in conn.execute(
            select(paper_categories.c.paper_id, paper_categories.c.category).where(
                *_within(paper_categories.c.paper_id, first, last, only)
            )
        ):
            cats.setdefault(int(pid), []).append(category)
    out = []
    for pid, title, abstract, day, keywords, ai_summary in base:
        doc = tantivy.Document()
        doc.add_integer("id", int(pid))
        for _ in range(TITLE_REPEATS):
            doc.add_text("text", title or "")
        doc.add_text("text", abstract or "")
        doc.add_text("text", ", ".join(authors.get(int(pid), ())))
        if keywords:
            for _ in range(KEYWORD_REPEATS):
                doc.add_text("text", ", ".join(keywords))
        if ai_summary:
            for _ in range(AI_SUMMARY_REPEATS):
                doc.add_text("text", ai_summary)
        for term in sorted(category_terms(cats.get(int(pid), ()))):
            doc.add_text("cats", term)
        doc.add_integer("day", day_number(day))
        out.append((int(pid), doc))
    return out


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted(set(int(i) for i in ids))
    for start in range(0, len(ordered), READ_CHUNK):
        yield ordered[start : start + READ_CHUNK]
