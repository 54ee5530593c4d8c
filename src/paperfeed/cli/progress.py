"""Progress of a long step on stderr: a bar on a terminal, log lines elsewhere.

On a terminal, a tqdm bar with the rate and, once the total is known, the time left.
Elsewhere (a log file, cron, the scheduler, a pipe) a line every :data:`LOG_EVERY`
seconds, such as ``arxiv-api: 2,000 of 5,321 records (38%), 410/s, about 8s left``, so a
long run is never silent (a run shorter than that prints only its report).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds between two progress lines off a terminal.
LOG_EVERY = 5.0


class Progress:
    """``update(done, total)`` as work advances, ``close()`` at the end."""

    def __init__(
        self,
        name: str,
        unit: str,
        *,
        stream: TextIO | None = None,
        every: float | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.unit = name, unit
        self._stream = stream or sys.stderr
        self._every = LOG_EVERY if every is None else every
        self._clock = clock
        self._started = clock()
        self._logged_at = self._started
        self._logged: int | None = None
        self._done = 0
        self._total: int | None = None
        self._bar = None
        if self._stream.isatty() if tty is None else tty:
            from tqdm import tqdm

            self._bar = tqdm(desc=name, unit=f" {unit}", file=self._stream, dynamic_ncols=True)

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self._total = total
        if self._bar is not None:
            if total is not None and self._bar.total != total:
                self._bar.total = total
            self._bar.update(done - self._done)
        self._done = done
        if self._bar is None and self._clock() - self._logged_at >= self._every:
            self._log()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._logged is not None and self._logged != self._done:
            self._log()  # the end of a run that logged its progress

    def line(self) -> str:
        """The progress line as it stands."""
        done, total = self._done, self._total
        text = (
            f"{self.name}: {done:,} of {total:,} {self.unit}"
            if total
            else f"{self.name}: {done:,} {self.unit}"
        )
        if total:
            text += f" ({100 * done // total}%)"
        elapsed = self._clock() - self._started
        if elapsed > 0 and done:
            rate = done / elapsed
            text += f", {rate:,.0f}/s" if rate >= 10 else f", {rate:.1f}/s"
            if total and done < total:
                text += f", about {_duration((total - done) / rate)} left"
        return text

    def _log(self) -> None:
        print(self.line(), file=self._stream, flush=True)
        self._logged = self._done
        self._logged_at = self._clock()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
