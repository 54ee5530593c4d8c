"""The CLI as a user runs it: exit codes, reports, JSON output, the sample corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import current_revision, head_revision
from tests_support import FIXTURES

NOW = "2026-11-23T15:00:00+00:00"


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERFEED_FROZEN_TIME", NOW)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_the_demo_loads_real_daily_lists(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "sample", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # progress lines go to stderr
    assert (report["new"], report["rejected"], report["completed"]) == (1_371, 0, True)
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["papers"] == 1_371
    assert stats["featured_days"] == 59
    assert stats["first_featured_day"] == "2026-06-01"
    assert stats["last_featured_day"] == "2026-08-21"
    # The README's examples, as written.
    listed = json.loads(run("papers", "list", "--date", "2026-08-21", "--json").stdout)
    assert listed["data"][0]["id"] == "2608.19880" and listed["count"] == 17
    shown = json.loads(run("paper", "show", "2608.19880", "--json").stdout)
    assert shown["organization"] == "google" and shown["upvotes"] == 163
    text = run("paper", "show", "2608.19880").stdout
    assert "Organization: Google" in text and "Submitted by: taesiri" in text
    assert "Summary (written by a language model, from Hugging Face): EnvHarness" in text
    assert "Categories:" not in text, "HF papers carry no categories: no empty line for them"
    again = run("ingest", "sample", "--if-empty")
    assert "already holds papers" in again.output


def test_seed_pages_alone_fill_fourteen_days(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "sample", "--seed-pages", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # progress lines go to stderr
    assert (report["new"], report["rejected"], report["completed"]) == (660, 0, True)
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["papers"] == 660
    assert stats["featured_days"] == 14
    assert stats["last_featured_day"] == "2026-11-23"
    assert stats["first_featured_day"] == "2026-11-10"


def test_papers_list_shows_the_latest_day(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", "sample", "--seed-pages")
    listed = json.loads(run("papers", "list", "--json").output)
    assert listed["date"] == "2026-11-23"
    assert listed["count"] == len(listed["data"]) > 40
    text = run("papers", "list", "--date", "2026-11-22").output
    assert text.startswith("Daily papers of 2026-11-22")


def test_hf_daily_file_then_paper_show(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("hf-daily: fetched 30, new 30")
    shown = json.loads(run("paper", "show", "2606.00467v1", "--json").output)
    assert shown["id"] == "2606.00467"
    assert shown["authors"][:2] == ["Etienne Casanova", "Rafal Kocielnik"]
    assert shown["featured_on"] == "2026-06-12"
    assert shown["abs_url"] == "https://arxiv.org/abs/2606.00467"


def test_snapshot_reports_rejections_with_positions(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = (FIXTURES / "kaggle_arxiv-metadata-oai-snapshot_first200.jsonl").read_bytes()
    bad = tmp_path / "snap.jsonl"
    first, second, *_ = lines.splitlines(keepends=True)
    bad.write_bytes(first + b"{not json\n" + second + b'{"title": "no id"}\n')
    result = run("ingest", "snapshot", str(bad))
    assert result.exit_code == 0, result.output
    assert "new 2" in result.output and "rejected 2" in result.output
    assert "rejected #2:" in result.output
    assert "rejected #4:" in result.output


def test_errors_are_one_line_with_an_exit_code(run) -> None:  # type: ignore[no-untyped-def]
    missing = run("paper", "show", "2601.99999")
    assert missing.exit_code == 3
    assert missing.output.strip() == "error: no paper 2601.99999 in the database"
    bad_id = run("paper", "show", "not-an-id")
    assert bad_id.exit_code == 2
    bad_date = run("papers", "list", "--date", "yesterday")
    assert bad_date.exit_code == 2
    assert "expected a date as YYYY-MM-DD" in bad_date.output
    both = run("ingest", "hf-daily")
    assert both.exit_code == 2


def test_unmigrated_database_is_reported(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", empty_db_url)
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 6
    assert "run `paperfeed migrate`" in result.output
    migrated = CliRunner().invoke(cli, ["migrate"])
    assert migrated.exit_code == 0
    assert f"migrated database from empty to {head_revision()}" in migrated.output
    assert CliRunner().invoke(cli, ["stats"]).exit_code == 0


def test_bad_settings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_TIMEZONE", "Mars/Olympus")
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 78
    assert "PAPERFEED_TIMEZONE" in result.output


def test_config_file_is_read(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "paperfeed.toml"
    config.write_text(f'database_url = "{empty_db_url}"\n')
    monkeypatch.delenv("PAPERFEED_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(config), "migrate"])
    assert result.exit_code == 0, result.output
    engine = make_engine(empty_db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
