"""The Hugging Face daily papers source, on a real recorded ``/api/daily_papers`` response
(``tests/fixtures/hf_daily_papers_api.json``) and on real lines of the daily-papers archive
(``tests/fixtures/hf_daily_excerpt.jsonl``; provenance in ``tests/fixtures/SOURCE.md``)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.errors import SourceError
from paperfeed.ingest.decide import merge
from paperfeed.ingest.hf_daily import HfDailySource, parse_daily_papers
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.pipeline import ingest
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Rejection
from paperfeed.store import papers as store
from paperfeed.store.tables.papers import papers as papers_table

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "hf_daily_papers_api.json"
EXCERPT = FIXTURES / "hf_daily_excerpt.jsonl"


def items() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(FIXTURE.read_bytes())
    return loaded


def papers(data: bytes | str, **kwargs: Any) -> dict[str, Paper]:
    parsed = [r.item for r in parse_daily_papers(data, **kwargs)]
    assert all(isinstance(p, Paper) for p in parsed)
    return {p.arxiv_id: p for p in parsed if isinstance(p, Paper) and p.arxiv_id}


def test_every_item_of_the_fixture_becomes_a_paper_in_order() -> None:
    records = list(parse_daily_papers(FIXTURE.read_bytes()))
    assert [r.position for r in records] == list(range(1, 31))
    assert all(r.cursor is None for r in records)
    found = [r.item for r in records]
    assert all(isinstance(p, Paper) for p in found)
    assert [p.arxiv_id for p in found if isinstance(p, Paper)] == [
        item["paper"]["id"] for item in items()
    ]
    for paper in found:
        assert isinstance(paper, Paper)
        assert paper.source == "hf-daily" and paper.version is None
        # A UTC midnight naming 2026-06-12, taken as written; not the arXiv date.
        assert paper.featured_on == date(2026, 6, 12)
        assert paper.published_at is not None and paper.published_at.tzinfo is UTC


def test_item_2606_00467_is_mapped_exactly() -> None:
    paper = papers(FIXTURE.read_bytes())["2606.00467"]
    assert paper.title == (
        "On the Limits of LLM Adaptability: Impact of Model-Internalized Priors on "
        "Annotation Task Performance"
    )
    assert paper.authors == ("Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez")
    assert paper.upvotes == 0
    assert paper.featured_on == date(2026, 6, 12)
    assert paper.published_at == datetime(2026, 5, 30, tzinfo=UTC)
    assert paper.abstract.startswith(
        "Large Language Models (LLMs) are increasingly used for zero-shot annotation"
    )
    assert paper.abstract.endswith(
        "highlighting the importance of definition alignment over text-level memorization."
    )
    assert len(paper.abstract) == 1617
    assert paper.keywords == (
        "zero-shot annotation",
        "LLM-as-a-judge",
        "model-internalized priors",
        "decision stickiness",
        "toxicity detection",
        "dense models",
        "mixture-of-experts models",
        "rescue rate",
        "high-confidence errors",
        "misaligned task definitions",
        "Definition-Specific Familiarity",
        "ROUGE-L",
        "BERTScore",
        "embedding cosine similarity",
    )
    assert paper.code_url is None and paper.project_url is None
    assert paper.categories == () and paper.doi is None


def test_links_upvotes_and_hidden_authors() -> None:
    found = papers(FIXTURE.read_bytes())
    agent = found["2606.10423"]
    assert agent.title == "WebChallenger: A Reliable and Efficient Generalist Web Agent"
    assert agent.code_url == "https://github.com/jayoohwang1/webchallenger"
    assert agent.project_url == "https://jayoohwang1.github.io/webchallenger-site/"
    assert agent.upvotes == 2
    assert agent.published_at == datetime(2026, 6, 9, tzinfo=UTC)
    # "hidden" only hides the name on HF's page: the author is still an author, in place.
    assert found["2606.12575"].authors[2:5] == ("David Liu", "Dengyang Jiang", "Liangchen Li")
    assert len(found["2606.12575"].authors) == 10
    assert found["2606.13681"].upvotes == 118


def test_every_hugging_face_field_of_an_item_is_kept() -> None:
    found = papers(FIXTURE.read_bytes())
    paper = found["2606.00467"]
    assert paper.ai_summary == (
        "Large language models exhibit limited ability to correct zero-shot errors through "
        "prompting, with model performance more strongly linked to definition-specific "
        "familiarity than text-level memorization metrics."
    )
    assert paper.ai_summary_model == "Qwen/Qwen2.5-Coder-32B-Instruct"
    assert (paper.organization, paper.organization_fullname) == (
        "caltech",
        "California institute of technology",
    )
    # The API's submittedBy names the user in "name"; the paper's submittedOnDailyBy agrees.
    assert (paper.submitted_by, paper.submitted_by_fullname) == ("RKocielnik", "Rafal Kocielnik")
    assert paper.discussion_id == "6a2c75a4a0d4daae4285f068"
    assert paper.num_comments == 2
    assert paper.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2606.00467.png"
    )
    assert paper.submitted_on_daily_at == datetime(2026, 6, 12, tzinfo=UTC)
    assert paper.listed_at == datetime(2026, 5, 29, 20, tzinfo=UTC)
    assert paper.github_stars is None
    agent = found["2606.10423"]
    assert (agent.github_stars, agent.submitted_by, agent.organization) == (2, "jayoohwang", None)
    assert sum(p.organization is not None for p in found.values()) == 16
    item = json.loads(json.dumps(items()[0]))
    item["paper"]["githubRepo"] = " https://github.com/ FightingFighting/NeuroAda.git"  # as pasted
    (pasted,) = papers(json.dumps([item])).values()
    assert pasted.code_url == "https://github.com/FightingFighting/NeuroAda.git"
    assert all(p.ai_summary and p.discussion_id for p in found.values())


@pytest.mark.parametrize(
    ("where", "key", "value", "reason"),
    [
        ("paper", "upvotes", -3, "upvotes is not a count: -3"),
        ("paper", "upvotes", "12", "upvotes is not a count: '12'"),
        ("paper", "githubStars", True, "githubStars is not a count: True"),
        ("item", "numComments", 1.5, "numComments is not a count: 1.5"),
        ("paper", "ai_summary", ["x"], "ai_summary is list, not a string"),
        ("paper", "ai_keywords", "diffusion", "ai_keywords is str, not a list"),
        ("paper", "ai_keywords", ["ok", 3], "ai_keywords holds a int, not a string"),
        ("paper", "githubRepo", "github.com/x/y", "githubRepo is not an http(s) URL"),
        ("paper", "projectPage", "https:// ", "projectPage is not an http(s) URL"),
        ("item", "thumbnail", 7, "thumbnail is int, not a string"),
        ("paper", "organization", "caltech", "organization is str, not an object"),
        ("item", "submittedBy", {"user": 5}, "submittedBy.user is int, not a string"),
        ("paper", "discussionId", {}, "discussionId is dict, not a string"),
        ("item", "featured_on", "2026-02-30", "impossible featured_on '2026-02-30'"),
    ],
)
def test_a_malformed_value_rejects_the_whole_item_with_a_reason(
    where: str, key: str, value: object, reason: str
) -> None:
    item = json.loads(json.dumps(items()[0]))
    (item["paper"] if where == "paper" else item)[key] = value
    (record,) = parse_daily_papers(json.dumps([item]))
    assert isinstance(record.item, Rejection)
    assert record.item.ident == "2606.00467"
    assert record.item.reason.startswith(reason)


def test_archive_lines_feature_each_paper_on_its_list_day(tmp_path: Path) -> None:
    records = list(HfDailySource(EXCERPT).records(None))
    found = [r.item for r in records]
    assert all(isinstance(p, Paper) for p in found)
    by_day = [(p.arxiv_id, p.featured_on) for p in found if isinstance(p, Paper)]
    # Listed 2024-05-27, on arXiv 2024-05-24 (the day it drifted to before).
    assert by_day[0] == ("2405.15738", date(2024, 5, 27))
    assert by_day[1:3] == [("2405.15574", date(2024, 5, 27)), ("2405.15071", date(2024, 5, 27))]
    assert ("2501.05441", date(2025, 1, 10)) in by_day  # the list published it on 9 Jan, 22:24
    # Listed on 10 and 16 June: one paper, featured on the first day, with the later votes.
    assert ("2606.11176", date(2026, 6, 10)) in by_day and len(by_day) == 6
    repeat = next(p for p in found if isinstance(p, Paper) and p.arxiv_id == "2606.11176")
    assert repeat.upvotes == 82
    first = found[0]
    assert isinstance(first, Paper)
    assert first.published_at == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    assert first.listed_at == datetime(2024, 5, 27, 3, 50, 58, 348000, tzinfo=UTC)
    assert (first.upvotes, first.num_comments, first.submitted_by) == (32, 3, None)
    video = next(p for p in found if isinstance(p, Paper) and p.arxiv_id == "2510.02283")
    assert (video.organization, video.organization_fullname) == ("ByteDance-Seed", "ByteDance Seed")
    assert (video.submitted_by, video.submitted_by_fullname) == ("cuijiaxing", "cuijiaxing")
    assert (video.github_stars, video.upvotes) == (1, 43)
    assert video.code_url == "https://github.com/justincui03/Self-Forcing-Plus-Plus"
    assert video.project_url == "https://self-forcing-plus-plus.github.io/"
    assert video.keywords[:2] == ("diffusion models", "transformer architectures")
    assert video.ai_summary is not None and video.ai_summary.startswith("A method is proposed")
    assert video.submitted_on_daily_at == datetime(2025, 10, 3, 0, 21, 50, 292000, tzinfo=UTC)
    # The same lines gzip-compressed read the same; a line that is not JSON is rejected alone.
    packed = tmp_path / "archive.jsonl.gz"
    packed.write_bytes(gzip.compress(EXCERPT.read_bytes() + b"{oops\n\n"))
    again = list(HfDailySource(packed).records(None))
    assert [r.item for r in again[:-1]] == found
    assert isinstance(again[-1].item, Rejection) and again[-1].position == 8  # the 8th line
    assert again[-1].item.reason.startswith("not a JSON line")


def test_stored_papers_keep_every_field_and_the_first_list_day(
    engine: Engine, clock: FrozenClock
) -> None:
    report = ingest(engine, HfDailySource(EXCERPT), clock=clock)
    # 2606.11176 is listed twice: one paper, merged in the source.
    assert (report.fetched, report.new, report.rejected) == (6, 6, 0)
    parsed = {
        p.arxiv_id or "": p
        for r in HfDailySource(EXCERPT).records(None)
        if isinstance(p := r.item, Paper) and p.arxiv_id != "2606.11176"
    }
    with engine.connect() as conn:
        for arxiv_id, paper in parsed.items():
            stored = store.get_by_arxiv_id(conn, arxiv_id)
            assert stored is not None
            assert stored.paper == paper.with_arxiv_links()
        twice = store.get_by_arxiv_id(conn, "2606.11176")
    assert twice is not None
    # Featured once, on the first day it was listed; the counts are the latest seen.
    assert twice.paper.featured_on == date(2026, 6, 10)
    assert twice.paper.submitted_on_daily_at == datetime(2026, 6, 10, tzinfo=UTC)
    assert twice.paper.upvotes == 82
    # An arXiv record of the paper later wins the metadata and keeps every HF field.
    arxiv = Paper(
        title=parsed["2510.02283"].title,
        abstract="The arXiv abstract.",
        arxiv_id="2510.02283",
        version=2,
        categories=("cs.CV",),
        source="arxiv-api",
    )
    merged = merge(parsed["2510.02283"], arxiv)
    for name in ("ai_summary", "organization", "submitted_by", "github_stars", "num_comments"):
        assert getattr(merged, name) == getattr(parsed["2510.02283"], name)
    assert merged.keywords == parsed["2510.02283"].keywords
    assert merged.featured_on == date(2025, 10, 3) and merged.abstract == "The arXiv abstract."


@pytest.mark.parametrize(
    "body",
    [b"[{]", b"", b"[1,", b'{"error": "Invalid date"}', b"null", b"\xff\xfe[]"],
    ids=["bad-json", "empty", "cut", "object", "null", "bad-bytes"],
)
def test_a_body_that_is_not_a_json_array_is_a_source_error(body: bytes) -> None:
    with pytest.raises(SourceError, match="Hugging Face daily papers"):
        list(parse_daily_papers(body))


def test_bad_items_are_rejected_at_their_position_and_the_rest_parse() -> None:
    good = items()
    no_id = json.loads(json.dumps(good[1]))
    del no_id["paper"]["id"]
    bad_id = json.loads(json.dumps(good[2]))
    bad_id["paper"]["id"] = "2606.1"
    bad_day = json.loads(json.dumps(good[3]))
    bad_day["paper"]["submittedOnDailyAt"] = "2026-06-31T00:00:00.000Z"
    bad_published = json.loads(json.dumps(good[4]))
    bad_published["paper"]["publishedAt"] = "yesterday"
    body = json.dumps(
        [good[0], no_id, "oops", bad_id, bad_day, {"title": "x"}, bad_published, good[5]]
    )
    records = list(parse_daily_papers(body))
    assert [r.position for r in records] == list(range(1, 9))
    assert [type(r.item).__name__ for r in records] == [
        "Paper",
        "Rejection",
        "Rejection",
        "Rejection",
        "Rejection",
        "Rejection",
        "Rejection",
        "Paper",
    ]
    rejections = [r.item for r in records if isinstance(r.item, Rejection)]
    assert [(r.position, r.ident) for r in rejections] == [
        (2, None),
        (3, None),
        (4, "2606.1"),
        (5, "2606.13174"),
        (6, None),
        (7, "2606.10423"),
    ]
    assert [r.reason for r in rejections[:2]] == ["missing paper.id", "expected an object, got str"]
    assert "not an arXiv identifier" in rejections[2].reason
    assert rejections[3].reason.startswith("impossible submittedOnDailyAt '2026-06-31")
    assert rejections[4].reason == "missing paper object"
    assert rejections[5].reason == "impossible paper.publishedAt 'yesterday'"


def test_featured_day_is_the_list_day_never_the_arxiv_date() -> None:
    item = json.loads(json.dumps(items()[0]))
    del item["paper"]["submittedOnDailyAt"]
    item["paper"]["publishedAt"] = "2026-06-02T00:00:00.000Z"  # the arXiv date: never used
    item["publishedAt"] = "2026-06-12T02:30:00.000Z"  # when the list published it
    body = json.dumps([item])
    # The day asked for, else the UTC day the list published it.
    assert papers(body, day=date(2026, 6, 13))["2606.00467"].featured_on == date(2026, 6, 13)
    assert papers(body)["2606.00467"].featured_on == date(2026, 6, 12)
    item["submittedOnDailyAt"] = "2026-06-11T00:00:00.000Z"  # the item's copy of it
    assert papers(json.dumps([item]), day=date(2026, 6, 13))["2606.00467"].featured_on == date(
        2026, 6, 11
    )
    item["featured_on"] = "2026-06-10"  # the archive's own list day comes first
    assert papers(json.dumps([item]))["2606.00467"].featured_on == date(2026, 6, 10)
    del item["publishedAt"], item["submittedOnDailyAt"], item["featured_on"]
    assert papers(json.dumps([item]))["2606.00467"].featured_on is None


def test_a_file_source_reads_the_saved_response() -> None:
    source: Source = HfDailySource(FIXTURE)  # mypy checks the protocol
    assert source.name == "hf-daily" and source.checkpoint_key is None
    before = source.total  # unknown until the file has been read
    records = list(source.records(None))
    assert (before, source.total) == (None, 30)
    assert [r.item for r in records] == [r.item for r in parse_daily_papers(FIXTURE.read_text())]


def test_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read Hugging Face daily papers file"):
        list(HfDailySource(tmp_path / "absent.json").records(None))


class _Api(BaseHTTPRequestHandler):
    """A stand-in for huggingface.co: answers from a queue of (status, body) and logs paths."""

    answers: list[tuple[int, bytes]]
    requested: list[str]

    def do_GET(self) -> None:
        type(self).requested.append(self.path)
        status, body = type(self).answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def api() -> Iterator[tuple[str, type[_Api]]]:
    handler = type("Api", (_Api,), {"answers": [], "requested": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/daily_papers", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_live_api_is_fetched_for_the_day(api: tuple[str, type[_Api]]) -> None:
    url, handler = api
    handler.answers.extend([(503, b"busy"), (200, FIXTURE.read_bytes())])
    clock = FrozenClock(datetime(2026, 6, 12, 12, tzinfo=UTC))
    settings = load_settings(hf_daily_papers_url=url, timezone="America/New_York")
    with Fetcher(retries=2, backoff=1.0, clock=clock) as fetcher:
        source = HfDailySource.for_day(settings, date(2026, 6, 12), fetcher)
        assert source.is_remote
        records = list(source.records(None))
    assert handler.requested == ["/api/daily_papers?date=2026-06-12"] * 2
    assert clock.slept == [1.0]  # the 503 was retried through the Fetcher, without real sleep
    assert len(records) == 30 and source.total == 30
    assert [r.item for r in records] == [r.item for r in parse_daily_papers(FIXTURE.read_bytes())]


def test_a_live_error_answer_is_a_source_error(api: tuple[str, type[_Api]]) -> None:
    url, handler = api
    handler.answers.extend([(404, b'{"error": "not found"}'), (200, b"<html>oops</html>")])
    with Fetcher(retries=0) as fetcher:
        source = HfDailySource(url, day=date(2026, 6, 12), fetcher=fetcher)
        with pytest.raises(SourceError, match="answered HTTP 404"):
            list(source.records(None))
        with pytest.raises(SourceError, match="invalid JSON"):
            list(source.records(None))


@pytest.mark.quality
def test_the_whole_archive_keeps_its_580_list_days(
    sqlite_engine: Engine, clock: FrozenClock, external_data: Callable[[str, str], Path]
) -> None:
    archive = external_data("hf_daily_archive/hf_daily_archive.jsonl.gz", "the HF daily archive")
    report = ingest(sqlite_engine, HfDailySource(archive), clock=clock)
    # 9,881 listings of 9,877 papers (4 listed twice), none rejected.
    assert (report.fetched, report.new, report.rejected) == (9_877, 9_877, 0)
    with sqlite_engine.connect() as conn:
        days = conn.execute(select(func.count(papers_table.c.featured_on.distinct()))).scalar_one()
        drifted = store.get_by_arxiv_id(conn, "2405.15738")
    assert days == 580
    assert drifted is not None and drifted.paper.featured_on == date(2024, 5, 27)
