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


def measure(supervisor: int) -> dict[str, Any]:
    pids = [supervisor, *children(supervisor)]
    per = {str(pid): rollup(pid) for pid in pids}
    total = {f: sum(p.get(f, 0.0) for p in per.values()) for f in FIELDS}
    return {"processes": per, "total_mb": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--src", type=Path, help="serve from this checkout's src")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--embedder", default="minilm", help="the corpus's embedder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    web.WORKERS = args.workers
    os.environ["PAPERFEED_EMBEDDER"] = args.embedder
    if args.src:
        os.environ["PYTHONPATH"] = str(args.src.resolve())
    queries = make_queries(seed_papers(), 100)
    port = web.free_port()
    base = f"http://127.0.0.1:{port}"
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
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda p: web.get(base + p, timeout=600), paths))
            warm_s = time.perf_counter() - started
            first = measure(processes[0].pid)
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses += list(pool.map(lambda p: web.get(base + p, timeout=600), paths))
            second = measure(processes[0].pid)
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
    if tail:
        print(tail)


if __name__ == "__main__":
    main()
