"""The machine's serving memory: PSS summed over ``paperfeed serve``'s processes.

    python bench/serve_memory.py --corpus DIR [--workers 2] [--src SRC] [--requests 300]
                                 [--json]

``--corpus`` is one size's folder of bench/search_speed.py's ``--workdir`` (``papers.db``
and ``index/``, whose HNSW cache and tantivy index are in step with the file). The
server runs as a hub does (``python -m paperfeed serve --workers N`` on 127.0.0.1,
bench/web.py's ``start_server``), then ``--requests`` hybrid searches
(``/api/papers/search?q=...``, 8 at a time, the queries of bench/search_speed.py) make
every worker load its vector index, model and word index. Then, for the supervisor and
each worker, ``/proc/PID/smaps_rollup``: RSS counts a page shared by two workers twice,
PSS splits it between them, so the PSS sum is what the machine really spends. Measured
twice (after the requests, and after as many again) to show it has settled.

``--src`` runs the server from another checkout's ``src`` (``PYTHONPATH``), e.g. a
``git worktree`` of an earlier commit, to compare before and after a change in the same
conditions.

``--for-you N`` (#17) also asks "For you" (``GET /api/me/recommendations``) for N members
after the searches: members ``bench-fy-<i>`` who upvoted 5-20 papers of one neighbourhood
each, with an API token, are added to the database the first time (so give it a copy of
the corpus, never the shared one; ``paperfeed index update`` on it makes the features
ahead, as a hub does). Each member asks 4 times over one kept-alive connection (one
worker): the first answer trains and scores, the later ones take the member's ranked
papers from that worker's cache; then every member once more on a new connection (a
worker picked by the kernel). Times are reported as median and worst. ``--for-you-first``
asks them as soon as the workers answer, before any search: a worker's first answers
while it may still be preparing (answers given as trending papers meanwhile are counted
as ``preparing_answers``).
``--mappings`` adds, per process, the 12 mappings holding the most PSS
(``/proc/PID/smaps``: files by name, anonymous memory as ``[anon]``), to tell what grows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web
from search_speed_inputs import make_queries, seed_papers

FIELDS = ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty", "Pss_Anon", "Pss_File")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def rollup(pid: int) -> dict[str, float]:
    """MB of each field of /proc/PID/smaps_rollup."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            out[name] = int(rest.split()[0]) / 1024
    return out


def mappings(pid: int, top: int = 12) -> list[tuple[str, float]]:
    """The ``top`` mappings by PSS (MB), summed per file name ([anon] for the rest)."""
    sums: dict[str, float] = {}
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            name = head[5] if len(head) > 5 else "[anon]"
        elif head and head[0] == "Pss:":
            sums[name] = sums.get(name, 0.0) + int(head[1]) / 1024
    ranked = sorted(sums.items(), key=lambda item: -item[1])[:top]
    return [(Path(n).name if n.startswith("/") else n, round(mb, 1)) for n, mb in ranked]


def measure(supervisor: int, detail: bool = False) -> dict[str, Any]:
    pids = [supervisor, *children(supervisor)]
    per: dict[str, Any] = {str(pid): rollup(pid) for pid in pids}
    total = {f: sum(p.get(f, 0.0) for p in per.values()) for f in FIELDS}
    if detail:
        for pid in pids:
            per[str(pid)]["mappings"] = mappings(pid)
    return {"processes": per, "total_mb": total}


def add_members(db: Path, count: int) -> list[str]:
    """Members who upvoted one neighbourhood each, and an API token each (made once)."""
    import numpy as np
    from sqlalchemy import text

    from paperfeed.deliver import security
    from paperfeed.index.vectors.table import fetch_vectors, recorded_model
    from paperfeed.store import tokens, users, votes
    from paperfeed.store.engine import make_engine, writing

    engine = make_engine(f"sqlite:///{db}", create=False)
    saved = db.with_suffix(".for-you-tokens.json")
    made: list[str] = json.loads(saved.read_text()) if saved.exists() else []
    now = datetime.now(UTC)
    rng = np.random.default_rng(17)
    with engine.connect() as conn:
        recorded = recorded_model(conn)
        assert recorded is not None, f"{db} holds no vectors"
        top = int(conn.execute(text("SELECT max(id) FROM papers")).scalar_one())
    for i in range(len(made), count):
        with engine.connect() as conn:
            sample = sorted({int(x) for x in rng.integers(1, top, 20_000)})
            ids, vecs = fetch_vectors(conn, recorded[0], sample)
        centre = vecs[int(rng.integers(0, len(ids)))]
        liked = ids[np.argsort(-(vecs @ centre))[: int(rng.integers(5, 21))]]
        selector = security.new_token(12).replace("-", "A").replace("_", "B")[:16]
        secret = security.new_token(32)
        with writing(engine) as conn:
            member = users.create_user(
                conn,
                email=f"bench-fy-{i}@example.org",
                username=f"bench-fy-{i}",
                password_hash="x",
                role="member",
                now=now,
                verified=True,
            )
            for pid in liked:
                votes.set_vote(conn, paper_id=int(pid), user_id=member.id, on=True, now=now)
            tokens.insert_token(
                conn,
                user_id=member.id,
                name="bench",
                selector=selector,
                secret_hash=security.digest(secret),
                now=now,
            )
        made.append(f"pf_{selector}_{secret}")
        saved.write_text(json.dumps(made))
    engine.dispose()
    return made[:count]


def ask_for_you(port: int, tokens: list[str]) -> dict[str, Any]:
    """Each member 4 times on one connection, then once more on a new one: seconds each."""
    import http.client
    import statistics

    first: list[float] = []
    later: list[float] = []
    again: list[float] = []
    preparing = 0

    def ask(conn: http.client.HTTPConnection, token: str) -> float:
        nonlocal preparing
        started = time.perf_counter()
        conn.request("GET", "/api/me/recommendations", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()
        took = time.perf_counter() - started
        assert response.status == 200, (response.status, body[:300])
        preparing += b'"preparing": true' in body or b'"preparing":true' in body
        return took

    for token in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        first.append(ask(conn, token))
        later += [ask(conn, token) for _ in range(3)]
        conn.close()
    for token in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        again.append(ask(conn, token))
        conn.close()

    def stats(xs: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(xs) * 1000, 1),
            "worst_ms": round(max(xs) * 1000, 1),
        }

    return {
        "members": len(tokens),
        "first": stats(first),
        "later": stats(later),
        "new_connection": stats(again),
        "preparing_answers": preparing,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--src", type=Path, help="serve from this checkout's src")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--embedder", default="minilm", help="the corpus's embedder")
    parser.add_argument("--for-you", type=int, default=0, help="members asking For you")
    parser.add_argument("--mappings", action="store_true", help="PSS of each mapping")
    parser.add_argument(
        "--for-you-first", action="store_true", help="ask For you before the searches"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    members = add_members(args.corpus / "papers.db", args.for_you) if args.for_you else []
    web.WORKERS = args.workers
    os.environ["PAPERFEED_EMBEDDER"] = args.embedder
    if args.src:
        os.environ["PYTHONPATH"] = str(args.src.resolve())
    queries = make_queries(seed_papers(), 100)
    port = web.free_port()
    base = f"http://127.0.0.1:{port}"
    for_you: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="pf-serve-memory-") as tmp:
        log = Path(tmp) / "server.log"
        processes = web.start_server(
            args.corpus / "papers.db",
            args.corpus / "index",
            port,
            datetime.now(UTC),
            log,
            stock=False,
            cache=True,
        )
        try:
            try:
                web.wait_ready(base, port, processes, args.workers, timeout=600)
            except SystemExit:
                sys.stderr.write(log.read_text(errors="replace")[-3000:])
                raise
            paths = [
                f"/api/papers/search?q={quote_plus(queries[i % len(queries)])}"
                for i in range(args.requests)
            ]
            if args.for_you_first and members:
                for_you = ask_for_you(port, members)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda p: web.get(base + p, timeout=600), paths))
            warm_s = time.perf_counter() - started
            first = measure(processes[0].pid, args.mappings)
            if members and not args.for_you_first:
                for_you = ask_for_you(port, members)
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses += list(pool.map(lambda p: web.get(base + p, timeout=600), paths))
            second = measure(processes[0].pid, args.mappings)
        finally:
            web.stop_server(processes)
        errors = sum(s != 200 for s in statuses)
        tail = log.read_text(errors="replace")[-2000:] if errors else ""
    report = {
        "corpus": str(args.corpus),
        "workers": args.workers,
        "src": str(args.src) if args.src else "this checkout",
        "requests": len(statuses),
        "errors": errors,
        "warm_s": warm_s,
        "load_average": os.getloadavg(),
        "after_requests": first,
        "for_you": for_you,
        "after_twice_as_many": second,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        if tail:
            sys.stderr.write(tail)
        return
    print(
        f"{args.corpus}: {args.workers} workers, {report['src']}, {len(statuses)} searches "
        f"({errors} errors), load {report['load_average'][0]:.1f}"
    )
    for label, row in (("after requests", first), ("after twice as many", second)):
        total = row["total_mb"]
        print(
            f"  {label:<22} PSS {total['Pss']:8,.0f} MB   RSS {total['Rss']:8,.0f} MB   "
            f"(processes: {len(row['processes'])})"
        )
    if for_you:
        print(
            f"  For you, {for_you['members']} members: first {for_you['first']}, "
            f"later {for_you['later']}, new connection {for_you['new_connection']}, "
            f"preparing {for_you['preparing_answers']}"
        )
    if tail:
        print(tail)


if __name__ == "__main__":
    main()
