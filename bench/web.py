"""Web serving under load: daily page, JSON API and search, with a static file as the ceiling.

    python bench/web.py [--papers 100000] [--days 30] [--duration 15] [--connections 32]
                        [--pace 1.15] [--db PATH] [--no-cache] [--stock-uvicorn]
                        [--only home|api|search|api-search] [--index-dir DIR] [--json]

1. Builds a SQLite database of N synthetic papers: titles and abstracts resampled
   word by word from the 660 real seed-page papers shipped in the package (their length
   distributions too), synthetic authors, categories and heavy-tailed upvotes; the
   papers are featured evenly over the last ``--days`` days (100 k over 30 days is
   about 3,300 papers a day, an arXiv-sized day rather than a Hugging Face-sized one).
   The lexical index is built with ``paperfeed.index.lexical.database.rebuild``, and the tantivy
   word index (``WordIndex.refresh``) in the server's index folder before it starts, as
   ingestion keeps it (timed apart: ``word_index_s``). The vectors
   are *random unit vectors* (dimension 384) stored with ``store_vectors`` and
   ``record_model`` under the ``minilm`` embedder's name, so that hybrid search runs
   its whole path (the neighbours found are meaningless; the work is the same).
2. Serves the app as a hub would: ``paperfeed serve --workers 2`` on 127.0.0.1, with the
   settings in ``PAPERFEED_*`` variables (2 worker processes, a listening socket each:
   see ``paperfeed.deliver.serving``). ``--no-cache`` turns the response cache off
   (``PAPERFEED_RESPONSE_CACHE_MB=0``: the lists' and searches' whole answers, and the
   searches kept until the next commit), to measure every request rendered from the
   database and every search run. ``--stock-uvicorn`` runs
   ``python -m uvicorn --workers 2 --factory web:app`` instead (``web:app`` is a factory
   in this file calling ``create_app(load_settings())``), which on Linux leaves Nagle's
   algorithm on and puts all of wrk's connections on one worker. Every worker is warmed
   up (index and model loaded) before timing.
3. Runs wrk (2 threads, 32 connections, ``--duration`` seconds each, ``--latency``,
   10 s socket timeout) on each target in turn, in the same run, each through the same
   Lua script (which also reports the counts as JSON):
   - ``static``: ``/static/app.css``, the ceiling: the server and wrk doing nothing else;
   - ``home``: ``/``, the latest day's page (HTML, 50 papers);
   - ``api daily``: ``/api/daily_papers`` (JSON, 50 papers);
   - ``search``: ``/search?q=...`` rotating over several queries (HTML, 20 results,
     hybrid mode); ``api-search``: ``/api/papers/search?q=...``, the same queries
     answered as JSON. They are popular queries (many readers typing the same words):
     nothing is committed during the run, so each worker runs each search once and
     then answers it from what it kept until the next commit (``Hub.search``): the
     JSON API its whole answer, the search page its results as visitors see them,
     rendered, inside a page made for each request (its own CSRF token and cookie).
     With ``--no-cache`` every search runs on every request (the query's embedding
     still comes from the worker's cache of recent query vectors after the first).
4. Prints requests/s, latency p50 and p99 and the ratio to the static ceiling of each
   of those runs. They are *capacity* runs: wrk keeps all 32 connections busy, so the
   server always has 32 requests waiting and each one's latency is mostly its wait in
   that queue (Little's law: p50 is about 32 / (requests/s)).
5. Then, for each target that has a goal, a *paced* run at the goal's rate: the same
   32 connections, but each waits a random think time (exponentially distributed, so
   requests arrive like independent readers', not in bursts) before its next request,
   calibrated by a 5-second pilot so that about ``--pace`` x the goal's rate
   (1.15 x by default) is offered. This answers the question the goal asks: serving
   that many requests a second, how long does the slowest 1 % take? (wrk measures
   from each request's send, so a server that fell behind would send fewer requests
   and show as a rate below the goal: that fails too.) PASS / FAIL against the goals
   with 2 workers is decided on the paced run: ``/api/daily_papers`` at least 500
   requests/s with p99 at most 100 ms; the ``/search`` page at least 150 requests/s and
   ``/api/papers/search`` at least 200, each with p99 at most 200 ms (#17); the capacity
   run must also reach the rate. A target with any error fails:
   a non-2xx answer, a socket error, a traceback in the server's log, or, in a
   capacity run, connections that got no answer during the run (wrk keeps every
   connection busy, so requests/s x mean latency falls short of the connection count
   when some hang: Little's law).

wrk comes from Debian's package: ``bash scripts/ensure_wrk.sh``. The server and wrk
share the machine's cores, as they would not in production; the static ceiling,
measured under the same conditions, is the yardstick.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import data_paths

DIM = 384
BATCH = 5_000
WORKERS = 2
THREADS = 2
CONNECTIONS = 32
HUB_ZONE = "America/New_York"  # the default PAPERFEED_TIMEZONE
GRACE = 3  # seconds a stopping worker waits for requests in flight (a hung one never ends)

QUERIES = (
    "diffusion models for video generation",
    "large language model reasoning",
    "reinforcement learning from human feedback",
    "3D gaussian splatting",
    "speech synthesis",
    "retrieval augmented generation",
    "vision transformer",
    "multimodal benchmark evaluation",
)

CATEGORIES = ("cs.CV", "cs.CL", "cs.LG", "cs.AI", "cs.RO", "stat.ML", "cs.IR", "eess.AS")
FIRST_NAMES = (  # noqa: SIM905 (a list of words reads best as words)
    "Ada Alan Amir Ana Bo Chen Dana Elena Emil Fatima Hana Hiro Ines Ivan Jia Jonas Kai "
    "Lars Lea Li Maria Mei Nadia Noor Omar Priya Rahul Rosa Sara Tariq Tom Wei Yara Yuki "
    "Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905 (a list of words reads best as words)
    "Abe Ali Bauer Chen Costa Dubois Evans Garcia Gupta Haddad Ito Jensen Kim Kowalski "
    "Kumar Lee Li Lopez Moreau Müller Nakamura Novak Okafor Park Rossi Sato Silva Singh "
    "Smith Tanaka Wang Weber Wu Yang Zhang"
).split()


@dataclass(frozen=True)
class Target:
    """One URL (or a rotation of URLs) measured by wrk, with its goal if it has one."""

    name: str
    paths: tuple[str, ...]
    min_rps: float | None = None
    max_p99_ms: float | None = None

    @property
    def goal(self) -> str:
        if self.min_rps is None or self.max_p99_ms is None:
            return ""
        return f">= {self.min_rps:.0f}/s, p99 <= {self.max_p99_ms:.0f} ms"


TARGETS = (
    Target("static (ceiling)", ("/static/app.css",)),
    Target("home /", ("/",)),
    Target("api /api/daily_papers", ("/api/daily_papers",), min_rps=500, max_p99_ms=100),
    Target(
        "search /search?q=",
        tuple(f"/search?q={quote_plus(q)}" for q in QUERIES),
        min_rps=150,
        max_p99_ms=200,
    ),
    Target(
        "api search /api/papers/search?q=",
        tuple(f"/api/papers/search?q={quote_plus(q)}" for q in QUERIES),
        min_rps=200,
        max_p99_ms=200,
    ),
)
BY_SHORT_NAME = {
    "home": TARGETS[1],
    "api": TARGETS[2],
    "search": TARGETS[3],
    "api-search": TARGETS[4],
}


# --- the application factory uvicorn's workers import ----------------------------------------


def app() -> Any:
    """The app on the settings of the environment (``uvicorn --factory web:app``)."""
    from paperfeed.config import load_settings
    from paperfeed.deliver.app import create_app

    return create_app(load_settings())


# --- the database ------------------------------------------------------------------------------


def synthetic_papers(n: int, days: int, today: date, seed: int = 7) -> Iterator[Any]:
    """n papers shaped like the seed pages' ones, featured evenly over ``days`` days to today."""
    from paperfeed.models import Paper, Version

    rng = random.Random(seed)
    real = data_paths.seed_papers()
    words = [w for _, abstract in real for w in abstract.split()]
    title_words = [w for title, _ in real for w in title.split()]
    abstract_lengths = [max(20, len(abstract.split())) for _, abstract in real]
    title_lengths = [max(3, len(title.split())) for title, _ in real]
    for i in range(n):
        day = today - timedelta(days=i % days)
        published = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(
            hours=rng.randint(24, 72)
        )
        categories = tuple(rng.sample(CATEGORIES, rng.randint(1, 3)))
        authors = tuple(
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(rng.randint(1, 8))
        )
        arxiv_id = f"{2601 + i // 99_999:04d}.{i % 99_999 + 1:05d}"
        yield Paper(
            title=" ".join(rng.choices(title_words, k=rng.choice(title_lengths))),
            abstract=" ".join(rng.choices(words, k=rng.choice(abstract_lengths))),
            arxiv_id=arxiv_id,
            version=1,
            versions=(Version(1, published),),
            authors=authors,
            categories=categories,
            primary_category=categories[0],
            published_at=published,
            updated_at=published,
            featured_on=day,
            upvotes=min(2_000, int(rng.paretovariate(1.1)) - 1),
            source="bench",
        ).with_arxiv_links()


def build(db: Path, n: int, days: int, today: date) -> dict[str, float]:
    """Create and fill the database; return the seconds each step took."""
    import numpy as np

    from paperfeed.index.embedders.embedder import load_embedder
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.vectors import in_memory as vectors
    from paperfeed.store import papers as store
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate

    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    now = datetime.now(UTC)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    ids: list[int] = []
    batch: list[Any] = []
    for paper in synthetic_papers(n, days, today):
        batch.append(paper)
        if len(batch) == BATCH:
            with writing(engine) as conn:
                ids += store.insert_papers(conn, batch, now)
            batch = []
    if batch:
        with writing(engine) as conn:
            ids += store.insert_papers(conn, batch, now)
    timings["papers_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with writing(engine) as conn:
        indexed = lexical.rebuild(conn)
    assert indexed == n, (indexed, n)
    timings["lexical_s"] = time.perf_counter() - started

    started = time.perf_counter()
    embedder = load_embedder("minilm")  # only for its name and dimension
    assert embedder.dim == DIM, embedder.dim
    rng = np.random.default_rng(11)
    for start in range(0, n, BATCH):
        chunk = ids[start : start + BATCH]
        matrix = rng.standard_normal((len(chunk), DIM), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        with writing(engine) as conn:
            vectors.store_vectors(conn, embedder.name, chunk, matrix)
    with writing(engine) as conn:
        vectors.record_model(conn, embedder.name, embedder.dim)
    timings["vectors_s"] = time.perf_counter() - started
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return timings


def build_word_index(db: Path, index_dir: Path) -> float | None:
    """Build the tantivy word index the server will read, as ``paperfeed ingest`` keeps it
    (a server finding none would build it in the background and answer from FTS5 until
    then); seconds taken, None when the settings choose no word index."""
    from paperfeed.config import load_settings
    from paperfeed.index.lexical.tantivy_index import word_index
    from paperfeed.store.engine import make_engine

    engine = make_engine(f"sqlite:///{db}")
    words = word_index(
        engine, load_settings(database_url=f"sqlite:///{db}", index_dir=str(index_dir))
    )
    started = time.perf_counter()
    if words is not None:
        words.background = False
        words.refresh()
    engine.dispose()
    return None if words is None else time.perf_counter() - started


def migrate_kept(db: Path) -> dict[str, float]:
    """Bring a kept database to the code's migrations (the server refuses an older one)."""
    from paperfeed.store.engine import make_engine
    from paperfeed.store.migrate import migrate

    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    engine.dispose()
    return {}


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port drawn as the tests draw theirs (tests/ports.py: below the ephemeral
    range, so no client connection on the machine can take it before the server binds it)."""
    tests = str(data_paths.ROOT / "tests")
    if tests not in sys.path:
        sys.path.append(tests)
    from ports import free_port as draw

    return draw()


def start_server(
    db: Path, index_dir: Path, port: int, frozen: datetime, log: Path, *, stock: bool, cache: bool
) -> list[subprocess.Popen[bytes]]:
    """The server's processes; their output (tracebacks included) goes to ``log``."""
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": f"sqlite:///{db}",
        "PAPERFEED_INDEX_DIR": str(index_dir),
        "PAPERFEED_FROZEN_TIME": frozen.isoformat(),
        "PAPERFEED_TIMEZONE": HUB_ZONE,
    }
    if not cache:
        env["PAPERFEED_RESPONSE_CACHE_MB"] = "0"
    if stock:
        commands = [
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--app-dir",
                str(Path(__file__).parent),
                "web:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-graceful-shutdown",
                str(GRACE),
            ]
        ]
    else:
        commands = [
            [
                sys.executable,
                "-m",
                "paperfeed",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
            ]
        ]
    processes = []
    for command in commands:
        with log.open("ab") as out:
            processes.append(
                subprocess.Popen(
                    command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
    return processes


def stop_server(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process (a supervisor stops its workers), then its group if need be."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=GRACE + 10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def listening(port: int) -> int:
    """Sockets listening on 127.0.0.1:port (Linux: /proc/net/tcp, state 0A)."""
    needle = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == needle and line.split()[3] == "0A")


def get(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_ready(
    base: str,
    port: int,
    processes: list[subprocess.Popen[bytes]],
    sockets: int,
    timeout: float = 120,
) -> None:
    """Until ``sockets`` sockets listen on the port and /healthz answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            if listening(port) == sockets and get(base + "/healthz", timeout=2) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def warm_up(base: str) -> None:
    """Load the vector index and the model in every worker: rounds of concurrent requests
    to every target (new connections, spread over both workers), until a round takes no
    longer than the one before it."""
    paths = [p for t in TARGETS for p in t.paths] * 4
    previous = None
    # 8 at a time: enough to reach both workers, few enough never to load the server.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(10):
            started = time.perf_counter()
            statuses = list(pool.map(lambda p: get(base + p, timeout=300), paths))
            bad = [s for s in statuses if s != 200]
            if bad:
                raise SystemExit(f"warm-up got statuses {sorted(set(bad))}")
            elapsed = time.perf_counter() - started
            if previous is not None and elapsed < previous * 1.2:
                return
            previous = elapsed


def _last_traceback(log: Path) -> str:
    text = log.read_text(errors="replace")
    start = text.rfind("Traceback (most recent call last)")
    lines = text[start:].strip().splitlines()
    return "\n".join([*lines[:2], "  ...", *lines[-6:]] if len(lines) > 8 else lines)


# --- wrk -----------------------------------------------------------------------------------------

LUA = """
local paths = {%(paths)s}
local think_ms = %(think_ms)f
local i = 0
init = function(args)
  -- each wrk thread has its own Lua state: seed each differently
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)") or "0", 16) %% 100000)
end
if think_ms > 0 then
  delay = function()
    -- exponential think times: arrivals spread like independent readers'
    return -think_ms * math.log(1 - math.random())
  end
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) %% #paths + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\\nBENCH-JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"mean_us\\": %%.1f, \\"max_us\\": %%d, \\"non_2xx\\": %%d, " ..
    "\\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def server_errors(log: Path, since: int) -> int:
    """Requests that failed inside the server (uvicorn logs a traceback for each)."""
    with log.open("rb") as handle:
        handle.seek(since)
        return handle.read().count(b"Exception in ASGI application")


def run_wrk(
    base: str,
    target: Target,
    *,
    duration: int,
    connections: int,
    workdir: Path,
    log: Path,
    think_ms: float = 0.0,
) -> dict[str, Any]:
    log_start = log.stat().st_size
    script = workdir / "bench.lua"
    script.write_text(
        LUA % {"paths": ", ".join(json.dumps(p) for p in target.paths), "think_ms": think_ms}
    )
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        base + target.paths[0],
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH-JSON "))
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    row: dict[str, Any] = {
        "paths": list(target.paths),
        "requests": raw["requests"],
        "requests_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
        "mean_ms": raw["mean_us"] / 1000,
        "server_errors": server_errors(log, log_start),
        "goal": target.goal or None,
        "think_ms": think_ms,
    }
    # wrk keeps every connection busy, so (Little's law) requests/s x mean latency is the
    # number of connections answered; connections whose request never came back during
    # the run (a hung server) show only as a shortfall, and count as errors.
    answered = row["requests_per_s"] * raw["mean_us"] / 1e6
    # (Paced connections spend most of their time thinking: no shortfall to read there. Nor
    # for answers faster than STALL_MIN_MEAN_MS: wrk's latency leaves out each connection's
    # wait in wrk's own event loop, which then makes up much of the cycle on shared cores.)
    measurable = not think_ms and raw["mean_us"] >= STALL_MIN_MEAN_MS * 1000
    row["stalled_connections"] = max(0, round(connections - answered)) if measurable else 0
    stalled = row["stalled_connections"] if row["stalled_connections"] > connections / 4 else 0
    row["errors"] = row["non_2xx"] + row["socket_errors"] + stalled
    if target.min_rps is not None and target.max_p99_ms is not None:
        met = (
            row["requests_per_s"] >= target.min_rps
            and row["p99_ms"] <= target.max_p99_ms
            and row["errors"] == 0
            and row["server_errors"] == 0
        )
        row["verdict"] = "PASS" if met else "FAIL"
    else:
        row["verdict"] = None
    return row


#: Below this mean latency the Little's-law check for hung connections is not read (see run_wrk).
STALL_MIN_MEAN_MS = 20.0
PILOT_S = 5  # seconds of the pilot run that calibrates a paced run's think time


def run_paced(
    base: str,
    target: Target,
    *,
    duration: int,
    connections: int,
    pace: float,
    workdir: Path,
    log: Path,
) -> dict[str, Any]:
    """wrk at about ``pace`` x the target's rate: each connection thinks between requests.

    Offered rate = connections / (think + latency); a pilot at think = connections / rate
    measures the latency at about that load, and the run thinks that much less.
    """
    assert target.min_rps is not None
    rate = target.min_rps * pace
    cycle_ms = 1000 * connections / rate
    pilot = run_wrk(
        base,
        target,
        duration=PILOT_S,
        connections=connections,
        workdir=workdir,
        log=log,
        think_ms=cycle_ms,
    )
    think = max(1.0, cycle_ms - pilot["mean_ms"])
    row = run_wrk(
        base,
        target,
        duration=duration,
        connections=connections,
        workdir=workdir,
        log=log,
        think_ms=think,
    )
    row["offered_per_s"] = rate
    row["pilot"] = {key: pilot[key] for key in ("requests_per_s", "mean_ms", "p99_ms")}
    row["server_errors"] += pilot["server_errors"]
    row["errors"] += pilot["non_2xx"] + pilot["socket_errors"]
    return row


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30, help="Days the papers are featured on.")
    parser.add_argument("--duration", type=int, default=15, help="Seconds of wrk per target.")
    parser.add_argument(
        "--connections", type=int, default=CONNECTIONS, help="wrk's open connections."
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=1.15,
        help="Paced runs offer this multiple of each goal's rate (see 5. above).",
    )
    parser.add_argument(
        "--db", type=Path, help="Keep the database here, and reuse it when it already exists."
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="Turn the response cache of the list endpoints off (PAPERFEED_RESPONSE_CACHE_MB=0).",
    )
    parser.add_argument(
        "--stock-uvicorn",
        action="store_true",
        help="Serve with `python -m uvicorn --workers 2` as it is (Nagle left on, one busy "
        "worker: see paperfeed.deliver.serving).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BY_SHORT_NAME),
        help="Measure only this target (repeatable); the static ceiling is always measured.",
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        help="Keep the server's index folder (word index, HNSW graph cache) here and reuse "
        "it: with a kept --db, a later run skips building them (minutes at 1 M papers).",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if min(args.papers, args.days, args.duration, args.connections) < 1:
        parser.error("--papers, --days, --duration and --connections must be positive")

    from zoneinfo import ZoneInfo

    frozen = datetime.now(UTC).replace(microsecond=0)
    today = frozen.astimezone(ZoneInfo(HUB_ZONE)).date()
    with tempfile.TemporaryDirectory(prefix="pf-bench-web-") as tmp:
        work = Path(tmp)
        db = args.db or work / "bench.db"
        # A kept database keeps its days: its latest featured day is still the home page's.
        reuse = args.db is not None and db.exists()
        timings = migrate_kept(db) if reuse else build(db, args.papers, args.days, today)
        index_dir = args.index_dir or work / "index"
        word_index_s = build_word_index(db, index_dir)
        with sqlite3.connect(db) as conn:
            stored = int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = work / "server.log"
        server = start_server(
            db,
            index_dir,
            port,
            frozen,
            log,
            stock=args.stock_uvicorn,
            cache=not args.no_cache,
        )
        try:
            wait_ready(base, port, server, sockets=1 if args.stock_uvicorn else WORKERS)
            warm_up(base)
            chosen = (TARGETS[0], *(BY_SHORT_NAME[n] for n in args.only)) if args.only else TARGETS
            load_before = os.getloadavg()[0]
            results = {
                t.name: run_wrk(
                    base,
                    t,
                    duration=args.duration,
                    connections=args.connections,
                    workdir=work,
                    log=log,
                )
                for t in chosen
            }
            paced = {
                t.name: run_paced(
                    base,
                    t,
                    duration=args.duration,
                    connections=args.connections,
                    pace=args.pace,
                    workdir=work,
                    log=log,
                )
                for t in chosen
                if t.min_rps is not None
            }
        finally:
            stop_server(server)
        failures = sum(row["server_errors"] for row in results.values())
        last_traceback = _last_traceback(log) if failures else None

    ceiling = results[TARGETS[0].name]["requests_per_s"]
    for row in [*results.values(), *paced.values()]:
        row["ceiling_ratio"] = row["requests_per_s"] / ceiling
    for name, row in paced.items():
        # The goal is judged at its rate; the capacity run must reach the rate too.
        capacity = results[name]
        target = next(t for t in TARGETS if t.name == name)
        assert target.min_rps is not None and target.max_p99_ms is not None
        met = (
            row["requests_per_s"] >= target.min_rps
            and row["p99_ms"] <= target.max_p99_ms
            and capacity["requests_per_s"] >= target.min_rps
            and row["errors"] == 0
            and capacity["errors"] == 0
            and row["server_errors"] == 0
            and capacity["server_errors"] == 0
        )
        row["verdict"] = "PASS" if met else "FAIL"
        capacity["verdict"] = None
    verdicts = [r["verdict"] for r in [*results.values(), *paced.values()] if r["verdict"]]
    report = {
        "papers": stored,
        "days": args.days,
        "duration_s": args.duration,
        "workers": WORKERS,
        "threads": THREADS,
        "connections": args.connections,
        "server": ("uvicorn --workers" if args.stock_uvicorn else "paperfeed serve --workers"),
        "response_cache": not args.no_cache,
        "build": timings,
        "word_index_s": word_index_s,
        # Other work on the machine skews every row; the ceiling row shows by how much.
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "results": results,
        "paced": paced,
        "pace": args.pace,
        "pass": bool(verdicts) and all(v == "PASS" for v in verdicts),
        "last_server_traceback": last_traceback,
    }
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    print(
        f"web serving: {stored:,} synthetic papers over {args.days} days, SQLite, "
        f"{report['server']}, {WORKERS} workers, response cache "
        f"{'on' if report['response_cache'] else 'off'}; "
        f"wrk {THREADS} threads, {args.connections} connections, "
        f"{args.duration} s per target"
    )
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load {load_before:.2f} before the run")
    if timings:
        print(
            "build: " + ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in timings.items())
        )
    if word_index_s is not None:
        print(f"tantivy word index built in {word_index_s:.1f} s before serving")
    header = ("target", "req/s", "p50 ms", "p99 ms", "× ceiling", "errors", "5xx", "goal", "")
    widths = (10, 8, 8, 10, 7, 6, 28, 4)
    print(
        f"{header[0]:<30} " + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], widths, strict=True))
    )
    for name, row in results.items():
        print(
            f"{name:<30} {row['requests_per_s']:>10,.0f} {row['p50_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f} {row['ceiling_ratio']:>10.3f} {row['errors']:>7} "
            f"{row['server_errors']:>6} "
            f"{row['goal'] or '':>28} {row['verdict'] or '':>4}"
        )
    print(
        f"paced: each goal's rate x {args.pace:g} offered over the same {args.connections} "
        "connections (exponential think times, calibrated by a pilot); the goal is judged here"
    )
    for name, row in paced.items():
        print(
            f"{name + ' @ goal rate':<30} {row['requests_per_s']:>10,.0f} {row['p50_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f} {row['ceiling_ratio']:>10.3f} {row['errors']:>7} "
            f"{row['server_errors']:>6} "
            f"{row['goal'] or '':>28} {row['verdict'] or '':>4}"
        )
    print("overall: " + ("PASS" if report["pass"] else "FAIL"))
    print(
        "errors: non-2xx answers and socket errors seen by wrk, plus connections that got "
        "no answer during the run; "
        "5xx: tracebacks in the server's log"
    )
    if last_traceback:
        print("the server's last traceback:\n" + last_traceback)


if __name__ == "__main__":
    main()
