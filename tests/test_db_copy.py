"""`paperfeed db copy`: SQLite <-> PostgreSQL round trips verified by checksums, resuming
after a SIGKILL, refusing targets it must not touch, and the app working on the copy."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, insert, inspect, select, text

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.errors import ConflictError
from paperfeed.index.lexical import database as lexical
from paperfeed.ingest.hf_daily import HfDailySource
from paperfeed.ingest.pipeline import ingest
from paperfeed.ingest.sample import SampleSource
from paperfeed.ingest.snapshot import SnapshotSource
from paperfeed.store import collections, comments, deliveries, recommendations, subscriptions
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.store.checksum import canonical, digest_rows
from paperfeed.store.copy import PROGRESS_TABLE, verify
from paperfeed.store.copy_plan import Start, copied_tables, decide_start
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.tables.papers import index_state, paper_embeddings, papers
from tests_support import FIXTURES

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SNAPSHOT = "kaggle_arxiv-metadata-oai-snapshot_first200.jsonl"
#: Papers in the populated database: 660 sample, 30 Hugging Face, 200 from the snapshot.
PAPERS = 890


def populate(url: str) -> None:
    """A deployment with a bit of everything: papers from two sources, vectors, members,
    sessions, votes, comments with a reply, collections, subscribers, a digest's ledger,
    recommendation signals and index state."""
    engine = make_engine(url)
    clock = FrozenClock(NOW)
    ingest(engine, SampleSource(NOW.date(), days=14), clock=clock)
    ingest(engine, HfDailySource(FIXTURES / "hf_daily_papers_api.json"), clock=clock)
    ingest(engine, SnapshotSource(FIXTURES / SNAPSHOT), clock=clock)
    with writing(engine) as conn:
        ids = [int(i) for i in conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars()]
        rng = np.random.default_rng(7)
        conn.execute(
            insert(paper_embeddings),
            [
                {"paper_id": i, "model": "test", "vector": rng.random(8, np.float32).tobytes()}
                for i in ids[:300]
            ],
        )
        conn.execute(insert(index_state).values(name="copy-test", value={"a": [1, 2.5, None]}))
        members = [
            user_store.create_user(
                conn,
                email=f"m{n}@example.org",
                username=f"member{n}",
                password_hash="x" * 20,
                role="admin" if n == 0 else "member",
                now=NOW - timedelta(days=n),
                verified=n != 2,
            )
            for n in range(3)
        ]
        user_store.create_session(
            conn,
            token_hash="a" * 64,
            user_id=members[0].id,
            now=NOW,
            expires_at=NOW + timedelta(days=30),
        )
        for n, member in enumerate(members):
            for paper_id in ids[n : n + 20]:
                vote_store.set_vote(conn, paper_id=paper_id, user_id=member.id, on=True, now=NOW)
        top = comments.add(
            conn, paper_id=ids[0], user_id=members[0].id, parent_id=None, body="Nice $x^2$", now=NOW
        )
        comments.add(
            conn, paper_id=ids[0], user_id=members[1].id, parent_id=top, body="Agreed", now=NOW
        )
        shelf = collections.create(
            conn, user_id=members[1].id, title="Reading", description="é ü", public=True, now=NOW
        )
        for paper_id in ids[5:9]:
            collections.put_item(conn, shelf, paper_id, "note ✓", NOW)
        sid = subscriptions.create(
            conn, email="reader@example.org", frequency="daily", link_key="k" * 32, now=NOW
        )
        subscriptions.change(conn, sid, status="confirmed", confirmed_at=NOW)
        subscriptions.set_searches(conn, sid, ["diffusion", "author:Ada"])
        deliveries.plan(conn, "daily:2026-11-23", [sid], NOW)
        recommendations.add_signal(
            conn, user_id=members[0].id, paper_id=ids[3], kind="view", now=NOW
        )
    engine.dispose()


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A populated SQLite database, built once; tests copy the file."""
    path = tmp_path_factory.mktemp("populated") / "source.db"
    path.write_bytes(sqlite_template.read_bytes())
    populate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def source_url(populated: Path, tmp_path: Path) -> str:
    path = tmp_path / "source.db"
    path.write_bytes(populated.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _digests(url: str) -> dict[str, tuple[int, str]]:
    engine = make_engine(url)
    try:
        tables = copied_tables("sqlite", "postgresql")
        reports = verify(engine, engine, tables)
    finally:
        engine.dispose()
    return {r.name: (r.rows, r.source.digest if r.source else "") for r in reports}


@pytest.mark.postgres
def test_round_trip_sqlite_postgres_sqlite_keeps_every_row(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str, tmp_path: Path
) -> None:
    result = run("db", "copy", "--from", source_url, "--to", postgres_url, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["checksums_ok"] is True
    assert summary["start"] == "fresh"
    assert summary["papers"] == PAPERS
    assert summary["rows"] == summary["copied_rows"] > PAPERS * 2
    assert {t["table"] for t in summary["per_table"]} >= {"papers", "paper_votes", "comments"}
    assert "tantivy" in summary["not_copied"]
    assert f"copy papers: {PAPERS} / {PAPERS} rows" in result.stderr

    back = f"sqlite:///{tmp_path / 'back' / 'again.db'}"  # a new file: created and migrated
    again = run("db", "copy", "--from", postgres_url, "--to", back)
    assert again.exit_code == 0, again.output
    assert "checksums match" in again.stdout

    first, last = _digests(source_url), _digests(back)
    assert first == last
    assert first["papers"][0] == PAPERS and first["paper_embeddings"][0] == 300
    assert first["comments"][0] == 2 and first["collection_items"][0] == 4

    # The engines' own full-text tables were rebuilt from the copied papers; PostgreSQL's
    # GIN index, dropped for the rebuild, was built again after the rows.
    for url in (postgres_url, back):
        engine = make_engine(url)
        with engine.connect() as conn:
            assert lexical.count_indexed(conn) == PAPERS
            if conn.dialect.name == "postgresql":
                indexes = {i["name"] for i in inspect(conn).get_indexes("paper_search")}
                assert "ix_paper_search_document" in indexes
        engine.dispose()


@pytest.mark.postgres
def test_the_app_works_on_the_copy(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str, tmp_path: Path
) -> None:
    assert run("db", "copy", "--from", source_url, "--to", postgres_url).exit_code == 0
    engine = make_engine(postgres_url)
    with writing(engine) as conn:  # ids go on after the copied ones (sequences were reset)
        member = user_store.create_user(
            conn,
            email="new@example.org",
            username="newbie",
            password_hash="x" * 20,
            role="member",
            now=NOW,
        )
        assert member.id == 4
        newest = conn.execute(select(func.max(papers.c.id))).scalar_one()
    engine.dispose()
    settings = load_settings(
        database_url=postgres_url, frozen_time=NOW, index_dir=str(tmp_path / "index")
    )
    with TestClient(create_app(settings)) as client:
        day = client.get("/api/pf/daily_papers", params={"date": "2026-11-23"})
        assert day.status_code == 200 and day.json()["count"] > 10
        found = client.get("/api/pf/papers/search", params={"q": "transformer", "mode": "lexical"})
        assert found.status_code == 200, found.text
        assert found.json()["data"]
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text
        paper = client.get(f"/api/papers/{day.json()['data'][0]['paper']['id']}")
        assert paper.status_code == 200, paper.text
        results = client.get("/search", params={"q": "transformer"})
        assert results.status_code == 200 and "transformer" in results.text.lower()
        assert newest == PAPERS


@contextlib.contextmanager
def _row_held(url: str, paper_id: int) -> Iterator[None]:
    """Insert (uncommitted) a paper with this id in the target: a copy that reaches it
    waits on the row lock until the block ends and the holder rolls back."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn, conn.begin() as held:
            conn.execute(
                insert(papers).values(
                    id=paper_id,
                    title="holder",
                    title_key="holder",
                    abstract="",
                    keywords=[],
                    source="test",
                    first_seen_at=NOW,
                    changed_at=NOW,
                )
            )
            yield
            held.rollback()
    finally:
        engine.dispose()


def _reap(process: subprocess.Popen[str]) -> None:
    """Kill a copy process that is still running (a test that failed before it ended)."""
    if process.poll() is None:
        process.kill()
        process.communicate()


def _lock_waits(url: str) -> int:
    """Sessions of this database waiting on a lock (the copy, on the held row)."""
    admin = create_engine(make_engine(url).url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                ).scalar_one()
            )
    finally:
        admin.dispose()


def _copy_process(
    source: str, target: str, *extra: str, run: tuple[str, str] = ("-m", "paperfeed")
) -> subprocess.Popen[str]:
    env = dict(os.environ, PAPERFEED_DATABASE_URL=source, PAPERFEED_SQLITE_BUSY_TIMEOUT_MS="60000")
    return subprocess.Popen(
        [
            sys.executable,
            *run,
            "db",
            "copy",
            "--from",
            source,
            "--to",
            target,
            "--batch-size",
            "25",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _signal_once_papers_are_in(source: str, target: str, signum: int) -> subprocess.Popen[str]:
    """A copy process, sent ``signum`` once it reports the first table after ``papers``."""
    process = _copy_process(source, target)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("copy paper_authors:"):
            break
    process.send_signal(signum)
    return process


def _progress(url: str) -> dict[str, tuple[int, int]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT name, rows, done FROM {PROGRESS_TABLE}")).all()
    finally:
        engine.dispose()
    return {r.name: (int(r.rows), int(r.done)) for r in rows}


def _wait(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_copy_killed_mid_table_resumes_without_duplicates(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str
) -> None:
    with _row_held(postgres_url, 400):
        process = _copy_process(source_url, postgres_url)
        try:
            _wait(lambda: _lock_waits(postgres_url) > 0)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        finally:
            _reap(process)
    assert process.returncode == -signal.SIGKILL
    state = _progress(postgres_url)
    assert state["papers"][1] == 0 and 0 < state["papers"][0] < 400  # stopped mid-table
    assert state["*"][1] == 0

    result = run("db", "copy", "--from", source_url, "--to", postgres_url, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["start"] == "resume" and summary["checksums_ok"] is True
    assert summary["copied_rows"] == summary["rows"] - state["papers"][0] - sum(
        rows for name, (rows, _) in state.items() if name not in ("*", "papers")
    )
    assert _digests(source_url) == _digests(postgres_url)
    # A rerun of a finished copy only verifies it.
    done = run("db", "copy", "--from", source_url, "--to", postgres_url, "--json")
    assert json.loads(done.stdout)["start"] == "done" and done.exit_code == 0


@pytest.mark.slow  # a child process, killed
def test_a_copy_to_sqlite_killed_mid_way_resumes(  # type: ignore[no-untyped-def]
    run, source_url: str, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    process = _signal_once_papers_are_in(source_url, target, signal.SIGKILL)
    process.wait(30)
    state = _progress(target)
    assert state["papers"] == (PAPERS, 1)
    # Killed mid-way: the copy as a whole is unfinished. (Which table the kill lands in is
    # a race: paper_authors, a single batch, may commit before the signal arrives.)
    assert state["*"][1] == 0
    finished = [name for name, (_, done) in state.items() if name != "*" and done]
    assert len(finished) < len(copied_tables("sqlite", "sqlite"))
    result = run("db", "copy", "--from", source_url, "--to", target, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["start"] == "resume"
    assert _digests(source_url) == _digests(target)


@pytest.mark.postgres
def test_refuses_targets_it_must_not_touch(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str, tmp_path: Path
) -> None:
    populate(postgres_url)  # a live deployment, not a copy
    refused = run("db", "copy", "--from", source_url, "--to", postgres_url)
    assert refused.exit_code == ConflictError.exit_code
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.output

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert run("db", "copy", "--from", source_url, "--to", other).exit_code == 0
    second = tmp_path / "second.db"
    second.write_bytes(Path(source_url.removeprefix("sqlite:///")).read_bytes())
    foreign = run("db", "copy", "--from", f"sqlite:///{second}", "--to", other)
    assert foreign.exit_code == ConflictError.exit_code
    assert "copy of another database" in foreign.stderr

    forced = run("db", "copy", "--from", source_url, "--to", postgres_url, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["start"] == "replace"
    assert _digests(source_url) == _digests(postgres_url)


def test_clear_errors_for_bad_sources_and_targets(  # type: ignore[no-untyped-def]
    run, source_url: str, tmp_path: Path
) -> None:
    cases = [
        (["--from", source_url, "--to", source_url], "same database"),
        (["--from", f"sqlite:///{tmp_path / 'missing.db'}", "--to", source_url], "no SQLite"),
        (["--from", source_url, "--to", "postgresql://pf@127.0.0.1:9/pf"], "target:"),
        (["--from", source_url, "--to", "mysql://x@localhost/y"], "unsupported database"),
    ]
    empty = tmp_path / "empty.db"
    make_engine(f"sqlite:///{empty}").dispose()
    with make_engine(f"sqlite:///{empty}").connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    cases.append(
        (
            ["--from", f"sqlite:///{empty}", "--to", f"sqlite:///{tmp_path / 'x.db'}"],
            "no paperfeed schema",
        )
    )
    for args, message in cases:
        result = run("db", "copy", *args)
        assert result.exit_code not in (0, 1), (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert not (tmp_path / "missing.db").exists()


def test_checksums_normalise_values_and_ignore_order() -> None:
    aware = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert canonical(aware) == canonical(aware.replace(tzinfo=None))
    assert canonical(memoryview(b"\x00\xff")) == canonical(b"\x00\xff") == "x:00ff"
    assert canonical({"b": 1, "a": [1.5]}) == canonical({"a": [1.5], "b": 1})
    assert canonical(True) != canonical(1)
    assert canonical(0.1) == "f:0x1.999999999999ap-4"
    assert canonical(date(2026, 1, 2)) != canonical("2026-01-02")
    rows = [(1, "a", aware), (2, "b", None), (3, "c", aware)]
    assert digest_rows(rows) == digest_rows(list(reversed(rows)))
    assert digest_rows(rows) != digest_rows([*rows[:2], (3, "c", None)])
    assert digest_rows(rows) != digest_rows([*rows, rows[0]])


def test_a_sum_stops_when_its_check_raises() -> None:
    """verify() sums the source on a thread; an interrupt stops it through ``check``."""
    seen: list[int] = []

    def check() -> None:
        seen.append(1)
        raise KeyboardInterrupt

    rows = ((i, "x") for i in range(100_000))
    with pytest.raises(KeyboardInterrupt):
        digest_rows(rows, check)
    assert seen == [1] and sum(1 for _ in rows) > 90_000  # stopped after the first few thousand


def test_decide_start() -> None:
    src = "sqlite:////a.db"
    fresh = decide_start(
        recorded_source=None, finished=False, has_rows=False, source=src, force=False
    )
    assert fresh is Start.FRESH
    assert (
        decide_start(recorded_source=src, finished=False, has_rows=True, source=src, force=False)
        is Start.RESUME
    )
    assert (
        decide_start(recorded_source=src, finished=True, has_rows=True, source=src, force=False)
        is Start.DONE
    )
    assert (
        decide_start(recorded_source="x", finished=False, has_rows=True, source=src, force=True)
        is Start.REPLACE
    )
    with pytest.raises(ConflictError):
        decide_start(recorded_source=None, finished=False, has_rows=True, source=src, force=False)
    with pytest.raises(ConflictError):
        decide_start(recorded_source="x", finished=True, has_rows=True, source=src, force=False)


def test_a_live_target_behind_the_code_is_refused_untouched(  # type: ignore[no-untyped-def]
    run, source_url: str, tmp_path: Path
) -> None:
    from paperfeed.store.migrate import current_revision, migrate

    target = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(target)
    migrate(engine, "0006")
    with writing(engine) as conn:
        conn.execute(
            insert(papers).values(
                title="kept",
                title_key="kept",
                abstract="",
                keywords=[],
                source="test",
                first_seen_at=NOW,
                changed_at=NOW,
            )
        )
    refused = run("db", "copy", "--from", source_url, "--to", target)
    assert refused.exit_code == ConflictError.exit_code and "not empty" in refused.stderr
    assert current_revision(engine) == "0006"  # not migrated behind the operator's back
    engine.dispose()


@pytest.mark.postgres
def test_ctrl_c_stops_the_copy_with_a_hint_to_rerun(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str
) -> None:
    """Ctrl-C while the copy waits on a row lock: the statement is cancelled, so the copy
    stops while the row is still held, with the batch in flight rolled back."""
    with _row_held(postgres_url, 400):
        process = _copy_process(source_url, postgres_url)
        try:
            _wait(lambda: _lock_waits(postgres_url) > 0)
            process.send_signal(signal.SIGINT)
            # The row stays held: a copy that only stops once the lock goes fails here.
            _, err = process.communicate(timeout=30)
        finally:
            _reap(process)
    assert process.returncode == 130, err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    assert "error:" not in err  # not a StorageError in its place
    state = _progress(postgres_url)
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        copied = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    engine.dispose()
    assert state["papers"] == (copied, 0) and 0 < copied < 400  # up to the last commit
    result = run("db", "copy", "--from", source_url, "--to", postgres_url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["start"] == "resume"
    assert _digests(source_url) == _digests(postgres_url)


#: ``python -c`` for the CLI that sends itself SIGINT from inside psycopg, in the batch
#: holding paper 400 (copied into PostgreSQL with COPY), as psycopg enters the function TRAP.
_SIGINT_IN_THE_DRIVER = """
import signal, sys
papers = armed = False
def tracer(frame, event, arg):
    global papers, armed
    code = frame.f_code
    if "psycopg" not in code.co_filename:
        return None  # (call events only: no line tracing)
    if code.co_name == "copy" and "statement" in frame.f_locals:
        papers = 'COPY "papers"' in str(frame.f_locals["statement"])
    if papers and code.co_name == "write_row" and list(frame.f_locals["row"])[:1] == [400]:
        armed = True
    if armed and code.co_name == "TRAP":
        sys.settrace(None)
        print("SIGINT inside psycopg", file=sys.stderr, flush=True)
        signal.raise_signal(signal.SIGINT)
    return None
sys.settrace(tracer)
from paperfeed.cli import main
main()
"""


@pytest.mark.postgres
@pytest.mark.parametrize(
    "trap",
    [
        # Before the batch is sent: the first cancel finds the server idle and is dropped.
        "write_row",
        # As the COPY ends and waits on the held row's lock.
        "finish",
    ],
)
def test_ctrl_c_inside_the_driver_is_not_lost(  # type: ignore[no-untyped-def]
    run, source_url: str, postgres_url: str, trap: str
) -> None:
    code = _SIGINT_IN_THE_DRIVER.replace("TRAP", trap)
    with _row_held(postgres_url, 400):
        process = _copy_process(source_url, postgres_url, run=("-c", code))
        try:
            _, err = process.communicate(timeout=60)  # the row stays held
        finally:
            _reap(process)
    assert "SIGINT inside psycopg" in err  # the trap went off (psycopg still has `trap`)
    assert process.returncode == 130, err
    assert "rerun the same command to resume" in err and "error:" not in err
    assert _progress(postgres_url)["papers"] == (375, 0)  # the batch 376-400 rolled back
    result = run("db", "copy", "--from", source_url, "--to", postgres_url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["start"] == "resume"
    assert _digests(source_url) == _digests(postgres_url)


@pytest.mark.slow  # a child process, interrupted
def test_ctrl_c_stops_a_copy_to_sqlite_and_a_rerun_resumes(  # type: ignore[no-untyped-def]
    run, source_url: str, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    process = _signal_once_papers_are_in(source_url, target, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    state = _progress(target)
    assert state["papers"] == (PAPERS, 1) and state["*"][1] == 0
    result = run("db", "copy", "--from", source_url, "--to", target, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["start"] == "resume"
    assert _digests(source_url) == _digests(target)
