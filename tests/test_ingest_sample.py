"""The bundled data: the demo (real Hugging Face daily lists) and the 660 seed-page papers.

Everything here reads the package's own files; the two checks against the data they were
cut from (outside the repository) are marked ``quality`` and skip without it."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import Engine, func, select

from paperfeed.clock import FrozenClock
from paperfeed.errors import InvalidInputError
from paperfeed.index.embedders.embedder import load_embedder, paper_text
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors.bundled import bundled, embed_texts
from paperfeed.ingest.demo import DemoSource, demo_lines
from paperfeed.ingest.pipeline import ingest
from paperfeed.ingest.sample import SampleSource, load_sample_rows
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, normalise_title
from paperfeed.rank.lists import trending_list
from paperfeed.rank.search import search
from paperfeed.rank.trending import TrendingRule
from paperfeed.store import papers as store
from paperfeed.store.tables.papers import paper_embeddings

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 6, 12)
ExternalData = Callable[[str, str], Path]


def demo_papers() -> list[Paper]:
    papers = [r.item for r in DemoSource().records(None)]
    assert all(isinstance(p, Paper) for p in papers)
    return [p for p in papers if isinstance(p, Paper)]


def test_the_demo_is_three_months_of_real_daily_lists() -> None:
    source: Source = DemoSource()  # mypy checks the protocol
    records = list(source.records(None))
    assert source.name == "sample" and source.checkpoint_key is None
    assert len(demo_lines()) == 1_374 and source.total == len(records) == 1_371
    papers = demo_papers()
    days = Counter(p.featured_on or date.min for p in papers)
    assert len(days) == 59
    assert (min(days), max(days)) == (date(2026, 6, 1), date(2026, 8, 21))
    assert all(d.weekday() < 5 for d in days)
    assert len({p.arxiv_id for p in papers}) == 1_371
    assert all(p.source == "hf-daily" and p.authors and p.upvotes is not None for p in papers)
    assert all(p.published_at is not None and p.submitted_by for p in papers)
    assert sum(p.ai_summary is not None for p in papers) == 938
    assert sum(bool(p.keywords) for p in papers) == 935
    assert sum(p.code_url is not None for p in papers) == 804
    assert sum(p.project_url is not None for p in papers) == 678
    assert sum(p.organization is not None for p in papers) == 877
    assert sum(p.upvotes or 0 for p in papers) > 20_000  # trending has real votes to rank


def test_the_readme_examples_are_in_the_demo() -> None:
    by_id = {p.arxiv_id: p for p in demo_papers()}
    top = by_id["2608.19880"]
    assert top.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert top.featured_on == date(2026, 8, 21) and top.upvotes == 163
    assert top.code_url == "https://github.com/google-research/envharness"
    assert top.organization == "google" and top.ai_summary and top.keywords
    # Listed on 10 and 16 June: featured on the first, with the later count.
    twice = by_id["2606.11176"]
    assert (twice.featured_on, twice.upvotes) == (date(2026, 6, 10), 82)


def test_every_demo_paper_has_its_shipped_vector() -> None:
    shipped = bundled()
    assert shipped is not None
    assert shipped.model == load_embedder("minilm").name
    texts = [paper_text(p.title, p.abstract) for p in demo_papers()]
    assert len(shipped.find(shipped.model, texts)) == len(texts) == len(shipped.rows)
    assert shipped.find("another-model", texts) == {}
    norms = np.linalg.norm(shipped.vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


@pytest.mark.slow  # runs the MiniLM model
def test_shipped_vectors_are_what_the_model_computes() -> None:
    embedder = load_embedder("minilm")
    papers = demo_papers()
    texts = [paper_text(p.title, p.abstract) for p in (papers[0], papers[700], papers[-1])]
    fresh = embedder.embed(texts)
    # Two shipped texts and one the model must embed (an edited abstract), in order.
    edited = texts[2] + " Edited."
    mixed = embed_texts(embedder, [texts[0], edited, texts[1]])
    cosine = np.sum(mixed[[0, 2]] * fresh[:2], axis=1)
    assert np.all(cosine > 0.999)
    assert np.allclose(mixed[1], embedder.embed([edited])[0], atol=1e-6)


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


@pytest.mark.quality
def test_the_bundled_rows_keep_each_papers_first_page_and_rank(
    external_data: ExternalData,
) -> None:
    seed_pages = external_data("seed_pages.jsonl", "the raw seed pages")
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
    seeds = [json.loads(line) for line in seed_pages.read_text(encoding="utf-8").splitlines()]
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


def _bench_module(name: str) -> ModuleType:
    """A script of bench/, imported as the scripts import each other (bench/ on the path)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.quality
def test_the_builder_reproduces_the_bundled_file_byte_for_byte(
    tmp_path: Path, external_data: ExternalData
) -> None:
    seed_pages = external_data("seed_pages.jsonl", "the raw seed pages")
    builder = _bench_module("build_sample")
    output = tmp_path / "sample_papers.jsonl.gz"
    assert builder.build(seed_pages, output) == 660
    bundled = resources.files("paperfeed.ingest").joinpath("data", "sample_papers.jsonl.gz")
    assert output.read_bytes() == bundled.read_bytes()


@pytest.mark.quality
def test_the_demo_is_the_archive_from_june_2026_on(external_data: ExternalData) -> None:
    archive = external_data("hf_daily_archive/hf_daily_archive.jsonl.gz", "the HF daily archive")
    builder = _bench_module("build_demo")
    lines = builder.demo_lines(archive)
    assert [line.encode("utf-8").rstrip(b"\n") for line in lines] == demo_lines()


def test_the_demo_trends_as_of_its_latest_list(engine: Engine, clock: FrozenClock) -> None:
    report = ingest(engine, DemoSource(), clock=clock)
    assert (report.new, report.rejected) == (1_371, 0)
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    zone = ZoneInfo("UTC")
    # Nothing featured in the week up to today: feeds and digests see an empty list ...
    plain = trending_list(engine, now=now, zone=zone, rule=TrendingRule())
    assert (plain.papers, plain.as_of) == ([], None)
    # ... and the page ranks the week up to the latest list, as of that day's end.
    page = trending_list(engine, now=now, zone=zone, rule=TrendingRule(), latest_when_stale=True)
    assert page.as_of == date(2026, 8, 21)
    assert page.papers[0].paper.arxiv_id == "2608.19880"  # 163 votes on the latest day
    days = {s.paper.featured_on for s in page.papers}
    assert days <= {date(2026, 8, 14) + timedelta(days=k) for k in range(8)}
    assert len(page.papers) == 50 and page.more
    # A hub with a list this week ranks it as of now.
    fresh = trending_list(
        engine,
        now=datetime(2026, 8, 21, 12, tzinfo=UTC),
        zone=zone,
        rule=TrendingRule(),
        latest_when_stale=True,
    )
    assert fresh.as_of is None and fresh.papers[0].paper.arxiv_id == "2608.19880"
    # README's query-syntax example finds real papers, each holding the phrase.
    found = search(
        engine, None, '"world model" -video author:zhang after:2026-07-01', mode="lexical"
    )
    with engine.connect() as conn:
        shown = store.read_papers(conn, [h.paper_id for h in found.hits])
    assert len(shown) >= 4
    for stored in shown.values():
        paper = stored.paper
        text = f"{paper.title} {paper.abstract} {paper.ai_summary} {paper.keywords}".lower()
        assert "world model" in text
        assert any("zhang" in name.lower().split() for name in paper.authors)
        assert paper.published_at is not None and paper.published_at.date() >= date(2026, 7, 1)


@pytest.mark.slow  # runs the MiniLM model
def test_the_demo_is_embedded_from_its_shipped_vectors(
    engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(engine, DemoSource(), clock=clock)
    index = SemanticIndex(engine, embedder="minilm", exact_max=10**9, cache_dir=None)
    embedder = index.embedder
    model_runs: list[int] = []
    real_embed = embedder.embed

    def counted(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        model_runs.append(len(texts))
        return real_embed(texts)

    monkeypatch.setattr(embedder, "embed", counted)
    with engine.connect() as conn:
        ids = store.all_ids(conn)
        top = store.get_by_arxiv_id(conn, "2608.19880")
    assert index.embed_papers(ids) == 1_371
    assert sum(model_runs) == 0  # every vector came from the package
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(paper_embeddings.c.model == embedder.name)
        ).scalar_one()
    assert stored == 1_371
    # Search by meaning works on them: a description of the paper finds it first.
    assert top is not None
    hits = index.search("awakening static worlds into environments for agent learning", 3)
    assert hits[0].paper_id == top.id
    assert sum(model_runs) == 1  # the query


@pytest.mark.slow  # runs the MiniLM model
def test_the_demo_hub_shows_real_lists(db_url: str, tmp_path: Path, clock: FrozenClock) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.config import load_settings
    from paperfeed.deliver.app import create_app
    from paperfeed.store.engine import make_engine

    engine = make_engine(db_url)
    ingest(engine, DemoSource(), clock=clock)
    index = SemanticIndex(engine, embedder="minilm", exact_max=10**9, cache_dir=None)
    with engine.connect() as conn:
        index.embed_papers(store.all_ids(conn))  # from the shipped vectors, as `make run` does
    engine.dispose()
    settings = load_settings(
        database_url=db_url,
        frozen_time=datetime(2026, 12, 7, 9, tzinfo=UTC),
        index_dir=str(tmp_path),
    )
    with TestClient(create_app(settings)) as client:
        home = client.get("/")
        assert home.status_code == 200
        assert "2026-08-21" in home.text and "EnvHarness" in home.text
        trending = client.get("/trending")
        assert "up to the latest list" in trending.text
        assert trending.text.index("2608.19880") < trending.text.index("2608.18580")
        for path in ("/papers/week/2026-W34", "/papers/month/2026-07"):
            page = client.get(path)
            assert page.status_code == 200 and page.text.count('class="paper"') == 50, path
        paper = client.get("/papers/2608.19880")
        assert "https://github.com/google-research/envharness" in paper.text
        assert "Chengsong Huang" in paper.text and "Environment Harness" in paper.text
        assert "dynamically reshape static environments via programmable plugins" in paper.text
        found = client.get("/search", params={"q": "static worlds agent learning"})
        assert found.status_code == 200 and "2608.19880" in found.text
