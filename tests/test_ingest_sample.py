"""The bundled sample corpus and its source."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest

from paperfeed.errors import InvalidInputError
from paperfeed.ingest.sample import SampleSource, load_sample_rows
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, normalise_title

ROOT = Path(__file__).resolve().parents[1]
SEED_PAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_pages.jsonl"
TODAY = date(2026, 6, 12)


def sample_papers(today: date = TODAY, days: int = 14) -> list[Paper]:
    papers = []
    for record in SampleSource(today, days).records(None):
        assert isinstance(record.item, Paper)
        papers.append(record.item)
    return papers


def test_the_sample_is_the_660_unique_seed_papers() -> None:
    source: Source = SampleSource(TODAY)  # mypy checks the protocol
    records = list(source.records(None))
    assert source.name == "sample" and source.checkpoint_key is None
    assert source.total == 660
    assert [r.position for r in records] == list(range(1, 661))
    assert all(r.cursor is None for r in records)
    papers = [r.item for r in records]
    assert all(
        isinstance(p, Paper)
        and p.source == "sample"
        and p.arxiv_id is None
        and p.upvotes is None
        and p.title
        and len(p.abstract) >= 423
        for p in papers
    )
    titles = {normalise_title(p.title) for p in papers if isinstance(p, Paper)}
    assert len(titles) == 660


def test_the_bundled_rows_keep_each_papers_first_page_and_rank() -> None:
    rows = load_sample_rows()
    assert len(rows) == 660
    assert Counter(row.page[:3] for row in rows) == Counter(
        {"000": 62, "001": 111, "002": 276, "003": 148, "004": 63}
    )
    first = rows[0]
    assert (first.page, first.rank) == ("000_ca549848026b38ae.txt", 1)
    assert first.title == (
        "StyleTalk: One-shot Talking Head Generation with Controllable Speaking Styles"
    )
    assert first.abstract.startswith("Different people speak with diverse personalized speaking")
    # On four pages; the first occurrence (000, rank 53) wins.
    (tricks,) = [r for r in rows if r.title.startswith("A Bag of Tricks for Few-Shot Class")]
    assert (tricks.page, tricks.rank) == ("000_ca549848026b38ae.txt", 53)
    seeds = [json.loads(line) for line in SEED_PAGES.read_text(encoding="utf-8").splitlines()]
    first_seen: dict[str, dict[str, object]] = {}
    for seed in seeds:
        first_seen.setdefault(normalise_title(seed["title"]), seed)
    for row in rows:
        seed = first_seen[normalise_title(row.title)]
        assert (row.title, row.abstract, row.page, row.rank) == (
            seed["title"],
            seed["abstract"],
            seed["page"],
            seed["rank"],
        )


@pytest.mark.parametrize("days", [1, 3, 14, 30])
def test_papers_are_spread_over_exactly_the_days_ending_today(days: int) -> None:
    per_day = Counter(p.featured_on for p in sample_papers(TODAY, days))
    assert set(per_day) == {TODAY - timedelta(days=k) for k in range(days)}
    assert max(per_day.values()) - min(per_day.values()) <= 1


def test_every_day_gets_its_share_of_every_page() -> None:
    page_of = {row.title: row.page for row in load_sample_rows()}
    pages_by_day: dict[date | None, Counter[str]] = {}
    for paper in sample_papers():
        pages_by_day.setdefault(paper.featured_on, Counter())[page_of[paper.title]] += 1
    page_sizes = Counter(page_of.values())
    for counts in pages_by_day.values():
        assert set(counts) == set(page_sizes)
        for page, count in counts.items():
            assert abs(count - page_sizes[page] / 14) < 1


def test_the_spread_is_deterministic() -> None:
    assert sample_papers() == sample_papers()
    moved = sample_papers(TODAY + timedelta(days=1))
    assert [p.featured_on for p in moved] == [
        p.featured_on + timedelta(days=1) for p in sample_papers() if p.featured_on
    ]


def test_at_least_one_day_is_required() -> None:
    with pytest.raises(InvalidInputError, match="at least one day"):
        SampleSource(TODAY, days=0)


def test_the_builder_reproduces_the_bundled_file_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_sample", ROOT / "bench" / "build_sample.py"
    )
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    output = tmp_path / "sample_papers.jsonl.gz"
    assert builder.build(SEED_PAGES, output) == 660
    bundled = resources.files("paperfeed.ingest").joinpath("data", "sample_papers.jsonl.gz")
    assert output.read_bytes() == bundled.read_bytes()
