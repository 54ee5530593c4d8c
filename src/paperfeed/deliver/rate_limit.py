"""Rate limits and the log-in lockout: a pure decision over the times of past events.

A rule allows ``limit`` events per sliding ``window``; the event that would exceed it
is refused until the oldest counted event leaves the window. The times come from the
``rate_events`` table, so every server process sees the same counts. They are kept no
longer than the longest window (:func:`kept_for`): each new event deletes its bucket's
expired ones, and ``paperfeed schedule`` deletes every expired one each round.

Who "one IP address" is: the peer of the connection, unless the peer is one of the
proxies of ``PAPERFEED_TRUSTED_PROXIES``; then :func:`forwarded_client` reads
``X-Forwarded-For`` from the right, skipping the trusted proxies' own entries, and takes
the first address they did not add (what a client writes there itself is never believed).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from paperfeed.config import Settings
from paperfeed.errors import RateLimitedError
from paperfeed.store import rate_events

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The window of the submission limit (PAPERFEED_SUBMISSION_LIMIT an hour); every other
#: rule counts within PAPERFEED_LOCKOUT_MINUTES.
SUBMISSION_WINDOW = timedelta(hours=1)


def kept_for(settings: Settings) -> timedelta:
    """How long a rate-limit event is kept: the longest window of any rule. Pure."""
    return max(timedelta(minutes=settings.lockout_minutes), SUBMISSION_WINDOW)


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """``PAPERFEED_TRUSTED_PROXIES`` parsed (``ValueError`` on a bad entry). Pure."""
    parts = [p for p in setting.replace(" ", "").split(",") if p]
    return tuple(ipaddress.ip_network(p, strict=False) for p in parts)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: ``peer``, or, when ``peer`` is a trusted proxy, the rightmost
    ``X-Forwarded-For`` entry that no trusted proxy added. Pure."""
    client = peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    while hops and _trusted(client, trusted):
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # a mangled header: believe the last proxy, not the text
        client = hop
    return client


@dataclass(frozen=True)
class Rule:
    bucket: str
    limit: int
    window: timedelta


def retry_after(times: Sequence[datetime], now: datetime, rule: Rule) -> int:
    """Seconds until one more event is allowed; 0 when it is allowed now. Pure."""
    recent = sorted(t for t in times if now - rule.window < t <= now)
    if len(recent) < rule.limit:
        return 0
    frees_at = recent[len(recent) - rule.limit] + rule.window
    return max(1, math.ceil((frees_at - now).total_seconds()))


def check(conn: Connection, rule: Rule, key: str, now: datetime, message: str) -> None:
    """Raise :class:`RateLimitedError` when ``key`` has used up ``rule``."""
    wait = retry_after(rate_events.times(conn, rule.bucket, key, now - rule.window), now, rule)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise RateLimitedError(f"{message}; try again in {minutes} minute(s)", wait)


def record(conn: Connection, rule: Rule, key: str, now: datetime) -> None:
    """Count an event of ``key``; the bucket's events that left the window go."""
    rate_events.record(conn, rule.bucket, key, now)
    rate_events.prune_bucket(conn, rule.bucket, now - rule.window)


def hit(conn: Connection, rule: Rule, key: str, now: datetime, message: str) -> None:
    """Check ``rule`` for ``key``, then count this event."""
    check(conn, rule, key, now, message)
    record(conn, rule, key, now)
