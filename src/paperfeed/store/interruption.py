"""Ctrl-C during a long database job (``paperfeed db copy``): stop at a point that is safe.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT arrives. Inside
the database driver that is not safe: psycopg 3 runs ``executemany`` in pipeline mode,
and an interrupt that lands in its Python code can be held in a generator's ``finally``
until the statement returns (a copy waiting on a row lock then waits on), be replaced by
an AssertionError, or leave the connection in pipeline mode so that the rollback fails
and an OperationalError takes its place: the interrupt is lost.

:class:`Interruption` takes over SIGINT for the duration of the job. The first Ctrl-C is
recorded, and what the job's PostgreSQL connections are running is cancelled on the
server (psycopg's ``cancel_safe()``), so a statement waiting on a lock fails at once, as
the driver expects; the KeyboardInterrupt itself is raised only while no driver code is
on the stack (retried every :data:`RETRY_S` until then, cancelling again every
:data:`CANCEL_AGAIN_S`), or in place of the error the cancel caused. The transaction in
flight rolls back, so the job's progress stays consistent and a rerun resumes. A second
Ctrl-C raises at once, wherever the job is.
"""

from __future__ import annotations

import _thread
import logging
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from sqlalchemy import Engine, event

logger = logging.getLogger(__name__)

#: Seconds between two tries to raise a recorded interrupt outside the driver.
RETRY_S = 0.05
#: Seconds after which a cancel is sent again while the job is still in the driver.
CANCEL_AGAIN_S = 1.0
#: Modules inside which a KeyboardInterrupt must not be raised.
_DRIVERS = ("sqlalchemy", "psycopg", "alembic", "sqlite3")


def in_driver(frame: FrameType | None) -> bool:
    """Whether any frame of this stack runs database driver code."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        frame = frame.f_back
    return False


class Interruption:
    """``with Interruption(source, target): ...`` (see the module docstring). Outside the
    main thread, where Python delivers no signal, it changes nothing."""

    def __init__(self, *engines: Engine) -> None:
        self.engines = engines
        #: Ctrl-C was pressed.
        self.requested = False
        self._open: dict[int, Any] = {}  # id -> checked-out psycopg connection
        self._previous: Any = None
        self._installed = False
        self._raised = False
        self._poked = False
        self._cancelled_at = 0.0
        self._stop = threading.Event()
        self._retry: threading.Thread | None = None

    def __enter__(self) -> Interruption:
        if threading.current_thread() is not threading.main_thread():
            return self
        for engine in self.engines:
            if engine.dialect.name == "postgresql":
                event.listen(engine, "checkout", self._checked_out)
                event.listen(engine, "checkin", self._checked_in)
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        self._installed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._raised = True  # no retry raises from here on
        self._stop.set()
        if self._retry is not None:
            self._retry.join()
        if self._installed:
            # signal.signal() runs a pending retry (ignored now) before it swaps handlers.
            signal.signal(signal.SIGINT, self._previous)
            for engine in self.engines:
                if event.contains(engine, "checkout", self._checked_out):
                    event.remove(engine, "checkout", self._checked_out)
                    event.remove(engine, "checkin", self._checked_in)
        if self.requested and (exc is None or isinstance(exc, Exception)):
            # The error the cancel caused, or a job that ended before it saw the request.
            raise KeyboardInterrupt from exc

    def check(self) -> None:
        """A safe point of the job (between two batches): a recorded Ctrl-C stops it here."""
        if self.requested and not self._raised:
            self._raised = True
            raise KeyboardInterrupt

    def _checked_out(self, dbapi_conn: Any, record: Any, proxy: Any) -> None:
        self._open[id(dbapi_conn)] = dbapi_conn

    def _checked_in(self, dbapi_conn: Any, record: Any) -> None:
        self._open.pop(id(dbapi_conn), None)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        poked, self._poked = self._poked, False
        if not poked:
            if self.requested:
                self._raised = True
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            self.requested = True
            self._cancel()
            self._retry = threading.Thread(target=self._poke, name="ctrl-c", daemon=True)
            self._retry.start()
        if self._raised:
            return
        if in_driver(frame):
            if time.monotonic() - self._cancelled_at >= CANCEL_AGAIN_S:
                # PostgreSQL drops a cancel that reaches a backend between two statements.
                self._cancel()
            return
        self._raised = True
        raise KeyboardInterrupt

    def _cancel(self) -> None:
        """Cancel on the server what each open PostgreSQL connection runs (an idle one
        ignores it)."""
        self._cancelled_at = time.monotonic()
        for conn in list(self._open.values()):
            try:
                conn.cancel_safe(timeout=5.0)
            except Exception as exc:  # a cancel that fails leaves the statement to finish
                logger.warning("could not cancel the running statement: %s", exc)

    def _poke(self) -> None:
        while not self._stop.wait(RETRY_S) and not self._raised:
            self._poked = True
            _thread.interrupt_main(signal.SIGINT)
