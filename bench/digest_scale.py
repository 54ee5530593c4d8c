"""Digest day at scale (#17): members' personalised digests on a large realistic corpus.

    python bench/digest.py --corpus /work/bench-data/ss/n1000000 --workdir DIR \\
        [--members 10000] [--senders 1] [--runs 1] [--timing-nice -10] [--json]

1. Prepare (once per workdir; reruns reuse it): copy the corpus' SQLite file and its
   word index (``bench/search_speed.py`` built them; the copy is written to, the corpus
   never) to ``DIR``; make the corpus' last ``--new`` papers (1,000) the edition's new
   papers (first seen in the daily edition's window, 150 of them featured with upvotes,
   so they trend); add the members: each a verified account subscribed to the daily
   digest, with 0-3 saved searches drawn (skewed towards popular ones) from 3,000 queries
   made from real abstracts, 3-40 upvotes on older papers over the last 90 days (one in
   ten a cold start with 0-2 upvotes, whose saved searches join as topics), one in
   twenty following 1-3 authors of new papers, one in fifty paused. Then the
   recommendation features are made in the index folder (as ``paperfeed index update``
   does), so every run maps them.
2. An SMTP sink (aiosmtpd on 127.0.0.1, counting messages) in its own process.
3. Each run, every part in a fresh subprocess:
   - floor (SMTP): the same number of one fixed digest sent with ``smtplib`` over one
     connection;
   - floor (shared part): what every member's digest shares, composed once: the trending
     list, the edition's new papers and the features mapped, and each distinct saved
     search run once;
   - paperfeed: ``digest send`` of the edition (the ledger reset first), by ``--senders``
     processes at once (they share the ledger, as concurrent senders do): compose each
     claimed batch (trending once, saved searches once per distinct query, "For you"
     trained per member as the page trains it and scored for the batch in one matrix
     product over the new papers), render, record the intent, hand it to SMTP, record the
     outcome. Printed: wall time, the composing and the SMTP hand-off parts (summed over
     senders), messages/s, each sender's peak RSS, and the load average.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import sqlite3
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from memory import peak_rss_mb

NEW_PAPERS = 1_000
QUERIES = 3_000
FEATURED = 150


@functools.cache
def edition_day(workdir: Path) -> date:
    """The edition: the day the corpus' last paper was published (its papers' publication
    dates are in the word index, which the saved searches' date window reads)."""
    with sqlite3.connect(workdir / "papers.db") as db:
        (last,) = db.execute("SELECT MAX(published_at) FROM papers").fetchone()
    return datetime.fromisoformat(str(last)).date()


def now_of(workdir: Path) -> datetime:
    """Just after the edition's send time (21:00 in New York)."""
    from paperfeed.rank.editions import DigestSchedule

    slot = DigestSchedule(ZoneInfo("America/New_York")).slot(_edition(workdir))
    return slot + timedelta(minutes=30)


def settings_for(workdir: Path, port: int) -> Any:
    from paperfeed.config import load_settings

    return load_settings(
        database_url=f"sqlite:///{workdir / 'papers.db'}",
        index_dir=str(workdir / "index"),
        frozen_time=now_of(workdir),
        timezone="America/New_York",
        digest_days="mon,tue,wed,thu,fri,sat,sun",  # whatever day the corpus ends on
        base_url="https://hub.example.org",
        secret_key="bench-secret-" + "z" * 40,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_rate_per_minute=0,
        mail_from="paperfeed <digest@hub.example.org>",
        embed_on_ingest=False,
    )


def _edition(workdir: Path) -> Any:
    from paperfeed.rank.editions import Edition

    return Edition("daily", edition_day(workdir))


# --- preparing the workdir -------------------------------------------------------------------


def copy_corpus(corpus: Path, workdir: Path) -> None:
    """The corpus' database and word index, copied (never written in place)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "papers.db").exists():
        shutil.copyfile(corpus / "papers.db", workdir / "papers.db.part")
        os.replace(workdir / "papers.db.part", workdir / "papers.db")
    for words in (corpus / "index").glob("words-*"):
        target = workdir / "index" / words.name
        if not target.exists():
            shutil.copytree(words, target)


def _window(workdir: Path) -> tuple[datetime, datetime]:
    from paperfeed.rank.editions import schedule_of

    return schedule_of(settings_for(workdir, 25)).window(_edition(workdir))


def add_members(workdir: Path, members: int, new: int, seed: int = 17) -> dict[str, int]:
    """The edition's new papers and ``members`` subscribed members (see the module doc)."""
    from paperfeed.store.follows import name_key
    from search_speed_inputs import make_queries, seed_papers

    db = sqlite3.connect(workdir / "papers.db")
    try:
        if db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
            return {"members": db.execute("SELECT COUNT(*) FROM subscribers").fetchone()[0]}
        rng = random.Random(seed)
        start, end = _window(workdir)
        (top,) = db.execute("SELECT MAX(id) FROM papers").fetchone()
        new_ids = list(range(top - new + 1, top + 1))
        span = (end - start).total_seconds()
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        for n, pid in enumerate(new_ids):
            seen = start + timedelta(seconds=span * (n + 1) / (len(new_ids) + 1))
            db.execute(
                "UPDATE papers SET first_seen_at = ? WHERE id = ?",
                (seen.replace(tzinfo=None).strftime(fmt), pid),
            )
        for pid in rng.sample(new_ids, FEATURED):
            db.execute(
                "UPDATE papers SET featured_on = ?, upvotes = ? WHERE id = ?",
                (edition_day(workdir).isoformat(), rng.randint(0, 60), pid),
            )
        authors = [
            name
            for (name,) in db.execute(
                f"SELECT DISTINCT name FROM paper_authors WHERE paper_id >= {new_ids[0]}"
            )
        ]
        queries = make_queries(seed_papers(), QUERIES)
        stamp = now_of(workdir).replace(tzinfo=None).strftime(fmt)
        users, subs, searches, votes, follows, paused = [], [], [], [], [], []
        older = new_ids[0] - 1
        counts = {"cold_start": 0, "following": 0, "paused": 0, "searches": 0, "votes": 0}
        for m in range(1, members + 1):
            email = f"member{m:05d}@example.org"
            users.append((m, email, f"member{m:05d}", "bench-no-login", "member", stamp, stamp))
            subs.append((m, email, m, "daily", "confirmed", f"key{m:05d}", stamp, stamp, stamp))
            taken = rng.choices((0, 1, 2, 3), weights=(20, 40, 25, 15))[0]
            mine = list(
                dict.fromkeys(queries[int(QUERIES * rng.random() ** 2)] for _ in range(taken))
            )
            searches.extend((m, pos, q) for pos, q in enumerate(mine))
            cold = rng.random() < 0.1
            liked = rng.randint(0, 2) if cold else min(40, 3 + int(rng.expovariate(1 / 8)))
            for pid in rng.sample(range(1, older), liked):
                at = now_of(workdir) - timedelta(days=90 * rng.random())
                votes.append((pid, m, at.replace(tzinfo=None).strftime(fmt)))
            if rng.random() < 0.05:
                for name in rng.sample(authors, rng.randint(1, 3)):
                    follows.append((m, name, name_key(name), stamp))
                counts["following"] += 1
            if rng.random() < 0.02:
                paused.append((m, stamp))
            counts["cold_start"] += cold
            counts["searches"] += len(mine)
            counts["votes"] += liked
        counts["paused"] = len(paused)
        db.executemany(
            "INSERT INTO users (id, email, username, password_hash, role, created_at,"
            " verified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            users,
        )
        db.executemany(
            "INSERT INTO subscribers (id, email, user_id, frequency, status, link_key,"
            " created_at, requested_at, confirmed_at, bounces) VALUES (?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, 0)",
            subs,
        )
        db.executemany(
            "INSERT INTO saved_searches (subscriber_id, position, query) VALUES (?, ?, ?)",
            searches,
        )
        db.executemany("INSERT INTO paper_votes (paper_id, user_id, at) VALUES (?, ?, ?)", votes)
        db.executemany(
            "INSERT INTO author_follows (user_id, name, name_key, at) VALUES (?, ?, ?, ?)",
            follows,
        )
        db.executemany(
            "INSERT INTO rec_settings (user_id, paused, updated_at) VALUES (?, 1, ?)", paused
        )
        db.commit()
        counts["members"] = members
        return counts
    finally:
        db.close()


def make_features(workdir: Path) -> dict[str, Any]:
    """The recommendation features in the index folder (mapped if already made)."""
    from paperfeed.index.recommend.cache import FeatureCache
    from paperfeed.index.vectors.table import recorded_model
    from paperfeed.store.engine import make_engine

    settings = settings_for(workdir, 25)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        recorded = recorded_model(conn)
    assert recorded is not None, "the corpus has no vectors"
    started = time.perf_counter()
    features = FeatureCache(engine, recorded[0], Path(settings.index_dir)).features()
    engine.dispose()
    return {
        "papers": len(features.ids),
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
    }


# --- the runs (each in a fresh subprocess) -----------------------------------------------------


def shared_part(workdir: Path, port: int, out: Any) -> None:
    """The floor of composing: what every digest shares, composed once."""
    from paperfeed.clock import FrozenClock
    from paperfeed.deliver.digests.send import sender_from_settings
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.store.engine import make_engine

    settings = settings_for(workdir, port)
    engine = make_engine(settings.database_url)
    words = word_index(engine, settings)
    if words is not None:
        words.background = False
    sender = sender_from_settings(settings, engine, FrozenClock(now_of(workdir)), words=words)
    edition = _edition(workdir)
    with sqlite3.connect(workdir / "papers.db") as db:
        texts = [q for (q,) in db.execute("SELECT DISTINCT query FROM saved_searches")]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    sender.content.trending(edition)
    provider = sender.content.providers[0]
    shared = provider.edition_papers(edition)  # type: ignore[attr-defined]
    edition_s = time.perf_counter() - started
    for text in texts:
        sender.content.saved_search(text, edition)
    seconds = time.perf_counter() - started
    out.put(
        {
            "seconds": seconds,
            "edition_papers_s": edition_s,
            "new_papers": len(shared.new_ids),
            "distinct_searches": len(texts),
            "peak_rss_mb": peak_rss_mb(),
            "load": [load, os.getloadavg()[0]],
        }
    )


def sender_process(workdir: Path, port: int, out: Any) -> None:
    """One ``digest send`` of the edition, timed by part."""
    from paperfeed.clock import FrozenClock
    from paperfeed.deliver.digests.send import sender_from_settings
    from paperfeed.deliver.mail.batch import SmtpBatch
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.store.engine import make_engine

    settings = settings_for(workdir, port)
    engine = make_engine(settings.database_url)
    words = word_index(engine, settings)
    if words is not None:
        words.background = False
    clock = FrozenClock(now_of(workdir))
    sender = sender_from_settings(settings, engine, clock, words=words)
    spent = {"compose_s": 0.0, "smtp_s": 0.0}
    compose = sender.mails_for

    def timed_compose(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return compose(*args)
        finally:
            spent["compose_s"] += time.perf_counter() - started

    class TimedBatch(SmtpBatch):
        def send(self, sender_address: str, recipient: str, data: bytes) -> None:
            started = time.perf_counter()
            try:
                super().send(sender_address, recipient, data)
            finally:
                spent["smtp_s"] += time.perf_counter() - started

    sender.mails_for = timed_compose  # type: ignore[method-assign]
    sender.transport = lambda: TimedBatch(settings, clock)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    report = sender.send(_edition(workdir))
    seconds = time.perf_counter() - started
    out.put(
        {
            "seconds": seconds,
            **spent,
            "messages": report.sent,
            "skipped": report.skipped,
            "failed": report.failed,
            "unsent": report.unsent,
            "peak_rss_mb": peak_rss_mb(),
            "load": [load, os.getloadavg()[0]],
        }
    )


def reset_ledger(workdir: Path) -> None:
    with sqlite3.connect(workdir / "papers.db") as db:
        db.execute("DELETE FROM digest_deliveries")


def sample_message(workdir: Path) -> bytes:
    """One member's real digest (with every section), for the SMTP floor."""
    from paperfeed.clock import FrozenClock
    from paperfeed.deliver.digests.send import sender_from_settings
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.store.engine import make_engine

    settings = settings_for(workdir, 25)
    engine = make_engine(settings.database_url)
    words = word_index(engine, settings)
    if words is not None:
        words.background = False
    sender = sender_from_settings(settings, engine, FrozenClock(now_of(workdir)), words=words)
    with sqlite3.connect(workdir / "papers.db") as db:
        (email,) = db.execute(
            "SELECT email FROM subscribers s WHERE (SELECT COUNT(*) FROM saved_searches q"
            " WHERE q.subscriber_id = s.id) = 2 ORDER BY id LIMIT 1"
        ).fetchone()
    message = bytes(sender.preview(email, _edition(workdir)))
    engine.dispose()
    return message


def run_senders(workdir: Path, port: int, senders: int, count: Any) -> dict[str, Any]:
    """``senders`` processes sending the edition at once; their figures and the wall time."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    reset_ledger(workdir)
    before = count.value
    queue = ctx.Queue()
    started = time.perf_counter()
    procs = [
        ctx.Process(target=sender_process, args=(workdir, port, queue)) for _ in range(senders)
    ]
    for p in procs:
        p.start()
    rows = [queue.get(timeout=7200) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    sent = sum(r["messages"] for r in rows)
    return {
        "seconds": wall,
        "compose_s": sum(r["compose_s"] for r in rows),
        "smtp_s": sum(r["smtp_s"] for r in rows),
        "messages": sent,
        "received": count.value - before,
        "skipped": sum(r["skipped"] for r in rows),
        "failed": sum(r["failed"] for r in rows),
        "unsent": max(r["unsent"] for r in rows),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        "load": [min(r["load"][0] for r in rows), max(r["load"][1] for r in rows)],
        "senders": senders,
    }


def main(args: Any) -> None:
    import multiprocessing

    import digest
    import web

    if args.timing_nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.timing_nice)  # the children inherit it
    workdir = Path(args.workdir)
    copy_corpus(Path(args.corpus), workdir)
    started = time.perf_counter()
    prepared = add_members(workdir, args.members, args.new)
    prepared["members_s"] = time.perf_counter() - started
    prepared["features"] = make_features(workdir)
    (workdir / "sample.eml").write_bytes(sample_message(workdir))
    size = len((workdir / "sample.eml").read_bytes())
    ctx = multiprocessing.get_context("spawn")
    port = web.free_port()
    ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("i", 0)
    sink = ctx.Process(target=digest._sink, args=(port, ready, count, stop))
    sink.start()
    ready.wait(30)
    runs = []
    try:
        for _ in range(args.runs):
            floor = digest._in_child(digest._floor, workdir, port, args.members)
            shared = digest._in_child(shared_part, workdir, port)
            paperfeed = run_senders(workdir, port, args.senders, count)
            runs.append(
                {
                    "floor (smtplib, one fixed message)": floor,
                    "floor (shared part composed once)": shared,
                    f"paperfeed digest send ({args.senders} sender(s))": paperfeed,
                }
            )
    finally:
        stop.set()
        sink.join(30)
    for run in runs:
        for row in run.values():
            if "messages" in row:
                row["messages_per_s"] = row["messages"] / row["seconds"] if row["seconds"] else 0.0
    data = {"members": args.members, "prepared": prepared, "message_bytes": size, "runs": runs}
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print(
        f"{args.members} members; prepared: {json.dumps(prepared)}; a digest is ~{size // 1024} KB"
    )
    print(f"{'':44} {'seconds':>8} {'compose':>8} {'SMTP':>7} {'msg/s':>7} {'RSS MB':>7} load")
    for n, run in enumerate(runs, 1):
        for name, row in run.items():
            print(
                f"run {n} {name:38} {row['seconds']:8.1f} {row.get('compose_s', 0.0):8.1f}"
                f" {row.get('smtp_s', 0.0):7.1f} {row.get('messages_per_s', 0.0):7.0f}"
                f" {row['peak_rss_mb']:7.0f} {row.get('load', '')}"
            )
