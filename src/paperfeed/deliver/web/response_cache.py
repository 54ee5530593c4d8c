"""Whole responses of list endpoints, kept until anything is committed to the database.

A list changes only when something writes (ingestion, votes ...), and every reader
asks for the same few lists, so a worker renders each once per database change and
answers the rest from memory. Entries are keyed by the :mod:`paperfeed.store.changes`
marker: the first request after a commit finds a new marker, drops every entry and
renders afresh, so a cached answer is never older than the last commit its request
could have seen. Only what is the same for every reader is cached: a request with a
``Cookie`` or ``Authorization`` header is rendered for itself and not stored.

:class:`Kept` keeps parts of answers the same way (a search's page of results, the
result cards of the search page as a visitor sees them) for handlers running in worker
threads, each part under a key naming everything it depends on.

Every answer carries a strong ``ETag`` (a hash of the body); ``If-None-Match`` with it
gets ``304 Not Modified``. Concurrent misses on one key render once: the others wait
for the first. Memory is bounded (``PAPERFEED_RESPONSE_CACHE_MB``, least recently used
out first; 0 turns caching off). Each worker process has its own cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar, cast

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paperfeed.deliver.render.feeds import not_modified
from paperfeed.store.changes import ChangeMarker

T = TypeVar("T")

#: Clients and proxies may keep an answer but must ask again (cheaply, with
#: If-None-Match) before reusing it: a list changes with any vote.
CACHE_CONTROL = "no-cache"
#: These answers carry no Last-Modified, so If-None-Match alone decides and the date
#: ``not_modified`` takes is never read.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Rendered:
        return cls(body, media_type, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')


class ResponseCache:
    def __init__(self, marker: ChangeMarker | None, max_bytes: int) -> None:
        self.marker = marker if max_bytes > 0 else None
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._bytes = 0
        self._current: object = None
        self._pending: dict[Hashable, asyncio.Future[Rendered]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.marker is not None

    async def respond(
        self,
        request: Request,
        key: Hashable,
        render: Callable[[], tuple[bytes, str]],
        *,
        cacheable: bool = True,
    ) -> Response:
        """The answer for ``key``, from the cache or from ``render()`` (run in a thread:
        it may query the database). ``render`` returns (body, media type); its errors
        propagate as they would without the cache, and nothing is stored."""
        if self.marker is None or not cacheable or not _shared(request):
            body, media_type = await run_in_threadpool(render)
            return _answer(request, Rendered.of(body, media_type))
        marker = self.marker
        current = marker.read() if marker.inline else await run_in_threadpool(marker.read)
        if current != self._current:  # something was committed: every entry is stale
            self._entries.clear()
            self._bytes = 0
            self._current = current
        full_key = (current, key)
        found = self._entries.get(full_key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(full_key)
            return _answer(request, found)
        pending = self._pending.get(full_key)
        if pending is not None:
            try:
                return _answer(request, await asyncio.shield(pending))
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the one rendering
                # the request rendering it was cancelled: render it here instead
        self.misses += 1
        return _answer(request, await self._render(full_key, current, render))

    async def _render(
        self, full_key: Hashable, current: object, render: Callable[[], tuple[bytes, str]]
    ) -> Rendered:
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._pending[full_key] = future
        try:
            body, media_type = await run_in_threadpool(render)
            rendered = Rendered.of(body, media_type)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._pending[full_key]
        future.set_result(rendered)
        if current == self._current and len(body) <= self.max_bytes:
            self._entries[full_key] = rendered
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)
        return rendered


class Kept:
    """Values read from the database, each kept until the next commit: the part of an
    answer that is the same for every reader, for request handlers running in threads.

    ``get(key, compute, size)`` returns the value kept under ``key`` while nothing has
    been committed since it was computed, else ``compute()`` (in the calling thread; its
    errors propagate and nothing is kept). As in :class:`ResponseCache`, the change
    marker is read before computing, so a kept value is never older than the last commit
    its request could have seen. ``size(value)`` estimates its bytes: memory is bounded
    by ``max_bytes``, least recently used out first (0: nothing is kept). Concurrent
    misses on one key each compute (a few threads at most).
    """

    def __init__(self, marker: ChangeMarker | None, max_bytes: int) -> None:
        self.marker = marker if max_bytes > 0 else None
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._current: object = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.marker is not None

    def get(self, key: Hashable, compute: Callable[[], T], size: Callable[[T], int]) -> T:
        if self.marker is None:
            return compute()
        current = self.marker.read()
        with self._lock:
            if current != self._current:  # something was committed: every entry is stale
                self._entries.clear()
                self._bytes = 0
                self._current = current
            found = self._entries.get(key)
            if found is not None:
                self.hits += 1
                self._entries.move_to_end(key)
                return cast(T, found[0])
            self.misses += 1
        value = compute()
        cost = size(value)
        with self._lock:
            if current == self._current and cost <= self.max_bytes and key not in self._entries:
                self._entries[key] = (value, cost)
                self._bytes += cost
                while self._bytes > self.max_bytes:
                    _, (_, evicted) = self._entries.popitem(last=False)
                    self._bytes -= evicted
        return value


def _consume(future: asyncio.Future[Rendered]) -> None:
    """Mark an error as seen: requests waiting on the render re-raise it themselves."""
    if not future.cancelled():
        future.exception()


def _shared(request: Request) -> bool:
    """Whether the answer is the same for every reader (no credentials of any kind)."""
    headers = request.headers
    return "cookie" not in headers and "authorization" not in headers


def _answer(request: Request, rendered: Rendered) -> Response:
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request.headers.get("if-none-match"), None, rendered.etag, _EPOCH):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)
