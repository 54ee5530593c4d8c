"""Rate limits and the log-in lockout: a pure decision over the times of past events.

A rule allows ``limit`` events per sliding ``window``; the event that would exceed it
is refused until the oldest counted event leaves the window. The times come from the
``rate_events`` table, so every server process sees the same counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from paperfeed.errors import RateLimitedError
from paperfeed.store import rate_events


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


def hit(conn: Connection, rule: Rule, key: str, now: datetime, message: str) -> None:
    """Check ``rule`` for ``key``, then count this event."""
    check(conn, rule, key, now, message)
    rate_events.record(conn, rule.bucket, key, now)
