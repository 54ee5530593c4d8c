"""`paperfeed search`, `similar`, `index …` and `eval retrieval` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from tests_support import FIXTURES


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "static")
    monkeypatch.setenv("PAPERFEED_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("PAPERFEED_FROZEN_TIME", "2026-06-13T12:00:00+00:00")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_ingest_embeds_then_search_and_similar(run) -> None:  # type: ignore[no-untyped-def]
    done = run("ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"), "--embed")
    assert done.exit_code == 0, done.output
    status = json.loads(run("index", "status", "--json").output)
    assert status["papers"] == status["lexical_indexed"] == 30
    assert status["missing_vectors"] == 0 and status["mismatch"] is None
    # The ingest command left the tantivy word index in step before it exited, on either
    # database ("auto"; on PostgreSQL it follows the change journal kept in the database).
    assert status["lexical_engine"] == "tantivy"
    assert status["tantivy"]["indexed"] == 30 and status["tantivy"]["behind"] == 0
    assert "tantivy word index: 30 papers, in step" in run("index", "status").output
    found = json.loads(run("search", "speculative decoding", "--json", "--limit", "3").output)
    assert found["count"] == 3 and found["data"][0]["id"] == "2606.12243"
    assert {"id", "title", "score"} <= set(found["data"][0])
    text = run("search", "speculative decoding", "--mode", "lexical").output
    assert "2606.12243" in text.splitlines()[0]
    near = json.loads(run("similar", "2606.12243", "--limit", "4", "--json").output)
    assert near["count"] == 4 and "2606.12243" not in [p["id"] for p in near["data"]]


def test_no_embed_then_update(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"), "--no-embed")
    assert json.loads(run("index", "status", "--json").output)["missing_vectors"] == 30
    updated = run("index", "update")
    assert updated.exit_code == 0 and "embedded 30 papers" in updated.output
    assert "word index (tantivy): 0 papers indexed" in updated.output  # already in step
    # The recommendation features are made here once, for the serve workers to map.
    assert "recommendation features: 30 papers, brought up to date" in updated.output
    assert "30 papers, already in step" in run("index", "update").output
    assert json.loads(run("index", "status", "--json").output)["missing_vectors"] == 0


def test_switching_models_is_reported_then_rebuilt(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"), "--embed")
    monkeypatch.setenv("PAPERFEED_EMBEDDER", "minilm")
    status = json.loads(run("index", "status", "--json").output)
    assert "run `paperfeed index rebuild`" in status["mismatch"]
    refused = run("search", "decoding", "--mode", "semantic")
    assert refused.exit_code == 78 and "index rebuild" in refused.output
    rebuilt = run("index", "rebuild")
    assert rebuilt.exit_code == 0 and "embedded 30 papers" in rebuilt.output
    assert "word index rebuilt: 30 papers" in rebuilt.output
    assert "word index (tantivy): 30 papers indexed" in rebuilt.output
    assert json.loads(run("index", "status", "--json").output)["mismatch"] is None


def test_bad_queries_exit_2_with_a_message(run) -> None:  # type: ignore[no-untyped-def]
    result = run("search", "after:tomorrow")
    assert result.exit_code == 2
    assert result.output.startswith("error: after: expected a date")


@pytest.mark.quality
def test_eval_retrieval_on_a_beir_subset(run, tmp_path: Path, external_data) -> None:  # type: ignore[no-untyped-def]
    scifact = external_data("scifact", "SciFact")  # CC BY-NC: evaluation only, never shipped
    qrels = [
        line.split("\t")
        for line in (scifact / "qrels" / "train.tsv").read_text().splitlines()[1:40]
    ]
    wanted_docs = {row[1] for row in qrels}
    wanted_queries = {row[0] for row in qrels}
    corpus = [
        line
        for line in (scifact / "corpus.jsonl").read_text().splitlines()
        if json.loads(line)["_id"] in wanted_docs
    ][:200]
    corpus += (scifact / "corpus.jsonl").read_text().splitlines()[:200]
    queries = [
        line
        for line in (scifact / "queries.jsonl").read_text().splitlines()
        if json.loads(line)["_id"] in wanted_queries
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(dict.fromkeys(corpus)) + "\n")
    (tmp_path / "queries.jsonl").write_text("\n".join(queries) + "\n")
    (tmp_path / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join("\t".join(r) for r in qrels) + "\n"
    )
    result = run(
        "eval", "retrieval",
        "--corpus", str(tmp_path / "corpus.jsonl"),
        "--queries", str(tmp_path / "queries.jsonl"),
        "--qrels", str(tmp_path / "qrels.tsv"),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert set(scores) == {"hybrid", "lexical", "semantic"}
    for mode in scores.values():
        assert set(mode) == {"ndcg@10", "recall@100", "mrr@10"}
        assert 0.0 < mode["ndcg@10"] <= 1.0
    # On a few hundred documents, the judged document is usually found by words.
    assert scores["lexical"]["recall@100"] > 0.8


def test_ingest_keeps_recommendation_features_in_step_once_kept(  # type: ignore[no-untyped-def]
    run, db_url: str, tmp_path: Path
) -> None:
    from paperfeed.index.recommend.cache import FeatureCache
    from paperfeed.index.vectors.table import count_model, read_journal_version, recorded_model
    from paperfeed.store.engine import make_engine

    def kept() -> tuple[tuple[int, int] | None, tuple[int, int]]:
        engine = make_engine(db_url, create=False)
        with engine.connect() as conn:
            recorded = recorded_model(conn)
            assert recorded is not None
            key = (read_journal_version(conn, recorded[0]), count_model(conn, recorded[0]))
        files = FeatureCache(engine, recorded[0], tmp_path / "index").files()
        assert files is not None
        stored = files.stored_key()
        engine.dispose()
        return stored, key

    run("ingest", "hf-daily", str(FIXTURES / "hf_daily_papers_api.json"), "--embed")
    assert kept()[0] is None  # a hub that never asked for them makes none
    assert "30 papers, brought up to date" in run("index", "update").output
    stored, now = kept()
    assert stored == now and now[1] == 30
    more = run("ingest", "hf-daily", str(FIXTURES / "hf_daily_excerpt.jsonl"), "--embed")
    assert more.exit_code == 0, more.output
    stored, now = kept()
    assert stored == now and now[1] > 30  # the new papers have rows: workers only map
