"""Paths shared by the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.errors import SourceError
from paperfeed.models import Paper, Parsed, Rejection

ROOT = Path(__file__).resolve().parents[1]
#: Recorded (or, where no redistributable recording exists, hand-written) responses of the
#: remote sources, with their provenance and licences in fixtures/SOURCE.md.
FIXTURES = ROOT / "tests" / "fixtures"

#: ``new_database(directory) -> url`` (a conftest fixture): a fresh migrated database of the
#: pass's kind; on SQLite a file in ``directory``.
NewDatabase = Callable[[Path], str]


def edit_paper(engine: Engine, arxiv_id: str, **changes: Any) -> int:
    """Change a stored paper's fields as ingestion does (its word index synced); its id."""
    from dataclasses import replace

    from paperfeed.index.lexical import database as lexical
    from paperfeed.store import papers as store
    from paperfeed.store.engine import writing

    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, arxiv_id)
    assert stored is not None, arxiv_id
    with writing(engine) as conn:
        store.update_papers(
            conn, [(stored.id, replace(stored.paper, **changes))], stored.changed_at
        )
        lexical.sync(conn, [stored.id])
    return stored.id


def hf_vectors():  # type: ignore[no-untyped-def]
    """The 30 HF fixture papers embedded with minilm, once per test process."""
    import numpy as np

    from paperfeed.index.embedders.embedder import load_embedder, paper_text
    from paperfeed.ingest.hf_daily import HfDailySource

    global _HF_VECTORS
    if _HF_VECTORS is None:
        parsed = [
            r.item for r in HfDailySource(FIXTURES / "hf_daily_papers_api.json").records(None)
        ]
        matrix = load_embedder("minilm").embed([paper_text(p.title, p.abstract) for p in parsed])
        _HF_VECTORS = {p.arxiv_id: np.asarray(matrix[i]) for i, p in enumerate(parsed)}
    return _HF_VECTORS


_HF_VECTORS = None


def seed_hf(engine, clock) -> None:  # type: ignore[no-untyped-def]
    """Ingest the 30 HF fixture papers with their minilm vectors (computed once per process)."""
    import numpy as np
    from sqlalchemy import select

    from paperfeed.index.embedders.embedder import load_embedder
    from paperfeed.index.vectors import in_memory as vectors
    from paperfeed.ingest.hf_daily import HfDailySource
    from paperfeed.ingest.pipeline import ingest
    from paperfeed.store.engine import writing
    from paperfeed.store.tables.papers import papers

    ingest(engine, HfDailySource(FIXTURES / "hf_daily_papers_api.json"), clock=clock)
    known = hf_vectors()
    embedder = load_embedder("minilm")
    with writing(engine) as conn:
        rows = conn.execute(select(papers.c.id, papers.c.arxiv_id)).all()
        vectors.store_vectors(
            conn, embedder.name, [r.id for r in rows], np.stack([known[r.arxiv_id] for r in rows])
        )
        vectors.record_model(conn, embedder.name, embedder.dim)


@dataclass
class ListSource:
    """A source over a list, resumable by index; can fail after ``fail_after`` records."""

    items: list[Paper | Rejection]
    name: str = "test"
    key: str | None = "test:list"
    fail_after: int | None = None
    started_from: list[str | None] = field(default_factory=list)

    @property
    def checkpoint_key(self) -> str | None:
        return self.key

    @property
    def total(self) -> int | None:
        return len(self.items)

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        self.started_from.append(cursor)
        start = int(cursor) if cursor else 0
        for index in range(start, len(self.items)):
            if self.fail_after is not None and index >= self.fail_after:
                raise SourceError("connection dropped")
            yield Parsed(self.items[index], index + 1, str(index + 1))


class CountingMarker:
    """A change marker (store/changes.py's shape) whose value a test moves by hand:
    ``marker.value += 1`` stands for a commit."""

    inline = True

    def __init__(self) -> None:
        self.value = 0

    def read(self) -> object:
        return self.value

    def close(self) -> None:
        pass
