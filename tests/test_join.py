"""Two machines, one database: machine A publishes a snapshot of its index files, machine B
joins from it, replays what changed after it and answers the same searches; half-written
snapshots are ignored, a crash mid-restore leaves B consistent and a rerun finishes, and
`paperfeed index status` shows both machines' lag (#17)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.machines import positions, restore
from paperfeed.index.machines.snapshots import MANIFEST, SnapshotError, file_sets, set_files
from paperfeed.index.query import parse_query
from paperfeed.index.recommend.cache import FeatureCache
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors.in_memory import VectorIndex
from paperfeed.store import machines
from paperfeed.store.engine import writing
from tests_support import edit_paper, seed_hf

NOW = "2026-11-23T15:00:00+00:00"
QUERIES = ("language model", "diffusion video", "agent benchmark", "reasoning", "zyxquorble")
MODEL = "minilm-l6-int8"


@pytest.fixture(params=["folder", "database"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hub(engine: Engine, clock: FrozenClock) -> Engine:
    seed_hf(engine, clock)
    return engine


Run = Callable[..., Result]


@pytest.fixture
def machine(
    hub: Engine, db_url: str, tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Run]:
    """``machine(name)("index", "update")``: the CLI as run on machine ``name`` (its own
    index folder, the hub's one database and snapshot store)."""
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)

    def on(name: str) -> Run:
        env = settings_env(db_url, tmp_path, store, name)

        def invoke(*args: str, now: str = NOW) -> Result:
            result = CliRunner().invoke(
                cli, list(args), env=env | {"PAPERFEED_FROZEN_TIME": now}, catch_exceptions=False
            )
            assert result.exit_code == 0, result.output
            return result

        return invoke

    return on


def settings_env(db_url: str, tmp_path: Path, store: str, name: str) -> dict[str, str]:
    env = {
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_FROZEN_TIME": NOW,
        "PAPERFEED_INDEX_DIR": str(tmp_path / name),
        "PAPERFEED_MACHINE_ID": name,
        # Vectors in memory, with an HNSW graph from 10 papers: every kind of index file.
        "PAPERFEED_VECTOR_BACKEND": "memory",
        "PAPERFEED_VECTOR_EXACT_MAX": "10",
        "PAPERFEED_INDEX_SNAPSHOT_DIR": str(tmp_path / "snapshots") if store == "folder" else "",
        "PAPERFEED_INDEX_SNAPSHOT_DATABASE": "true" if store == "database" else "false",
    }
    return env


def settings_of(db_url: str, tmp_path: Path, store: str, name: str) -> Settings:
    env = settings_env(db_url, tmp_path, store, name)
    return Settings(
        database_url=db_url,
        index_dir=env["PAPERFEED_INDEX_DIR"],
        machine_id=name,
        vector_backend="memory",
        vector_exact_max=10,
        index_snapshot_dir=env["PAPERFEED_INDEX_SNAPSHOT_DIR"],
        index_snapshot_database=store == "database",
    )


def answers(engine: Engine, folder: Path) -> list[list[int]]:
    words = WordIndex(engine, folder, background=False)
    found = []
    for text in QUERIES:
        hits = words.search(parse_query(text), limit=10)
        assert hits is not None, f"the word index in {folder} did not answer {text!r}"
        found.append([h.paper_id for h in hits])
    return found


def test_b_joins_from_a_snapshot_and_answers_like_a(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, store: str
) -> None:
    a, b = machine("a"), machine("b")
    a("index", "update")
    published = json.loads(a("index", "publish", "--json").stdout)
    assert published["store"] == store
    assert {"word", "graph", "features"} <= set(published["parts"])
    # Changes after the snapshot: B must replay them from the journal.
    changed = edit_paper(hub, "2606.12730", title="The zyxquorble of open code models")

    joined = b("index", "update").output
    for kind in ("word", "graph", "features"):
        assert f"restored {kind} from {published['snapshot']}" in joined, joined
    assert "vector graph: 30 papers (cache)" in joined, "B repaired nothing, built nothing"

    assert answers(hub, tmp_path / "b") == answers(hub, tmp_path / "a")
    assert answers(hub, tmp_path / "b")[-1] == [changed], "the change after the snapshot"
    features = FeatureCache(hub, MODEL, tmp_path / "b")
    assert features.features() is not None and features.builds == 0, "mapped, not made"
    index = VectorIndex.load(hub, MODEL, exact_max=10, cache_dir=tmp_path / "b")
    assert index.origin == "cache" and index.size == 30

    # Joining again restores nothing: B is as good as the snapshot.
    again = b("index", "update").output
    assert "indexes are as good; kept" in again and "restored" not in again


def test_half_written_snapshots_are_ignored(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, store: str, db_url: str
) -> None:
    a, b = machine("a"), machine("b")
    a("index", "update")
    good = json.loads(a("index", "publish", "--json").stdout)["snapshot"]
    # A newer snapshot that a publisher is still writing (or crashed writing).
    if store == "folder":
        root = tmp_path / "snapshots"
        (root / ".tmp-20991231T000000Z-a-000000").mkdir()
        half = root / "20991231T000000Z-a-ffffff"
        half.mkdir()
        (half / "meta.json").write_text("{}")  # files, but no snapshot.json yet
    else:
        with writing(hub) as conn:
            machines.start_snapshot(
                conn,
                store="database",
                name="20991231T000000Z-a-ffffff",
                machine="a",
                manifest={"format": 1, "name": "x", "database": "?", "parts": []},
                now=datetime(2099, 12, 31, tzinfo=UTC),
            )
    joined = b("index", "update").output
    assert f"restored word from {good}" in joined
    assert answers(hub, tmp_path / "b") == answers(hub, tmp_path / "a")


def test_a_crash_mid_restore_leaves_b_consistent_and_a_rerun_finishes(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, store: str, db_url: str
) -> None:
    a, b = machine("a"), machine("b")
    a("index", "update")
    a("index", "publish")
    settings = settings_of(db_url, tmp_path, store, "b")
    chosen = restore.newest(hub, settings)
    assert chosen is not None
    _manifest, read, _kind = chosen
    served: list[str] = []

    def failing(path: str) -> Iterator[bytes]:
        # The word index is restored whole, then the copy fails on the next index's files.
        if not path.startswith("words-") and any(p.startswith("words-") for p in served):
            raise OSError("the shared folder went away")
        served.append(path)
        yield from read(path)

    with pytest.raises(OSError, match="went away"):
        restore.join(hub, settings, datetime.fromisoformat(NOW), reader=failing)
    # Consistent: every index B has is whole (the word index opens and answers or is
    # absent; the file sets' manifests name files that exist), and nothing half-copied
    # sits where an index is read.
    folder = tmp_path / "b"
    assert not list(folder.glob(".join-*")), "the staging folder is cleaned up"
    for kind, manifest, data in file_sets(folder):
        assert set_files(manifest, str(data["token"])), kind
    found = positions.local_positions(hub, settings)
    assert "word" in found and "features" not in found
    answers(hub, folder)

    b("index", "update")
    assert answers(hub, folder) == answers(hub, tmp_path / "a")
    assert {"word", "features", "graph"} <= set(positions.local_positions(hub, settings))


def test_status_shows_each_machines_lag_and_the_snapshot_age(
    hub: Engine, machine: Callable[[str], Run], store: str
) -> None:
    a, b = machine("a"), machine("b")
    a("index", "update")
    a("index", "publish")
    b("index", "update")
    edit_paper(hub, "2606.12730", title="A changed title")
    data = json.loads(a("index", "status", "--json").stdout)
    listed = {m["machine"]: m for m in data["machines"]}
    assert set(listed) == {"a", "b"}
    for name in ("a", "b"):
        lag = listed[name]["lag"]
        assert lag["word"]["behind"] == 1, lag  # the edit, not yet replayed anywhere
        assert lag["features"]["behind"] == 0 and lag["graph"]["behind"] == 0
    assert data["snapshot"]["store"] == store and data["snapshot"]["age_s"] == 0
    text = a("index", "status").output
    assert "machine a (ready" in text and "machine b (ready" in text
    assert "word: 1 paper behind" in text
    # B catches up; its row says so, A's still shows the paper behind.
    b("index", "update")
    listed = {
        m["machine"]: m for m in json.loads(a("index", "status", "--json").stdout)["machines"]
    }
    assert listed["b"]["lag"]["word"]["behind"] == 0
    assert listed["a"]["lag"]["word"]["behind"] == 1


def test_publishing_without_a_store_says_what_to_set(
    hub: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    env = {"PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_INDEX_DIR": str(tmp_path / "x")}
    result = CliRunner().invoke(cli, ["index", "publish"], env=env)
    assert result.exit_code != 0
    assert "PAPERFEED_INDEX_SNAPSHOT_DIR" in result.output


def test_old_snapshots_are_pruned(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, store: str
) -> None:
    a = machine("a")
    a("index", "update")
    names = [
        json.loads(a("index", "publish", "--json", now=f"2026-11-23T15:0{i}:00+00:00").stdout)[
            "snapshot"
        ]
        for i in range(3)
    ]
    with hub.connect() as conn:
        kept = [s.name for s in machines.snapshots(conn) if s.complete]
    assert sorted(kept) == sorted(names[1:]), "PAPERFEED_INDEX_SNAPSHOT_KEEP=2"
    if store == "folder":
        on_disk = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
        assert on_disk == sorted(names[1:])
        assert all((tmp_path / "snapshots" / n / MANIFEST).is_file() for n in names[1:])


def test_a_damaged_copy_is_refused(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, store: str, db_url: str
) -> None:
    a = machine("a")
    a("index", "update")
    a("index", "publish")
    settings = settings_of(db_url, tmp_path, store, "b")
    chosen = restore.newest(hub, settings)
    assert chosen is not None
    _manifest, read, _kind = chosen

    def flipped(path: str) -> Iterator[bytes]:
        for block in read(path):
            yield bytes([block[0] ^ 1]) + block[1:] if block else block

    with pytest.raises(SnapshotError, match="damaged"):
        restore.join(hub, settings, datetime.fromisoformat(NOW), reader=flipped)
    assert positions.local_positions(hub, settings) == {}


def test_no_search_waits_on_a_graph_build(hub: Engine, tmp_path: Path) -> None:
    """A process without a usable graph cache searches exactly at once and builds the graph
    in the background, then searches it; `index update` builds it in the call instead."""
    semantic = SemanticIndex(
        hub, embedder="minilm", exact_max=10, cache_dir=tmp_path / "fresh", backend="memory"
    )
    assert semantic.search_method(30).startswith("exact until")
    first = semantic.index()
    assert isinstance(first, VectorIndex) and first.kind == "exact" and first.size == 30
    exact = semantic.search("language models for code", 5)
    semantic.join_graph(60)
    assert not semantic.building_graph()
    graphed = semantic.index()
    assert isinstance(graphed, VectorIndex) and graphed.kind == "hnsw"
    assert graphed.origin == "built" and semantic.search_method(30) == "hnsw"
    assert [h.paper_id for h in semantic.search("language models for code", 5)] == [
        h.paper_id for h in exact
    ]
    # The next process finds the cache: the graph at once.
    again = SemanticIndex(
        hub, embedder="minilm", exact_max=10, cache_dir=tmp_path / "fresh", backend="memory"
    )
    loaded = again.index()
    assert isinstance(loaded, VectorIndex) and loaded.origin == "cache"
    assert not again.building_graph()


def test_the_scheduler_publishes_every_few_hours_when_a_store_is_set(tmp_path: Path) -> None:
    from paperfeed.deliver.scheduler import Plan, due_jobs

    def publishing(**values: object) -> list[datetime]:
        plan = Plan.from_settings(Settings(**values))  # type: ignore[arg-type]
        since = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
        jobs = due_jobs(plan, since, since + timedelta(hours=1))
        return [j.at for j in jobs if j.kind == "publish"]

    store = {"index_snapshot_dir": str(tmp_path), "index_snapshot_hours": 6}
    assert publishing(**store) == [datetime(2026, 11, 23, 6, tzinfo=UTC)]
    assert publishing(**store | {"index_snapshot_hours": 4}) == []  # 04:00, then 08:00
    assert publishing(index_snapshot_hours=6) == [], "no store: nothing to publish to"
    assert publishing(**store | {"index_snapshot_hours": 0}) == [], "0: never"


def test_a_damaged_snapshot_stops_index_update_but_not_serving(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path, db_url: str, store: str
) -> None:
    from sqlalchemy import update

    from paperfeed.cli.base import Context
    from paperfeed.cli.machines import join_step
    from paperfeed.store.tables.machines import index_snapshot_chunks

    a = machine("a")
    a("index", "update")
    name = json.loads(a("index", "publish", "--json").stdout)["snapshot"]
    # One byte of the graph's file changes in the store.
    if store == "folder":
        victim = next((tmp_path / "snapshots" / name).glob("hnsw-*.usearch"))
        victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    else:
        with writing(hub) as conn:
            conn.execute(
                update(index_snapshot_chunks)
                .where(index_snapshot_chunks.c.path.like("hnsw-%.usearch"))
                .values(data=b"!")
            )
    env = settings_env(db_url, tmp_path, store, "b")
    failed = CliRunner().invoke(cli, ["index", "update"], env=env)
    assert failed.exit_code != 0 and "damaged" in failed.output
    # `serve` goes on without it (the graph then builds in the background).
    settings = settings_of(db_url, tmp_path, store, "b")
    join_step(Context(settings), serving=True)
    found = positions.local_positions(hub, settings)
    assert "graph" not in found and "word" in found, "the whole parts restored, not that one"


def test_a_machine_that_left_is_forgotten(
    hub: Engine, machine: Callable[[str], Run], db_url: str, tmp_path: Path, store: str
) -> None:
    a, b = machine("a"), machine("b")
    a("index", "update")
    b("index", "update")
    assert a("index", "forget", "b").output.strip() == "forgot machine b"
    listed = json.loads(a("index", "status", "--json").stdout)["machines"]
    assert [m["machine"] for m in listed] == ["a"]
    env = settings_env(db_url, tmp_path, store, "a")
    again = CliRunner().invoke(cli, ["index", "forget", "b"], env=env)
    assert again.exit_code != 0 and "no machine 'b'" in again.output


def test_the_published_graph_is_repaired_first(
    hub: Engine, machine: Callable[[str], Run], tmp_path: Path
) -> None:
    """A serving machine keeps its indexes in step in memory only: publishing brings the
    folder's files in step with the stored vectors first, so B maps them and repairs
    nothing."""
    import numpy as np

    from paperfeed.index.vectors import table as vectors

    a, b = machine("a"), machine("b")
    a("index", "update")
    with hub.connect() as conn:
        ids, matrix = vectors.load_vectors(conn, MODEL)
    moved = matrix[:3][:, ::-1].copy()  # three papers' vectors change after A's update
    with writing(hub) as conn:
        vectors.store_vectors(conn, MODEL, [int(i) for i in ids[:3]], moved)
    a("index", "publish")
    joined = b("index", "update").output
    assert "recommendation features: 30 papers, already in step" in joined
    assert "vector graph: 30 papers (cache)" in joined
    index = VectorIndex.load(hub, MODEL, exact_max=10, cache_dir=tmp_path / "b")
    assert index.origin == "cache"
    assert np.allclose(index.vector_of(int(ids[0])), moved[0])
