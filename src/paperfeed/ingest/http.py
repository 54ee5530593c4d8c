"""One polite HTTP client for every remote source.

* Pacing: at least ``min_interval`` seconds between the starts of two requests
  (arXiv asks for 3 s on a single connection), measured on the injected clock.
* Retries: 429 and 5xx answers, timeouts and dropped connections are retried
  up to ``retries`` times, waiting ``Retry-After`` when the server sends one
  (seconds or an HTTP date), else ``backoff`` doubling each time.
* After the last retry a :class:`~paperfeed.errors.SourceError` says what failed;
  the pipeline's checkpoint lets a rerun continue from there.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC

import httpx

from paperfeed import __version__
from paperfeed.clock import Clock, SystemClock
from paperfeed.errors import SourceError

log = logging.getLogger(__name__)

USER_AGENT = f"paperfeed/{__version__} (+https://github.com/paperfeed/paperfeed)"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Never wait longer than this for one Retry-After, whatever the server says.
MAX_RETRY_AFTER = 600.0


@dataclass
class Fetcher:
    """Paced, retrying GETs over one keep-alive connection."""

    min_interval: float = 0.0
    retries: int = 5
    backoff: float = 5.0
    timeout: float = 60.0
    clock: Clock = field(default_factory=SystemClock)
    transport: httpx.BaseTransport | None = None
    user_agent: str = USER_AGENT
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _last_start: float | None = field(default=None, init=False, repr=False)
    requests_made: int = field(default=0, init=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout,
                follow_redirects=True,
                headers={"User-Agent": self.user_agent},
                transport=self.transport,
                # A single connection, as arXiv asks.
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
        return self._client

    def close(self) -> None:
        """Close the connection. The fetcher stays usable: its next request opens a new
        connection, paced as before, so a source closes it when it has read its records,
        whoever else shares the fetcher."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self) -> None:
        if self._last_start is not None and self.min_interval > 0:
            wait = self._last_start + self.min_interval - self.clock.monotonic()
            if wait > 0:
                self.clock.sleep(wait)
        self._last_start = self.clock.monotonic()

    def get(self, url: str, params: Mapping[str, str | int] | None = None) -> httpx.Response:
        """GET ``url``; return the 2xx/4xx response, retrying what can be retried.

        A 4xx other than 408/425/429 is returned to the caller, which knows
        whether it means "no such thing" or "bad request" (OAI-PMH sends errors
        with status 200 and arXiv sends 400 for bad queries).
        """
        attempt = 0
        cause: Exception | None = None
        while True:
            self._pace()
            self.requests_made += 1
            try:
                response = self._http().get(url, params=params)
                # Read the whole body now so a connection dropped mid-body is retried here.
                response.read()
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                cause = exc
                problem = f"{type(exc).__name__}: {exc}"
                wait = self.backoff * (2**attempt)
            else:
                if response.status_code not in _RETRY_STATUS:
                    return response
                cause = None
                problem = f"HTTP {response.status_code}"
                wait = retry_after(response.headers.get("Retry-After"), self.clock)
                if wait is None:
                    wait = self.backoff * (2**attempt)
            if attempt >= self.retries:
                raise SourceError(
                    f"{url} failed after {attempt + 1} attempts; last: {problem}"
                ) from cause
            attempt += 1
            log.warning("%s: %s; retry %d/%d in %.1fs", url, problem, attempt, self.retries, wait)
            self.clock.sleep(min(wait, MAX_RETRY_AFTER))


def retry_after(value: str | None, clock: Clock) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())
