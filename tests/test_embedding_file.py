"""The machine's embeddings file: written once, mapped by the vector index (copy-on-write,
changes since in private spare rows) and by the recommendation features (#17)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.index.recommend.cache import FeatureCache
from paperfeed.index.vectors.embedding_file import EmbeddingFile, database_identity
from paperfeed.index.vectors.in_memory import VectorIndex, store_vectors
from paperfeed.ingest.sample import load_sample_rows
from paperfeed.models import Paper
from paperfeed.store.engine import writing
from paperfeed.store.papers import insert_papers

MODEL = "m"
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _unit_rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)
    return np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def _add(engine: Engine, pairs: list[tuple[str, str]], start: int, seed: int) -> list[int]:
    batch = [
        Paper(title=t, abstract=a, arxiv_id=f"2601.{start + i:05d}")
        for i, (t, a) in enumerate(pairs)
    ]
    with writing(engine) as conn:
        ids = insert_papers(conn, batch, NOW)
        store_vectors(conn, MODEL, ids, _unit_rows(len(ids), seed))
    return ids


def _mapped_file(array: np.ndarray) -> str | None:
    """The file an array maps (None: the process's own memory)."""
    seen: object = array
    while isinstance(seen, np.ndarray):
        if isinstance(seen, np.memmap) and seen.filename is not None:
            return str(seen.filename)
        seen = seen.base
    return None


def _texts(n: int) -> list[tuple[str, str]]:
    return [(row.title, row.abstract) for row in load_sample_rows()][:n]


def test_the_vector_index_maps_one_file_per_machine(engine: Engine, tmp_path: Path) -> None:
    ids = _add(engine, _texts(300), 0, seed=1)
    first = VectorIndex.load(engine, MODEL, exact_max=10_000, cache_dir=tmp_path)
    shared = EmbeddingFile(tmp_path, MODEL, database_identity(engine))
    token = shared.read_manifest()["token"]  # type: ignore[index]
    path = _mapped_file(first.snapshot.matrix)
    assert path is not None and token in path
    second = VectorIndex.load(engine, MODEL, exact_max=10_000, cache_dir=tmp_path)
    assert _mapped_file(second.snapshot.matrix) == path  # mapped, not written again
    assert shared.read_manifest()["token"] == token  # type: ignore[index]
    q = _unit_rows(1, seed=9)[0]
    assert first.search(q, 5) == second.search(q, 5)
    assert second.vector_of(ids[7]) is not None

    # Papers added since: caught up from the journal into the mapping's spare rows, which
    # are this process's own pages; the file on disk stays as written.
    before = Path(path).read_bytes()
    new = _add(engine, _texts(310)[300:], 300, seed=2)
    third = VectorIndex.load(engine, MODEL, exact_max=10_000, cache_dir=tmp_path)
    assert _mapped_file(third.snapshot.matrix) == path and third.size == 310
    added = _unit_rows(10, seed=2)
    assert third.search(added[3], 1)[0][0] == new[3]
    assert Path(path).read_bytes() == before


def test_features_take_their_embeddings_from_the_same_file(engine: Engine, tmp_path: Path) -> None:
    ids = _add(engine, _texts(600), 0, seed=3)
    features = FeatureCache(engine, MODEL, tmp_path).features()
    (manifest,) = tmp_path.glob("embeddings-*.json")
    assert not list(tmp_path.glob("recommend-*.dense.npy"))  # no second copy
    path = _mapped_file(features.dense)
    assert path is not None and path.startswith(str(tmp_path / manifest.stem))
    assert not features.dense.flags.writeable
    index = VectorIndex.load(engine, MODEL, exact_max=10_000, cache_dir=tmp_path)
    assert _mapped_file(index.snapshot.matrix) == path
    assert features.ids.tolist() == sorted(ids)
    stored = _unit_rows(600, seed=3)
    assert np.array_equal(np.asarray(features.dense), stored)  # bit for bit

    # Papers added later: the features are brought up to date into a new set of files,
    # again sharing their embeddings with a new embeddings file.
    _add(engine, _texts(620)[600:], 600, seed=4)
    later = FeatureCache(engine, MODEL, tmp_path).features()
    assert len(later.ids) == 620 and later.dense_as_stored
    assert _mapped_file(later.dense) not in (None, path)


def test_a_new_set_keeps_the_previous_one_and_drops_older(tmp_path: Path) -> None:
    shared = EmbeddingFile(tmp_path, MODEL, "db1")
    ids = np.arange(1, 11, dtype=np.int64)
    tokens = [shared.save(ids, _unit_rows(10, seed=s), (s, 10)) for s in range(3)]
    assert shared.stored_key() == (2, 10)
    assert shared.load(tokens[0]) is None  # two generations back: deleted
    previous = shared.load(tokens[1])
    assert previous is not None and previous.key == (1, 10)
    assert np.array_equal(previous.matrix[:10], _unit_rows(10, seed=1))
    current = shared.load()
    assert current is not None and current.token == tokens[2]
    assert current.matrix.shape[0] > 10  # spare rows past the written ones
    assert not current.matrix.flags.writeable
    other = EmbeddingFile(tmp_path, MODEL, "db2")  # another database's files are not these
    assert other.load() is None
