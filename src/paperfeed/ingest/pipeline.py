"""The one impure entry of ingestion: read a source, decide, write, in batches.

Each batch is one transaction that also saves the source's cursor, so a run
killed at any point leaves the database consistent and a rerun continues after
the last committed batch. A completed run clears its checkpoint and is logged
with its report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from paperfeed.clock import Clock, SystemClock
from paperfeed.errors import SourceError, StorageError
from paperfeed.index.lexical import database as lexical
from paperfeed.ingest.decide import Limits, plan_batch
from paperfeed.ingest.source import Source
from paperfeed.models import IngestReport, Paper, Parsed, Rejection
from paperfeed.store import ingest_state
from paperfeed.store.engine import writing
from paperfeed.store.papers import find_matches, insert_papers, update_papers

log = logging.getLogger(__name__)

#: Called after each batch with (records read so far, total if known).
Progress = Callable[[int, int | None], None]
#: Called after each committed batch with the ids of the papers it added or changed
#: (the semantic index embeds them; a crash before it runs leaves them for `index update`).
AfterBatch = Callable[[list[int]], None]


@dataclass(frozen=True)
class IngestOptions:
    batch_size: int = 1000
    limits: Limits = field(default_factory=Limits)


def _batches(records: Iterator[Parsed], size: int) -> Iterator[list[Parsed]]:
    """Batches of ``size`` records; when the source fails mid-batch, the records read
    before the failure are yielded first (and so stored and checkpointed), then the
    :class:`SourceError` goes on."""
    batch: list[Parsed] = []
    try:
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
    except SourceError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def ingest(
    engine: Engine,
    source: Source,
    *,
    clock: Clock | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    restart: bool = False,
    after_batch: AfterBatch | None = None,
) -> IngestReport:
    """Upsert every record of ``source`` into the store and return the run's report.

    ``restart`` discards a saved checkpoint and starts the job from the top.
    A :class:`SourceError` from the source (after its own retries) ends the run
    early: the records read before it are still stored with their checkpoint, the
    report says so in ``error``, and the checkpoint stays for a rerun.
    """
    clock = clock or SystemClock()
    options = options or IngestOptions()
    report = IngestReport(source=source.name)
    started = clock.now()
    key = source.checkpoint_key
    cursor: str | None = None
    try:
        with writing(engine) as conn:
            if key is not None:
                if restart:
                    ingest_state.clear_checkpoint(conn, key)
                else:
                    cursor = ingest_state.read_checkpoint(conn, key)
        report.resumed_from = cursor
        read = 0
        for batch in _batches(iter(source.records(cursor)), options.batch_size):
            changed = _write_batch(engine, source, key, batch, report, clock.now(), options)
            if after_batch is not None and changed:
                after_batch(changed)
            read += len(batch)
            if progress is not None:
                progress(read, source.total)
        with writing(engine) as conn:
            if key is not None:
                ingest_state.clear_checkpoint(conn, key)
            report.completed = True
            ingest_state.record_run(
                conn,
                source=source.name,
                started_at=started,
                finished_at=clock.now(),
                completed=True,
                report=report.as_dict(),
            )
    except SourceError as exc:
        report.error = str(exc)
        # The report carries the error; its caller shows it (once).
        log.info("ingest from %s stopped: %s", source.name, exc)
        with writing(engine) as conn:
            ingest_state.record_run(
                conn,
                source=source.name,
                started_at=started,
                finished_at=clock.now(),
                completed=False,
                report=report.as_dict(),
            )
    except DBAPIError as exc:
        raise StorageError(f"ingest from {source.name} failed in the database: {exc.orig}") from exc
    return report


def _write_batch(
    engine: Engine,
    source: Source,
    key: str | None,
    batch: list[Parsed],
    report: IngestReport,
    now: datetime,
    options: IngestOptions,
) -> list[int]:
    """Write one batch and its checkpoint in one transaction; return the ids it touched."""
    papers: list[tuple[int, Paper]] = []
    rejections: list[Rejection] = []
    for record in batch:
        if isinstance(record.item, Rejection):
            rejections.append(record.item)
        else:
            papers.append((record.position, record.item))
    with writing(engine) as conn:
        matches = find_matches(conn, [p for _, p in papers])
        plan = plan_batch(papers, matches, options.limits, now)
        changed = insert_papers(conn, plan.inserts, now)
        update_papers(conn, plan.updates, now)
        changed += [pid for pid, _ in plan.updates]
        lexical.sync(conn, changed)
        cursor = next((r.cursor for r in reversed(batch) if r.cursor is not None), None)
        if key is not None and cursor is not None:
            ingest_state.save_checkpoint(conn, key, source.name, cursor, now)
    # Count only once the batch is committed.
    report.fetched += len(batch)
    report.new += len(plan.inserts)
    report.updated += plan.updated
    report.unchanged += plan.unchanged
    for line in plan.merges:
        report.merge(line)
    for rejection in sorted(rejections + plan.rejections, key=lambda r: r.position):
        report.reject(rejection)
    return changed
