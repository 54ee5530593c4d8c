"""`paperfeed ingest arxiv|oai|rss|hf-daily` end to end: the CLI against recorded
responses replayed on 127.0.0.1, every base URL a setting."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES


@pytest.fixture
def run(db_url: str, replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    base = replay_server.url
    for name, value in {
        "DATABASE_URL": db_url,
        "FROZEN_TIME": "2026-11-23T15:00:00+00:00",
        "ARXIV_API_URL": f"{base}/api/query",
        "ARXIV_OAI_URL": f"{base}/oai",
        "ARXIV_RSS_URL": f"{base}/atom",
        "HF_DAILY_PAPERS_URL": f"{base}/api/daily_papers",
        "ARXIV_DELAY_SECONDS": "0",
        "HTTP_RETRIES": "1",
        "HTTP_BACKOFF_SECONDS": "0",
    }.items():
        monkeypatch.setenv(f"PAPERFEED_{name}", value)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_ingest_arxiv_api(run, replay_server: ReplayServer) -> None:  # type: ignore[no-untyped-def]
    feed = (FIXTURES / "arxiv_api_query_all-transformer_cat-cs.LG.atom.xml").read_bytes()
    feed = feed.replace(b"<opensearch:totalResults>28946<", b"<opensearch:totalResults>5<")
    replay_server.script("/api/query", Reply(200, feed, {"Content-Type": "application/atom+xml"}))
    result = run("ingest", "arxiv", "--category", "cs.LG", "--since", "2026-06-01", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["fetched"], report["new"], report["completed"]) == (5, 5, True)
    (request,) = replay_server.requests
    assert "cat:cs.LG" in request.param("search_query")
    assert "submittedDate:[202606010000 TO 202611232359]" in request.param("search_query")
    shown = json.loads(run("paper", "show", "2606.13677", "--json").output)
    assert shown["primary_category"] == "cs.RO"
    assert "cs.LG" in shown["categories"]
    assert shown["version"] == 1


def test_ingest_arxiv_api_server_down_is_reported_and_resumable(
    run, replay_server: ReplayServer
) -> None:  # type: ignore[no-untyped-def]
    replay_server.script(
        "/api/query", Reply(503, b"busy", {"Retry-After": "0"}), Reply(503, b"busy")
    )
    result = run("ingest", "arxiv", "--category", "cs.LG", "--since", "2026-06-01")
    assert result.exit_code == 5
    assert "stopped early" in result.output
    assert "failed after 2 attempts; last: HTTP 503" in result.output


def test_ingest_oai(run, replay_server: ReplayServer) -> None:  # type: ignore[no-untyped-def]
    body = (FIXTURES / "arxiv_oai_pmh_ListRecords_arXiv_physics-hep-th_2017-12-14.xml").read_bytes()
    replay_server.script("/oai", Reply(200, body, {"Content-Type": "text/xml"}))
    result = run(
        "ingest", "oai", "--set", "physics:hep-th", "--from", "2017-12-14", "--format", "arXiv"
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("oai: fetched 3, new 3")
    (request,) = replay_server.requests
    assert request.params() == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "physics:hep-th",
        "from": "2017-12-14",
    }


def test_ingest_rss_features_new_and_cross_listed(run, replay_server: ReplayServer) -> None:  # type: ignore[no-untyped-def]
    body = (FIXTURES / "arxiv_rss_atom_cs.AI_2025-08-20.xml").read_bytes()
    replay_server.script("/atom/cs.AI", Reply(200, body, {"Content-Type": "application/atom+xml"}))
    result = run("ingest", "rss", "cs.AI", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new"] == 7
    listed = json.loads(run("papers", "list", "--date", "2025-08-20", "--json").output)
    assert listed["count"] == 7


def test_ingest_hf_daily_live(run, replay_server: ReplayServer) -> None:  # type: ignore[no-untyped-def]
    body = (FIXTURES / "hf_daily_papers_api.json").read_bytes()
    replay_server.script(
        "/api/daily_papers", Reply(200, body, {"Content-Type": "application/json"})
    )
    result = run("ingest", "hf-daily", "--date", "2026-06-12")
    assert result.exit_code == 0, result.output
    assert replay_server.requests[0].params() == {"date": "2026-06-12"}
    listed = json.loads(run("papers", "list", "--date", "2026-06-12", "--json").output)
    assert listed["count"] == 30
    upvotes = [p["upvotes"] for p in listed["data"]]
    assert upvotes == sorted(upvotes, reverse=True)
