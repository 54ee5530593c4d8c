"""PostgreSQL under load: ``paperfeed serve --workers 4`` and two ``paperfeed digest send``
processes at once against one database, while members vote and readers read.

Members vote through the real log-in form and vote form (CSRF token from the page, the
htmx variant too) and through the API with tokens; each client is the only one voting
for its member, so it knows its votes' final state exactly. Readers fetch the lists,
the paper pages, search and the API all along. Then: no answer was a 5xx and no request
failed to connect, the server logged no traceback, every subscriber got exactly one
digest (counted at the SMTP server and in the ledger) and both senders did part of the
work, and every paper's votes, in the database and on the pages, are its imported votes
plus the clients' final votes.

The senders claim one delivery per transaction (``PAPERFEED_DIGEST_BATCH_SIZE=1``), so
their claims often meet: with claims that neither lock rows nor check the claim when
recording the intent to send, this test sees digests sent twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from digest_support import MONDAY, NOW, SECRET, Sink, add_papers
from paperfeed.config import load_settings
from paperfeed.deliver import security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.deliver.community.passwords import hash_password
from paperfeed.store import deliveries, subscriptions, users, votes
from paperfeed.store import papers as paper_store
from paperfeed.store.engine import make_engine, writing
from ports import serve_process

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "a long test password"
TITLES = [f"Concurrent paper {n}: diffusion graphs and {w}" for n, w in enumerate("abcdefghij")]
FORM_VOTERS = 8
API_VOTERS = 8
READERS = 4
OPERATIONS = 20  # per voter
EXTRA_SUBSCRIBERS = 64  # besides the voters: 80 digests in all
SENDERS = 2
_VOTE_BOX = re.compile(r'id="vote-(\d+)">(.*?)</div>', re.S)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class SlowSink(Sink):
    """The test SMTP server, taking a little while per message (as real ones do), so
    two senders' runs overlap."""

    delay: float = 0.02

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Tally:
    """Every request's outcome, shared by the client threads."""

    requests: int = 0
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self, client: httpx.Client, method: str, path: str, expect: tuple[int, ...], **kw: Any
    ) -> httpx.Response | None:
        try:
            answer = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.problem(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        with self.lock:
            self.requests += 1
        if answer.status_code not in expect:
            self.problem(f"{method} {path}: HTTP {answer.status_code} {answer.text[:300]}")
            return None
        return answer

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _env(url: str, port: int, smtp_port: int, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_SECRET_KEY=SECRET,
        PAPERFEED_FROZEN_TIME=NOW.isoformat(),
        PAPERFEED_BASE_URL=f"http://127.0.0.1:{port}",
        PAPERFEED_INDEX_DIR=str(tmp_path / "index"),
        PAPERFEED_EMBED_ON_INGEST="false",
        PAPERFEED_EMBEDDER="static",
        PAPERFEED_LOG_LEVEL="WARNING",
        PAPERFEED_AUTH_IP_LIMIT="100000",  # every client logs in from 127.0.0.1
        PAPERFEED_SMTP_HOST="127.0.0.1",
        PAPERFEED_SMTP_PORT=str(smtp_port),
        PAPERFEED_SMTP_TLS="none",
        PAPERFEED_SMTP_RATE_PER_MINUTE="0",
        PAPERFEED_MAIL_FROM="paperfeed <digest@hub.test>",
        PAPERFEED_DIGEST_BATCH_SIZE="1",  # a claim per message: the senders claim at once often
    )
    return env


@dataclass
class Hub:
    base: str
    env: dict[str, str]
    engine: Engine
    papers: dict[str, int]  # arXiv id -> row id
    imported: dict[int, int]  # row id -> upvotes imported with the paper
    form_members: list[str]
    api_tokens: list[str]
    subscribers: list[str]
    log: Path


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not answer within 90 s:\n" + log.read_text()[-3000:])


@pytest.fixture
def sink() -> Iterator[SlowSink]:
    server = SlowSink().start()
    yield server
    server.stop()


def _populate(url: str, engine: Engine) -> tuple[dict[str, int], dict[int, int], list[str]]:
    """Papers, members (the first FORM_VOTERS log in; the others get API tokens) and the
    digest's confirmed subscribers: every member, and more addresses."""
    ids = add_papers(engine, TITLES)
    with engine.connect() as conn:
        stored = [paper_store.get_by_id(conn, pid) for pid in ids]
    papers = {s.paper.arxiv_id: s.id for s in stored if s is not None and s.paper.arxiv_id}
    imported = {s.id: s.paper.upvotes or 0 for s in stored if s is not None}
    settings = load_settings(database_url=url, secret_key=SECRET, frozen_time=NOW)
    accounts = Accounts(settings, engine, settings.clock(), security.load_secret(settings))
    hashed = hash_password(PASSWORD)  # once: argon2 is slow on purpose
    tokens = []
    with writing(engine) as conn:
        members = [
            users.create_user(
                conn,
                email=f"voter{n:02d}@example.org",
                username=f"voter{n:02d}",
                password_hash=hashed,
                role="member",
                now=NOW,
                verified=True,
            )
            for n in range(FORM_VOTERS + API_VOTERS)
        ]
        addresses = [(m.email, m.id) for m in members]
        addresses += [(f"reader{n:03d}@example.org", None) for n in range(EXTRA_SUBSCRIBERS)]
        for n, (email, user_id) in enumerate(addresses):
            sid = subscriptions.create(
                conn,
                email=email,
                frequency="daily",
                link_key=f"key-{email}",
                now=NOW,
                user_id=user_id,
            )
            subscriptions.change(conn, sid, status="confirmed", confirmed_at=NOW)
            subscriptions.set_searches(conn, sid, ["diffusion graphs"] if n % 3 == 0 else [])
    for member in members[FORM_VOTERS:]:
        tokens.append(accounts.create_token(member, "load test"))
    return papers, imported, tokens


@pytest.fixture
def hub(postgres_url: str, sink: SlowSink, tmp_path: Path) -> Iterator[Hub]:
    log = tmp_path / "server.log"
    envs: dict[int, dict[str, str]] = {}

    def spawn(port: int) -> subprocess.Popen[bytes]:
        envs[port] = _env(postgres_url, port, sink.port, tmp_path)
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "4"]
        with log.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "paperfeed", *serve],
                env=envs[port],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    # Listening, on a port of its own; its workers start while the data goes in.
    process, port = serve_process(spawn, lambda _process: log.read_text())
    env = envs[port]
    engine = make_engine(postgres_url)
    base = f"http://127.0.0.1:{port}"
    try:
        papers, imported, tokens = _populate(postgres_url, engine)
        form_members = [f"voter{n:02d}@example.org" for n in range(FORM_VOTERS)]
        subscribers = [f"voter{n:02d}@example.org" for n in range(FORM_VOTERS + API_VOTERS)]
        subscribers += [f"reader{n:03d}@example.org" for n in range(EXTRA_SUBSCRIBERS)]
        _wait_healthy(base, process, log)
        yield Hub(base, env, engine, papers, imported, form_members, tokens, subscribers, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        engine.dispose()


def _form_voter(hub: Hub, email: str, seed: int, tally: Tally) -> dict[int, bool]:
    """Log in through the form, then vote through the paper pages' vote forms."""
    rng = random.Random(seed)
    state = {pid: False for pid in hub.papers.values()}
    with httpx.Client(base_url=hub.base, timeout=60) as client:
        page = tally.call(client, "GET", "/account/login", (200,))
        if page is None:
            return state
        match = _CSRF.search(page.text)
        assert match, page.text[:300]
        csrf = unescape(match.group(1))
        data = {"csrf": csrf, "email": email, "password": PASSWORD}
        if tally.call(client, "POST", "/account/login", (303,), data=data) is None:
            return state
        arxiv_ids = list(hub.papers)
        for _ in range(OPERATIONS):
            arxiv_id = rng.choice(arxiv_ids)
            pid = hub.papers[arxiv_id]
            if rng.random() < 0.5:
                # Read the paper page and press its button: it must know this member's vote.
                shown = tally.call(client, "GET", f"/papers/{arxiv_id}", (200,))
                if shown is None:
                    continue
                box = dict(_VOTE_BOX.findall(shown.text)).get(str(pid), "")
                on = re.search(r'name="on" value="([01])"', box)
                token = _CSRF.search(box)
                if on is None or token is None:
                    tally.problem(f"{email}: no vote form for {arxiv_id}: {box[:200]}")
                    continue
                if (on.group(1) == "0") != state[pid]:
                    tally.problem(f"{email}: the page shows {arxiv_id} voted={not state[pid]}")
                wanted = on.group(1) == "1"
                form = {"csrf": unescape(token.group(1)), "on": on.group(1)}
            else:
                wanted = rng.random() < 0.6
                form = {"csrf": csrf, "on": "1" if wanted else "0"}
            htmx = rng.random() < 0.5
            answer = tally.call(
                client,
                "POST",
                f"/papers/id/{pid}/upvote",
                (200,) if htmx else (303,),
                data=form,
                headers={"HX-Request": "true", "Referer": f"{hub.base}/"} if htmx else {},
            )
            if answer is None:
                continue
            state[pid] = wanted
            if htmx and f'aria-pressed="{"true" if wanted else "false"}"' not in answer.text:
                tally.problem(f"{email}: the vote box after voting {wanted}: {answer.text[:200]}")
    return state


def _api_voter(hub: Hub, token: str, seed: int, tally: Tally) -> dict[int, bool]:
    """Toggle and set votes through the API; every answer says the vote's new state."""
    rng = random.Random(seed)
    state = {pid: False for pid in hub.papers.values()}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hub.base, timeout=60, headers=headers) as client:
        for _ in range(OPERATIONS):
            arxiv_id = rng.choice(list(hub.papers))
            pid = hub.papers[arxiv_id]
            kind = rng.random()
            body = None if kind < 0.5 else {"upvoted": kind < 0.8}
            wanted = not state[pid] if body is None else bool(body["upvoted"])
            answer = tally.call(client, "POST", f"/api/papers/{arxiv_id}/upvote", (200,), json=body)
            if answer is None:
                continue
            state[pid] = wanted
            if answer.json()["upvoted"] is not wanted:
                tally.problem(f"API {arxiv_id}: upvoted {answer.json()}, expected {wanted}")
    return state


def _reader(hub: Hub, stop: threading.Event, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    arxiv_ids = list(hub.papers)
    paths = [
        "/",
        "/trending",
        "/api/daily_papers",
        "/api/daily_papers?sort=publishedAt",
        "/api/papers/search?q=diffusion%20graphs&mode=lexical",
        "/search?q=graphs&mode=lexical",
        "/healthz",
    ]
    with httpx.Client(base_url=hub.base, timeout=60) as client:
        while not stop.is_set():
            path = rng.choice([*paths, f"/papers/{rng.choice(arxiv_ids)}"])
            tally.call(client, "GET", path, (200,))


def _senders(hub: Hub, tmp_path: Path) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "paperfeed", "digest", "send"]
    command += ["--date", MONDAY.day.isoformat(), "--json"]
    return [
        subprocess.Popen(
            command,
            env=hub.env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / f"sender{n}.log").open("wb"),
        )
        for n in range(SENDERS)
    ]


def _run(threads: list[Callable[[], object]]) -> tuple[list[threading.Thread], list[object]]:
    results: list[object] = [None] * len(threads)

    def wrap(index: int, work: Callable[[], object]) -> None:
        results[index] = work()

    started = [
        threading.Thread(target=wrap, args=(i, w), daemon=True) for i, w in enumerate(threads)
    ]
    for thread in started:
        thread.start()
    return started, results


def _vote_boxes(html: str) -> dict[int, int]:
    """Paper row id -> the votes its vote box shows."""
    found = {}
    for pid, box in _VOTE_BOX.findall(html):
        shown = re.search(r"<b>(\d+)</b>votes", box)
        assert shown, box
        found[int(pid)] = int(shown.group(1))
    return found


def test_four_workers_and_two_senders_under_load(hub: Hub, sink: SlowSink, tmp_path: Path) -> None:
    tally = Tally()
    stop = threading.Event()
    readers, _ = _run([lambda n=n: _reader(hub, stop, n, tally) for n in range(READERS)])
    voters: list[Callable[[], object]] = [
        lambda n=n, e=e: _form_voter(hub, e, 100 + n, tally) for n, e in enumerate(hub.form_members)
    ]
    voters += [
        lambda n=n, t=t: _api_voter(hub, t, 200 + n, tally) for n, t in enumerate(hub.api_tokens)
    ]
    began = time.monotonic()
    voting, states = _run(voters)
    time.sleep(1.0)  # the senders start while the votes come in
    senders = _senders(hub, tmp_path)
    outputs = [p.communicate(timeout=120)[0] for p in senders]
    for thread in voting:
        thread.join(120)
    stop.set()
    for thread in readers:
        thread.join(60)
    took = time.monotonic() - began

    # No errors: no 5xx, no failed connection, no traceback in the server's log.
    assert tally.problems == [], tally.problems[:20]
    assert tally.requests > (FORM_VOTERS + API_VOTERS) * OPERATIONS, tally.requests
    log = hub.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]

    # No digest twice: each subscriber's one message, the ledger agrees, the work shared.
    codes = [p.returncode for p in senders]
    logs = [(tmp_path / f"sender{n}.log").read_text()[-2000:] for n in range(SENDERS)]
    assert codes == [0] * SENDERS, (codes, outputs, logs)
    reports = [json.loads(out)[0] for out in outputs]
    received = sink.received()
    assert sorted(received) == sorted(hub.subscribers)
    assert set(received.values()) == {1}, [a for a, n in received.items() if n > 1]
    assert len(sink.messages) == len(hub.subscribers)
    with hub.engine.connect() as conn:
        assert deliveries.counts(conn, MONDAY.key) == {"sent": len(hub.subscribers)}
    assert sum(int(r["sent"]) for r in reports) == len(hub.subscribers)
    assert sum(int(r["planned"]) for r in reports) == len(hub.subscribers)
    assert all(int(r["sent"]) > 0 for r in reports), reports  # both senders took a share

    # Vote counts exact: in the database, on the paper pages, the lists and the vote API.
    hub_votes = {pid: 0 for pid in hub.papers.values()}
    for state in states:
        assert isinstance(state, dict)
        for pid, on in state.items():
            hub_votes[pid] += int(on)
    assert sum(hub_votes.values()) > 0
    with hub.engine.connect() as conn:
        counted = votes.counts(conn, list(hub_votes))
    assert {pid: counted.get(pid, 0) for pid in hub_votes} == hub_votes
    expected = {pid: hub.imported[pid] + n for pid, n in hub_votes.items()}
    with httpx.Client(base_url=hub.base, timeout=30) as client:
        for arxiv_id, pid in hub.papers.items():
            page = client.get(f"/papers/{arxiv_id}")
            assert page.status_code == 200
            assert _vote_boxes(page.text)[pid] == expected[pid], arxiv_id
        for path in ("/", "/trending"):
            listed = client.get(path)
            assert listed.status_code == 200
            assert _vote_boxes(listed.text) == expected, path
    token = hub.api_tokens[0]
    api_state = states[FORM_VOTERS]
    assert isinstance(api_state, dict)
    with httpx.Client(base_url=hub.base, timeout=30) as client:
        for arxiv_id, pid in hub.papers.items():
            again = client.post(
                f"/api/papers/{arxiv_id}/upvote",
                headers={"Authorization": f"Bearer {token}"},
                json={"upvoted": api_state[pid]},  # unchanged: answers the count
            )
            assert again.json() == {"upvotes": expected[pid], "upvoted": api_state[pid]}
    assert took < 120, took
