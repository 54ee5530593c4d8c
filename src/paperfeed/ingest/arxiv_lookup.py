"""Papers looked up by id on the arXiv API for a running server: one paced worker per process.

Every look-up of the process goes through one :class:`ArxivLookup` (see :func:`shared`):
one worker thread and one :class:`~paperfeed.ingest.http.Fetcher`, so arXiv's pacing (one
request every ``PAPERFEED_ARXIV_DELAY_SECONDS`` on a single connection) holds across all
members' submissions, and no request thread of the server ever waits on arXiv: a request
awaits the look-up's future for at most ``PAPERFEED_SUBMISSION_WAIT_SECONDS``
(:meth:`ArxivLookup.paper_within`), then answers 504 while the look-up goes on. The answer
is kept for a few minutes, so the member's retry is answered at once, and a second look-up
of an id already asked for joins the first. Too many look-ups waiting is a 503 at once.

arXiv's answer is checked: a paper whose id is not the one asked for is a
:class:`~paperfeed.errors.SourceError`, never taken for it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from paperfeed.config import Settings
from paperfeed.errors import SourceError, UpstreamBusyError, UpstreamTimeoutError
from paperfeed.ingest.arxiv_api import fetch_by_ids
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper

#: Seconds an answer (a paper, or "arXiv has no such paper") is kept for a retry.
KEEP_SECONDS = 300.0
#: The most seconds one look-up's request to arXiv may take (PAPERFEED_HTTP_TIMEOUT_SECONDS
#: when shorter).
LOOKUP_TIMEOUT = 30.0


@dataclass
class _Entry:
    future: Future[Paper | None]
    done_at: float | None = None


class ArxivLookup:
    """Look-ups by arXiv id (without version), one at a time, paced, in a worker thread."""

    def __init__(self, fetcher: Fetcher, base_url: str, *, max_waiting: int = 8) -> None:
        self.fetcher = fetcher
        self.base_url = base_url
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._waiting = 0
        self._worker = threading.Thread(target=self._work, name="arxiv-lookup", daemon=True)
        self._worker.start()

    def paper(self, arxiv_id: str) -> Future[Paper | None]:
        """The future paper ``arxiv_id`` (None: arXiv has none), fetched once for every
        caller. :class:`UpstreamBusyError` when too many look-ups wait already."""
        with self._lock:
            self._forget_old(time.monotonic())
            entry = self._entries.get(arxiv_id)
            if entry is not None:
                return entry.future
            if self._waiting >= self.max_waiting:
                raise UpstreamBusyError(
                    f"{self._waiting} arXiv look-ups are waiting already; try again in a minute"
                )
            entry = _Entry(Future())
            self._entries[arxiv_id] = entry
            self._waiting += 1
        self._queue.put(arxiv_id)
        return entry.future

    async def paper_within(self, arxiv_id: str, seconds: float) -> Paper | None:
        """:meth:`paper`, awaited for at most ``seconds``; then :class:`UpstreamTimeoutError`
        (the look-up goes on, and its answer waits for the retry)."""
        answer = asyncio.wrap_future(self.paper(arxiv_id))
        try:
            return await asyncio.wait_for(asyncio.shield(answer), seconds)
        except TimeoutError:
            # Nobody awaits it any more: read its outcome so asyncio does not log it.
            answer.add_done_callback(lambda done: done.cancelled() or done.exception())
            raise UpstreamTimeoutError(
                f"arXiv has not answered about {arxiv_id} within {seconds:g} s; it is still "
                "being asked: try again in a minute"
            ) from None

    def _forget_old(self, now: float) -> None:
        for key in [
            k for k, e in self._entries.items() if e.done_at and now - e.done_at > KEEP_SECONDS
        ]:
            del self._entries[key]

    def _work(self) -> None:
        while True:
            arxiv_id = self._queue.get()
            with self._lock:
                entry = self._entries[arxiv_id]
            try:
                result = self._fetch(arxiv_id)
            except Exception as exc:  # handed to the waiting request, which answers it
                with self._lock:
                    self._waiting -= 1
                    del self._entries[arxiv_id]  # an error is not kept: a retry asks again
                entry.future.set_exception(exc)
                continue
            with self._lock:
                self._waiting -= 1
                entry.done_at = time.monotonic()
            entry.future.set_result(result)

    def _fetch(self, arxiv_id: str) -> Paper | None:
        found = fetch_by_ids(self.fetcher, self.base_url, [arxiv_id])
        for paper in found:
            if paper.arxiv_id == arxiv_id:
                return paper
        if found:
            raise SourceError(
                f"arXiv answered with {found[0].arxiv_id} when asked for {arxiv_id}; "
                "nothing was stored"
            )
        return None


_SHARED: dict[tuple[str, float, float], ArxivLookup] = {}
_SHARED_LOCK = threading.Lock()


def shared(settings: Settings) -> ArxivLookup:
    """The process's look-up for these settings' arXiv API (one per URL and pacing)."""
    wait = settings.submission_wait_seconds
    key = (settings.arxiv_api_url, settings.arxiv_delay_seconds, wait)
    with _SHARED_LOCK:
        lookup = _SHARED.get(key)
        if lookup is None:
            fetcher = Fetcher(
                min_interval=settings.arxiv_delay_seconds,
                retries=min(settings.http_retries, 1),  # a person is waiting for the answer
                backoff=min(settings.http_backoff_seconds, wait / 4),
                # Longer than a request waits: the answer is kept for the retry.
                timeout=min(settings.http_timeout_seconds, LOOKUP_TIMEOUT),
                clock=settings.clock(),
            )
            lookup = _SHARED[key] = ArxivLookup(fetcher, settings.arxiv_api_url)
    return lookup
