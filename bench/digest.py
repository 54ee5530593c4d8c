"""Digest sending speed and memory, with bare smtplib as the floor.

    python bench/digest.py [--subscribers 10000] [--json]
    python bench/digest.py --corpus DIR --workdir DIR [--members 10000] [--senders 1] [--runs 1]

The second form is digest day at scale on a large realistic corpus (#17): see
``bench/digest_scale.py``. The first:

1. Builds a fresh migrated SQLite file holding the 660 seed-page papers (``ingest sample
   --seed-pages``, featured over the last 14 days, first seen today) and N confirmed
   subscribers, each with a distinct saved search (two or three words drawn from the
   sample titles).
2. Starts an SMTP sink (aiosmtpd, counting messages) in its own process on 127.0.0.1.
3. Runs, each in a fresh subprocess:
   - paperfeed: ``paperfeed digest send`` for a daily edition, in process: plan the
     ledger, claim batches, compose every digest (trending once, one ``search()`` per
     saved search), render HTML and text, record the intent, hand it to the sink over
     one connection, record the outcome;
   - floor: the same number of one fixed, pre-built message of the same size sent by
     ``smtplib.SMTP.send_message`` over one connection.
4. Prints seconds, messages/s, the ratio to the floor and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import web  # noqa: E402
from memory import peak_rss_mb  # noqa: E402

DAY = date(2026, 11, 23)  # a Monday: a daily edition goes out
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # before its 21:00 New York send time
STOP = {"a", "an", "the", "of", "for", "and", "in", "on", "with", "to", "via", "from", "by"}


def _sink(port: int, ready: Any, count: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _settings(folder: Path, port: int) -> Any:
    from paperfeed.config import load_settings

    return load_settings(
        database_url=f"sqlite:///{folder / 'paperfeed.db'}",
        index_dir=str(folder / "index"),
        frozen_time=NOW,
        base_url="https://hub.example.org",
        secret_key="bench-secret-" + "z" * 40,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_rate_per_minute=0,
        mail_from="paperfeed <digest@hub.example.org>",
        embed_on_ingest=False,
    )


def build(folder: Path, subscribers: int, seed: int = 11) -> None:
    """The sample corpus and ``subscribers`` confirmed subscribers with distinct searches."""
    from sqlalchemy import insert, select

    from paperfeed.clock import FrozenClock
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.ingest.jobs import sample_source
    from paperfeed.ingest.pipeline import ingest
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.tables.digests import saved_searches
    from paperfeed.store.tables.digests import subscribers as table
    from paperfeed.store.tables.papers import papers

    settings = _settings(folder, 25)
    engine = make_engine(settings.database_url)
    migrate(engine)
    ingest(engine, sample_source(settings, seed_pages=True), clock=FrozenClock(NOW))
    words_index = word_index(engine, settings)
    if words_index is not None:
        words_index.background = False
        words_index.refresh()
    with engine.connect() as conn:
        titles = list(conn.execute(select(papers.c.title)).scalars())
    vocabulary = sorted(
        {w for t in titles for w in re.findall(r"[a-z][a-z-]{3,}", t.lower()) if w not in STOP}
    )
    rng = random.Random(seed)
    queries: set[str] = set()
    while len(queries) < subscribers:
        queries.add(" ".join(rng.sample(vocabulary, rng.choice((2, 2, 3)))))
    rows = [
        {
            "id": n + 1,
            "email": f"reader{n:05d}@example.org",
            "frequency": "daily",
            "status": "confirmed",
            "link_key": f"key{n:05d}",
            "created_at": NOW,
            "requested_at": NOW,
            "confirmed_at": NOW,
            "confirmed_ip": "192.0.2.1",
        }
        for n in range(subscribers)
    ]
    with writing(engine) as conn:
        conn.execute(insert(table), rows)
        conn.execute(
            insert(saved_searches),
            [
                {"subscriber_id": n + 1, "position": 0, "query": q}
                for n, q in enumerate(sorted(queries))
            ],
        )
    engine.dispose()


def _paperfeed(folder: Path, port: int, out: Any) -> None:
    from paperfeed.clock import FrozenClock
    from paperfeed.deliver.digests.send import sender_from_settings
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.rank.editions import Edition
    from paperfeed.store.engine import make_engine

    settings = _settings(folder, port)
    engine = make_engine(settings.database_url)
    words = word_index(engine, settings)
    if words is not None:
        words.background = False
    sender = sender_from_settings(settings, engine, FrozenClock(NOW), words=words)
    started = time.perf_counter()
    report = sender.send(Edition("daily", DAY))
    seconds = time.perf_counter() - started
    out.put(
        {
            "seconds": seconds,
            "messages": report.sent,
            "skipped": report.skipped,
            "unsent": report.unsent,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def _floor(folder: Path, port: int, n: int, out: Any) -> None:
    import smtplib
    from email import message_from_bytes, policy

    sample = (folder / "sample.eml").read_bytes()
    message = message_from_bytes(sample, policy=policy.default)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(n):
            smtp.send_message(message)
    seconds = time.perf_counter() - started
    out.put(
        {
            "seconds": seconds,
            "messages": n,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def _sample_message(folder: Path) -> None:
    """One real digest, saved for the floor to send over and over."""
    from paperfeed.clock import FrozenClock
    from paperfeed.deliver.digests.send import sender_from_settings
    from paperfeed.rank.editions import Edition
    from paperfeed.store.engine import make_engine

    settings = _settings(folder, 25)
    engine = make_engine(settings.database_url)
    sender = sender_from_settings(settings, engine, FrozenClock(NOW))
    message = sender.preview("reader00000@example.org", Edition("daily", DAY))
    (folder / "sample.eml").write_bytes(bytes(message))
    engine.dispose()


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, out))
    process.start()
    result: dict[str, Any] = out.get(timeout=1800)
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--corpus",
        help="a corpus folder of bench/search_speed.py (papers.db, index/): run digest day at "
        "scale on a copy of it instead (bench/digest_scale.py; needs --workdir)",
    )
    parser.add_argument("--workdir", help="where the copy and the members live (kept for reruns)")
    parser.add_argument("--members", type=int, default=10_000, help="with --corpus")
    parser.add_argument("--new", type=int, default=1_000, help="the edition's new papers")
    parser.add_argument("--senders", type=int, default=1, help="sender processes at once")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--timing-nice",
        type=int,
        default=None,
        help="with --corpus: run at this nice value (e.g. -10 on a shared machine; needs root)",
    )
    args = parser.parse_args()
    if args.corpus:
        if not args.workdir:
            parser.error("--corpus needs --workdir")
        import digest_scale

        digest_scale.main(args)
        return
    folder = Path(tempfile.mkdtemp(prefix="pf-digest-bench-"))
    ctx = multiprocessing.get_context("spawn")
    try:
        build(folder, args.subscribers)
        _sample_message(folder)
        size = len((folder / "sample.eml").read_bytes())

        port = web.free_port()
        ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("i", 0)
        sink = ctx.Process(target=_sink, args=(port, ready, count, stop))
        sink.start()
        ready.wait(30)
        try:
            floor = _in_child(_floor, folder, port, args.subscribers)
            floor_count = count.value
            paperfeed = _in_child(_paperfeed, folder, port)
            paperfeed["received"] = count.value - floor_count
        finally:
            stop.set()
            sink.join(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = {"floor (smtplib, one fixed message)": floor, "paperfeed digest send": paperfeed}
    for row in results.values():
        row["messages_per_s"] = row["messages"] / row["seconds"] if row["seconds"] else 0.0
    data = {"subscribers": args.subscribers, "results": results, "message_bytes": size}
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print(
        f"{args.subscribers} confirmed subscribers, one distinct saved search each; "
        f"a digest is about {size // 1024} KB"
    )
    print(f"{'':40} {'seconds':>8} {'msg/s':>8} {'x floor':>8} {'peak RSS MB':>12}")
    for name, row in results.items():
        ratio = row["seconds"] / floor["seconds"] if floor["seconds"] else 0.0
        print(
            f"{name:40} {row['seconds']:8.1f} {row['messages_per_s']:8.0f} {ratio:8.1f}"
            f" {row['peak_rss_mb']:12.0f}"
        )


if __name__ == "__main__":
    main()
