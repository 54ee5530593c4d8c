"""The fast word index: a tantivy index on disk that answers ranked word searches.

SQLite FTS5 ranks *every* paper that holds any query word before it can return the
best ten, so an OR query of common words costs tens of milliseconds per 100 k papers
(docs/benchmarks.md). tantivy scores the same matches from compact posting lists in
native code, so the same query costs about a millisecond at 100 k papers (it scores
every match too: tantivy-py's ``search`` collects through a MultiCollector, which
never takes tantivy's block-max WAND path; about 5 ms at 1 M, docs/benchmarks.md).
FTS5 (or tsvector) stays the authority, written in the ingest transaction; this index
is *derived* from the database and never trusted unless it is in step with it:

- every write of the word index appends the changed ids to the ``lexical`` change
  journal (:mod:`paperfeed.index.journal`) in the same transaction;
- the folder's ``state.json`` says which journal version the committed tantivy index
  holds (written after each tantivy commit, so a crash between the two only replays
  a few idempotent updates);
- before each search the journal's version is read (one primary-key read). Equal: the
  tantivy index answers. Behind by at most :data:`SYNC_CATCH_UP_MAX` papers: it catches
  up first, in the request. Further behind (or a journal that no longer reaches back,
  or a fresh folder): a background thread catches up or rebuilds, and until it is done
  :meth:`WordIndex.search` returns ``None`` and the caller asks FTS5 / tsvector.

Several processes may read one folder; one writes at a time (tantivy's writer lock): a
process that finds the lock taken answers from FTS5 this time. The folder is named for
the database's identity (a random id kept in ``index_state``) and the schema version,
so two databases never share one. Author filters are left to SQL (``search`` returns
``None`` for them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import Engine, func, select

from paperfeed.config import Settings
from paperfeed.index import journal
from paperfeed.index.lexical.word_documents import (
    EPOCH,
    FIELDS,
    READ_CHUNK,
    analyzer,
    chunks,
    documents,
    filter_term,
    schema,
)
from paperfeed.index.query import Query
from paperfeed.models import Hit
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers

log = logging.getLogger(__name__)

#: The ``index_state`` journal every write of the word index appends to.
JOURNAL = "lexical"
#: The ``index_state`` row holding the database's identity (names the folder).
IDENTITY = "lexical:identity"
#: Bumped when the tantivy schema or analyzer changes: older folders are rebuilt.
SCHEMA_VERSION = 3
#: A backlog up to this many papers is applied inside the search that finds it.
SYNC_CATCH_UP_MAX = 2_000
#: Called with (papers done, papers in all) while (re)indexing.
Progress = Callable[[int, int], None]


# --- the index -------------------------------------------------------------------------------


class WordIndex:
    """One process's handle on the tantivy word index of one database."""

    def __init__(self, engine: Engine, folder: Path, *, background: bool = True) -> None:
        self.engine = engine
        self.root = folder
        self.background = background
        self._analyzer = analyzer()
        self._schema = schema()
        self._index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self._folder: Path | None = None
        self._loaded_version = -1
        self._identity: str | None = None
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    # -- state ---------------------------------------------------------------------------

    def identity(self) -> str:
        """The database's identity, created on first use."""
        if self._identity is None:
            with self.engine.connect() as conn:
                found = journal.read_state(conn, IDENTITY)
            if not isinstance(found, str):
                with writing(self.engine) as conn:
                    journal.insert_if_absent(conn, IDENTITY, uuid.uuid4().hex)
                    found = journal.read_state(conn, IDENTITY)
            self._identity = str(found)
        return self._identity

    @property
    def folder(self) -> Path:
        return self.root / f"words-{self.identity()[:16]}-v{SCHEMA_VERSION}"

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if state.get("schema") != SCHEMA_VERSION or state.get("identity") != self.identity():
            return {}
        return dict(state)

    def _save_state(self, version: int) -> None:
        path = self.folder / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"schema": SCHEMA_VERSION, "identity": self.identity(), "version": version}),
            encoding="utf-8",
        )
        os.replace(tmp, path)

    def applied_version(self) -> int | None:
        """The journal version the committed index holds (None: never built)."""
        version = self._state().get("version")
        return int(version) if version is not None else None

    def _open(self) -> tantivy.Index:
        folder = self.folder
        if self._index is None or self._folder != folder:
            # Never removed here: another process may be building into it. A folder whose
            # state.json is missing is rebuilt in place (one atomic tantivy commit).
            folder.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(self._schema, path=str(folder), reuse=True)
            index.register_tokenizer("paper", self._analyzer)
            self._index, self._folder, self._searcher = index, folder, None
            self._loaded_version = -1
        return self._index

    # -- keeping in step -----------------------------------------------------------------

    def lag(self) -> tuple[int, int | None, int | None]:
        """(database version, applied version, papers behind or None for "rebuild")."""
        with self.engine.connect() as conn:
            current = journal.read(conn, JOURNAL)
        applied = self.applied_version()
        if applied is None:
            return current.version, None, None
        if applied == current.version:
            return current.version, applied, 0
        changed = current.changed_after(applied)
        return current.version, applied, None if changed is None else int(changed.size)

    def work(self) -> int:
        """Papers a refresh would (re)index now."""
        _current, _applied, behind = self.lag()
        if behind is not None:
            return behind
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def refresh(
        self, progress: Progress | None = None, *, wait: bool = True, full: bool = False
    ) -> int | None:
        """Bring the index in step with the database; returns papers (re)indexed, or None
        when another process holds the writer (``wait=False``: or this process does).
        ``full`` rebuilds from every paper instead of replaying the journal."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            return self._refresh(progress, full)
        finally:
            self._lock.release()

    def reconcile(self, progress: Progress | None = None) -> int | None:
        """Catch up, then rebuild if the index holds another number of papers than the
        database (papers deleted straight from the table bypass the journal)."""
        done = self.refresh(progress)
        if done is None:
            return None
        with self.engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
        if self.count() != stored:
            return self.refresh(progress, full=True)
        return done

    def _refresh(self, progress: Progress | None, full: bool) -> int | None:
        index = self._open()
        try:
            writer = index.writer(heap_size=64_000_000, num_threads=1)
        except ValueError as exc:  # the writer lock is held elsewhere
            log.info("word index busy (%s): FTS5 answers meanwhile", exc)
            return None
        # Read where the index stands only once the writer lock is ours.
        applied = self.applied_version()
        with self.engine.connect() as conn:
            current = journal.read(conn, JOURNAL)
            changed = None if applied is None or full else current.changed_after(applied)
            if changed is None:
                writer.delete_all_documents()
                last = conn.execute(select(func.max(papers.c.id))).scalar_one() or 0
                total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
                done = 0
                for first in range(1, int(last) + 1, READ_CHUNK):
                    for _pid, doc in documents(conn, first, first + READ_CHUNK - 1, None):
                        writer.add_document(doc)
                        done += 1
                    if progress:
                        progress(done, int(total))
            else:
                done = 0
                for chunk in chunks(changed.tolist()):
                    for pid in chunk:
                        writer.delete_documents_by_term("id", pid)
                    for _pid, doc in documents(conn, chunk[0], chunk[-1], chunk):
                        writer.add_document(doc)
                    done += len(chunk)
                    if progress:
                        progress(done, int(changed.size))
        writer.commit()
        writer.wait_merging_threads()
        self._save_state(current.version)
        return done

    def _start_background(self) -> None:
        if not self.background or (self._worker is not None and self._worker.is_alive()):
            return

        def run() -> None:
            try:
                self.refresh(wait=False)
            except Exception:  # a failed background build is retried by the next search
                log.exception("the background word-index build failed")

        self._worker = threading.Thread(target=run, name="word-index", daemon=True)
        self._worker.start()

    def _ready(self, version: int | None = None) -> tantivy.Searcher | None:
        """A searcher in step with the database, catching up first when cheap. ``version``
        is the journal's version when the caller has read it already (search() reads both
        indexes' versions in one statement); None reads it here."""
        if version is None:
            with self.engine.connect() as conn:
                version = journal.read_version(conn, JOURNAL)
        if self._searcher is not None and self._loaded_version == version:
            return self._searcher
        if self.applied_version() != version:
            if self.work() <= SYNC_CATCH_UP_MAX:
                self.refresh()
            if self.applied_version() != version:
                self._start_background()
                return None
        index = self._open()
        index.reload()
        self._searcher = index.searcher()
        self._loaded_version = version
        return self._searcher

    # -- searching -----------------------------------------------------------------------

    def _unit_clauses(self, words: str) -> list[tuple[Any, tantivy.Query]]:
        """One ``Should`` clause per field for these words (a term, or a phrase of several
        tokens); empty when the analyzer keeps no token."""
        tokens = self._analyzer.analyze(words)
        if not tokens:
            return []
        per_field: list[tuple[Any, tantivy.Query]] = []
        for name, weight in FIELDS:
            if len(tokens) == 1:
                query = tantivy.Query.term_query(self._schema, name, tokens[0])
            else:
                phrase: list[str | tuple[int, str]] = list(tokens)
                query = tantivy.Query.phrase_query(self._schema, name, phrase)
            if weight != 1.0:
                query = tantivy.Query.boost_query(query, weight)
            per_field.append((tantivy.Occur.Should, query))
        return per_field

    def _unit(self, words: str) -> tantivy.Query | None:
        per_field = self._unit_clauses(words)
        return tantivy.Query.boolean_query(per_field) if per_field else None

    def compile(self, query: Query) -> tantivy.Query | None:
        """The tantivy query for a parsed query: any term (ranked), every phrase, no
        excluded word, the category and date filters. ``None`` when nothing can match."""
        Occur = tantivy.Occur
        clauses: list[tuple[Any, tantivy.Query]] = []
        # Every (term, field) pair as one flat disjunction: the same sum of scores as a
        # disjunction of per-term disjunctions with one union scorer fewer per match
        # (tantivy scores every match: tantivy-py collects through a MultiCollector, which
        # never takes tantivy's block-max WAND path; at 1 M papers, 7 % cheaper).
        terms = [clause for t in query.terms for clause in self._unit_clauses(t)]
        plain = not (
            query.phrases
            or query.excluded
            or query.categories
            or query.after is not None
            or query.before is not None
        )
        if terms and plain:
            return tantivy.Query.boolean_query(terms)
        if terms:
            clauses.append((Occur.Must, tantivy.Query.boolean_query(terms)))
        for phrase in query.phrases:
            unit = self._unit(phrase)
            if unit is None:
                return None
            clauses.append((Occur.Must, unit))
        if not clauses:
            return None
        for words in query.excluded:
            unit = self._unit(words)
            if unit is not None:
                clauses.append((Occur.MustNot, unit))
        if query.categories:
            cats = tantivy.Query.term_set_query(
                self._schema, "cats", sorted({filter_term(c) for c in query.categories})
            )
            clauses.append((Occur.Must, tantivy.Query.boost_query(cats, 0.0)))
        if query.after is not None or query.before is not None:
            days = tantivy.Query.range_query(
                self._schema,
                "day",
                tantivy.FieldType.Integer,
                (query.after - EPOCH).days if query.after else None,
                (query.before - EPOCH).days if query.before else None,
            )
            clauses.append((Occur.Must, tantivy.Query.boost_query(days, 0.0)))
        return tantivy.Query.boolean_query(clauses)

    def constrain(
        self, query: Query, paper_ids: Sequence[int], *, version: int | None = None
    ) -> list[int] | None:
        """Those of ``paper_ids`` that hold every phrase and no excluded word, in order (what
        :func:`paperfeed.index.lexical.database.constrain` answers with FTS5, without walking every
        paper that holds the phrase); ``None`` when this index cannot answer now.
        ``version``: the :data:`JOURNAL` version, when the caller has read it."""
        if not paper_ids or not (query.phrases or query.excluded):
            return list(paper_ids)
        searcher = self._ready(version)
        if searcher is None:
            return None
        Occur = tantivy.Occur
        ids = tantivy.Query.term_set_query(self._schema, "id", [int(i) for i in paper_ids])
        clauses: list[tuple[Any, tantivy.Query]] = [(Occur.Must, ids)]
        for phrase in query.phrases:
            unit = self._unit(phrase)
            if unit is None:
                return []
            clauses.append((Occur.Must, unit))
        for words in query.excluded:
            unit = self._unit(words)
            if unit is not None:
                clauses.append((Occur.MustNot, unit))
        found = searcher.search(tantivy.Query.boolean_query(clauses), len(paper_ids), count=False)
        addresses = [address for _score, address in found.hits]
        kept = set(searcher.fast_field_values("id", addresses)) if addresses else set()
        return [pid for pid in paper_ids if pid in kept]

    def search(self, query: Query, *, limit: int, version: int | None = None) -> list[Hit] | None:
        """Best word matches, best first; ``None`` when this index cannot answer now (not
        in step yet, or an author filter): the caller asks FTS5 / tsvector instead.
        ``version``: the :data:`JOURNAL` version, when the caller has read it."""
        if query.authors or not query.has_text:
            return None
        searcher = self._ready(version)
        if searcher is None:
            return None
        compiled = self.compile(query)
        if compiled is None:
            return []
        found = searcher.search(compiled, limit, count=False)
        if not found.hits:
            return []
        ids = searcher.fast_field_values("id", [address for _score, address in found.hits])
        return [
            Hit(int(pid), float(score))
            for (score, _address), pid in zip(found.hits, ids, strict=True)
            if pid is not None
        ]

    def count(self) -> int | None:
        """Papers in the committed index (None: never built)."""
        if self.applied_version() is None:
            return None
        index = self._open()
        index.reload()
        return int(index.searcher().num_docs)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background build (tests, and the CLI before it exits)."""
        if self._worker is not None:
            self._worker.join(timeout)


def word_index(engine: Engine, settings: Settings) -> WordIndex | None:
    """The tantivy word index the settings ask for (None: the database ranks words)."""
    if settings.lexical_engine == "database":
        return None  # "auto" and "tantivy": on both databases
    return WordIndex(engine, Path(settings.index_dir))
