"""Memory figures of the benchmarks, read from Linux's /proc/self/status.

:func:`peak_rss_mb` reads ``VmHWM``, which starts afresh when a process execs, unlike
``ru_maxrss``, which a forked child inherits from its parent (a benchmark step run in a
``multiprocessing`` child would report the parent's peak); ``ru_maxrss`` remains the
fallback where /proc is not there.
"""

from __future__ import annotations

import resource
from pathlib import Path


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB)."""
    peak = _status_mb("VmHWM")
    if peak is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak


def rss_mb() -> float:
    """This process's resident memory now (MB); 0 where /proc is not there."""
    return _status_mb("VmRSS") or 0.0
