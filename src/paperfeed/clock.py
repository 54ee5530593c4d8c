"""The one clock seam.

Decisions take ``now`` as an argument; the edges (CLI, web app, jobs) get it
from a :class:`Clock`. Tests and reproducible demos pin it with the
``PAPERFEED_FROZEN_TIME`` setting or by passing a :class:`FrozenClock`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time and waits; both replaceable in tests."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for pacing)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait that many seconds."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class FrozenClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    current: datetime
    slept: list[float] = field(default_factory=list)
    _mono: float = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._mono += seconds
        self.current = self.current + timedelta(seconds=seconds)
