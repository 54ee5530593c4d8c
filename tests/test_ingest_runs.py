"""`paperfeed ingest` as a user runs it when things go wrong (refs #15).

A run that stops early keeps what it fetched and says where a rerun resumes; an upstream
that repeats a page is caught; progress is shown off a terminal too; an error prints
once; a rerun after a kill embeds the vectors the killed run never wrote.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES

RECORDED = (FIXTURES / "arxiv_api_query_all-transformer_cat-cs.LG.atom.xml").read_text("utf-8")
HEAD = RECORDED[: RECORDED.index("  <entry>")]
ENTRIES = re.findall(r"  <entry>.*?</entry>\n", RECORDED, flags=re.DOTALL)
PATH = "/api/query"
ARXIV = ("ingest", "arxiv", "-c", "cs.LG", "--since", "2026-06-01", "--until", "2026-06-30")


def feed(entries: list[str], *, total: int, start: int) -> bytes:
    head = re.sub(r"<opensearch:startIndex>\d+<", f"<opensearch:startIndex>{start}<", HEAD)
    head = re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{total}<", head)
    return (head + "".join(entries) + "</feed>\n").encode("utf-8")


@pytest.fixture
def run(db_url: str, replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERFEED_FROZEN_TIME", "2026-06-30T12:00:00+00:00")
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", replay_server.url + PATH)
    monkeypatch.setenv("PAPERFEED_HF_DAILY_PAPERS_URL", replay_server.url + "/api/daily_papers")
    monkeypatch.setenv("PAPERFEED_ARXIV_PAGE_SIZE", "2")
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY_SECONDS", "0")
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "0")
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "static")
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _stored(run) -> int:  # type: ignore[no-untyped-def]
    return int(json.loads(run("stats", "--json").output)["papers"])


def test_a_run_that_stops_early_keeps_what_it_fetched_and_resumes(run, replay_server) -> None:  # type: ignore[no-untyped-def]
    replay_server.script(
        PATH,
        Reply(200, feed(ENTRIES[0:2], total=5, start=0)),
        Reply(200, feed(ENTRIES[2:4], total=5, start=2)),
        Reply(503, b"upstream down"),
    )
    first = run(*ARXIV, "--json")
    assert first.exit_code == 5
    report = json.loads(first.stdout)
    assert (report["fetched"], report["new"], report["completed"]) == (4, 4, False)
    assert "rerun the same command to resume" in first.stderr
    assert _stored(run) == 4

    replay_server.script(PATH, Reply(200, feed(ENTRIES[4:5], total=5, start=4)))
    again = run(*ARXIV, "--json")
    assert again.exit_code == 0, again.output
    resumed = json.loads(again.stdout)
    assert (resumed["resumed_from"], resumed["new"], resumed["completed"]) == ("4", 1, True)
    assert replay_server.requests_to(PATH)[-1].param("start") == "4"
    assert _stored(run) == 5


def test_an_upstream_repeating_its_page_is_stopped_with_a_clear_message(  # type: ignore[no-untyped-def]
    run, replay_server
) -> None:
    same = feed(ENTRIES[0:2], total=5, start=0)
    replay_server.script(PATH, Reply(200, same), Reply(200, same))
    result = run(*ARXIV)
    assert result.exit_code == 5
    assert result.output.count("stopped so as not to loop over one page") == 1, result.output
    assert len(replay_server.requests_to(PATH)) == 2
    assert _stored(run) == 2


def test_progress_is_logged_off_a_terminal(run, replay_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("paperfeed.cli.progress.LOG_EVERY", 0.0)  # a line at every step
    monkeypatch.setenv("PAPERFEED_INGEST_BATCH_SIZE", "2")
    replay_server.script(
        PATH,
        Reply(200, feed(ENTRIES[0:2], total=5, start=0)),
        Reply(200, feed(ENTRIES[2:4], total=5, start=2)),
        Reply(200, feed(ENTRIES[4:5], total=5, start=4)),
    )
    result = run(*ARXIV, "--embed")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(re.match(r"arxiv-api: 2 of 5 records \(40%\), [\d.]+/s, about", x) for x in lines)
    assert any(re.match(r"arxiv-api: 5 of 5 records \(100%\)", line) for line in lines), lines
    assert any(re.match(r"embedding: 5 of 5 papers \(100%\)", line) for line in lines), lines


@pytest.mark.slow  # the command in a child process, to see its stderr whole
def test_an_upstream_error_prints_once(db_url: str, replay_server: ReplayServer) -> None:
    replay_server.script("/api/daily_papers", Reply(500, b"boom"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_HF_DAILY_PAPERS_URL": replay_server.url + "/api/daily_papers",
        "PAPERFEED_HTTP_RETRIES": "0",
        "PAPERFEED_EMBED_ON_INGEST": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed", "ingest", "hf-daily", "--date", "2026-06-29"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 5
    both = done.stdout + done.stderr
    assert both.count("failed after 1 attempts") == 1, both


def test_a_rerun_after_a_kill_embeds_the_missing_vectors(run) -> None:  # type: ignore[no-untyped-def]
    hf_file = str(FIXTURES / "hf_daily_papers_api.json")
    # The killed run: its batch committed, its vectors never written.
    assert run("ingest", "hf-daily", hf_file, "--no-embed").exit_code == 0
    before = json.loads(run("index", "status", "--json").output)
    assert before["missing_vectors"] == 30
    rerun = run("ingest", "hf-daily", hf_file, "--embed")
    assert rerun.exit_code == 0, rerun.output
    after = json.loads(run("index", "status", "--json").output)
    assert after["missing_vectors"] == 0


def test_progress_lines_come_every_few_seconds_and_at_the_end() -> None:
    from paperfeed.cli.progress import Progress

    now = [0.0]
    out = io.StringIO()
    bar = Progress("oai", "records", stream=out, every=5.0, tty=False, clock=lambda: now[0])
    for step in range(1, 13):  # 100 records a second, for 12 seconds
        now[0] = float(step)
        bar.update(step * 100, 1200)
    bar.close()
    assert out.getvalue().splitlines() == [
        "oai: 500 of 1,200 records (41%), 100/s, about 7s left",
        "oai: 1,000 of 1,200 records (83%), 100/s, about 2s left",
        "oai: 1,200 of 1,200 records (100%), 100/s",
    ]


def test_a_short_run_off_a_terminal_prints_no_progress() -> None:
    from paperfeed.cli.progress import Progress

    out = io.StringIO()
    bar = Progress("rss", "records", stream=out, tty=False)
    bar.update(30, 30)
    bar.close()
    assert out.getvalue() == ""
