"""Fetcher against a real local server: retries, Retry-After, dropped bodies, pacing.

Waiting is asserted on a FrozenClock (``slept``), never done for real.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from paperfeed.clock import FrozenClock
from paperfeed.errors import SourceError
from paperfeed.ingest.http import MAX_RETRY_AFTER, Fetcher
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401

NOW = datetime(2026, 6, 12, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def fetcher(clock: FrozenClock, *, retries: int = 3, backoff: float = 5.0) -> Fetcher:
    """An unpaced fetcher on the frozen clock."""
    return Fetcher(retries=retries, backoff=backoff, timeout=5.0, clock=clock)


def test_503_with_retry_after_seconds_waits_exactly_that(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    replay_server.script(
        "/x", Reply(503, b"busy", {"Retry-After": "7"}), Reply(200, b"ok", {"X-N": "2"})
    )
    with fetcher(clock) as f:
        response = f.get(f"{replay_server.url}/x")
    assert (response.status_code, response.content) == (200, b"ok")
    assert clock.slept == [7.0]
    assert len(replay_server.requests) == 2
    assert f.requests_made == 2


def test_503_with_retry_after_http_date_waits_until_then(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    when = email.utils.format_datetime(NOW + timedelta(seconds=120), usegmt=True)
    replay_server.script("/x", Reply(503, b"", {"Retry-After": when}), Reply(200, b"ok"))
    with fetcher(clock) as f:
        assert f.get(f"{replay_server.url}/x").status_code == 200
    assert clock.slept == [120.0]


def test_429_is_retried_after_retry_after(replay_server: ReplayServer, clock: FrozenClock) -> None:
    replay_server.script("/x", Reply(429, b"slow down", {"Retry-After": "30"}), Reply(200, b"ok"))
    with fetcher(clock) as f:
        assert f.get(f"{replay_server.url}/x").content == b"ok"
    assert clock.slept == [30.0]


def test_retry_after_is_capped(replay_server: ReplayServer, clock: FrozenClock) -> None:
    replay_server.script("/x", Reply(503, b"", {"Retry-After": "86400"}), Reply(200, b"ok"))
    with fetcher(clock) as f:
        f.get(f"{replay_server.url}/x")
    assert clock.slept == [MAX_RETRY_AFTER]


def test_without_retry_after_backoff_doubles(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    replay_server.script("/x", Reply(500), Reply(502), Reply(200, b"ok"))
    with fetcher(clock, backoff=5.0) as f:
        assert f.get(f"{replay_server.url}/x").content == b"ok"
    assert clock.slept == [5.0, 10.0]


def test_connection_dropped_mid_body_is_retried(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    body = b"<feed>" + b"x" * 5000 + b"</feed>"
    replay_server.script("/x", Reply(200, body, drop_after=1000), Reply(200, body))
    with fetcher(clock, backoff=2.0) as f:
        response = f.get(f"{replay_server.url}/x")
    assert response.content == body
    assert clock.slept == [2.0]
    assert len(replay_server.requests) == 2


def test_retries_exhausted_raise_source_error_saying_what_failed(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    replay_server.script("/x", *[Reply(503, b"down") for _ in range(3)])
    url = f"{replay_server.url}/x"
    with fetcher(clock, retries=2, backoff=1.0) as f, pytest.raises(SourceError) as caught:
        f.get(url)
    assert str(caught.value) == f"{url} failed after 3 attempts; last: HTTP 503"
    assert clock.slept == [1.0, 2.0]
    assert replay_server.pending() == {}


def test_dropped_connections_exhausted_name_the_network_error(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    replay_server.script("/x", *[Reply(200, b"y" * 100, drop_after=10) for _ in range(2)])
    with fetcher(clock, retries=1) as f, pytest.raises(SourceError) as caught:
        f.get(f"{replay_server.url}/x")
    assert "failed after 2 attempts; last: RemoteProtocolError" in str(caught.value)


def test_404_is_returned_not_retried(replay_server: ReplayServer, clock: FrozenClock) -> None:
    replay_server.script("/missing", Reply(404, b"no such paper"))
    with fetcher(clock) as f:
        response = f.get(f"{replay_server.url}/missing")
    assert (response.status_code, response.content) == (404, b"no such paper")
    assert clock.slept == []
    assert len(replay_server.requests) == 1


class StampingTransport(httpx.HTTPTransport):
    """A real transport that notes the clock's reading as each request goes out."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock
        self.starts: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.starts.append(self.clock.monotonic())
        return super().handle_request(request)


def test_pacing_keeps_request_starts_min_interval_apart(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    replay_server.script("/p", *[Reply(200, b"ok") for _ in range(3)])
    transport = StampingTransport(clock)
    with Fetcher(min_interval=3.0, clock=clock, transport=transport) as f:
        f.get(f"{replay_server.url}/p", params={"n": 1})
        clock.advance(1.0)  # the caller works for a second between requests
        f.get(f"{replay_server.url}/p", params={"n": 2})
        f.get(f"{replay_server.url}/p", params={"n": 3})
    assert transport.starts == [0.0, 3.0, 6.0]
    assert all(b - a >= 3.0 for a, b in zip(transport.starts, transport.starts[1:], strict=False))
    assert clock.slept == [2.0, 3.0]
    assert [r.param("n") for r in replay_server.requests] == ["1", "2", "3"]


def test_pacing_applies_to_retries_too(replay_server: ReplayServer, clock: FrozenClock) -> None:
    replay_server.script("/p", Reply(503, b"", {"Retry-After": "1"}), Reply(200, b"ok"))
    transport = StampingTransport(clock)
    with Fetcher(min_interval=3.0, clock=clock, transport=transport) as f:
        f.get(f"{replay_server.url}/p")
    # Retry-After (1 s) is shorter than the pacing interval, so pacing tops it up to 3 s.
    assert transport.starts == [0.0, 3.0]
    assert clock.slept == [1.0, 2.0]


def test_a_closed_fetcher_opens_a_new_connection_and_keeps_its_pace(
    replay_server: ReplayServer, clock: FrozenClock
) -> None:
    """A source closes the fetcher's connection when it has read its records; a source
    sharing the fetcher after it still gets answers, paced as one client."""
    replay_server.script("/p", Reply(200, b"one"), Reply(200, b"two"))
    transport = StampingTransport(clock)
    with Fetcher(min_interval=3.0, clock=clock, transport=transport) as f:
        assert f.get(f"{replay_server.url}/p").content == b"one"
        f.close()
        assert f.get(f"{replay_server.url}/p").content == b"two"
    assert transport.starts == [0.0, 3.0]
    assert clock.slept == [3.0]
