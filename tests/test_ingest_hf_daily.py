"""The Hugging Face daily papers source, on a real recorded ``/api/daily_papers`` response."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.errors import SourceError
from paperfeed.ingest.hf_daily import HfDailySource, parse_daily_papers
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Rejection

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURE = DATA / "fixtures" / "hf_daily_papers_api.json"
NEW_YORK = ZoneInfo("America/New_York")


def items() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(FIXTURE.read_bytes())
    return loaded


def papers(data: bytes | str, **kwargs: Any) -> dict[str, Paper]:
    parsed = [r.item for r in parse_daily_papers(data, NEW_YORK, **kwargs)]
    assert all(isinstance(p, Paper) for p in parsed)
    return {p.arxiv_id: p for p in parsed if isinstance(p, Paper) and p.arxiv_id}


def test_every_item_of_the_fixture_becomes_a_paper_in_order() -> None:
    records = list(parse_daily_papers(FIXTURE.read_bytes(), NEW_YORK))
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
        # A UTC midnight naming 2026-06-12: not shifted to New York's 11 June evening.
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


@pytest.mark.parametrize(
    "body",
    [b"[{]", b"", b"[1,", b'{"error": "Invalid date"}', b"null", b"\xff\xfe[]"],
    ids=["bad-json", "empty", "cut", "object", "null", "bad-bytes"],
)
def test_a_body_that_is_not_a_json_array_is_a_source_error(body: bytes) -> None:
    with pytest.raises(SourceError, match="Hugging Face daily papers"):
        list(parse_daily_papers(body, NEW_YORK))


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
    records = list(parse_daily_papers(body, NEW_YORK))
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
    assert rejections[5].reason == "impossible publishedAt 'yesterday'"


def test_featured_day_falls_back_to_the_asked_day_then_to_publication_in_the_zone() -> None:
    item = json.loads(json.dumps(items()[0]))
    del item["paper"]["submittedOnDailyAt"]
    item["paper"]["publishedAt"] = "2026-06-12T02:30:00.000Z"  # 11 June, 22:30 in New York
    body = json.dumps([item])
    assert papers(body, day=date(2026, 6, 13))["2606.00467"].featured_on == date(2026, 6, 13)
    assert papers(body)["2606.00467"].featured_on == date(2026, 6, 11)


def test_a_file_source_reads_the_saved_response() -> None:
    source: Source = HfDailySource(FIXTURE, zone=NEW_YORK)  # mypy checks the protocol
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
