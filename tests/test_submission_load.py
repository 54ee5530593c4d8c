"""Submissions under a slow or wrong arXiv (refs #15): they never hold a server thread, share
one paced arXiv client, are limited per member, feature a stored paper without asking arXiv,
and refuse an answer about another paper."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from community_support import community_settings, make_member, one_entry, smtp, token_for
from paperfeed.clock import FrozenClock
from paperfeed.deliver.app import create_app
from paperfeed.ingest.arxiv_lookup import ArxivLookup, shared
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store.engine import make_engine, writing
from replay_server import ReplayServer, Reply, replay_server_fixture

__all__ = ["replay_server_fixture", "smtp"]

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # two days after the recorded papers
IDS = ["2606.13677", "2606.13591", "2606.13568", "2606.13515"]


class SlowArxiv:
    """An arXiv API stand-in on 127.0.0.1 that sleeps ``delay`` seconds, then answers the
    recorded entry of the id asked for; it counts the requests."""

    def __init__(self, delay: float) -> None:
        stand_in = self
        self.delay = delay
        self.asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                (wanted,) = parse_qs(urlsplit(self.path).query)["id_list"]
                stand_in.asked.append(wanted)
                time.sleep(stand_in.delay)
                body = one_entry(wanted).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api/query"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def slow_arxiv() -> Iterator[SlowArxiv]:
    stand_in = SlowArxiv(delay=3.0)
    yield stand_in
    stand_in.close()


def _serve(app: Any) -> Iterator[str]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_healthz_stays_fast_while_four_slow_submissions_are_in_flight(
    db_url: str, smtp: Any, tmp_path: Any, slow_arxiv: SlowArxiv
) -> None:
    settings = community_settings(
        db_url,
        smtp[1],
        tmp_path,
        arxiv_api_url=slow_arxiv.url,
        arxiv_delay_seconds=0,
        http_retries=0,
        server_threads=4,
        submission_wait_seconds=1.0,
    ).model_copy(update={"frozen_time": NOW})
    app = create_app(settings)
    with TestClient(app) as setup:
        auth = token_for(setup, make_member(setup, "ada"))
    served = _serve(app)
    base = next(served)
    assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200  # warm
    answers: dict[str, httpx.Response] = {}

    def submit(arxiv_id: str) -> None:
        answers[arxiv_id] = httpx.post(
            f"{base}/api/papers/submit", headers=auth, json={"arxiv_id": arxiv_id}, timeout=60
        )

    senders = [threading.Thread(target=submit, args=(i,)) for i in IDS]
    for sender in senders:
        sender.start()
    time.sleep(0.4)  # all four are waiting on arXiv now
    started = time.monotonic()
    health = httpx.get(f"{base}/healthz", timeout=30)
    took = time.monotonic() - started
    assert health.status_code == 200
    # Held threads would keep /healthz waiting for the stand-in's 3 s; a free server answers
    # at once (the bound leaves room for a busy machine running two test workers).
    assert took < 2.0, f"/healthz took {took:.2f} s while submissions waited on arXiv"
    for sender in senders:
        sender.join()
    # Each waited 1 s, then was told to come back; the look-ups went on, one at a time.
    for arxiv_id in IDS:
        answer = answers[arxiv_id]
        assert answer.status_code == 504, answer.text
        assert answer.json()["ok"] is False
        assert "try again" in answer.json()["error"]
    deadline = time.monotonic() + 30
    while len(slow_arxiv.asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the first look-up has its answer once the second is asked
    first = slow_arxiv.asked[0]
    again = httpx.post(
        f"{base}/api/papers/submit", headers=auth, json={"arxiv_id": first}, timeout=30
    )
    assert again.status_code == 201, again.text
    assert len(set(slow_arxiv.asked)) == len(slow_arxiv.asked), "each paper asked for once"
    next(served, None)


@pytest.fixture
def client(
    db_url: str, smtp: Any, tmp_path: Any, replay_server: ReplayServer
) -> Iterator[TestClient]:
    settings = community_settings(
        db_url,
        smtp[1],
        tmp_path,
        arxiv_api_url=f"{replay_server.url}/api/query",
        arxiv_delay_seconds=0,
        http_retries=0,
        submission_limit=3,
    ).model_copy(update={"frozen_time": NOW})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_stored_paper_is_featured_without_asking_arxiv(
    client: TestClient, replay_server: ReplayServer, db_url: str
) -> None:
    engine = make_engine(db_url)
    stored = Paper(
        title="Stored before anyone submitted it",
        abstract="Ingested from a listing, not featured.",
        arxiv_id="2606.20001",
        published_at=datetime(2026, 6, 12, tzinfo=UTC),
        source="test",
    )
    with writing(engine) as conn:
        store.insert_papers(conn, [stored], NOW)
    engine.dispose()
    auth = token_for(client, make_member(client, "bea"))
    answer = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.20001v1"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["submittedBy"] == "bea"
    assert replay_server.requests == [], "arXiv was not asked"
    assert "Stored before anyone" in client.get("/").text


def test_an_answer_about_another_paper_is_refused(
    client: TestClient, replay_server: ReplayServer
) -> None:
    replay_server.script("/api/query", Reply(200, one_entry("2606.13591")))
    auth = token_for(client, make_member(client, "cyd"))
    answer = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.13677"})
    assert answer.status_code == 502, answer.text
    assert "2606.13591 when asked for 2606.13677" in answer.json()["error"]
    assert client.get("/api/papers/2606.13591").status_code == 404
    assert client.get("/api/papers/2606.13677").status_code == 404


def test_submissions_are_limited_per_member(client: TestClient) -> None:
    auth = token_for(client, make_member(client, "dot"))
    codes = [
        client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "nope"}).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    other = token_for(client, make_member(client, "eli"))
    assert (
        client.post("/api/papers/submit", headers=other, json={"arxiv_id": "nope"}).status_code
        == 400
    )


def test_one_paced_client_serves_every_lookup(replay_server: ReplayServer) -> None:
    clock = FrozenClock(NOW)
    for arxiv_id in IDS[:3]:
        replay_server.script("/api/query", Reply(200, one_entry(arxiv_id)))
    lookup = ArxivLookup(
        Fetcher(min_interval=3.0, retries=0, clock=clock), replay_server.url + "/api/query"
    )
    futures = [lookup.paper(arxiv_id) for arxiv_id in IDS[:3]]
    assert lookup.paper(IDS[0]) is futures[0], "a second look-up of an id joins the first"
    papers = [f.result(timeout=10) for f in futures]
    assert [p.arxiv_id for p in papers if p] == IDS[:3]
    assert len(replay_server.requests) == 3
    assert clock.monotonic() >= 6.0, "three requests, three seconds apart"


def test_the_process_shares_one_lookup(db_url: str, smtp: Any, tmp_path: Any) -> None:
    settings = community_settings(db_url, smtp[1], tmp_path)
    assert shared(settings) is shared(settings.model_copy())
