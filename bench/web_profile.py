"""Where a web request's CPU goes beyond the search itself, on a kept corpus, in one process.

    python bench/web_profile.py --db PATH --index-dir DIR [--target api-search|search|api]
                                [--requests 400] [--cprofile 40] [--json]

Builds the app as a serve worker does (``create_app`` on the ``PAPERFEED_*`` settings of
bench/web.py: the kept database, read only here, and its index folder) and sends it
requests straight through ASGI, as uvicorn would after parsing them (no socket, no HTTP
parsing: bench/web.py's static ceiling measures those). The request handlers that
FastAPI would run in a worker thread run on the calling thread instead, so one
profiler sees all of a request, and hybrid search keeps its meaning half on that thread
too (as it does on a busy server). The URLs are bench/web.py's: its queries in turn, so
after the first round every query's embedding comes from the query cache, as under wrk.

For each target it prints the CPU one request costs (process CPU time over the timed
requests, p50 / p95 of each request's), the part of it spent inside ``search()`` and the
rest (routing, dependencies, middleware, the cards' statement, rendering, encoding).
With ``--cprofile N``: profiles N more requests and prints the functions with the most
cumulative and the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # as in a serve worker, before numpy is imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import web  # noqa: E402

TARGETS = {
    "api-search": web.BY_SHORT_NAME["api-search"],
    "search": web.BY_SHORT_NAME["search"],
    "api": web.BY_SHORT_NAME["api"],
    "home": web.BY_SHORT_NAME["home"],
    "static": web.TARGETS[0],
}


def inline_threads() -> None:
    """Run what Starlette and FastAPI hand to a thread on the calling thread instead."""
    import fastapi.dependencies.utils
    import fastapi.routing
    import starlette.concurrency

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for module in (starlette.concurrency, fastapi.routing, fastapi.dependencies.utils):
        if hasattr(module, "run_in_threadpool"):
            module.run_in_threadpool = inline  # type: ignore[attr-defined]
    import paperfeed.deliver.web.response_cache as cache
    import paperfeed.deliver.web.sessions  # noqa: F401 (imports run_in_threadpool lazily)

    cache.run_in_threadpool = inline  # type: ignore[attr-defined]


def timed_search(memo: bool) -> list[float]:
    """Wrap ``search`` where the routes call it; each call's thread CPU time is appended.
    With ``memo``, each distinct call runs once and later ones reuse its result (to see
    the rest of a request alone)."""
    import paperfeed.deliver.web.hub as hub

    spent: list[float] = []
    original = hub.search

    done: dict[str, Any] = {}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            if not memo:
                return original(*args, **kwargs)
            key = repr((args[2:], sorted(kwargs.items(), key=lambda kv: kv[0])))
            if key not in done:
                done[key] = original(*args, **kwargs)
            return done[key]
        finally:
            spent.append(time.thread_time() - started)

    hub.search = wrapped  # type: ignore[attr-defined]
    return spent


async def call(app: Any, path: str) -> tuple[int, int]:
    """One GET through the ASGI app; (status, body bytes)."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    size = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    await app(scope, receive, send)
    return status, size


def pct(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "mean": round(float(ms.mean()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--cprofile", type=int, default=0)
    parser.add_argument("--sort", default="cumulative,tottime")
    parser.add_argument("--no-cache", action="store_true", help="PAPERFEED_RESPONSE_CACHE_MB=0")
    parser.add_argument(
        "--memo-search",
        action="store_true",
        help="run each distinct search once (see timed_search)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    frozen = datetime.now(UTC).replace(microsecond=0)
    os.environ.update(
        {
            "PAPERFEED_DATABASE_URL": f"sqlite:///{args.db}",
            "PAPERFEED_INDEX_DIR": str(args.index_dir),
            "PAPERFEED_FROZEN_TIME": frozen.isoformat(),
            "PAPERFEED_TIMEZONE": web.HUB_ZONE,
        }
    )
    if args.no_cache:
        os.environ["PAPERFEED_RESPONSE_CACHE_MB"] = "0"

    inline_threads()
    import paperfeed.rank.search_halves as halves

    halves.overlap = lambda: False  # the meaning half on the calling thread (a busy server)
    spent = timed_search(args.memo_search)
    app = web.app()
    report: dict[str, Any] = {"db": str(args.db), "results": {}}
    loop = asyncio.new_event_loop()
    for name in args.target or ["api-search", "search"]:
        paths = TARGETS[name].paths
        for path in paths * 3:  # warm: index, model, every query's embedding cached
            status, _ = loop.run_until_complete(call(app, path))
            assert status == 200, (path, status)
        spent.clear()
        cpu: list[float] = []
        own: list[float] = []
        wall: list[float] = []
        sizes: list[int] = []
        for i in range(args.requests):
            path = paths[i % len(paths)]
            c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            status, size = loop.run_until_complete(call(app, path))
            cpu.append(time.process_time() - c0)
            own.append(time.thread_time() - t0)
            wall.append(time.perf_counter() - w0)
            sizes.append(size)
            assert status == 200, (path, status)
        row: dict[str, Any] = {
            "requests": args.requests,
            "cpu_ms": pct(cpu),
            "this_thread_cpu_ms": pct(own),
            "wall_ms": pct(wall),
            "body_bytes": int(np.median(sizes)),
        }
        if len(spent) == len(own):
            rest = [c - s for c, s in zip(own, spent, strict=True)]
            row["search_cpu_ms"] = pct(spent)
            row["outside_search_cpu_ms"] = pct(rest)
        row["searches_run"] = len(spent)
        report["results"][name] = row
        if args.cprofile:
            profile = cProfile.Profile()
            profile.enable()
            for i in range(args.cprofile):
                loop.run_until_complete(call(app, paths[i % len(paths)]))
            profile.disable()
            for key in args.sort.split(","):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats(key).print_stats(35)
                row[f"profile_{key}"] = out.getvalue()
    loop.close()
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    for name, row in report["results"].items():
        print(f"{name}: {row['requests']} requests, body {row['body_bytes']:,} bytes")
        for key in (
            "cpu_ms",
            "this_thread_cpu_ms",
            "search_cpu_ms",
            "outside_search_cpu_ms",
            "wall_ms",
        ):
            if key in row:
                v = row[key]
                print(
                    f"  {key:<24} p50 {v['p50']:7.2f}  p95 {v['p95']:7.2f}  mean {v['mean']:7.2f}"
                )
        for key, text in row.items():
            if key.startswith("profile_"):
                print(text)


if __name__ == "__main__":
    main()
